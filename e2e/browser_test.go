package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"gatehouse/e2e/smtpsink"
)

// Browser tests: the pages of pb_public in headless Chromium (Debian's chromium package,
// installed by .ci/run), driven over the DevTools protocol, against the built binary. Every step
// waits on a DOM condition, never on a fixed sleep. A failing test saves a screenshot in a temp
// dir and names it in the failure message. Each page is checked with axe-core (npm, installed by
// .ci/run into .ci/npm): no serious or critical violation. Without a browser (or axe-core) the
// tests are skipped, unless E2E_REQUIRED is set: then that is a failure.

const browserWidth, browserHeight = 375, 812 // a small phone: every page must work at this width

func required() bool { return os.Getenv("E2E_REQUIRED") != "" }

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if required() {
		t.Fatal("no Chromium found (E2E_REQUIRED is set): apt-get install -y chromium")
	}
	t.Skip("no Chromium installed (apt-get install -y chromium)")
	return ""
}

var (
	axeOnce   sync.Once
	axeSource string
)

// axeScript is axe-core's browser build: AXE_CORE_JS, else .ci/npm/node_modules (where .ci/run
// installs it). "" when absent and not required.
func axeScript(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		path := os.Getenv("AXE_CORE_JS")
		if path == "" {
			path = filepath.Join(RepoRoot(), ".ci", "npm", "node_modules", "axe-core", "axe.min.js")
		}
		if b, err := os.ReadFile(path); err == nil {
			axeSource = string(b)
		}
	})
	if axeSource == "" && required() {
		t.Fatal("axe-core is required (E2E_REQUIRED is set): npm install in .ci/npm (see .ci/run), or set AXE_CORE_JS")
	}
	return axeSource
}

// browser is one headless Chromium with one tab, for one test.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab, without deadline (a screenshot after a timeout still works)
	base string
}

// cspWatch records Content-Security-Policy violations of every document the tab loads (it is
// added through the protocol, so the page's own CSP does not apply to it).
const cspWatch = `window.__csp = []; document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});`

func newBrowser(t *testing.T, s *Server) *browser {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(browserWidth, browserHeight),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: s.URL}
	// Start the browser now, with the viewport of a small phone and the CSP watch.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(browserWidth, browserHeight),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
			return chromedp.Void{}, err
		},
	); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	// Registered after the browser's cleanup, so it runs first: a failure anywhere in the test
	// (also t.Error) leaves a screenshot of the page as it was.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshot at the end of the failed test: %s", b.screenshot("end"))
		}
	})
	return b
}

// screenshot saves the visible page to a new temp dir (kept after the test) and returns its path.
func (b *browser) screenshot(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	dir, err := os.MkdirTemp("", "gatehouse-browser-")
	if err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	path := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(b.t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	return path
}

// do runs the steps of one user action with a deadline; a failure stops the test with the step's
// name, the error and the path of a screenshot.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\nscreenshot: %s", what, err, b.screenshot(what))
	}
}

// eval evaluates a JavaScript expression (promises awaited) into T.
func eval[T any](b *browser, what, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v\nscreenshot: %s", what, err, b.screenshot(what))
	}
	return v
}

// until waits until the expression is truthy (checked on every DOM change and animation frame).
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))
}

// visible waits until the element is visible.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// typeInto focuses an input and types text with key events, as a user does.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// clear empties an input (as selecting all and deleting does).
func clear(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(visible(sel), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(function(){ var e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel)))
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// textContains waits until the element's text contains want.
func textContains(sel, want string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`(function(){ var e = document.querySelector(%q); return !!e && e.textContent.indexOf(%q) >= 0; })()`, sel, want))
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkPage runs axe-core on the page as it is now and fails on any serious or critical
// violation; it also fails on any CSP violation the page caused.
func (b *browser) checkPage(state string) {
	b.t.Helper()
	if csp := eval[[]string](b, "CSP violations", `window.__csp || []`); len(csp) > 0 {
		b.t.Errorf("%s: the page broke its Content-Security-Policy: %v\nscreenshot: %s", state, csp, b.screenshot(state))
	}
	src := axeScript(b.t)
	if src == "" {
		b.t.Logf("%s: axe-core not installed, accessibility check skipped", state)
		return
	}
	if !eval[bool](b, "axe present", `typeof window.axe === "object"`) {
		eval[chromedp.Void](b, "inject axe-core", src)
	}
	found := eval[[]axeViolation](b, "axe.run "+state, `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  return r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; })
    .map(function (v) { return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) { return n.target.join(" "); })}; });
})`)
	if len(found) > 0 {
		out, _ := json.MarshalIndent(found, "", "  ")
		b.t.Errorf("%s: axe-core found serious or critical violations:\n%s\nscreenshot: %s", state, out, b.screenshot(state))
	}
}

