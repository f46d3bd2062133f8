package accounts_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/config"
	"gatehouse/plugins/signin"
	"gatehouse/server"
	"gatehouse/testkit"
)

const appURL = "https://auth.example.com"

type flow struct {
	t   *testing.T
	app *tests.TestApp
	url string
	svc *server.Services
}

func newFlow(t *testing.T, mutate func(*config.Config)) *flow {
	t.Helper()
	var svc *server.Services
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = appURL
		if mutate != nil {
			mutate(cfg)
		}
		svc = server.Register(app, cfg, server.Options{})
	})
	return &flow{t: t, app: app, url: testkit.Serve(t, app).URL, svc: svc}
}

func (f *flow) user(email, password string, active bool) *core.Record {
	f.t.Helper()
	col, _ := f.app.FindCachedCollectionByNameOrId("users")
	u := core.NewRecord(col)
	u.SetEmail(email)
	u.SetPassword(password)
	u.Set("first_name", "Agent")
	u.Set("last_name", "One")
	u.Set("is_active", active)
	if err := f.app.Save(u); err != nil {
		f.t.Fatal(err)
	}
	return u
}

type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r reply) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (r reply) str(key string) string { s, _ := r.json[key].(string); return s }

// do sends a request; kv are header pairs, and "Cookie" values are sent as given.
func (f *flow) do(method, path string, body any, kv ...string) reply {
	f.t.Helper()
	r := testkit.Client{TB: f.t, URL: f.url}.Do(method, path, body, kv...)
	f.settle()
	return reply{status: r.Status, header: r.Header, body: r.Body, json: r.JSON}
}

// settle waits for the work the service does after answering (forgot-password).
func (f *flow) settle() { signin.SettleAfterAnswer(f.app) }

func (f *flow) login(email, password string) reply {
	f.t.Helper()
	r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": password})
	if r.status != 200 || r.str("access") == "" {
		f.t.Fatalf("login: %d %s", r.status, r.body)
	}
	return r
}

func (f *flow) session(sid string) *core.Record {
	f.t.Helper()
	s, err := f.app.FindRecordById("sessions", sid)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func sidOf(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	var c map[string]any
	raw, _ := decodeSegment(parts[1])
	_ = json.Unmarshal(raw, &c)
	sid, _ := c["sid"].(string)
	return sid
}

const (
	tokenNotValid = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
	badCreds      = `{"detail":"Invalid email or password.","code":"invalid_credentials"}`
	csrfFailed    = `{"detail":"CSRF check failed: origin not allowed.","code":"permission_denied"}`
)

func TestLoginSuccessCookiesAndSideEffects(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	u := f.user("agent.one@example.com", "violet-harbor-42", true)
	r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": " Agent.One@Example.com ", "password": "violet-harbor-42"})
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login: %d %v %s", r.status, r.header, r.body)
	}
	for _, k := range []string{"access", "refresh", "token_type", "expires_in", "user", "redirect"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("TokenResponse lacks %s: %s", k, r.body)
		}
	}
	if r.json["token_type"] != "Bearer" || r.json["expires_in"] != float64(300) || r.json["access_hs256"] != nil {
		t.Errorf("token fields: %s", r.body)
	}
	access, refresh := r.cookie("access_token"), r.cookie("refresh_token")
	if access == nil || access.Value != r.str("access") || access.Path != "/" || access.MaxAge != 300 || !access.HttpOnly ||
		access.SameSite != http.SameSiteLaxMode || !access.Secure || access.Domain != "" { // APP_URL is https: Secure
		t.Errorf("access cookie = %+v", access)
	}
	if refresh == nil || refresh.Value != r.str("refresh") || refresh.Path != "/api/v1/" || refresh.MaxAge < 604790 || refresh.MaxAge > 604800 ||
		!refresh.HttpOnly || refresh.SameSite != http.SameSiteLaxMode || refresh.Domain != "" {
		t.Errorf("refresh cookie = %+v", refresh)
	}
	sess := f.session(sidOf(t, r.str("access")))
	if sess.GetString("user") != u.Id || sess.GetInt("generation") != 1 || sess.GetString("login_method") != "password" ||
		sess.GetString("refresh_jti_hash") == "" || strings.Contains(r.str("refresh"), sess.GetString("refresh_jti_hash")) {
		t.Errorf("session = %v", sess)
	}
	fresh, _ := f.app.FindRecordById("users", u.Id)
	if fresh.GetDateTime("last_login").IsZero() {
		t.Error("last_login not set")
	}
	if n, _ := f.app.CountRecords("audit_log", dbxEq("event", "login.success")); n != 1 {
		t.Errorf("login.success audit rows = %d", n)
	}
	// the refresh cookie keeps its path on the /token/ alias
	r2 := f.do(http.MethodPost, "/token/", map[string]string{"email": "agent.one@example.com", "password": "violet-harbor-42"})
	if r2.status != 200 || r2.cookie("refresh_token").Path != "/api/v1/" {
		t.Errorf("/token/: %d %v", r2.status, r2.header)
	}
	if r3 := f.do(http.MethodPost, "/api/v1/token/obtain/", map[string]string{"email": "agent.one@example.com", "password": "violet-harbor-42"}); r3.status != 200 {
		t.Errorf("token/obtain: %d", r3.status)
	}
	if r4 := f.do(http.MethodGet, "/token/", nil); r4.status != 405 || r4.header.Get("Allow") != "POST" ||
		string(r4.body) != `{"detail":"Method \"GET\" not allowed.","code":"method_not_allowed"}` {
		t.Errorf("GET /token/: %d %v %s", r4.status, r4.header, r4.body)
	}
}

