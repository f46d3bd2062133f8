package hdts_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

// Cross-principal rules (§1.5, §5.12, §8.1 statements 4 and 5, §8.5 statement 42): tokens of
// one realm are invalid tokens on the other realm's endpoints, ids never cross realms, refresh
// paths refuse the other realm's tokens without reuse detection.

func TestTokensOfOneRealmAreInvalidOnTheOther(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	employeeAccess := l.employeeLogin(l.f.approved.Email(), password).Str("access")
	staffAccess := login(t, l.app, l.f.hdtsAdmin).Access

	staffEndpoints := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/users/profile/"},
		{http.MethodGet, "/api/v1/users/token/validate/"},
		{http.MethodPost, "/api/v1/users/password/change/"},
		{http.MethodPost, "/api/v1/users/2fa/enable/"},
		{http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/"},
		{http.MethodGet, "/api/v1/hdts/user-management/pending/api/"},
		{http.MethodGet, "/api/v1/hdts/users/" + idApproved + "/"},
	}
	for _, ep := range staffEndpoints {
		if r := l.c.Do(ep.method, ep.path, nil, bearer(employeeAccess)...); r.Status != 401 || string(r.Body) != tokenInvalid ||
			r.Header.Get("WWW-Authenticate") != `Bearer realm="api", error="invalid_token"` {
			t.Errorf("employee token at %s %s: %d %s", ep.method, ep.path, r.Status, r.Body)
		}
	}
	employeeEndpoints := []struct{ method, path string }{
		{http.MethodGet, api + "profile/"},
		{http.MethodPatch, api + "profile/"},
		{http.MethodPost, api + "profile/change-password/"},
		{http.MethodPost, api + "2fa/enable/"},
		{http.MethodPost, api + "2fa/disable/"},
		{http.MethodPost, api + "2fa/request-otp/"},
	}
	for _, ep := range employeeEndpoints {
		if r := l.c.Do(ep.method, ep.path, nil, bearer(staffAccess)...); r.Status != 401 || string(r.Body) != tokenInvalid {
			t.Errorf("staff token at %s %s: %d %s", ep.method, ep.path, r.Status, r.Body)
		}
	}
	// PRINCIPAL endpoints take both, each as itself
	for access, want := range map[string]string{employeeAccess: `{"type":"employee"`, staffAccess: `{"type":"user"`} {
		for _, path := range []string{"/api/me/", api + "me/"} {
			if r := l.c.Do(http.MethodGet, path, nil, bearer(access)...); r.Status != 200 || string(r.Body[:len(want)]) != want {
				t.Errorf("%s: %d %.60s", path, r.Status, r.Body)
			}
		}
	}
	if r := l.c.Do(http.MethodGet, "/api/v1/hdts/", nil, bearer(employeeAccess)...); r.Status != 200 ||
		string(r.Body) != `{"register":"`+testAppURL+api+`register/","login":"`+testAppURL+api+`login/","employees":"`+testAppURL+
			`/api/v1/hdts/employees/","pending_users_api":"`+testAppURL+`/api/v1/hdts/user-management/pending/api/","all_users_api":"`+testAppURL+
			`/api/v1/hdts/user-management/users/api/","update_user_status":"`+testAppURL+`/api/v1/hdts/user-management/update-status/{id}/"}` {
		t.Errorf("HDTS discovery document: %d %s", r.Status, r.Body)
	}
}

// Ids never cross realms (§1.9): PocketBase refuses an id already used by a record of another
// auth collection, and every lookup names its realm: an employee's id, token or session never
// resolves to a staff user (and a staff user's id is not found as an employee).
func TestAnEmployeeIDNeverResolvesToAStaffUser(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	col, _ := l.app.FindCollectionByNameOrId(realm.CollectionEmployee)
	twin := core.NewRecord(col)
	twin.Id = idPlain // a staff user's id
	twin.SetEmail("twin@example.com")
	twin.SetPassword(password)
	if err := l.app.Save(twin); err == nil {
		t.Fatal("an employee was stored with a staff user's id")
	}

	empLogin := l.employeeLogin(l.f.approved.Email(), password)
	empAccess := empLogin.Str("access")
	if r := l.c.Do(http.MethodGet, "/api/v1/users/profile/", nil, bearer(empAccess)...); r.Status != 401 || string(r.Body) != tokenInvalid {
		t.Fatalf("employee token at the staff profile: %d %s", r.Status, r.Body)
	}
	if r := l.c.Do(http.MethodGet, "/api/me/", nil, bearer(empAccess)...); r.Status != 200 || r.JSON["type"] != "employee" ||
		r.JSON["data"].(map[string]any)["id"] != idApproved {
		t.Fatalf("employee /api/me/: %d %s", r.Status, r.Body)
	}
	admin := login(t, l.app, l.f.hdtsAdmin).Access
	// the lookup by id says which realm it found
	if r := l.c.Do(http.MethodGet, "/api/v1/hdts/users/"+idApproved+"/", nil, bearer(admin)...); r.Status != 200 || r.JSON["type"] != "employee" {
		t.Fatalf("lookup of an employee id: %d %s", r.Status, r.Body)
	}
	// a staff caller cannot reach the employee's session by its id
	var sid string
	if err := l.app.DB().Select("id").From("sessions").Where(dbx.HashExp{"employee": idApproved}).Row(&sid); err != nil {
		t.Fatal(err)
	}
	if r := l.c.Do(http.MethodDelete, "/api/v1/users/sessions/"+sid+"/", nil, bearer(admin)...); r.Status != 404 {
		t.Fatalf("staff deleting an employee's session: %d %s", r.Status, r.Body)
	}
	// approval names employees only: a staff user's id is not found and stays untouched
	if r := l.c.Do(http.MethodPost, statusURL(idPlain), map[string]string{"action": "reject"}, bearer(admin)...); r.Status != 404 {
		t.Fatalf("reject a staff id: %d %s", r.Status, r.Body)
	}
	if reload(t, l.app, l.f.plain).GetString("status") == "Rejected" {
		t.Fatal("the staff user was rejected")
	}
	if r := l.c.Do(http.MethodGet, "/api/me/", nil, bearer(empAccess)...); r.Status != 200 {
		t.Fatalf("the employee's session after the staff-side calls: %d %s", r.Status, r.Body)
	}
}