// signedInAs checks through the page's own cookies that the browser holds a session of email.
func (b *browser) signedInAs(email string) {
	b.t.Helper()
	got := eval[string](b, "GET /api/me/ with the browser's cookies",
		`fetch("/api/me/", {credentials: "same-origin"}).then(function (r) { return r.json().then(function (d) { return r.status + " " + (d.data ? d.data.email : JSON.stringify(d)); }); })`)
	if got != "200 "+email {
		b.t.Fatalf("after sign-in, /api/me/ = %s, want 200 %s", got, email)
	}
	// Nothing secret is kept where scripts can read it: no web storage, HttpOnly token cookies.
	if kept := eval[string](b, "web storage and script-visible cookies",
		`localStorage.length + " " + sessionStorage.length + " " + (document.cookie.indexOf("_token") >= 0)`); kept != "0 0 false" {
		b.t.Fatalf("after sign-in: localStorage, sessionStorage, token cookie visible = %s", kept)
	}
}

// browserServer is a dev-mode binary (solvable CAPTCHAs) whose APP_URL is its own address, so
// the login's redirect and the CSRF origin check point at it.
func browserServer(t *testing.T) (*Server, string) {
	t.Helper()
	s := Start(t, Options{Env: []string{"RATE_LIMITS_ENABLED=false", "CAPTCHA_TEST_ANSWER=" + burstTestAnswer}, Args: []string{"--dev"}})
	su := s.SuperuserToken(t)
	if st, _, body := s.Do(t, http.MethodPatch, "/api/settings", map[string]any{"meta": map[string]any{"appURL": s.URL}}, "Authorization", su); st != 200 {
		t.Fatalf("PATCH appURL = %d %s", st, body)
	}
	return s, su
}

// signIn fills the sign-in form and submits it.
func (b *browser) signIn(email, password string) {
	b.t.Helper()
	b.do("fill in and submit the sign-in form",
		visible("#email"),
		clear("#email"), typeInto("#email", email),
		clear("#password"), typeInto("#password", password),
		click("#login-submit"),
	)
}

// landed waits for the redirect of the login answer: DEFAULT_SYSTEM_URL, which is APP_URL here.
func (b *browser) landed() {
	b.t.Helper()
	b.navigated("follow the login's redirect", fmt.Sprintf(`location.href === %q`, b.base+"/"))
}

// navigated waits until expr holds in a document that the page navigated to (complete): the
// condition is checked on every DOM change in each document; a check cut short by the
// navigation itself is repeated in the new document.
func (b *browser) navigated(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	cond := "(" + expr + `) && document.readyState === "complete"`
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		err := chromedp.Do(ctx, until(cond))
		cancel()
		if err == nil {
			return
		}
		gone := regexp.MustCompile(`navigated or closed|Cannot find context|context was destroyed|Not attached`).MatchString(err.Error())
		if !gone || time.Now().After(deadline) {
			b.t.Fatalf("%s: %v\nscreenshot: %s", what, err, b.screenshot(what))
		}
	}
}

