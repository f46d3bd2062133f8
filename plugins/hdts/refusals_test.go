package hdts_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/secondfactor"
	"gatehouse/testkit"
)

// The refusals of the employee sign-in paths and the HDTS lists that the OpenAPI document
// promises (§5.12, §1.6, §6.1): each answers its status and envelope and changes nothing.

const (
	csrfFailed = `{"detail":"CSRF check failed: origin not allowed.","code":"permission_denied"}`
	mfaLocked  = `{"detail":"Too many failed verification attempts. Try again later.","code":"account_locked"}`
	pageGone   = `{"detail":"Invalid page.","code":"not_found"}`
)

func expectReply(t *testing.T, label string, r testkit.Reply, status int, body string) {
	t.Helper()
	if r.Status != status || string(r.Body) != body {
		t.Fatalf("%s: %d %s\n\twant %d %s", label, r.Status, r.Body, status, body)
	}
}

// Refresh and logout with a cookie but no allowed Origin, a malformed body, and a rotated
// token presented again within the grace: nothing is rotated or ended.
func TestEmployeeRefreshAndLogoutRefusals(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	ok := l.employeeLogin(l.f.approved.Email(), password)
	if ok.Status != 200 {
		t.Fatalf("login: %d %s", ok.Status, ok.Body)
	}
	refresh, access := ok.Str("refresh"), ok.Str("access")
	cookie := func(name, value string) []string { return []string{"Cookie", name + "=" + value} }

	r := l.post(api+"token/refresh/", nil, cookie("refresh_token", refresh)...)
	expectReply(t, "refresh cookie without Origin", r, 403, csrfFailed)
	if r.Header.Get("Set-Cookie") != "" {
		t.Fatal("a refused refresh set cookies")
	}
	expectReply(t, "refresh not a string", l.post(api+"token/refresh/", map[string]any{"refresh": 5}), 400,
		invalid(`{"refresh":["Not a valid string."]}`))
	expectReply(t, "logout cookie without Origin", l.post(api+"logout/", nil, cookie("access_token", access)...), 403, csrfFailed)
	if n := count(t, l.app, "sessions", dbx.HashExp{"employee": idApproved, "revoked_at": ""}); n != 1 {
		t.Fatalf("refused requests ended the session: %d live", n)
	}

	// the refused requests left the token current: it rotates once; presented again within
	// the grace it is a 409 that leaves the new pair working
	rotated := l.post(api+"token/refresh/", map[string]string{"refresh": refresh})
	if rotated.Status != 200 {
		t.Fatalf("rotate: %d %s", rotated.Status, rotated.Body)
	}
	expectReply(t, "previous token within the grace", l.post(api+"token/refresh/", map[string]string{"refresh": refresh}), 409,
		`{"detail":"Refresh already in progress.","code":"conflict"}`)
	if r := l.post(api+"token/refresh/", map[string]string{"refresh": rotated.Str("refresh")}); r.Status != 200 {
		t.Fatalf("the new token after the 409: %d %s", r.Status, r.Body)
	}
}

// 2FA management refusals: a wrong password, 2FA already on, no email codes for TOTP, and
// the second-factor lock at verify-otp and disable.
func TestEmployeeSecondFactorRefusals(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	email := l.f.approved.Email()
	access := bearer(l.employeeLogin(email, password).Str("access"))

	expectReply(t, "enable, wrong password", l.post(api+"2fa/enable/", map[string]string{"password": "wrong-password-1"}, access...), 400,
		invalid(`{"password":["Invalid password"]}`))
	expectReply(t, "request-otp, 2FA off", l.post(api+"2fa/request-otp/", nil, access...), 400,
		invalid(`{"non_field_errors":["2FA is not enabled for this account"]}`))
	if n := count(t, l.app, "otp_codes", dbx.HashExp{"employee": idApproved}); n != 0 {
		t.Fatalf("a refused request stored %d codes", n)
	}

	testkit.SetField(t, l.app, l.f.approved, "otp_enabled", true)
	testkit.SetField(t, l.app, l.f.approved, "otp_method", "totp")
	expectReply(t, "enable, already on", l.post(api+"2fa/enable/", map[string]string{"password": password}, access...), 409,
		`{"detail":"2FA is already enabled for this account.","code":"conflict"}`)
	if rec := reload(t, l.app, l.f.approved); !rec.GetBool("otp_enabled") || rec.GetString("otp_method") != "totp" {
		t.Fatal("a refused enable changed the 2FA settings")
	}

	challenge := l.employeeLogin(email, password)
	if challenge.Status != 200 || challenge.JSON["otp_required"] != true {
		t.Fatalf("challenge: %d %s", challenge.Status, challenge.Body)
	}
	cfg := testConfig()
	for range cfg.MFALockFailures {
		if _, _, err := secondfactor.RecordOTPFailure(l.app, cfg, l.f.approved, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	sessions := count(t, l.app, "sessions", dbx.HashExp{"employee": idApproved})
	expectReply(t, "verify-otp while locked", l.post(api+"2fa/verify-otp/", map[string]string{"temporary_token": challenge.Str("temporary_token"), "otp_code": "123456"}), 403, mfaLocked)
	if n := count(t, l.app, "sessions", dbx.HashExp{"employee": idApproved}); n != sessions {
		t.Fatal("a locked verify-otp started a session")
	}
	expectReply(t, "disable while locked", l.post(api+"2fa/disable/", map[string]string{"password": password, "otp_code": "123456"}, access...), 403, mfaLocked)
	if !reload(t, l.app, l.f.approved).GetBool("otp_enabled") {
		t.Fatal("a locked disable turned 2FA off")
	}
	expectReply(t, "request-otp, TOTP", l.post(api+"2fa/request-otp/", nil, access...), 400,
		invalid(`{"non_field_errors":["Email codes are not available for this account's 2FA method."]}`))
}

// PUT with a restricted field, and a page past the last one of the HDTS lists.
func TestEmployeeProfileAndListRefusals(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	access := bearer(login(t, l.app, l.f.approved).Access)
	r := l.c.Do(http.MethodPut, api+"profile/", map[string]string{"first_name": "New", "last_name": "Name", "email": "new@example.com"}, access...)
	expectReply(t, "PUT restricted", r, 403, `{"detail":"You can only update: first_name, middle_name, last_name, suffix, phone_number, department, profile_picture. `+
		`Attempted to update restricted fields: email","code":"permission_denied"}`)
	if rec := reload(t, l.app, l.f.approved); rec.GetString("first_name") != "Emp" || rec.Email() != l.f.approved.Email() {
		t.Fatal("a refused PUT changed the profile")
	}

	admin := bearer(login(t, l.app, l.f.hdtsAdmin).Access)
	for _, path := range []string{"/api/v1/hdts/user-management/pending/api/?page=9", "/api/v1/hdts/user-management/users/api/?page=9&page_size=1"} {
		expectReply(t, path, l.c.Do(http.MethodGet, path, nil, admin...), 404, pageGone)
	}
}
