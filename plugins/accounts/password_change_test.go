package accounts_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/captcha"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/secondfactor"
	"gatehouse/testkit"
)

func pwChangeBody(current, next, confirm string) map[string]string {
	return map[string]string{"current_password": current, "new_password": next, "new_password_confirm": confirm}
}

// §5.6.1, §5.6.5, §6.10, §3.5: success on both paths keeps the current session, revokes the
// others (password_change), invalidates live codes and unused reset tokens, queues
// password_changed and audits password.change.
func TestPasswordChangeKeepsOnlyTheCurrentSession(t *testing.T) {
	t.Parallel()
	for _, path := range []string{pwChangePath, pwAliasPath, strings.TrimSuffix(pwChangePath, "/")} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			f := newPwFlow(t, pwOpts{})
			u := f.user("agent@example.com", pwOldPassword, true)
			other := f.user("bystander@example.com", pwOldPassword, true)
			current, second, third := f.login(u.Email(), pwOldPassword), f.login(u.Email(), pwOldPassword), f.login(u.Email(), pwOldPassword)
			bystander := f.login(other.Email(), pwOldPassword)
			if _, _, err := secondfactor.IssueEmailCode(f.app, testkit.Config(), realm.TypeStaff, u.Id, secondfactor.PurposeLogin); err != nil {
				t.Fatal(err)
			}
			resetToken := f.pwForgot(u.Email())

			r := f.do(http.MethodPost, path, pwChangeBody(pwOldPassword, pwNewPassword, pwNewPassword), pwBearer(current.str("access"))...)
			if r.status != 200 || string(r.body) != pwChangedBody || r.header.Get("Cache-Control") != "no-store" ||
				r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("change: %d %v %s", r.status, r.header, r.body)
			}
			if !f.pwIs(u, pwNewPassword) || f.pwIs(u, pwOldPassword) {
				t.Fatal("the stored password was not replaced")
			}

			want := map[string]string{
				sidOf(t, current.str("access")): "",
				sidOf(t, second.str("access")):  "password_change",
				sidOf(t, third.str("access")):   "password_change",
			}
			if got := f.pwSessions(u.Id); !mapsEqual(got, want) {
				t.Errorf("sessions = %v, want %v", got, want)
			}
			if got := f.pwSessions(other.Id); got[sidOf(t, bystander.str("access"))] != "" {
				t.Errorf("another user's session was touched: %v", got)
			}
			// the current session keeps working; the others are dead for access and refresh
			if rr := f.do(http.MethodGet, profileURL, nil, pwBearer(current.str("access"))...); rr.status != 200 {
				t.Errorf("current session: %d %s", rr.status, rr.body)
			}
			if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": current.str("refresh")}); rr.status != 200 {
				t.Errorf("current refresh: %d %s", rr.status, rr.body)
			}
			if rr := f.do(http.MethodGet, profileURL, nil, pwBearer(second.str("access"))...); rr.status != 401 || string(rr.body) != tokenNotValid {
				t.Errorf("other access token: %d %s", rr.status, rr.body)
			}
			if rr := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": third.str("refresh")}); rr.status != 401 {
				t.Errorf("other refresh token: %d %s", rr.status, rr.body)
			}

			// live codes and unused reset tokens are invalidated
			if n := f.pwCount("otp_codes", dbx.HashExp{"user": u.Id, "used_at": ""}); n != 0 {
				t.Errorf("%d live OTP codes", n)
			}
			if f.pwTokenRow(resetToken).GetDateTime("used_at").IsZero() {
				t.Error("the reset token is still unused")
			}
			if rr := f.do(http.MethodGet, pwResetPath+"?token="+resetToken, nil); string(rr.body) != `{"valid":false}` {
				t.Errorf("reset token check: %s", rr.body)
			}

			mails := f.pwRecords("email_outbox", dbx.HashExp{"template": "password_changed"})
			if len(mails) != 1 || mails[0].GetString("to") != u.Email() || mails[0].GetString("subject") != "Your password was changed" ||
				!strings.Contains(mails[0].GetString("text_body"), "127.0.0.1") ||
				!strings.Contains(mails[0].GetString("text_body"), time.Now().UTC().Format("2006-01-02")) {
				t.Errorf("password_changed mails: %v", mails)
			}
			if strings.Contains(mails[0].GetString("text_body"), pwNewPassword) || strings.Contains(mails[0].GetString("html_body"), pwNewPassword) {
				t.Error("the email contains the password")
			}
			audits := f.pwAudits("password.change", true)
			if len(audits) != 1 || audits[0].GetString("actor_type") != "staff" || audits[0].GetString("actor_id") != u.Id ||
				audits[0].GetString("target_id") != u.Id || audits[0].GetString("ip") != "127.0.0.1" {
				t.Errorf("audit: %v", audits)
			}
			f.pwNoSecretIn(pwNewPassword, "audit_log", "email_outbox", "auth_failures")

			// §6.10: the new password logs in, the old one does not
			f.login(u.Email(), pwNewPassword)
			if rr := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": u.Email(), "password": pwOldPassword}); rr.status != 400 || string(rr.body) != badCreds {
				t.Errorf("old password: %d %s", rr.status, rr.body)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// §5.6.1 stages: only the first failing stage answers; nothing changes on a 400.