// Three wrong passwords, then the page shows the CAPTCHA (captcha/required says so) and the
// right password with the answer signs in and follows the login's redirect.
func TestBrowserSignInWithCaptchaAfterFailures(t *testing.T) {
	t.Parallel()
	s, su := browserServer(t)
	const email, password = "captcha.browser@example.com", "violet-harbor-42"
	createStaffUser(t, s, su, email, password)
	b := newBrowser(t, s)

	b.do("open the sign-in page", chromedp.Navigate(s.URL+"/login"), visible("#email"),
		until(`document.activeElement && document.activeElement.id === "email"`))
	if path := os.Getenv("GATEHOUSE_README_SCREENSHOT"); path != "" {
		// The README's picture of the sign-in page (see .ci/run's note): the page as a phone shows it.
		b.do("type an email for the picture", typeInto("#email", "agent.one@example.com"), chromedp.Blur(chromedp.CSS("#email")))
		png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS("main")))
		if err != nil || os.WriteFile(path, png, 0o644) != nil {
			t.Fatalf("README screenshot: %v", err)
		}
		b.do("clear the email", clear("#email"))
	}
	b.checkPage("sign-in page")

	for i := 1; i <= 3; i++ {
		b.signIn(email, fmt.Sprintf("wrong-password-%d", i))
		b.do(fmt.Sprintf("failure %d is announced", i),
			textContains("#alert", "Invalid email or password."),
			until(`document.querySelector("#password").value === "" && document.activeElement.id === "password"`))
		if i < 3 {
			if eval[bool](b, "no CAPTCHA yet", `!document.querySelector("#captcha").hidden`) {
				t.Fatalf("CAPTCHA shown after %d failures", i)
			}
		}
	}
	b.do("the CAPTCHA appears after the third failure",
		visible("#captcha-answer"),
		until(`document.querySelector("#captcha-image").src.indexOf("data:image/png;base64,") === 0 && document.querySelector("#captcha-image").naturalWidth === 200`))
	b.checkPage("sign-in page with a CAPTCHA and an error")

	// Without an answer the page asks for one and sends nothing.
	b.do("submit without the answer", clear("#password"), typeInto("#password", password), click("#login-submit"),
		textContains("#captcha-answer-errors", "Type the characters shown in the image."),
		until(`document.querySelector("#captcha-answer").getAttribute("aria-invalid") === "true"`))

	b.do("answer the CAPTCHA and sign in", typeInto("#captcha-answer", strings.ToLower(burstTestAnswer)), click("#login-submit"))
	b.landed()
	b.signedInAs(email)
}

// ?next= is followed only to a path of this site: a tab or line break after the first slash
// ("/%09/evil.example/": browsers drop it from the URL, leaving "//evil.example/") made the page
// leave for another site after a real sign-in. Now it is ignored and the login's redirect taken.
func TestBrowserSignInIgnoresAForeignNext(t *testing.T) {
	t.Parallel()
	s, su := browserServer(t)
	// a tab the browser drops ("//evil.example/"), and dot segments the URL parser removes
	// ("/.//evil.example/" and "/..//evil.example/" parse to the path "//evil.example/")
	for i, next := range []string{"%2F%09%2Fevil.example%2F", "%2F.%2F%2Fevil.example%2F", "%2F%2e%2e%2F%2Fevil.example%2F"} {
		email, password := "next"+strconv.Itoa(i)+".browser@example.com", "violet-harbor-42"
		createStaffUser(t, s, su, email, password)
		b := newBrowser(t, s)
		b.do("open the sign-in page with a foreign next "+next, chromedp.Navigate(s.URL+"/login/?next="+next), visible("#email"))
		b.signIn(email, password)
		b.landed()
		b.signedInAs(email)
	}
}

// A TOTP account: the password step, then the code step — a wrong code is announced at the
// field, the code oathtool computes from the secret signs in.
func TestBrowserSignInWithTOTP(t *testing.T) {
	t.Parallel()
	tool := oathtoolPath(t)
	s, su := browserServer(t)
	const email, password = "totp.browser@example.com", "violet-harbor-42"
	createStaffUser(t, s, su, email, password)

	// TOTP on, through the API (the setup page has its own test).
	access := staffLogin(t, s, email, password).Access
	auth := []string{"Authorization", "Bearer " + access}
	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": password}, auth...)
	secret, _ := decodeJSON(t, body)["secret"].(string)
	if st != 200 || secret == "" {
		t.Fatalf("2fa/enable: %d %s", st, body)
	}
	now := time.Now()
	if st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/2fa/enable/",
		map[string]string{"password": password, "otp_code": oathtoolCode(t, tool, secret, now)}, auth...); st != 200 {
		t.Fatalf("2fa/enable confirm: %d %s", st, body)
	}
	// The next step's code signs in (a step is accepted once; the server takes ±1 step).
	next := oathtoolCode(t, tool, secret, now.Add(30*time.Second))
	wrong := "000000"
	for _, d := range []time.Duration{-30, 0, 30, 60} {
		if oathtoolCode(t, tool, secret, now.Add(d*time.Second)) == wrong {
			wrong = "999999"
		}
	}

	b := newBrowser(t, s)
	b.do("open the sign-in page", chromedp.Navigate(s.URL+"/login/"), visible("#email"))
	b.signIn(email, password)
	b.do("the code step", visible("#otp-code"), textContains("#otp-hint", "authenticator app"),
		until(`document.activeElement.id === "otp-code" && document.querySelector("#login-form").hidden`))
	b.checkPage("code step")

	b.do("a wrong code", typeInto("#otp-code", wrong), click("#otp-submit"),
		textContains("#otp-code-errors", "Invalid or expired OTP code."), textContains("#alert", "Invalid or expired OTP code."),
		until(`document.querySelector("#otp-code").getAttribute("aria-invalid") === "true" && document.querySelector("#otp-code").value === ""`))
	b.checkPage("code step with an error")

	b.do("the right code", typeInto("#otp-code", next), click("#otp-submit"))
	b.landed()
	b.signedInAs(email)
}

