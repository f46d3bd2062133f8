package accounts_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/tokens"
)

// A valid employee access token on the staff-only account routes is a token of the wrong
// principal: 401 token_not_valid with its WWW-Authenticate, never 403 (§1.5); and a session id
// of the other principal is not the caller's: 404 "Session not found." (§5.15.6). Nothing is
// written: both accounts, their sessions and the audit log stay as they were.
func TestAccountRoutesRefuseTheOtherPrincipal(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	staff := f.user("agent@example.com", "violet-harbor-42", true)
	login := f.login(staff.Email(), "violet-harbor-42")
	staffAuth := []string{"Authorization", "Bearer " + login.str("access")}
	staffSid := sidOf(t, login.str("access"))

	emp, issued := approvedEmployee(t, f, "emp@example.com", "violet-harbor-42")
	empAuth := []string{"Authorization", "Bearer " + issued.Access}
	// the employee token is good where an employee is a principal
	if r := f.do(http.MethodGet, "/api/me/", nil, empAuth...); r.status != 200 {
		t.Fatalf("employee on /api/me/: %d %s", r.status, r.body)
	}
	audits := countRows(t, f.app, "audit_log", nil)

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, "/api/v1/users/profile/", map[string]any{"username": "taken_over", "first_name": "Mallory"}},
		{http.MethodPost, "/api/v1/users/profile/reset-password/", map[string]string{"current_password": "violet-harbor-42",
			"new_password": "Amber-Falcon-77", "new_password_confirm": "Amber-Falcon-77"}},
		{http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"otp_code": "123456"}},
		{http.MethodPost, "/api/v1/users/verify-disable-otp/", map[string]string{"otp_code": "123456"}},
	} {
		r := f.do(c.method, c.path, c.body, empAuth...)
		if r.status != 401 || string(r.body) != tokenNotValid ||
			r.header.Get("WWW-Authenticate") != `Bearer realm="api", error="invalid_token"` {
			t.Errorf("employee %s %s: %d %v %s", c.method, c.path, r.status, r.header, r.body)
		}
	}

	// each principal's DELETE of the other's session id
	const sessionNotFound = `{"detail":"Session not found.","code":"not_found"}`
	if r := f.do(http.MethodDelete, "/api/v1/users/sessions/"+staffSid+"/", nil, empAuth...); r.status != 404 || string(r.body) != sessionNotFound {
		t.Errorf("employee deletes a staff session: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/api/v1/users/sessions/"+issued.SessionID+"/", nil, staffAuth...); r.status != 404 || string(r.body) != sessionNotFound {
		t.Errorf("staff deletes an employee session: %d %s", r.status, r.body)
	}

	// nothing changed
	if !tokens.IsLiveSessionOf(f.app, staffSid, "staff", staff.Id) || !tokens.IsLiveSessionOf(f.app, issued.SessionID, "employee", emp.Id) {
		t.Error("a refused request revoked a session")
	}
	if r := f.do(http.MethodGet, "/api/v1/users/profile/", nil, staffAuth...); r.status != 200 {
		t.Errorf("the staff token no longer works: %d %s", r.status, r.body)
	}
	for _, rec := range []*core.Record{staff, emp} {
		now, err := f.app.FindRecordById(rec.Collection().Name, rec.Id)
		if err != nil {
			t.Fatal(err)
		}
		if !now.ValidatePassword("violet-harbor-42") || now.GetString("username") != rec.GetString("username") ||
			now.GetString("first_name") != rec.GetString("first_name") || now.GetBool("otp_enabled") != rec.GetBool("otp_enabled") {
			t.Errorf("%s %s changed", rec.Collection().Name, rec.Id)
		}
	}
	if n := countRows(t, f.app, "audit_log", nil); n != audits {
		t.Errorf("audit_log: %d rows, want %d", n, audits)
	}
	if n := countRows(t, f.app, "sessions", dbx.NewExp("revoked_at != ''")); n != 0 {
		t.Errorf("%d revoked sessions", n)
	}
}