func TestPasswordChangeValidationStages(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.pwKestrel()
	login := f.login(u.Email(), pwOldPassword)
	other := f.login(u.Email(), pwOldPassword)
	auth := pwBearer(login.str("access"))

	const (
		required = `"This field is required."`
		blank    = `"This field may not be blank."`
		notStr   = `"Not a valid string."`
	)
	cases := []struct {
		name string
		body string
		want string
	}{
		{"no body", ``, pwInvalid(`{"current_password":[` + required + `],"new_password":[` + required + `],"new_password_confirm":[` + required + `]}`)},
		{"empty object", `{}`, pwInvalid(`{"current_password":[` + required + `],"new_password":[` + required + `],"new_password_confirm":[` + required + `]}`)},
		{"nulls", `{"current_password":null,"new_password":null,"new_password_confirm":null}`,
			pwInvalid(`{"current_password":[` + required + `],"new_password":[` + required + `],"new_password_confirm":[` + required + `]}`)},
		{"empty strings: a checked password is blank, a new one required", `{"current_password":"","new_password":"","new_password_confirm":""}`,
			pwInvalid(`{"current_password":[` + blank + `],"new_password":[` + required + `],"new_password_confirm":[` + blank + `]}`)},
		{"wrong types", `{"current_password":1,"new_password":true,"new_password_confirm":["x"]}`,
			pwInvalid(`{"current_password":[` + notStr + `],"new_password":[` + notStr + `],"new_password_confirm":[` + notStr + `]}`)},
		{"stage 1 before stage 2: a missing field hides a wrong current password", `{"current_password":"wrong-password-1","new_password":"amber-lantern-77"}`,
			pwInvalid(`{"new_password_confirm":[` + required + `]}`)},
		{"stage 2 before 3 and 4", `{"current_password":"wrong-password-1","new_password":"password","new_password_confirm":"other"}`, pwCurrentBad},
		{"current password is not trimmed", `{"current_password":" ` + pwOldPassword + ` ","new_password":"amber-lantern-77","new_password_confirm":"amber-lantern-77"}`, pwCurrentBad},
		{"stage 3 before 4", `{"current_password":"` + pwOldPassword + `","new_password":"password","new_password_confirm":"Password"}`,
			pwInvalid(`{"new_password_confirm":["Passwords do not match."]}`)},
		{"the confirmation is compared untrimmed", `{"current_password":"` + pwOldPassword + `","new_password":" amber-lantern-77 ","new_password_confirm":"amber-lantern-77"}`,
			pwInvalid(`{"new_password_confirm":["Passwords do not match."]}`)},
		{"common (st. 51)", `{"current_password":"` + pwOldPassword + `","new_password":"password123","new_password_confirm":"password123"}`,
			pwInvalid(`{"new_password":["Password is too common."]}`)},
		{"common, other case (st. 51)", `{"current_password":"` + pwOldPassword + `","new_password":"Password123","new_password_confirm":"Password123"}`,
			pwInvalid(`{"new_password":["Password is too common."]}`)},
		{"too short", `{"current_password":"` + pwOldPassword + `","new_password":"Xy7-abc","new_password_confirm":"Xy7-abc"}`,
			pwInvalid(`{"new_password":["Password must be at least 8 characters long."]}`)},
		{"72 bytes (st. 50)", `{"current_password":"` + pwOldPassword + `","new_password":"` + strings.Repeat("q", 72) + `","new_password_confirm":"` + strings.Repeat("q", 72) + `"}`,
			pwInvalid(`{"new_password":["Password must be at most 71 bytes long."]}`)},
		{"username and email local part, case-insensitive", `{"current_password":"` + pwOldPassword + `","new_password":"KESTREL-Agent.Smith-9","new_password_confirm":"KESTREL-Agent.Smith-9"}`,
			pwInvalid(`{"new_password":["Password must not contain your username.","Password must not contain part of your email address."]}`)},
		{"same as the current password", `{"current_password":"` + pwOldPassword + `","new_password":"` + pwOldPassword + `","new_password_confirm":"` + pwOldPassword + `"}`,
			pwInvalid(`{"new_password":["New password must be different from the current password."]}`)},
		{"malformed JSON", `{"current_password":`, pwInvalid(`{"non_field_errors":["Malformed JSON request body."]}`)},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, f.url+pwChangePath, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set(auth[0], auth[1])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, res)
		res.Body.Close()
		if res.StatusCode != 400 || string(body) != c.want {
			t.Errorf("%s: %d %s\nwant %s", c.name, res.StatusCode, body, c.want)
		}
	}

	// 415 for another body type
	req, _ := http.NewRequest(http.MethodPost, f.url+pwChangePath, strings.NewReader("current_password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(auth[0], auth[1])
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 415 {
		t.Errorf("form body: %v %v", res, err)
	}

	if !f.pwIs(u, pwOldPassword) {
		t.Fatal("a rejected change changed the password")
	}
	if got := f.pwSessions(u.Id); got[sidOf(t, other.str("access"))] != "" || got[sidOf(t, login.str("access"))] != "" {
		t.Errorf("a rejected change revoked sessions: %v", got)
	}
	if n := f.pwCount("email_outbox", dbx.HashExp{"template": "password_changed"}); n != 0 {
		t.Errorf("%d password_changed mails", n)
	}
	if n := len(f.pwAudits("password.change", true)); n != 0 {
		t.Errorf("%d password.change success audits", n)
	}
	// the two wrong current passwords above were recorded (and nothing else was)
	if n := f.pwCount("auth_failures", dbx.HashExp{"principal_id": u.Id, "kind": "password"}); n != 2 {
		t.Errorf("%d password failures recorded, want 2", n)
	}

	// §8.6 st. 50: a 71-byte password is stored whole; its first 70 bytes do not log in
	long := strings.Repeat("Zq9-", 17) + "xyz" // 71 bytes
	if r := f.do(http.MethodPost, pwChangePath, pwChangeBody(pwOldPassword, long, long), auth...); r.status != 200 {
		t.Fatalf("71-byte password: %d %s", r.status, r.body)
	}
	if rr := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": u.Email(), "password": long[:70]}); rr.status != 400 {
		t.Errorf("login with 70 of 71 bytes: %d %s", rr.status, rr.body)
	}
	f.login(u.Email(), long)
}