// Forgot password → the email from the real SMTP sink → the reset page → a new password → sign
// in with it.
func TestBrowserForgotResetAndSignIn(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	s, su := browserServer(t)
	configureSMTP(t, s, []string{"Authorization", su}, sink)
	const email, oldPassword, newPassword = "forgot.browser@example.com", "violet-harbor-42", "amber-lantern-77"
	createStaffUser(t, s, su, email, oldPassword)

	b := newBrowser(t, s)
	b.do("from the sign-in page to the forgot form", chromedp.Navigate(s.URL+"/login/"), visible("#email"),
		click(`a[href="/reset-password/"]`), visible("#forgot-form #email"), textContains("h1", "Forgot your password?"))
	b.checkPage("forgot-password form")

	b.do("a malformed email is refused on the page", typeInto("#email", "not-an-email"), click("#forgot-submit"),
		textContains("#email-errors", "Enter a valid email address."))
	b.do("ask for a link", clear("#email"), typeInto("#email", strings.ToUpper(email)), click("#forgot-submit"),
		textContains("#status", "If an account with that email exists, a password reset link has been sent."), visible("#done"))
	b.checkPage("forgot-password sent")

	msg := sink.WaitFor(t, mailTo(email, "Password reset request"), 15*time.Second)
	m := regexp.MustCompile(`(http://[^\s"<>#]+)#token=([A-Za-z0-9_-]+)`).FindStringSubmatch(msg.Text)
	if m == nil || m[1] != s.URL+"/api/v1/users/password/reset/" {
		t.Fatalf("no reset link in the email:\n%s", msg.Text)
	}

	b.do("open the emailed link", chromedp.Navigate(m[0]), visible("#reset-form #password"),
		until(`location.hash === "" && location.pathname === "/api/v1/users/password/reset/"`))
	b.checkPage("reset form")

	b.do("a too common password is refused by the API", typeInto("#password", "password123"), typeInto("#password-confirm", "password123"),
		click("#submit"), textContains("#password-errors", "Password is too common."))
	b.checkPage("reset form with an API error")

	b.do("set the new password",
		clear("#password"), typeInto("#password", newPassword),
		clear("#password-confirm"), typeInto("#password-confirm", newPassword),
		click("#submit"), textContains("#status", "Password has been reset successfully."), visible("#done a"))

	b.do("to the sign-in page", click("#done a"))
	b.navigated("the sign-in page", `location.pathname === "/login/" && !!document.querySelector("#login-form #email")`)
	b.signIn(email, newPassword)
	b.landed()
	b.signedInAs(email)

	// The link works once: opened again it offers a new one.
	b.do("the used link", chromedp.Navigate(m[0]), visible("#forgot-form"), textContains("#alert", "This reset link is invalid or has expired."))
}

