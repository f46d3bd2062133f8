package accounts_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/captcha"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/secondfactor"
	"gatehouse/testkit"
)

var pwTokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func pwResetBodyOf(token, password, confirm string) map[string]string {
	return map[string]string{"token": token, "password": password, "password_confirm": confirm}
}

// §5.6.2, §8.6 statement 53: the same 200 for active, locked, inactive and unknown accounts;
// only active accounts (locked ones included) get a token and an email. Tokens are stored as
// SHA-256 hashes only, the link is built from APP_URL with the token in the fragment.
func TestForgotPasswordAnswersEveryoneAlike(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	active := f.user("agent@example.com", pwOldPassword, true)
	locked := f.user("locked@example.com", pwOldPassword, true)
	f.pwSetDate(locked, "locked_until", time.Now().Add(10*time.Minute))
	inactive := f.user("inactive@example.com", pwOldPassword, false)

	var first reply
	for i, email := range []string{" Agent@Example.COM ", "nobody@example.com", inactive.Email(), locked.Email()} {
		r := f.do(http.MethodPost, pwForgotPath, map[string]string{"email": email})
		if r.status != 200 || string(r.body) != pwForgotBody {
			t.Fatalf("forgot %q: %d %s", email, r.status, r.body)
		}
		if i == 0 {
			first = r
			continue
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "Set-Cookie", "Vary"} {
			if r.header.Get(h) != first.header.Get(h) {
				t.Errorf("%q: header %s = %q, first answer %q", email, h, r.header.Get(h), first.header.Get(h))
			}
		}
	}

	mails := f.pwResetMails()
	if len(mails) != 2 || mails[0].GetString("to") != active.Email() || mails[1].GetString("to") != locked.Email() {
		t.Fatalf("reset mails: %v", mails)
	}
	m := mails[0]
	if m.GetString("subject") != "Password reset request" || !strings.Contains(m.GetString("text_body"), "1 hour") {
		t.Errorf("mail: %q %q", m.GetString("subject"), m.GetString("text_body"))
	}
	base, token := pwLinkRe.FindStringSubmatch(m.GetString("text_body"))[1], pwLinkRe.FindStringSubmatch(m.GetString("text_body"))[2]
	if base != appURL+pwResetPath || !pwTokenRe.MatchString(token) {
		t.Fatalf("link %s#token=%s", base, token)
	}
	if strings.Contains(m.GetString("text_body"), "?token=") || strings.Contains(m.GetString("html_body"), "?token=") {
		t.Error("the token is outside the fragment") // §8.6 st. 88
	}

	rows := f.pwRecords("password_reset_tokens", dbx.NewExp("1=1"))
	if len(rows) != 2 {
		t.Fatalf("%d token rows", len(rows))
	}
	row := f.pwTokenRow(token)
	exp := row.GetDateTime("expires_at").Time()
	if row.GetString("user_type") != "staff" || row.GetString("user") != active.Id || row.GetString("employee") != "" ||
		!row.GetDateTime("used_at").IsZero() || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("token row: %v", row)
	}
	f.pwNoSecretIn(token, "password_reset_tokens", "audit_log", "auth_failures", "sessions")

	audits := f.pwAudits("password.reset_requested", true)
	if len(audits) != 2 || audits[0].GetString("target_id") != active.Id || audits[1].GetString("target_id") != locked.Id ||
		audits[0].GetString("actor_type") != "anonymous" {
		t.Errorf("audits: %v", audits)
	}
	if n := f.pwCount("auth_failures", dbx.NewExp("1=1")); n != 0 {
		t.Errorf("forgot recorded %d failures", n)
	}

	// validation
	for body, want := range map[string]string{
		`{}`:                       pwInvalid(`{"email":["This field is required."]}`),
		`{"email":"not-an-email"}`: pwInvalid(`{"email":["Enter a valid email address."]}`),
		`{"email":"   "}`:          pwInvalid(`{"email":["This field may not be blank."]}`),
		`{"email":42}`:             pwInvalid(`{"email":["Not a valid string."]}`),
		`{"email":"a@example.com","captcha_id":5}`: pwInvalid(`{"captcha_id":["Not a valid string."]}`),
		`[]`: pwInvalid(`{"non_field_errors":["Malformed JSON request body."]}`),
	} {
		res, err := http.Post(f.url+pwForgotPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || string(got) != want {
			t.Errorf("%s: %d %s, want %s", body, res.StatusCode, got, want)
		}
	}
}