func TestCookieAttributesFollowConfiguration(t *testing.T) {
	t.Parallel()
	f := newFlow(t, func(c *config.Config) { c.CookieSecure = true; c.CookieDomain = "example.com" })
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	access, refresh := r.cookie("access_token"), r.cookie("refresh_token")
	if !access.Secure || !refresh.Secure || access.Domain != "example.com" || refresh.Domain != "" {
		t.Fatalf("cookies: %+v %+v (raw %v)", access, refresh, r.header.Values("Set-Cookie"))
	}
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("known@example.com", "violet-harbor-42", true)
	f.user("inactive@example.com", "violet-harbor-42", false)
	var first reply
	for i, body := range []map[string]string{
		{"email": "nobody@example.com", "password": "violet-harbor-42"},
		{"email": "known@example.com", "password": "wrong-password-1"},
		{"email": "inactive@example.com", "password": "violet-harbor-42"},
	} {
		r := f.do(http.MethodPost, "/api/v1/users/login/", body)
		if r.status != 400 || string(r.body) != badCreds || r.cookie("access_token") != nil {
			t.Fatalf("case %d: %d %s", i, r.status, r.body)
		}
		if i == 0 {
			first = r
			continue
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "Www-Authenticate", "Set-Cookie"} {
			if r.header.Get(h) != first.header.Get(h) {
				t.Errorf("case %d: header %s differs: %q vs %q", i, h, r.header.Get(h), first.header.Get(h))
			}
		}
	}
	reasons := map[string]bool{}
	rows, _ := f.app.FindAllRecords("audit_log", dbxEq("event", "login.failure"))
	for _, row := range rows {
		var d map[string]any
		_ = json.Unmarshal([]byte(row.GetString("details")), &d)
		reasons[d["reason"].(string)] = true
		if strings.Contains(row.GetString("details"), "violet-harbor") || strings.Contains(row.GetString("details"), "wrong-password") {
			t.Fatal("a password reached the audit log")
		}
	}
	if !reasons["unknown_account"] || !reasons["bad_password"] || !reasons["inactive"] {
		t.Errorf("audit reasons = %v", reasons)
	}

	// validation
	r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]any{"email": "not-an-email", "password": "", "otp_code": "12ab"})
	if r.status != 400 || string(r.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"email":["Enter a valid email address."],"otp_code":["OTP must be a 6-digit number."],"password":["This field may not be blank."]}}` {
		t.Errorf("validation: %d %s", r.status, r.body)
	}
}

func TestRefreshRotatesOnEveryPath(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	sid := sidOf(t, r.str("access"))
	current := r.str("refresh")
	gen := 1
	for _, path := range []string{"/api/v1/token/refresh/", "/api/v1/users/token/refresh/", "/api/v1/token/refresh/cookie/"} {
		for _, viaCookie := range []bool{false, true} {
			var rr reply
			if viaCookie {
				rr = f.do(http.MethodPost, path, nil, "Cookie", "refresh_token="+current, "Origin", appURL)
			} else {
				rr = f.do(http.MethodPost, path, map[string]string{"refresh": current})
			}
			gen++
			if rr.status != 200 || rr.str("message") != "Token refreshed successfully" || rr.str("user_type") != "staff" ||
				rr.str("token_type") != "Bearer" || rr.str("refresh") == current || rr.cookie("refresh_token").Value != rr.str("refresh") {
				t.Fatalf("%s cookie=%v: %d %s", path, viaCookie, rr.status, rr.body)
			}
			if s := f.session(sid); s.GetInt("generation") != gen {
				t.Fatalf("%s: generation %d, want %d", path, s.GetInt("generation"), gen)
			}
			current = rr.str("refresh")
		}
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/sessions/", nil, "Authorization", "Bearer "+r.str("access")); rr.status != 200 {
		t.Fatalf("the family's first access token must still work: %d", rr.status)
	}
}

func TestRefreshGraceAndReuseDetection(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	sid := sidOf(t, r.str("access"))
	r1 := r.str("refresh")
	r2Reply := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r1})
	r2 := r2Reply.str("refresh")

	// within 10 s: 409, nothing rotated, no cookie
	g := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r1})
	if g.status != 409 || string(g.body) != `{"detail":"Refresh already in progress.","code":"conflict"}` || len(g.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("grace: %d %s %v", g.status, g.body, g.header.Values("Set-Cookie"))
	}
	if f.session(sid).GetInt("generation") != 2 {
		t.Fatal("the grace answer must not rotate")
	}

	// later than 10 s (moved rotated_at, §1.15): reuse → the family dies
	s := f.session(sid)
	s.Set("rotated_at", time.Now().Add(-11*time.Second))
	if err := f.app.Save(s); err != nil {
		t.Fatal(err)
	}
	reuse := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r1})
	if reuse.status != 401 || string(reuse.body) != tokenNotValid {
		t.Fatalf("reuse: %d %s", reuse.status, reuse.body)
	}
	if s := f.session(sid); s.GetString("revoked_reason") != "reuse_detected" {
		t.Fatalf("session after reuse: %v", s)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r2}); rr.status != 401 {
		t.Fatalf("the newest refresh token must die with the family: %d", rr.status)
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/sessions/", nil, "Authorization", "Bearer "+r2Reply.str("access")); rr.status != 401 {
		t.Fatalf("the family's access token must die: %d", rr.status)
	}
	if n, _ := f.app.CountRecords("audit_log", dbxEq("event", "token.reuse_detected")); n != 1 {
		t.Fatalf("token.reuse_detected rows = %d", n)
	}
}

func TestOlderThanPreviousTokenIsReuse(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	r1 := r.str("refresh")
	r2 := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r1}).str("refresh")
	r3 := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r2}).str("refresh")
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r1}); rr.status != 401 {
		t.Fatalf("R1 after two rotations: %d", rr.status)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r3}); rr.status != 401 {
		t.Fatalf("R3 after reuse of R1: %d", rr.status)
	}
}

func TestConcurrentRefreshOneWinsOneConflicts(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	var wg sync.WaitGroup
	statuses := make(chan reply, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r.str("refresh")})
		}()
	}
	wg.Wait()
	close(statuses)
	got := map[int]reply{}
	for s := range statuses {
		got[s.status] = s
	}
	if _, ok := got[200]; !ok || got[409].status != 409 {
		t.Fatalf("want one 200 and one 409, got %v", got)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": got[200].str("refresh")}); rr.status != 200 {
		t.Fatalf("the family must stay live: %d %s", rr.status, rr.body)
	}
}

func TestCookieRefreshCSRFAndFailureClearsCookies(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	sid := sidOf(t, r.str("access"))
	for _, origin := range []string{"", "https://evil.example"} {
		kv := []string{"Cookie", "refresh_token=" + r.str("refresh")}
		if origin != "" {
			kv = append(kv, "Origin", origin)
		}
		rr := f.do(http.MethodPost, "/api/v1/users/token/refresh/", nil, kv...)
		if rr.status != 403 || string(rr.body) != csrfFailed || len(rr.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("origin %q: %d %s", origin, rr.status, rr.body)
		}
	}
	if f.session(sid).GetInt("generation") != 1 {
		t.Fatal("a CSRF-refused refresh must not rotate")
	}
	bad := f.do(http.MethodPost, "/api/v1/token/refresh/", nil, "Cookie", "refresh_token=garbage", "Origin", appURL)
	if bad.status != 401 || bad.cookie("access_token") == nil || bad.cookie("access_token").MaxAge >= 0 || bad.cookie("refresh_token").MaxAge >= 0 {
		t.Fatalf("a failed cookie refresh must clear both cookies: %d %v", bad.status, bad.header.Values("Set-Cookie"))
	}
	none := f.do(http.MethodPost, "/api/v1/token/refresh/", nil)
	if none.status != 401 || string(none.body) != `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}` {
		t.Fatalf("no token: %d %s", none.status, none.body)
	}
	if typ := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]any{"refresh": 42}); typ.status != 400 ||
		string(typ.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"refresh":["Not a valid string."]}}` {
		t.Fatalf("non-string refresh: %d %s", typ.status, typ.body)
	}
}