// The setup page: not signed in → the sign-in page → back; the access cookie expires on the way
// (the page refreshes the session and repeats the call); QR code and key; the oathtool code
// confirms; the recovery codes are shown once, until "I have saved these" is ticked; the next
// sign-in needs a code.
func TestBrowserEnableTwoFactor(t *testing.T) {
	t.Parallel()
	tool := oathtoolPath(t)
	s, su := browserServer(t)
	const email, password = "setup.browser@example.com", "violet-harbor-42"
	createStaffUser(t, s, su, email, password)

	b := newBrowser(t, s)
	b.do("open the setup page", chromedp.Navigate(s.URL+"/two-factor/"))
	b.navigated("the setup page sends a stranger to sign in", `location.pathname === "/login/" && location.search === "?next=%2Ftwo-factor%2F"`)
	b.signIn(email, password)
	b.navigated("and back to the setup page", `location.pathname === "/two-factor/"`)
	b.do("the setup form", visible("#start-form #password"), textContains("#account-email", email))
	b.checkPage("setup start")

	// The access cookie is gone (as after its 5 minutes): the page must refresh the session.
	b.do("drop the access cookie", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: "access_token", URL: s.URL + "/"})
		return chromedp.Void{}, err
	})
	b.do("start the TOTP setup", typeInto("#password", password), click("#start-submit"),
		visible("#confirm-form #otp-code"), visible("#qr"),
		until(`document.querySelector("#qr").src.indexOf("data:image/png;base64,") === 0 && document.querySelector("#qr").naturalWidth > 0`),
		until(`/^[A-Z2-7]{32}$/.test(document.querySelector("#secret").textContent)`))
	b.checkPage("setup QR code")
	secret := eval[string](b, "read the key", `document.querySelector("#secret").textContent`)

	b.do("confirm with the app's code", typeInto("#otp-code", oathtoolCode(t, tool, secret, time.Now())), click("#confirm-submit"),
		visible("#codes-form"), until(`document.querySelectorAll("#recovery-codes li").length === 10`),
		until(`document.querySelector("#codes-done").disabled`))
	b.checkPage("recovery codes")
	codes := eval[[]string](b, "read the codes", `Array.from(document.querySelectorAll("#recovery-codes li"), function (li) { return li.textContent; })`)
	for _, c := range codes {
		if !regexp.MustCompile(`^[A-Z0-9]{5}-[A-Z0-9]{5}$`).MatchString(c) {
			t.Fatalf("recovery code %q", c)
		}
	}
	b.do("saved them", click("#saved"), until(`!document.querySelector("#codes-done").disabled`), click("#codes-done"),
		visible("#finished"), until(`document.querySelectorAll("#recovery-codes li").length === 0`),
		textContains("#status", "Two-step verification is on."))
	b.checkPage("setup done")

	// 2FA is on: a password alone gets the challenge, and a recovery code from the page works.
	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": password})
	challenge := decodeJSON(t, body)
	if st != 200 || challenge["otp_required"] != true {
		t.Fatalf("login after setup: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/login/verify-otp/",
		map[string]string{"temporary_token": challenge["temporary_token"].(string), "recovery_code": codes[3]})
	if st != 200 || decodeJSON(t, body)["access"] == nil {
		t.Fatalf("recovery code from the page: %d %s", st, body)
	}
}

// The API docs page renders the OpenAPI document offline and passes the same checks.
func TestBrowserDocsPage(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	b := newBrowser(t, s)
	b.do("open the docs", chromedp.Navigate(s.URL+"/api/v1/docs/"),
		until(`document.querySelectorAll("details.op").length > 20 && !!document.getElementById("postApiV1UsersLogin")`))
	b.do("open an operation", click("#postApiV1UsersLogin summary"), visible("#postApiV1UsersLogin .body pre"))
	b.checkPage("docs page")
}

// createStaffAdmin creates an active, verified staff superuser (an admin of every system).
func createStaffAdmin(t *testing.T, s *Server, su, email, password string) {
	t.Helper()
	st, _, body := s.Do(t, http.MethodPost, "/api/collections/users/records", map[string]any{
		"email": email, "password": password, "passwordConfirm": password,
		"is_active": true, "is_superuser": true, "verified": true, "first_name": "Boss", "last_name": "Admin",
	}, "Authorization", su)
	if st != http.StatusOK {
		t.Fatalf("create admin %s: %d %s", email, st, body)
	}
}

// ttsRoleID is the id of the tts role with that name (through the API, as admin).
func ttsRoleID(t *testing.T, s *Server, auth []string, name string) string {
	t.Helper()
	st, _, body := s.Do(t, http.MethodGet, "/api/v1/system-roles/user-system-roles/system/tts/roles/", nil, auth...)
	var roles struct {
		Results []struct{ ID, Name string }
	}
	if st != http.StatusOK || json.Unmarshal(body, &roles) != nil {
		t.Fatalf("tts roles: %d %s", st, body)
	}
	for _, r := range roles.Results {
		if r.Name == name {
			return r.ID
		}
	}
	t.Fatalf("no tts role %q: %s", name, body)
	return ""
}

