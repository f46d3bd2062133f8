package hdts_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/plugins/signin"
	"gatehouse/testkit"
)

// The employee realm of the shared sign-in flows at its contract paths (§5.12.4–§5.12.16), on
// the full wiring. The flows themselves are tested for both realms in plugins/signin; these
// tests pin the paths, the employee answers and the realm boundaries.

const api = "/api/v1/hdts/employees/api/"

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

type live struct {
	t   *testing.T
	app *tests.TestApp
	f   *fixtures
	c   testkit.Client
}

func newLive(t *testing.T) *live {
	t.Helper()
	app, f := newApp(t, nil)
	t.Cleanup(app.Cleanup)
	app.Settings().RateLimits.Enabled = false
	return &live{t: t, app: app, f: f, c: serve(t, app)}
}

func (l *live) post(path string, body any, headers ...string) testkit.Reply {
	l.t.Helper()
	return l.c.Do(http.MethodPost, path, body, headers...)
}

func (l *live) employeeLogin(email, pw string) testkit.Reply {
	l.t.Helper()
	return l.post(api+"login/", map[string]string{"email": email, "password": pw})
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func (l *live) lastMail(to string) string {
	l.t.Helper()
	signin.SettleAfterAnswer(l.app)
	rows, err := l.app.FindRecordsByFilter("email_outbox", "to = {:to}", "-created", 1, 0, dbx.Params{"to": to})
	if err != nil || len(rows) == 0 {
		l.t.Fatalf("no mail to %s: %v", to, err)
	}
	return rows[0].GetString("text_body")
}

// §5.12.4, §6.13: the approval gate after the password, EmployeeTokenResponse, cookies.
func TestEmployeeLoginPaths(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	if r := l.employeeLogin(l.f.pending.Email(), "wrong-password-1"); r.Status != 400 || string(r.Body) != badCredentials {
		t.Fatalf("pending, wrong password: %d %s", r.Status, r.Body)
	}
	if r := l.employeeLogin(l.f.pending.Email(), password); r.Status != 403 || r.Header.Get("Set-Cookie") != "" ||
		string(r.Body) != `{"detail":"Your account is pending approval. Please wait for admin approval before logging in.","code":"account_pending"}` {
		t.Fatalf("pending: %d %s", r.Status, r.Body)
	}
	if r := l.employeeLogin(l.f.rejected.Email(), password); r.Status != 403 ||
		string(r.Body) != `{"detail":"Your account has been rejected by the HDTS system administrator.","code":"account_rejected"}` {
		t.Fatalf("rejected: %d %s", r.Status, r.Body)
	}
	// a staff account is not looked up here
	if r := l.employeeLogin(l.f.hdtsAdmin.Email(), password); r.Status != 400 || string(r.Body) != badCredentials {
		t.Fatalf("staff credentials at the employee login: %d %s", r.Status, r.Body)
	}
	ok := l.employeeLogin(strings.ToUpper(l.f.approved.Email()), password)
	emp, _ := ok.JSON["employee"].(map[string]any)
	if ok.Status != 200 || ok.Str("token_type") != "Bearer" || ok.JSON["expires_in"] != float64(300) || emp["id"] != idApproved ||
		emp["last_login"] == nil || len(ok.Header.Values("Set-Cookie")) != 2 || ok.JSON["user"] != nil {
		t.Fatalf("approved: %d %s", ok.Status, ok.Body)
	}
	if n := count(t, l.app, "sessions", dbx.HashExp{"user_type": "employee", "employee": idApproved, "revoked_at": ""}); n != 1 {
		t.Fatalf("%d sessions", n)
	}
	// the employee's access token works on the employee side and on PRINCIPAL endpoints
	if r := l.c.Do(http.MethodGet, "/api/v1/users/sessions/", nil, bearer(ok.Str("access"))...); r.Status != 200 ||
		!strings.Contains(string(r.Body), `"count":1,`) || !strings.Contains(string(r.Body), `"user_type":"employee","current":true`) {
		t.Fatalf("sessions: %d %s", r.Status, r.Body)
	}
	// a second session, revoked through the sessions endpoints
	other := l.employeeLogin(l.f.approved.Email(), password)
	if r := l.c.Do(http.MethodDelete, "/api/v1/users/sessions/", nil, bearer(ok.Str("access"))...); r.Status != 200 || string(r.Body) != `{"revoked":1}` {
		t.Fatalf("delete other sessions: %d %s", r.Status, r.Body)
	}
	if r := l.post(api+"token/refresh/", map[string]string{"refresh": other.Str("refresh")}); r.Status != 401 {
		t.Fatalf("refresh of the revoked session: %d %s", r.Status, r.Body)
	}

	// refresh on the employee path, then logout with the employee message
	ref := l.post(api+"token/refresh", map[string]string{"refresh": ok.Str("refresh")})
	if ref.Status != 200 || ref.Str("user_type") != "employee" || ref.Str("message") != "Token refreshed successfully" {
		t.Fatalf("refresh: %d %s", ref.Status, ref.Body)
	}
	out := l.post(api+"logout/", map[string]string{"refresh": ref.Str("refresh")})
	if out.Status != 200 || string(out.Body) != `{"message":"Successfully logged out"}` {
		t.Fatalf("logout: %d %s", out.Status, out.Body)
	}
	if r := l.c.Do(http.MethodGet, api+"profile/", nil, bearer(ref.Str("access"))...); r.Status != 401 {
		t.Fatalf("access after logout: %d %s", r.Status, r.Body)
	}
	if n := count(t, l.app, "audit_log", dbx.HashExp{"event": "login.success", "actor_id": idApproved}); n != 2 {
		t.Fatalf("%d login.success rows", n)
	}
}

// §5.12.12–§5.12.15: 2FA for an employee; §8.5 statement 48: no password-less login.
func TestEmployeeSecondFactor(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	email := l.f.approved.Email()
	access := l.employeeLogin(email, password).Str("access")
	start := l.post(api+"2fa/enable/", map[string]string{"password": password}, bearer(access)...)
	secret := start.Str("secret")
	if start.Status != 200 || secret == "" {
		t.Fatalf("enable: %d %s", start.Status, start.Body)
	}
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if r := l.post(api+"2fa/enable/", map[string]string{"password": password, "otp_code": code(time.Now())}, bearer(access)...); r.Status != 200 || r.Str("status") != "enabled" {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	challenge := l.employeeLogin(email, password)
	if challenge.Status != 200 || challenge.JSON["otp_required"] != true {
		t.Fatalf("challenge: %d %s", challenge.Status, challenge.Body)
	}
	// the staff verify-otp refuses the employee's temporary token (§8.5 statement 42)
	if r := l.post("/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": challenge.Str("temporary_token"), "otp_code": "123456"}); r.Status != 401 || string(r.Body) != tokenInvalid {
		t.Fatalf("staff verify-otp with an employee token: %d %s", r.Status, r.Body)
	}
	done := l.post(api+"2fa/verify-otp/", map[string]string{"temporary_token": challenge.Str("temporary_token"), "otp_code": code(time.Now().Add(30 * time.Second))})
	if done.Status != 200 || done.JSON["employee"] == nil || len(done.Header.Values("Set-Cookie")) != 2 {
		t.Fatalf("verify-otp: %d %s", done.Status, done.Body)
	}

	// email 2FA: the public request-otp mode mails a login code, which alone never yields tokens
	testkit.SetField(t, l.app, l.f.approved, "otp_method", "email")
	generic := l.post(api+"2fa/request-otp/", map[string]string{"email": email, "password": password})
	if generic.Status != 200 || !strings.Contains(string(generic.Body), `"expires_in_minutes":5`) {
		t.Fatalf("request-otp (public): %d %s", generic.Status, generic.Body)
	}
	emailed := sixDigits.FindStringSubmatch(l.lastMail(email))
	if emailed == nil {
		t.Fatal("no code mailed")
	}
	for _, body := range []map[string]string{
		{"email": email, "otp_code": emailed[1]},
		{"temporary_token": "", "otp_code": emailed[1]},
		{"otp_code": emailed[1]},
	} {
		if r := l.post(api+"2fa/verify-otp/", body); r.Status == 200 || r.JSON["access"] != nil {
			t.Fatalf("verify-otp %v yielded: %d %s", body, r.Status, r.Body)
		}
		if r := l.post(api+"login/", body); r.Status == 200 || r.JSON["access"] != nil {
			t.Fatalf("login %v yielded: %d %s", body, r.Status, r.Body)
		}
	}
	// the same answer for a wrong password (nothing mailed)
	before := count(t, l.app, "email_outbox", dbx.HashExp{"to": email})
	wrong := l.post(api+"2fa/request-otp/", map[string]string{"email": email, "password": "wrong-password-1"})
	if wrong.Status != 200 || string(wrong.Body) != string(generic.Body) || count(t, l.app, "email_outbox", dbx.HashExp{"to": email}) != before {
		t.Fatalf("request-otp, wrong password: %d %s", wrong.Status, wrong.Body)
	}

	// the authenticated mode (no email): needs an employee token
	if r := l.post(api+"2fa/request-otp/", map[string]string{}); r.Status != 401 || string(r.Body) != notAuthenticated {
		t.Fatalf("request-otp without email or token: %d %s", r.Status, r.Body)
	}
	staffAccess := login(t, l.app, l.f.hdtsAdmin).Access
	if r := l.post(api+"2fa/request-otp/", nil, bearer(staffAccess)...); r.Status != 401 || string(r.Body) != tokenInvalid {
		t.Fatalf("request-otp with a staff token: %d %s", r.Status, r.Body)
	}
	access = done.Str("access")
	manage := l.post(api+"2fa/request-otp/", nil, bearer(access)...)
	if manage.Status != 200 || !strings.Contains(string(manage.Body), `"expires_in_minutes":5`) {
		t.Fatalf("request-otp (manage): %d %s", manage.Status, manage.Body)
	}
	manageCode := sixDigits.FindStringSubmatch(l.lastMail(email))
	if r := l.post(api+"2fa/disable/", map[string]string{"password": password}, bearer(access)...); r.Status != 400 ||
		string(r.Body) != `{"detail":"An OTP code is required.","code":"otp_required"}` {
		t.Fatalf("disable without a code: %d %s", r.Status, r.Body)
	}
	if r := l.post(api+"2fa/disable/", map[string]string{"password": password, "otp_code": manageCode[1]}, bearer(access)...); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	if reload(t, l.app, l.f.approved).GetBool("otp_enabled") {
		t.Fatal("2FA still on")
	}
}

// §5.12.9–§5.12.11: change, forgot (link with kind=employee), reset.
func TestEmployeePasswords(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	email := l.f.approved.Email()
	first := l.employeeLogin(email, password)
	second := l.employeeLogin(email, password)
	if r := l.post(api+"profile/change-password/", map[string]string{"old_password": password, "new_password": newPass, "confirm_password": "other"},
		bearer(first.Str("access"))...); r.Status != 400 || string(r.Body) != invalid(`{"confirm_password":["New passwords do not match."]}`) {
		t.Fatalf("mismatch: %d %s", r.Status, r.Body)
	}
	if r := l.post(api+"profile/change-password/", map[string]string{"old_password": password, "new_password": newPass, "confirm_password": newPass},
		bearer(first.Str("access"))...); r.Status != 200 || string(r.Body) != `{"message":"Password changed successfully"}` {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	if r := l.post(api+"token/refresh/", map[string]string{"refresh": second.Str("refresh")}); r.Status != 401 {
		t.Fatalf("other session after the change: %d", r.Status)
	}

	const forgotDone = `{"success":true,"message":"If an account with that email exists, you will receive password reset instructions."}`
	for _, who := range []string{email, "nobody@example.com", l.f.hdtsAdmin.Email()} {
		if r := l.post(api+"password/forgot/", map[string]string{"email": who}); r.Status != 200 || string(r.Body) != forgotDone {
			t.Fatalf("forgot %s: %d %s", who, r.Status, r.Body)
		}
	}
	signin.SettleAfterAnswer(l.app)
	if n := count(t, l.app, "email_outbox", dbx.HashExp{"to": l.f.hdtsAdmin.Email()}); n != 0 {
		t.Fatalf("the staff user with that email got %d mails from the employee forgot", n)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(testAppURL+"/reset-password/?kind=employee#token=") + `([A-Za-z0-9_-]+)`).FindStringSubmatch(l.lastMail(email))
	if link == nil {
		t.Fatal("no employee reset link")
	}
	// a staff reset endpoint does not accept the employee's token
	if r := l.post("/api/v1/users/password/reset/", map[string]string{"token": link[1], "password": "x-reset-pass-1", "password_confirm": "x-reset-pass-1"}); r.Status != 400 {
		t.Fatalf("staff reset with an employee token: %d %s", r.Status, r.Body)
	}
	if r := l.post(api+"password/reset/", map[string]string{"token": link[1], "new_password": "x-reset-pass-1", "confirm_password": "x-reset-pass-1"}); r.Status != 200 ||
		string(r.Body) != `{"success":true,"message":"Password reset successfully. Please log in with your new password."}` {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := l.employeeLogin(email, "x-reset-pass-1"); r.Status != 200 {
		t.Fatalf("login with the new password: %d %s", r.Status, r.Body)
	}
	if r := l.post(api+"password/reset/", map[string]string{"token": link[1], "new_password": "x-reset-pass-2", "confirm_password": "x-reset-pass-2"}); r.Status != 400 ||
		string(r.Body) != invalid(`{"token":["Invalid or expired reset token."]}`) {
		t.Fatalf("second use: %d %s", r.Status, r.Body)
	}
}