func TestWrongPrincipalTypeNeverRotates(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	_, issued := approvedEmployee(t, f, "emp@example.com", "violet-harbor-42")
	if rr := f.do(http.MethodPost, "/api/v1/users/token/refresh/", map[string]string{"refresh": issued.Refresh}); rr.status != 401 {
		t.Fatalf("employee refresh at the staff path: %d", rr.status)
	}
	if f.session(issued.SessionID).GetInt("generation") != 1 {
		t.Fatal("must not rotate")
	}
	rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": issued.Refresh})
	if rr.status != 200 || rr.str("user_type") != "employee" {
		t.Fatalf("the same token on the shared path: %d %s", rr.status, rr.body)
	}
	// an employee token on a staff-only endpoint: 401, never 403
	if v := f.do(http.MethodPost, "/api/v1/token/verify/", map[string]string{"token": rr.str("access")}); v.status != 200 {
		t.Fatalf("verify accepts employee access tokens: %d", v.status)
	}
}

func TestAbsoluteSessionLifetime(t *testing.T) {
	t.Parallel()
	f := newFlow(t, func(c *config.Config) { c.SessionMaxAge = 2 * time.Second; c.RefreshTokenTTL = 60 * time.Second })
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	if c := r.cookie("refresh_token"); c.MaxAge > 2 {
		t.Fatalf("refresh cookie Max-Age %d exceeds the session's absolute lifetime", c.MaxAge)
	}
	time.Sleep(2100 * time.Millisecond)
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r.str("refresh")}); rr.status != 401 {
		t.Fatalf("refresh after SESSION_MAX_AGE: %d %s", rr.status, rr.body)
	}
}