// chooseOption picks the option of a select whose text contains text (once it is there) and
// fires the change event, as choosing it with the keyboard does.
func chooseOption(sel, text string) chromedp.Action[chromedp.Void] {
	find := fmt.Sprintf(`Array.from(document.querySelector(%q).options).find(function (o) { return o.textContent.indexOf(%q) >= 0; })`, sel, text)
	return chromedp.Steps(
		until("!!"+find),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(function(){ var s = document.querySelector(%q); s.focus(); s.value = (%s).value; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, find)),
	)
}

// signInFromPage opens an admin page as a stranger: it sends the browser to the sign-in page,
// which brings it back to the page after the admin signs in.
func (b *browser) signInFromPage(path, email, password string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
	b.navigated("the page sends a stranger to sign in", fmt.Sprintf(`location.pathname === "/login/" && location.search === %q`, "?next="+strings.ReplaceAll(url.QueryEscape(path), "+", "%20")))
	b.signIn(email, password)
	b.navigated("and back to "+path, fmt.Sprintf(`location.pathname === %q`, path))
}

// An admin invites a new email through the API; the emailed link (real SMTP sink) opens the
// invitation page, which shows the invited email (not editable), refuses a common password with
// the API's message, sets a good one, and sends the new agent to the sign-in page, where the new
// password signs in. The link works once.
func TestBrowserAcceptInvitationAndSignIn(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	s, su := browserServer(t)
	configureSMTP(t, s, []string{"Authorization", su}, sink)
	const boss, bossPassword = "boss.browser@example.com", "violet-harbor-42"
	const email, password = "new.agent.browser@example.com", "amber-lantern-77"
	createStaffAdmin(t, s, su, boss, bossPassword)
	auth := []string{"Authorization", "Bearer " + staffLogin(t, s, boss, bossPassword).Access}
	role := ttsRoleID(t, s, auth, "Asset Manager")
	if st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/invite-agent/", map[string]any{"email": email, "role_id": role}, auth...); st != http.StatusCreated {
		t.Fatalf("invite: %d %s", st, body)
	}
	msg := sink.WaitFor(t, func(m smtpsink.Message) bool { return len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == email }, 15*time.Second)
	m := resetLinkRe.FindStringSubmatch(msg.Text)
	if m == nil || m[1] != s.URL+"/accept-invitation/" {
		t.Fatalf("no invitation link in the email:\n%s", msg.Text)
	}

	b := newBrowser(t, s)
	b.do("open the emailed link", chromedp.Navigate(m[0]), visible("#accept-form #password"),
		until(`location.hash === "" && location.pathname === "/accept-invitation/"`),
		until(fmt.Sprintf(`document.querySelector("#email").value === %q && document.querySelector("#email").readOnly`, email)),
		textContains("#system-name", "Ticket Tracking System"), textContains("#role-name", "Asset Manager"),
		until(`document.activeElement.id === "first-name"`))
	b.checkPage("invitation form")

	b.do("passwords that differ are refused on the page", typeInto("#password", password), typeInto("#password-confirm", password+"x"),
		click("#submit"), textContains("#password-confirm-errors", "Passwords do not match."), textContains("#alert", "Please correct the highlighted fields."))
	b.do("a too common password is refused by the API",
		clear("#password"), typeInto("#password", "password123"), clear("#password-confirm"), typeInto("#password-confirm", "password123"),
		click("#submit"), textContains("#password-errors", "Password is too common."),
		until(`document.querySelector("#password").getAttribute("aria-invalid") === "true" && document.activeElement.id === "password"`))
	b.checkPage("invitation form with an API error")

	b.do("accept with a good password", typeInto("#first-name", "Nova"),
		clear("#password"), typeInto("#password", password), clear("#password-confirm"), typeInto("#password-confirm", password),
		click("#submit"), textContains("#status", "Invitation accepted. You can now log in."), visible("#done a"),
		until(`document.querySelector("#accept-form").hidden`))
	b.checkPage("invitation accepted")

	b.do("to the sign-in page", click("#done a"))
	b.navigated("the sign-in page", `location.pathname === "/login/" && !!document.querySelector("#login-form #email")`)
	b.signIn(email, password)
	b.landed()
	b.signedInAs(email)

	// The account has the invited role (through the API), and the link works once.
	st, _, body := s.Do(t, http.MethodGet, "/api/v1/tts/assign-role/", nil, auth...)
	if st != http.StatusOK || !strings.Contains(string(body), `"user_first_name":"Nova"`) ||
		!regexp.MustCompile(`"user_email":"`+regexp.QuoteMeta(email)+`","role_id":"`+role+`","role_name":"Asset Manager","is_active":true`).Match(body) {
		t.Fatalf("the new agent's TTS assignment: %d %s", st, body)
	}
	b.do("the used link", chromedp.Navigate(m[0]), textContains("#alert", "This invitation link is invalid, has expired or has already been used."),
		visible("#done a"), until(`document.querySelector("#accept-form").hidden`))

	// An invited email that got an account meanwhile: the API's answer sends the person to sign in.
	const taken = "taken.browser@example.com"
	if st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/invite-agent/", map[string]any{"email": taken, "role_id": role}, auth...); st != http.StatusCreated {
		t.Fatalf("invite %s: %d %s", taken, st, body)
	}
	msg = sink.WaitFor(t, func(m smtpsink.Message) bool { return len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == taken }, 15*time.Second)
	link := resetLinkRe.FindStringSubmatch(msg.Text)
	if link == nil {
		t.Fatalf("no invitation link in the email:\n%s", msg.Text)
	}
	createStaffUser(t, s, su, taken, "violet-harbor-43")
	b.do("accept for an email that has an account", chromedp.Navigate(link[0]), visible("#accept-form #password"),
		typeInto("#password", password), typeInto("#password-confirm", password), click("#submit"),
		textContains("#alert", "An account with this email already exists. Sign in and ask an administrator to add the role."),
		visible("#done a"), until(`document.activeElement === document.querySelector("#done a")`))
	b.checkPage("invitation for an existing account")
}

