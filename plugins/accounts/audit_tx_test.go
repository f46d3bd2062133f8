package accounts_test

import (
	"gatehouse/testkit"
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
)

// A change and its audit row commit together: when the row cannot be written (a trigger refuses
// it here), the request fails and the change is not made — logout, reuse detection, a spent
// 2FA management code and an emailed code (Appendix C: logout, token.reuse_detected, 2fa.verify,
// otp.requested).
func TestAuditedChangesCommitWithTheirRow(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	refuse := func(event string) (allow func()) {
		t.Helper()
		if _, err := f.app.DB().NewQuery("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log WHEN NEW.event = '" + event +
			"' BEGIN SELECT RAISE(ABORT, 'audit refused'); END").Execute(); err != nil {
			t.Fatal(err)
		}
		return func() {
			if _, err := f.app.DB().NewQuery("DROP TRIGGER refuse_audit").Execute(); err != nil {
				t.Fatal(err)
			}
		}
	}
	live := func() int {
		return f.count("sessions", dbx.HashExp{"user": u.Id, "revoked_at": ""})
	}

	// logout
	access := f.login("a@example.com", tfPassword).str("access")
	allow := refuse("logout")
	if r := f.do(http.MethodPost, "/api/v1/users/logout/", nil, bearer(access)...); r.status != 500 {
		t.Fatalf("logout without its row: %d %s", r.status, r.body)
	}
	if n := live(); n != 1 {
		t.Fatalf("%d live sessions after a failed logout, want 1", n)
	}
	allow()
	if r := f.do(http.MethodPost, "/api/v1/users/logout/", nil, bearer(access)...); r.status != 200 || live() != 0 || f.auditCount("logout") != 1 {
		t.Fatalf("logout: %d %s, %d live, %d rows", r.status, r.body, live(), f.auditCount("logout"))
	}

	// reuse detection: the first refresh token after two rotations
	first := f.login("a@example.com", tfPassword).str("refresh")
	second := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": first}).str("refresh")
	if r := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": second}); r.status != 200 {
		t.Fatalf("rotation: %d %s", r.status, r.body)
	}
	allow = refuse("token.reuse_detected")
	if r := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": first}); r.status != 500 {
		t.Fatalf("reuse without its row: %d %s", r.status, r.body)
	}
	if n := live(); n != 1 {
		t.Fatalf("%d live sessions after a failed reuse revocation, want 1", n)
	}
	allow()
	if r := f.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": first}); r.status != 401 || live() != 0 || f.auditCount("token.reuse_detected") != 1 {
		t.Fatalf("reuse: %d %s, %d live, %d rows", r.status, r.body, live(), f.auditCount("token.reuse_detected"))
	}

	// an emailed code exists only with its otp.requested row
	access = f.loginAs("a@example.com")
	f.enableEmail(access, "a@example.com")
	codes := func() int { return f.count("otp_codes", dbx.HashExp{"user": u.Id, "purpose": "manage"}) }
	allow = refuse("otp.requested")
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(access)...); r.status != 500 {
		t.Fatalf("request-otp-authenticated without its row: %d %s", r.status, r.body)
	}
	if codes() != 0 || f.mails("a@example.com", "otp_code") != 1 { // (the one of the set-up)
		t.Fatalf("%d manage codes, %d otp_code mails after a refused request", codes(), f.mails("a@example.com", "otp_code"))
	}
	allow()
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(access)...); r.status != 200 || codes() != 1 {
		t.Fatalf("request-otp-authenticated: %d %s, %d codes", r.status, r.body, codes())
	}

	// a management code is spent only with its 2fa.verify row
	code := f.lastCode("a@example.com")
	allow = refuse("2fa.verify")
	if r := f.do(http.MethodPost, "/api/v1/users/verify-disable-otp/", map[string]string{"password": tfPassword, "otp_code": code}, bearer(access)...); r.status != 500 {
		t.Fatalf("verify-disable-otp without its row: %d %s", r.status, r.body)
	}
	if n := f.count("otp_codes", dbx.HashExp{"user": u.Id, "purpose": "manage", "used_at": ""}); n != 1 {
		t.Fatalf("%d unspent manage codes after a refused verification, want 1", n)
	}
	allow()
	if r := f.do(http.MethodPost, "/api/v1/users/verify-disable-otp/", map[string]string{"password": tfPassword, "otp_code": code}, bearer(access)...); r.status != 200 || f.auditCount("2fa.verify") != 1 {
		t.Fatalf("verify-disable-otp: %d %s", r.status, r.body)
	}
}

// A request whose caller is deleted while it runs answers 401 (the token names a principal that
// no longer exists, §1.5), not the 500 of the read or relation check that found the account
// gone, and writes nothing: a profile update, an emailed 2FA code, a TOTP setup (which answered
// 200 with a secret nothing stored).
func TestRequestsOfACallerDeletedMeanwhile(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, method, path string
		body               any
		emailTwoFactor     bool
	}{
		{"profile update", http.MethodPatch, "/api/v1/users/profile/", map[string]string{"username": "late.name"}, false},
		{"request-otp-authenticated", http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, true},
		{"TOTP setup", http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := tfFlow(t, nil)
			u := f.user("a@example.com", tfPassword, true)
			access := f.loginAs("a@example.com")
			if c.emailTwoFactor {
				f.enableEmail(access, "a@example.com")
			}
			committed := testkit.HoldDelete(t, f.app, "users", u.Id, 300*time.Millisecond)
			r := f.do(c.method, c.path, c.body, bearer(access)...)
			committed()
			if r.status != 401 || r.str("code") != "token_not_valid" || r.str("secret") != "" || f.auditCount("user.profile_updated") != 0 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}