// §8.1 statement 5: the other realm's refresh path refuses a refresh token without rotating
// it, also a token already rotated twice (no reuse detection: the family's current token
// still refreshes).
func TestRefreshPathsRefuseTheOtherRealm(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	staffPath, employeePath := "/api/v1/users/token/refresh/", api+"token/refresh/"
	staffLogin := l.post("/api/v1/users/login/", map[string]string{"email": l.f.plain.Email(), "password": password})
	empLogin := l.employeeLogin(l.f.approved.Email(), password)
	if staffLogin.Status != 200 || empLogin.Status != 200 {
		t.Fatalf("logins: %d %d", staffLogin.Status, empLogin.Status)
	}
	cases := []struct {
		name             string
		refresh          string
		own, other       string
		userType, column string
		id               string
	}{
		{"staff", staffLogin.Str("refresh"), staffPath, employeePath, "staff", "user", idPlain},
		{"employee", empLogin.Str("refresh"), employeePath, staffPath, "employee", "employee", idApproved},
	}
	for _, c := range cases {
		generation := func() int {
			var g int
			if err := l.app.DB().Select("generation").From("sessions").Where(dbx.HashExp{c.column: c.id}).Row(&g); err != nil {
				t.Fatal(err)
			}
			return g
		}
		if r := l.post(c.other, map[string]string{"refresh": c.refresh}); r.Status != 401 || string(r.Body) != tokenInvalid {
			t.Fatalf("%s token on the other path: %d %s", c.name, r.Status, r.Body)
		}
		if g := generation(); g != 1 {
			t.Fatalf("%s session rotated by the other path: generation %d", c.name, g)
		}
		// rotate twice on the own path; the first token is now old
		r1 := l.post(c.own, map[string]string{"refresh": c.refresh})
		r2 := l.post(c.own, map[string]string{"refresh": r1.Str("refresh")})
		if r1.Status != 200 || r2.Status != 200 {
			t.Fatalf("%s own refreshes: %d %d", c.name, r1.Status, r2.Status)
		}
		if r := l.post(c.other, map[string]string{"refresh": c.refresh}); r.Status != 401 {
			t.Fatalf("%s old token on the other path: %d %s", c.name, r.Status, r.Body)
		}
		if n := count(t, l.app, "sessions", dbx.HashExp{c.column: c.id, "revoked_reason": "reuse_detected"}); n != 0 {
			t.Fatalf("%s: reuse detected on the other path", c.name)
		}
		if r := l.post(c.own, map[string]string{"refresh": r2.Str("refresh")}); r.Status != 200 || r.Str("user_type") != c.userType {
			t.Fatalf("%s current token after the other path: %d %s", c.name, r.Status, r.Body)
		}
	}
}

// §8.5 statement 42 (the staff token at the employee verify-otp; the reverse is in
// TestEmployeeSecondFactor).
func TestStaffMFATokenRefusedByEmployeeVerifyOTP(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	testkit.SetField(t, l.app, l.f.plain, "otp_enabled", true)
	testkit.SetField(t, l.app, l.f.plain, "otp_method", "email")
	challenge := l.post("/api/v1/users/login/", map[string]string{"email": l.f.plain.Email(), "password": password})
	staffTemp := challenge.Str("temporary_token")
	if challenge.Status != 200 || staffTemp == "" {
		t.Fatalf("staff challenge: %d %s", challenge.Status, challenge.Body)
	}
	code := sixDigits.FindStringSubmatch(l.lastMail(l.f.plain.Email()))[1]
	if r := l.post(api+"2fa/verify-otp/", map[string]string{"temporary_token": staffTemp, "otp_code": code}); r.Status != 401 || string(r.Body) != tokenInvalid {
		t.Fatalf("staff temporary token at the employee verify-otp: %d %s", r.Status, r.Body)
	}
	// the token was not spent there: the staff endpoint still completes the login
	if r := l.post("/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": staffTemp, "otp_code": code}); r.Status != 200 || r.JSON["user"] == nil {
		t.Fatalf("staff verify-otp afterwards: %d %s", r.Status, r.Body)
	}
}