// A TTS admin page as a stranger → sign in → back; the invite page gives an existing agent a TTS
// role and sends a new email an invitation; the assign page gives the agent a second TTS role
// (not deployed) and announces the API's conflict for a duplicate; the records are checked
// through the API; the assignment list page (/assign-role/) shows them.
func TestBrowserInviteAgentAndAssignTTSRole(t *testing.T) {
	t.Parallel()
	s, su := browserServer(t)
	const boss, bossPassword = "boss.invite@example.com", "violet-harbor-42"
	const agent, newcomer = "agent.one@example.com", "newcomer.browser@example.com"
	createStaffAdmin(t, s, su, boss, bossPassword)
	agentID := createStaffUser(t, s, su, agent, "amber-lantern-77")
	auth := []string{"Authorization", "Bearer " + staffLogin(t, s, boss, bossPassword).Access}

	b := newBrowser(t, s)
	b.signInFromPage("/api/v1/users/invite-agent/", boss, bossPassword)
	b.do("the invite form", visible("#invite-form #system"), until(`document.activeElement.id === "system"`),
		until(`document.querySelector("#user").getAttribute("aria-busy") === "false"`))
	b.checkPage("invite form")

	b.do("invite the existing agent to TTS as Asset Manager",
		chooseOption("#system", "Ticket Tracking System"), until(`document.querySelector("#user").getAttribute("aria-busy") === "false"`),
		chooseOption("#role", "Asset Manager"), chooseOption("#user", agent), click("#submit"),
		textContains("#status", "User "+agent+" successfully invited to Ticket Tracking System as Asset Manager"),
		// the agent now has a TTS role: no longer offered for TTS
		until(`document.querySelector("#user").getAttribute("aria-busy") === "false" && document.querySelector("#user").textContent.indexOf("agent.one@") < 0`))
	b.checkPage("invite sent")

	b.do("a malformed email is refused on the page", click("#mode-email"), visible("#email"), typeInto("#email", "not-an-email"), click("#submit"),
		textContains("#email-errors", "Enter a valid email address."))
	b.do("invite a new email", clear("#email"), typeInto("#email", newcomer), typeInto("#first-name", "Newt"), click("#submit"),
		textContains("#status", "Invitation sent to "+newcomer+" for Ticket Tracking System as Asset Manager"))
	b.do("the same email again: the API's conflict is announced", typeInto("#email", newcomer), click("#submit"),
		textContains("#alert", "A pending invitation for "+newcomer+" to Ticket Tracking System already exists."))
	b.checkPage("invite form with an API error")

	st, _, body := s.Do(t, http.MethodGet, "/api/v1/invitations/?search="+url.QueryEscape(newcomer), nil, auth...)
	if st != http.StatusOK || !strings.Contains(string(body), `"count":1`) || !strings.Contains(string(body), `"email":"`+newcomer+`"`) ||
		!strings.Contains(string(body), `"role_name":"Asset Manager"`) || !strings.Contains(string(body), `"status":"pending"`) {
		t.Fatalf("the invitation through the API: %d %s", st, body)
	}

	b.do("open the assign page", chromedp.Navigate(s.URL+"/api/v1/tts/assign-agent-to-role/"), visible("#assign-form #agent"),
		textContains("#assignments tbody", agent), until(`document.activeElement.id === "agent"`))
	b.checkPage("assign page")
	b.do("give the agent Budget Manager, not deployed",
		chooseOption("#agent", agent), chooseOption("#role", "Budget Manager"), click("#deployed"),
		until(`!document.querySelector("#deployed").checked`), click("#submit"),
		textContains("#status", "User successfully assigned to TTS role."),
		until(`document.querySelectorAll("#assignments tbody tr").length === 2`), textContains("#assignments tbody", "Budget Manager"))
	b.do("the same role again: the API's conflict is announced", click("#submit"),
		textContains("#alert", "User is already assigned to this role in TTS."))
	b.checkPage("assign page with an API error")

	st, _, body = s.Do(t, http.MethodGet, "/api/v1/tts/assign-role/", nil, auth...)
	var list struct {
		Assignments []struct {
			UserID     string `json:"user_id"`
			RoleName   string `json:"role_name"`
			IsActive   bool   `json:"is_active"`
			IsDeployed bool   `json:"is_deployed"`
		}
	}
	if st != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("assign-role JSON: %d %s", st, body)
	}
	got := []string{}
	for _, a := range list.Assignments {
		got = append(got, fmt.Sprintf("%s %s active=%v deployed=%v", a.UserID, a.RoleName, a.IsActive, a.IsDeployed))
	}
	want := []string{agentID + " Asset Manager active=true deployed=true", agentID + " Budget Manager active=true deployed=false"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("TTS assignments through the API:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	b.do("the assignment list page", chromedp.Navigate(s.URL+"/assign-role/"), visible("#assign-form #agent"),
		until(`document.querySelectorAll("#assignments tbody tr").length === 2 && !document.querySelector("#deployed-col").hidden`),
		until(`Array.from(document.querySelectorAll("#assignments tbody tr")).map(function (tr) { return tr.textContent; }).join("|") === "Agent One`+agent+`Asset ManagerYesYes|Agent One`+agent+`Budget ManagerYesNo"`))
	b.checkPage("assignment list page")
}