// §1.15 moves time by editing a session's expires_at (the expiry of its current refresh token):
// a session edited into the past refreshes no more (401), without counting as a reuse; one
// rotation before, on the live session, still works — on both the cached and the read path.
func TestRefreshHonoursAnEditedExpiry(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	sid := sidOf(t, r.str("access"))
	next := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r.str("refresh")})
	if next.status != 200 {
		t.Fatalf("refresh on the live session: %d %s", next.status, next.body)
	}
	generation := f.session(sid).GetInt("generation")
	f.setDate("sessions", dbx.HashExp{"id": sid}, "expires_at", time.Now().Add(-time.Second))
	rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": next.str("refresh")})
	if rr.status != 401 || !strings.Contains(string(rr.body), `"code":"token_not_valid"`) {
		t.Fatalf("refresh after expires_at: %d %s", rr.status, rr.body)
	}
	if s := f.session(sid); !s.GetDateTime("revoked_at").IsZero() || s.GetInt("generation") != generation {
		t.Fatalf("session after the refused refresh: revoked %q, generation %d (was %d)", s.GetString("revoked_reason"), s.GetInt("generation"), generation)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	a := f.login("a@example.com", "violet-harbor-42")
	b := f.login("a@example.com", "violet-harbor-42")

	// cookie without Origin: 403, nothing revoked, no cookie touched
	csrf := f.do(http.MethodPost, "/api/v1/users/logout/", nil, "Cookie", "refresh_token="+a.str("refresh"))
	if csrf.status != 403 || len(csrf.header.Values("Set-Cookie")) != 0 || !f.session(sidOf(t, a.str("access"))).GetDateTime("revoked_at").IsZero() {
		t.Fatalf("logout CSRF: %d %s", csrf.status, csrf.body)
	}

	out := f.do(http.MethodPost, "/api/v1/users/logout/", map[string]string{"refresh": a.str("refresh")})
	if out.status != 200 || string(out.body) != `{"message":"Logout successful"}` ||
		out.cookie("access_token").MaxAge >= 0 || out.cookie("refresh_token").MaxAge >= 0 || out.cookie("refresh_token").Path != "/api/v1/" {
		t.Fatalf("logout: %d %s %v", out.status, out.body, out.header.Values("Set-Cookie"))
	}
	if s := f.session(sidOf(t, a.str("access"))); s.GetString("revoked_reason") != "logout" {
		t.Fatalf("session after logout: %v", s)
	}
	for _, path := range []string{"/api/v1/token/refresh/", "/api/v1/users/token/refresh/", "/api/v1/token/refresh/cookie/"} {
		if rr := f.do(http.MethodPost, path, map[string]string{"refresh": a.str("refresh")}); rr.status != 401 {
			t.Errorf("%s after logout: %d", path, rr.status)
		}
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/verify/", map[string]string{"token": a.str("access")}); rr.status != 401 {
		t.Errorf("verify after logout: %d", rr.status)
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/sessions/", nil, "Authorization", "Bearer "+a.str("access")); rr.status != 401 {
		t.Errorf("access after logout: %d", rr.status)
	}
	// the other device is untouched; a Bearer logout ends it
	if rr := f.do(http.MethodPost, "/api/v1/users/logout/", nil, "Authorization", "Bearer "+b.str("access")); rr.status != 200 {
		t.Fatalf("bearer logout: %d", rr.status)
	}
	if s := f.session(sidOf(t, b.str("access"))); s.GetString("revoked_reason") != "logout" {
		t.Fatal("bearer logout did not end the session")
	}
	// no credential at all still answers 200 and clears cookies
	if rr := f.do(http.MethodPost, "/api/v1/users/logout/", nil); rr.status != 200 || rr.cookie("refresh_token") == nil {
		t.Fatalf("anonymous logout: %d", rr.status)
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/logout/", nil); rr.status != 405 {
		t.Fatalf("GET logout: %d", rr.status)
	}
}