// §8.6 statement 54, §1.1: neither Host nor X-Forwarded-Host ever builds the link.
func TestForgotPasswordLinkIgnoresTheHostHeader(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.user("agent@example.com", pwOldPassword, true)
	req, _ := http.NewRequest(http.MethodPost, f.url+pwForgotPath, strings.NewReader(`{"email":"agent@example.com"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Host = "evil.example"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	f.settle()
	if res.StatusCode != 200 {
		t.Fatalf("forgot: %d", res.StatusCode)
	}
	base, _ := f.pwLastLink()
	if !strings.HasPrefix(base, appURL+"/") || strings.Contains(f.pwResetMails()[0].GetString("html_body"), "evil.example") {
		t.Fatalf("link base %q (user %s)", base, u.Id)
	}
}

// §7.1, §7.2: at most 3 reset emails per account per hour; a throttled request gets the normal
// answer and changes nothing (the live token stays valid). Each new token supersedes the
// earlier ones. The hour is measured on the editable expires_at (§1.15).
func TestForgotPasswordThrottle(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.user("agent@example.com", pwOldPassword, true)
	var tokens []string
	for range 3 {
		tokens = append(tokens, f.pwForgot(u.Email()))
	}
	for i, tok := range tokens {
		used := !f.pwTokenRow(tok).GetDateTime("used_at").IsZero()
		if used != (i < 2) {
			t.Errorf("token %d used = %v", i, used)
		}
	}

	r := f.do(http.MethodPost, pwForgotPath, map[string]string{"email": u.Email()})
	if r.status != 200 || string(r.body) != pwForgotBody {
		t.Fatalf("throttled: %d %s", r.status, r.body)
	}
	if n := len(f.pwResetMails()); n != 3 {
		t.Fatalf("%d reset mails after the throttled request", n)
	}
	if n := f.pwCount("password_reset_tokens", dbx.NewExp("1=1")); n != 3 {
		t.Errorf("%d token rows", n)
	}
	if rr := f.do(http.MethodGet, pwResetPath+"?token="+tokens[2], nil); string(rr.body) != `{"valid":true}` {
		t.Errorf("the live token after a throttled request: %s", rr.body)
	}
	if n := len(f.pwAudits("password.reset_requested", true)); n != 3 {
		t.Errorf("%d audits", n)
	}

	// the oldest token was issued more than an hour ago: one more email is allowed
	f.pwSetDate(f.pwTokenRow(tokens[0]), "expires_at", time.Now().Add(-time.Minute))
	fourth := f.pwForgot(u.Email())
	if fourth == tokens[2] || !pwTokenRe.MatchString(fourth) {
		t.Fatal("no new token")
	}
	if rr := f.do(http.MethodGet, pwResetPath+"?token="+tokens[2], nil); string(rr.body) != `{"valid":false}` {
		t.Errorf("superseded token: %s", rr.body)
	}
	if r := f.do(http.MethodPost, pwForgotPath, map[string]string{"email": u.Email()}); r.status != 200 || len(f.pwResetMails()) != 4 {
		t.Errorf("throttled again: %d, %d mails", r.status, len(f.pwResetMails()))
	}
}

// §6.1, §5.6.2: the CAPTCHA is required only in the client IP's state (not the email's); a
// missing or wrong CAPTCHA sends nothing and records no failure.
func TestForgotPasswordCaptchaInTheIPState(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	cfg := testkit.Config()
	u := f.user("agent@example.com", pwOldPassword, true)

	// the email state alone does not require it
	for range 5 {
		if _, err := captcha.RecordPasswordFailure(f.app, cfg, u.Email(), "10.9.8.7", "staff", u.Id); err != nil {
			t.Fatal(err)
		}
	}
	f.pwForgot(u.Email())

	for range 10 {
		if _, err := captcha.RecordPasswordFailure(f.app, cfg, "", "127.0.0.1", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	failures := f.pwCount("auth_failures", dbx.NewExp("1=1"))
	for name, c := range map[string]struct{ body, want string }{
		"missing": {`{"email":"agent@example.com"}`, `{"detail":"CAPTCHA verification required.","code":"captcha_required"}`},
		"unknown": {`{"email":"agent@example.com","captcha_id":"nosuchchallenge","captcha_answer":"ABCDEF"}`, `{"detail":"Invalid or expired CAPTCHA.","code":"captcha_required"}`},
		// unknown emails get the same answers
		"missing, unknown email": {`{"email":"nobody@example.com"}`, `{"detail":"CAPTCHA verification required.","code":"captcha_required"}`},
		// the body is validated first
		"invalid email": {`{"email":"nope"}`, pwInvalid(`{"email":["Enter a valid email address."]}`)},
	} {
		res, err := http.Post(f.url+pwForgotPath, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || string(got) != c.want {
			t.Errorf("%s: %d %s", name, res.StatusCode, got)
		}
	}
	if n := len(f.pwResetMails()); n != 1 {
		t.Errorf("%d mails", n)
	}
	if n := f.pwCount("auth_failures", dbx.NewExp("1=1")); n != failures {
		t.Errorf("failures %d → %d", failures, n)
	}
	if n := f.pwCount("audit_log", dbx.HashExp{"event": "captcha.failure"}); n != 3 {
		t.Errorf("%d captcha.failure audits", n)
	}

	// a challenge answered right in the request (one-shot) passes the gate
	col, _ := f.app.FindCachedCollectionByNameOrId("captcha_challenges")
	ch := core.NewRecord(col)
	ch.Set("answer_hash", cfg.Secret.MAC("captcha", "ABCDEF"))
	ch.Set("expires_at", time.Now().Add(5*time.Minute).UTC())
	ch.Set("ip", "127.0.0.1")
	if err := f.app.Save(ch); err != nil {
		t.Fatal(err)
	}
	r := f.do(http.MethodPost, pwForgotPath, map[string]string{"email": u.Email(), "captcha_id": ch.Id, "captcha_answer": "abcdef"})
	if r.status != 200 || string(r.body) != pwForgotBody || len(f.pwResetMails()) != 2 {
		t.Fatalf("with the CAPTCHA: %d %s", r.status, r.body)
	}
	// the challenge served that request only
	r = f.do(http.MethodPost, pwForgotPath, map[string]string{"email": u.Email(), "captcha_id": ch.Id})
	if r.status != 400 || string(r.body) != `{"detail":"Invalid or expired CAPTCHA.","code":"captcha_required"}` {
		t.Fatalf("reused challenge: %d %s", r.status, r.body)
	}
}

// §6.9, §5.6.4, §3.5, §6.1 item 4, §8.6 statement 89: the complete reset.
func TestResetPasswordCompleteFlow(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.user("agent@example.com", pwOldPassword, true) // verified = false
	u = f.pwReload(u)
	u.Set("otp_enabled", true)
	u.Set("otp_method", "email")
	if err := f.app.Save(u); err != nil {
		t.Fatal(err)
	}
	// two sessions (started directly: login now needs the second factor)
	svc := tokensFor(t, f)
	s1, err := svc.StartSession(f.app, "staff", u, "password+email", "127.0.0.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := svc.StartSession(f.app, "staff", u, "password+email", "127.0.0.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	// a lock with failures behind it, and a live email code (the failures carry no email, so the
	// email's CAPTCHA state, which a reset does not touch, stays out of the final login)
	cfg := testkit.Config()
	for range 10 {
		if _, err := captcha.RecordPasswordFailure(f.app, cfg, "", "10.1.1.1", "staff", u.Id); err != nil {
			t.Fatal(err)
		}
	}
	if !captcha.IsLocked(f.pwReload(u)) {
		t.Fatal("setup: not locked")
	}
	if _, _, err := secondfactor.IssueEmailCode(f.app, cfg, realm.TypeStaff, u.Id, secondfactor.PurposeLogin); err != nil {
		t.Fatal(err)
	}

	token := f.pwForgot(u.Email())
	r := f.do(http.MethodGet, pwResetPath+"?token="+token, nil, "Accept", "application/json")
	if r.status != 200 || string(r.body) != `{"valid":true}` || !pwVaryAccept(r.header) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token check: %d %v %s", r.status, r.header, r.body)
	}
	// the check does not consume the token
	if r := f.do(http.MethodGet, strings.TrimSuffix(pwResetPath, "/")+"?token="+token, nil); string(r.body) != `{"valid":true}` {
		t.Fatalf("second check: %s", r.body)
	}

	r = f.do(http.MethodPost, pwResetPath, pwResetBodyOf(token, pwNewPassword, pwNewPassword))
	if r.status != 200 || string(r.body) != pwResetBody {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	fresh := f.pwReload(u)
	if !fresh.ValidatePassword(pwNewPassword) || fresh.ValidatePassword(pwOldPassword) {
		t.Error("password not replaced")
	}
	if !fresh.Verified() {
		t.Error("verified not set (st. 89)")
	}
	if captcha.IsLocked(fresh) || !fresh.GetDateTime("locked_until").IsZero() || fresh.GetDateTime("lock_counter_reset_at").IsZero() {
		t.Errorf("lock not cleared: locked_until %v reset_at %v", fresh.GetDateTime("locked_until"), fresh.GetDateTime("lock_counter_reset_at"))
	}
	if !fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "email" {
		t.Error("2FA settings changed")
	}
	want := map[string]string{s1.SessionID: "password_reset", s2.SessionID: "password_reset"}
	if got := f.pwSessions(u.Id); !mapsEqual(got, want) {
		t.Errorf("sessions = %v", got)
	}
	if rr := f.do(http.MethodGet, profileURL, nil, pwBearer(s1.Access)...); rr.status != 401 {
		t.Errorf("old access token: %d", rr.status)
	}
	if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": s2.Refresh}); rr.status != 401 {
		t.Errorf("old refresh token: %d", rr.status)
	}
	if n := f.pwCount("otp_codes", dbx.HashExp{"user": u.Id, "used_at": ""}); n != 0 {
		t.Errorf("%d live codes", n)
	}
	if f.pwTokenRow(token).GetDateTime("used_at").IsZero() {
		t.Error("token not marked used")
	}
	changed := f.pwRecords("email_outbox", dbx.HashExp{"template": "password_changed"})
	if len(changed) != 1 || changed[0].GetString("to") != u.Email() || !strings.Contains(changed[0].GetString("text_body"), "127.0.0.1") {
		t.Errorf("password_changed: %v", changed)
	}
	if a := f.pwAudits("password.reset", true); len(a) != 1 || a[0].GetString("target_id") != u.Id {
		t.Errorf("audit: %v", a)
	}
	f.pwNoSecretIn(token, "password_reset_tokens", "audit_log")
	f.pwNoSecretIn(pwNewPassword, "audit_log", "email_outbox")

	// §6.9 step 6: the token works once
	r = f.do(http.MethodPost, pwResetPath, pwResetBodyOf(token, "other-lantern-88", "other-lantern-88"))
	if r.status != 400 || string(r.body) != pwTokenBad || !f.pwIs(u, pwNewPassword) {
		t.Fatalf("reuse: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, pwResetPath+"?token="+token, nil); string(r.body) != `{"valid":false}` {
		t.Errorf("used token check: %s", r.body)
	}

	// §6.9 step 7: the new password is accepted, and the second factor is still required
	r = f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": u.Email(), "password": pwNewPassword})
	if r.status != 200 || r.json["otp_required"] != true {
		t.Fatalf("login after reset: %d %s", r.status, r.body)
	}
}

// §8.6 statement 52, §2.11: used, expired, superseded, unknown tokens and tokens of inactive or
// deleted users are invalid, for the check and for the reset alike.
func TestResetTokenValidity(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.user("agent@example.com", pwOldPassword, true)
	gone := f.user("gone@example.com", pwOldPassword, true)
	off := f.user("off@example.com", pwOldPassword, true)

	superseded := f.pwForgot(u.Email())
	expired := f.pwForgot(u.Email())
	f.pwSetDate(f.pwTokenRow(expired), "expires_at", time.Now().Add(-time.Second))
	deletedToken := f.pwForgot(gone.Email())
	if err := f.app.Delete(f.pwReload(gone)); err != nil {
		t.Fatal(err)
	}
	inactiveToken := f.pwForgot(off.Email())
	offRec := f.pwReload(off)
	offRec.Set("is_active", false)
	if err := f.app.Save(offRec); err != nil {
		t.Fatal(err)
	}
	// an employee token (user_type employee) is never a staff token
	col, _ := f.app.FindCachedCollectionByNameOrId("password_reset_tokens")
	empRow := core.NewRecord(col)
	empRow.Set("user_type", "employee")
	empRow.Set("token_hash", pwSHA256("employee-token-0123456789abcdefghijklmnopq"))
	empRow.Set("expires_at", time.Now().Add(time.Hour).UTC())
	if err := f.app.Save(empRow); err != nil {
		t.Fatal(err)
	}

	for name, tok := range map[string]string{
		"superseded": superseded, "expired": expired, "user deleted": deletedToken, "user inactive": inactiveToken,
		"employee token": "employee-token-0123456789abcdefghijklmnopq", "unknown": strings.Repeat("A", 43),
		"hash instead of token": pwSHA256(superseded), "very long": strings.Repeat("x", 5000),
	} {
		if r := f.do(http.MethodGet, pwResetPath+"?token="+tok, nil); r.status != 200 || string(r.body) != `{"valid":false}` {
			t.Errorf("check %s: %d %s", name, r.status, r.body)
		}
		if r := f.do(http.MethodPost, pwResetPath, pwResetBodyOf(tok, pwNewPassword, pwNewPassword)); r.status != 400 || string(r.body) != pwTokenBad {
			t.Errorf("reset %s: %d %s", name, r.status, r.body)
		}
	}
	if f.pwIs(u, pwNewPassword) || f.pwCount("email_outbox", dbx.HashExp{"template": "password_changed"}) != 0 || len(f.pwAudits("password.reset", true)) != 0 {
		t.Fatal("an invalid token changed something")
	}
}

// §5.6.4 stages and §5.6.3 validation: only the first failing stage answers; a refused reset
// leaves the token usable.
func TestResetPasswordValidationStages(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.pwKestrel()
	token := f.pwForgot(u.Email())
	q := func(s string) string { return `"` + s + `"` }

	cases := []struct{ name, body, want string }{
		{"empty object", `{}`, pwInvalid(`{"password":["This field is required."],"password_confirm":["This field is required."],"token":["This field is required."]}`)},
		{"empty strings", `{"token":"","password":"","password_confirm":""}`,
			pwInvalid(`{"password":["This field is required."],"password_confirm":["This field may not be blank."],"token":["This field may not be blank."]}`)},
		{"wrong types", `{"token":1,"password":2,"password_confirm":false}`,
			pwInvalid(`{"password":["Not a valid string."],"password_confirm":["Not a valid string."],"token":["Not a valid string."]}`)},
		{"stage 2 before 3 and 4", `{"token":"bogus","password":"password","password_confirm":"x"}`, pwTokenBad},
		{"the token is not trimmed", `{"token":" ` + token + ` ","password":"amber-lantern-77","password_confirm":"amber-lantern-77"}`, pwTokenBad},
		{"stage 3 before 4", `{"token":` + q(token) + `,"password":"password","password_confirm":"x"}`, pwInvalid(`{"password_confirm":["Passwords do not match."]}`)},
		{"common (st. 51)", `{"token":` + q(token) + `,"password":"password123","password_confirm":"password123"}`, pwInvalid(`{"password":["Password is too common."]}`)},
		{"common, other case (st. 51)", `{"token":` + q(token) + `,"password":"Password123","password_confirm":"Password123"}`, pwInvalid(`{"password":["Password is too common."]}`)},
		{"7 characters (st. 50)", `{"token":` + q(token) + `,"password":"Xy7-abc","password_confirm":"Xy7-abc"}`, pwInvalid(`{"password":["Password must be at least 8 characters long."]}`)},
		{"72 bytes (st. 50)", `{"token":` + q(token) + `,"password":"` + strings.Repeat("é", 36) + `","password_confirm":"` + strings.Repeat("é", 36) + `"}`,
			pwInvalid(`{"password":["Password must be at most 71 bytes long."]}`)},
		{"the owner's username and email", `{"token":` + q(token) + `,"password":"xKestrel.agent.SMITHx","password_confirm":"xKestrel.agent.SMITHx"}`,
			pwInvalid(`{"password":["Password must not contain your username.","Password must not contain part of your email address."]}`)},
	}
	for _, c := range cases {
		res, err := http.Post(f.url+pwResetPath, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || string(got) != c.want {
			t.Errorf("%s: %d %s\nwant %s", c.name, res.StatusCode, got, c.want)
		}
	}
	if r := f.do(http.MethodGet, pwResetPath+"?token="+token, nil); string(r.body) != `{"valid":true}` {
		t.Fatalf("the token died on a refused reset: %s", r.body)
	}
	if !f.pwIs(u, pwOldPassword) || f.pwCount("auth_failures", dbx.NewExp("1=1")) != 0 {
		t.Fatal("a refused reset changed something")
	}

	// the JSON check without a token
	for _, path := range []string{pwResetPath, pwResetPath + "?token=", pwResetPath + "?other=1"} {
		r := f.do(http.MethodGet, path, nil)
		if r.status != 400 || string(r.body) != pwInvalid(`{"token":["This field is required."]}`) || !pwVaryAccept(r.header) {
			t.Errorf("GET %s: %d %v %s", path, r.status, r.header, r.body)
		}
	}
	// wrong methods of the page endpoint: 405 with Allow, and Vary: Accept
	r := f.do(http.MethodPut, pwResetPath, map[string]string{})
	if r.status != 405 || r.header.Get("Allow") != "GET, POST" || !pwVaryAccept(r.header) {
		t.Errorf("PUT: %d %v %s", r.status, r.header, r.body)
	}
	if r := f.do(http.MethodGet, pwForgotPath, nil); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET forgot: %d %v", r.status, r.header)
	}
}

// The review's account-takeover path of an invitation (§2.2, §8.8 st. 95): a staff user asks
// for a reset link at their own address, changes their email to someone else's, then completes
// the reset — which would set `verified` for an address nobody proved. The email change spends
// the link (hooks): the reset answers the invalid-token 400, the password and `verified` stay.
func TestResetLinkDiesWithAnEmailChange(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.pwKestrel()
	u.Set("is_staff", true)
	if err := f.app.Save(u); err != nil {
		t.Fatal(err)
	}
	token := f.pwForgot(u.Email())
	access := f.login(u.Email(), pwOldPassword).str("access")

	r := f.do(http.MethodPatch, "/api/v1/users/profile/",
		map[string]string{"email": "new.hire@example.com", "current_password": pwOldPassword}, pwBearer(access)...)
	if r.status != 200 {
		t.Fatalf("email change: %d %s", r.status, r.body)
	}
	if row := f.pwTokenRow(token); row.GetDateTime("used_at").IsZero() {
		t.Fatal("the reset token is still unused after the email change")
	}

	r = f.do(http.MethodPost, pwResetPath, pwResetBodyOf(token, pwNewPassword, pwNewPassword))
	if r.status != 400 || string(r.body) != pwTokenBad {
		t.Fatalf("reset with the link of the old address: %d %s", r.status, r.body)
	}
	fresh := f.pwReload(u)
	if fresh.Email() != "new.hire@example.com" || fresh.Verified() || !fresh.ValidatePassword(pwOldPassword) {
		t.Fatalf("after the refused reset: email %q verified %v, old password kept %v",
			fresh.Email(), fresh.Verified(), fresh.ValidatePassword(pwOldPassword))
	}
	// a link asked for at the new address works, and proves it
	token = f.pwForgot("new.hire@example.com")
	if r := f.do(http.MethodPost, pwResetPath, pwResetBodyOf(token, pwNewPassword, pwNewPassword)); r.status != 200 || string(r.body) != pwResetBody {
		t.Fatalf("reset with a link of the new address: %d %s", r.status, r.body)
	}
	if fresh := f.pwReload(u); !fresh.Verified() || !fresh.ValidatePassword(pwNewPassword) {
		t.Fatalf("after the reset at the new address: verified %v", fresh.Verified())
	}
}