// The role page: as a stranger → sign in → back; an empty name is refused on the page, a
// case-insensitive duplicate gets the API's conflict, a new role is created and listed; the role
// exists through the API.
func TestBrowserCreateTTSRole(t *testing.T) {
	t.Parallel()
	s, su := browserServer(t)
	const boss, bossPassword = "boss.roles@example.com", "violet-harbor-42"
	createStaffAdmin(t, s, su, boss, bossPassword)
	auth := []string{"Authorization", "Bearer " + staffLogin(t, s, boss, bossPassword).Access}

	b := newBrowser(t, s)
	b.signInFromPage("/api/v1/tts/create-role/", boss, bossPassword)
	b.do("the role form", visible("#role-form #name"), until(`document.activeElement.id === "name"`),
		until(`document.querySelector("#system").value === "tts"`), textContains("#roles tbody", "Asset Manager"))
	b.checkPage("create-role form")

	b.do("an empty name is refused on the page", click("#submit"), textContains("#name-errors", "Role name is required"),
		until(`document.querySelector("#name").getAttribute("aria-invalid") === "true"`))
	b.do("a duplicate is refused by the API", typeInto("#name", "  asset manager "), click("#submit"),
		textContains("#alert", "Role 'asset manager' already exists in TTS system"))
	b.checkPage("create-role form with an API error")

	// with the keyboard: Enter in the name field submits the form
	b.do("create a role", clear("#name"), typeInto("#description", "Visits the sites."), typeInto("#name", "Field Technician\r"),
		textContains("#status", "Role 'Field Technician' created successfully"), textContains("#roles tbody", "Visits the sites."),
		until(`document.querySelector("#name").value === ""`))
	b.checkPage("role created")

	st, _, body := s.Do(t, http.MethodGet, "/api/v1/tts/create-role/?system=tts", nil, auth...)
	if st != http.StatusOK || !regexp.MustCompile(`"name":"Field Technician","description":"Visits the sites.","is_custom":true`).Match(body) {
		t.Fatalf("the new role through the API: %d %s", st, body)
	}
}