func TestVerifyEndpoint(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	if rr := f.do(http.MethodPost, "/api/v1/token/verify/", map[string]string{"token": r.str("access")}); rr.status != 200 || string(rr.body) != `{}` {
		t.Fatalf("verify access: %d %s", rr.status, rr.body)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/verify/", map[string]string{"token": r.str("refresh")}); rr.status != 401 {
		t.Fatalf("verify refresh: %d", rr.status)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r.str("refresh")}); rr.status != 200 {
		t.Fatalf("verify must not consume or rotate the refresh token: %d", rr.status)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/verify/", map[string]string{}); rr.status != 400 ||
		string(rr.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"token":["This field is required."]}}` {
		t.Fatalf("verify without token: %d %s", rr.status, rr.body)
	}
}

func TestSessionsEndpoints(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	f.user("b@example.com", "violet-harbor-42", true)
	a1 := f.login("a@example.com", "violet-harbor-42")
	a2 := f.login("a@example.com", "violet-harbor-42")
	a3 := f.login("a@example.com", "violet-harbor-42")
	b1 := f.login("b@example.com", "violet-harbor-42")
	auth := []string{"Authorization", "Bearer " + a1.str("access")}

	list := f.do(http.MethodGet, "/api/v1/users/sessions/", nil, auth...)
	if list.status != 200 || list.json["count"] != float64(3) {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
	currents := 0
	for _, it := range list.json["results"].([]any) {
		m := it.(map[string]any)
		if m["current"] == true {
			currents++
			if m["id"] != sidOf(t, a1.str("access")) {
				t.Error("wrong current session")
			}
		}
		if len(m) != 10 {
			t.Errorf("Session keys: %v", m)
		}
	}
	if currents != 1 {
		t.Fatalf("current flags: %d", currents)
	}
	if rr := f.do(http.MethodDelete, "/api/v1/users/sessions/"+sidOf(t, b1.str("access"))+"/", nil, auth...); rr.status != 404 ||
		string(rr.body) != `{"detail":"Session not found.","code":"not_found"}` {
		t.Fatalf("another principal's session: %d %s", rr.status, rr.body)
	}
	if rr := f.do(http.MethodDelete, "/api/v1/users/sessions/"+sidOf(t, a2.str("access")), nil, auth...); rr.status != 204 {
		t.Fatalf("delete own session: %d %s", rr.status, rr.body)
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/sessions/", nil, "Authorization", "Bearer "+a2.str("access")); rr.status != 401 {
		t.Fatal("the deleted session's token must die")
	}
	// CSRF: cookie-authenticated DELETE from a foreign origin changes nothing
	if rr := f.do(http.MethodDelete, "/api/v1/users/sessions/", nil, "Cookie", "access_token="+a1.str("access"), "Origin", "https://evil.example"); rr.status != 403 {
		t.Fatalf("cookie DELETE from evil origin: %d", rr.status)
	}
	if f.session(sidOf(t, a3.str("access"))).GetDateTime("revoked_at").IsZero() == false {
		t.Fatal("a CSRF-refused request revoked a session")
	}
	// an expired session is not live (§5.15.6): neither listed nor counted as revoked
	a4 := f.login("a@example.com", "violet-harbor-42")
	f.setDate("sessions", dbx.HashExp{"id": sidOf(t, a4.str("access"))}, "expires_at", time.Now().Add(-time.Minute))
	rr := f.do(http.MethodDelete, "/api/v1/users/sessions/", nil, auth...)
	if rr.status != 200 || string(rr.body) != `{"revoked":1}` {
		t.Fatalf("delete others: %d %s", rr.status, rr.body)
	}
	if s := f.session(sidOf(t, a4.str("access"))); !s.GetDateTime("revoked_at").IsZero() {
		t.Fatalf("the expired session was revoked too (%s)", s.GetString("revoked_reason"))
	}
	if s := f.session(sidOf(t, a3.str("access"))); s.GetString("revoked_reason") != "user_revoked" {
		t.Fatalf("the live other session: revoked_reason %q", s.GetString("revoked_reason"))
	}
	if f.do(http.MethodGet, "/api/v1/users/sessions/", nil, auth...).status != 200 || f.do(http.MethodGet, "/api/v1/users/sessions/", nil, "Authorization", "Bearer "+b1.str("access")).status != 200 {
		t.Fatal("the current session and other users' sessions must survive")
	}
	// deleting the current session clears the cookies
	cur := f.do(http.MethodDelete, "/api/v1/users/sessions/"+sidOf(t, a1.str("access"))+"/", nil, auth...)
	if cur.status != 204 || cur.cookie("access_token") == nil || cur.cookie("access_token").MaxAge >= 0 {
		t.Fatalf("delete current: %d %v", cur.status, cur.header.Values("Set-Cookie"))
	}
}

func TestDeactivationEndsEverything(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	u := f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	u.Set("is_active", false)
	if err := f.app.Save(u); err != nil {
		t.Fatal(err)
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/sessions/", nil, "Authorization", "Bearer "+r.str("access")); rr.status != 401 {
		t.Fatalf("access after deactivation: %d", rr.status)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": r.str("refresh")}); rr.status != 401 {
		t.Fatalf("refresh after deactivation: %d", rr.status)
	}
	if s := f.session(sidOf(t, r.str("access"))); s.GetString("revoked_reason") != "user_deactivated" {
		t.Fatalf("session: %v", s)
	}
	if rr := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": "violet-harbor-42"}); rr.status != 400 || string(rr.body) != badCreds {
		t.Fatalf("login after deactivation: %d %s", rr.status, rr.body)
	}
}

func TestValidateEndpoint(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	u := f.user("a@example.com", "violet-harbor-42", true)
	r := f.login("a@example.com", "violet-harbor-42")
	before := time.Now().Add(-time.Second)
	v := f.do(http.MethodGet, "/api/v1/users/token/validate/?system=tts", nil, "Authorization", "Bearer "+r.str("access"))
	if v.status != 200 || v.json["id"] != u.Id || v.json["email"] != "a@example.com" {
		t.Fatalf("validate: %d %s", v.status, v.body)
	}
	validated, err := time.Parse("2006-01-02T15:04:05.000Z", v.str("token_validated_at"))
	if err != nil || validated.Before(before) {
		t.Fatalf("token_validated_at = %q", v.str("token_validated_at"))
	}
	exp := int64(payloadOf(t, r.str("access"))["exp"].(float64))
	if v.str("token_expires_at") != time.Unix(exp, 0).UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Fatalf("token_expires_at = %q, exp %d", v.str("token_expires_at"), exp)
	}
	if roles, ok := v.json["system_roles"].([]any); !ok || len(roles) != 0 {
		t.Fatalf("system_roles = %v", v.json["system_roles"])
	}
	for name, kv := range map[string][]string{
		"refresh token as bearer": {"Authorization", "Bearer " + r.str("refresh")},
		"garbage":                 {"Authorization", "Bearer x.y.z"},
	} {
		if rr := f.do(http.MethodGet, "/api/v1/users/token/validate/", nil, kv...); rr.status != 401 || string(rr.body) != tokenNotValid {
			t.Errorf("%s: %d %s", name, rr.status, rr.body)
		}
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/token/validate/", nil); rr.status != 401 ||
		rr.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
		t.Errorf("anonymous: %d %v", rr.status, rr.header)
	}
	// an employee token on this staff endpoint: 401, never 403
	_, issued := approvedEmployee(t, f, "emp@example.com", "violet-harbor-42")
	for _, path := range []string{"/api/v1/users/token/validate/", "/api/v1/users/profile/"} {
		if rr := f.do(http.MethodGet, path, nil, "Authorization", "Bearer "+issued.Access); rr.status != 401 || string(rr.body) != tokenNotValid {
			t.Errorf("employee token at %s: %d %s", path, rr.status, rr.body)
		}
	}
	if rr := f.do(http.MethodGet, "/api/me/", nil, "Authorization", "Bearer "+issued.Access); rr.status != 200 || rr.json["type"] != "employee" {
		t.Errorf("employee at /api/me/: %d %s", rr.status, rr.body)
	}
}

func TestLockedAccountLooksLikeAWrongPassword(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	u := f.user("a@example.com", "violet-harbor-42", true)
	wrong := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": "not-the-password"})
	u.Set("locked_until", time.Now().Add(10*time.Minute))
	if err := f.app.Save(u); err != nil {
		t.Fatal(err)
	}
	locked := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": "violet-harbor-42"})
	if locked.status != 400 || string(locked.body) != string(wrong.body) || string(locked.body) != badCreds {
		t.Fatalf("locked: %d %s vs wrong %s", locked.status, locked.body, wrong.body)
	}
}

// Profile reads are served from the write-epoch caches once warm; every kind of write shows up
// on the very next read.
func TestProfileReadsFollowWritesAfterCaching(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	u := f.user("a@example.com", "violet-harbor-42", true)
	tts, _ := f.app.FindFirstRecordByData("systems", "slug", "tts")
	role, _ := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", map[string]any{"s": tts.Id})
	col, _ := f.app.FindCachedCollectionByNameOrId("user_system_roles")
	a := core.NewRecord(col)
	a.Set("user", u.Id)
	a.Set("system", tts.Id)
	a.Set("role", role.Id)
	a.Set("is_active", true)
	if err := f.app.Save(a); err != nil {
		t.Fatal(err)
	}
	r := f.login("a@example.com", "violet-harbor-42")
	auth := []string{"Authorization", "Bearer " + r.str("access")}
	profile := func() map[string]any {
		t.Helper()
		p := f.do(http.MethodGet, "/api/v1/users/profile/", nil, auth...)
		if p.status != 200 {
			t.Fatalf("profile: %d %s", p.status, p.body)
		}
		return p.json
	}
	activeOf := func(p map[string]any) any {
		return p["system_roles"].([]any)[0].(map[string]any)["is_active"]
	}
	time.Sleep(1100 * time.Millisecond) // let the writes settle: the next reads are cached
	for range 2 {                       // the second read is served from the cache
		if activeOf(profile()) != true {
			t.Fatal("warm-up")
		}
	}
	a.Set("is_active", false) // a model save (dashboard path)
	if err := f.app.Save(a); err != nil {
		t.Fatal(err)
	}
	if activeOf(profile()) != false {
		t.Fatal("assignment change not visible (cache)")
	}
	time.Sleep(1100 * time.Millisecond)
	if p := profile(); p["otp_enabled"] != false {
		t.Fatal("warm-up 2")
	}
	// a raw update (as the second-factor code does)
	if _, err := f.app.DB().NewQuery("UPDATE users SET otp_enabled = 1, otp_method = 'email' WHERE id = {:id}").
		Bind(map[string]any{"id": u.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if p := profile(); p["otp_enabled"] != true || p["otp_method"] != "email" {
		t.Fatalf("raw update not visible (cache): %v %v", p["otp_enabled"], p["otp_method"])
	}
}