// §6.1 items 1–3, §6.10 step 3: a wrong current password is a recorded password failure (and
// can lock the account); while locked, even the right password is answered as incorrect and
// recorded, and nothing changes.
func TestPasswordChangeWrongCurrentPasswordAndLock(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.user("agent@example.com", pwOldPassword, true)
	login := f.login(u.Email(), pwOldPassword)
	auth := pwBearer(login.str("access"))

	r := f.do(http.MethodPost, pwChangePath, pwChangeBody("not-the-password", pwNewPassword, pwNewPassword), auth...)
	if r.status != 400 || string(r.body) != pwCurrentBad {
		t.Fatalf("wrong current password: %d %s", r.status, r.body)
	}
	rows := f.pwRecords("auth_failures", dbx.HashExp{"principal_id": u.Id})
	if len(rows) != 1 || rows[0].GetString("kind") != "password" || rows[0].GetString("email") != u.Email() ||
		rows[0].GetString("user_type") != "staff" || rows[0].GetString("ip") != "127.0.0.1" {
		t.Fatalf("failure rows: %v", rows)
	}
	if a := f.pwAudits("password.change", false); len(a) != 1 || a[0].GetString("target_id") != u.Id ||
		!strings.Contains(a[0].GetString("details"), `"bad_password"`) {
		t.Errorf("failure audit: %v", a)
	}

	// A right current password restarts the counters (§6.1: lockout counter and email state),
	// even when a later stage fails.
	if r := f.do(http.MethodPost, pwChangePath, pwChangeBody(pwOldPassword, "a", "b"), auth...); r.status != 400 ||
		string(r.body) != pwInvalid(`{"new_password_confirm":["Passwords do not match."]}`) {
		t.Fatalf("mismatch: %d %s", r.status, r.body)
	}
	if f.pwReload(u).GetDateTime("lock_counter_reset_at").IsZero() || f.pwCount("auth_failures", dbx.HashExp{"email": u.Email()}) != 0 {
		t.Error("a verified current password did not reset the counters")
	}

	// ten failures lock the account: one account_locked email, audit login.locked
	for i := range 10 {
		if r := f.do(http.MethodPost, pwChangePath, pwChangeBody("wrong-password-"+string(rune('a'+i)), pwNewPassword, pwNewPassword), auth...); r.status != 400 || string(r.body) != pwCurrentBad {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	if !captcha.IsLocked(f.pwReload(u)) {
		t.Fatal("ten wrong current passwords did not lock the account")
	}
	if n := f.pwCount("email_outbox", dbx.HashExp{"template": "account_locked", "to": u.Email()}); n != 1 {
		t.Errorf("%d account_locked mails", n)
	}
	if n := len(f.pwAudits("login.locked", true)); n != 1 {
		t.Errorf("%d login.locked audits", n)
	}

	// while locked the right password gets the same answer, is recorded, and changes nothing
	before := f.pwCount("auth_failures", dbx.HashExp{"principal_id": u.Id})
	r = f.do(http.MethodPost, pwAliasPath, pwChangeBody(pwOldPassword, pwNewPassword, pwNewPassword), auth...)
	if r.status != 400 || string(r.body) != pwCurrentBad {
		t.Fatalf("locked, right password: %d %s", r.status, r.body)
	}
	if n := f.pwCount("auth_failures", dbx.HashExp{"principal_id": u.Id}); n != before+1 {
		t.Errorf("failures %d → %d", before, n)
	}
	if a := f.pwAudits("password.change", false); !strings.Contains(a[len(a)-1].GetString("details"), `"locked"`) {
		t.Errorf("locked audit: %v", a[len(a)-1])
	}
	if !f.pwIs(u, pwOldPassword) || f.pwCount("email_outbox", dbx.HashExp{"template": "password_changed"}) != 0 {
		t.Fatal("a change went through while locked")
	}
	if got := f.pwSessions(u.Id); got[sidOf(t, login.str("access"))] != "" {
		t.Errorf("locking revoked the session: %v", got) // §6.1 item 5
	}
}

// §1.5, §1.6, §8.3 statements 22, 23, 77: STAFF only; a cookie-authenticated change needs an
// allowed Origin (or Referer), and a refused one changes nothing.
func TestPasswordChangeAuthenticationAndCSRF(t *testing.T) {
	t.Parallel()
	f := newPwFlow(t, pwOpts{})
	u := f.user("agent@example.com", pwOldPassword, true)
	login := f.login(u.Email(), pwOldPassword)
	cookie := "access_token=" + login.str("access")
	body := pwChangeBody(pwOldPassword, pwNewPassword, pwNewPassword)

	for _, path := range []string{pwChangePath, pwAliasPath} {
		if r := f.do(http.MethodPost, path, body); r.status != 401 ||
			string(r.body) != `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}` ||
			r.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
			t.Errorf("%s anonymous: %d %v %s", path, r.status, r.header, r.body)
		}
		if r := f.do(http.MethodPost, path, body, "Authorization", "Bearer nope"); r.status != 401 || string(r.body) != tokenNotValid {
			t.Errorf("%s bad token: %d %s", path, r.status, r.body)
		}
		if r := f.do(http.MethodPost, path, body, "Authorization", "Bearer "+login.str("refresh")); r.status != 401 || string(r.body) != tokenNotValid {
			t.Errorf("%s refresh token as access: %d %s", path, r.status, r.body)
		}
		if r := f.do(http.MethodGet, path, nil, pwBearer(login.str("access"))...); r.status != 405 || r.header.Get("Allow") != "POST" ||
			string(r.body) != `{"detail":"Method \"GET\" not allowed.","code":"method_not_allowed"}` {
			t.Errorf("GET %s: %d %v %s", path, r.status, r.header, r.body)
		}
		for name, kv := range map[string][]string{
			"no Origin or Referer":   {"Cookie", cookie},
			"foreign Origin":         {"Cookie", cookie, "Origin", "https://evil.example"},
			"foreign Referer":        {"Cookie", cookie, "Referer", "https://evil.example/page"},
			"invalid cookie (st 77)": {"Cookie", "access_token=garbage", "Origin", "https://evil.example"},
		} {
			r := f.do(http.MethodPost, path, body, kv...)
			if r.status != 403 || string(r.body) != csrfFailed || len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s %s: %d %v %s", path, name, r.status, r.header, r.body)
			}
		}
	}
	if !f.pwIs(u, pwOldPassword) || f.pwCount("auth_failures", dbx.NewExp("1=1")) != 0 {
		t.Fatal("a refused request changed something")
	}

	// an employee token is an invalid token here, never a 403
	_, issued := approvedEmployee(t, f, "emp@example.com", pwOldPassword)
	if r := f.do(http.MethodPost, pwChangePath, body, pwBearer(issued.Access)...); r.status != 401 || string(r.body) != tokenNotValid {
		t.Errorf("employee token: %d %s", r.status, r.body)
	}

	// st. 22: with Origin = APP_URL the cookie-authenticated change succeeds
	r := f.do(http.MethodPost, pwChangePath, body, "Cookie", cookie, "Origin", appURL)
	if r.status != 200 || string(r.body) != pwChangedBody || !f.pwIs(u, pwNewPassword) {
		t.Fatalf("same-origin cookie change: %d %s", r.status, r.body)
	}
	if got := f.pwSessions(u.Id); got[sidOf(t, login.str("access"))] != "" {
		t.Errorf("the cookie's own session was revoked: %v", got)
	}
}
