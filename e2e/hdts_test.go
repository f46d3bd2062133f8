package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/e2e/smtpsink"
)

// The HDTS employee portal on the built binary (issue 14, §6.13): registration, approval by an
// HDTS admin with the email read from a real SMTP server, login, profile, TOTP with codes from
// oathtool, refresh, forgot/reset through the emailed link, logout.

const hdtsAPI = "/api/v1/hdts/employees/api/"

// superuserFirst returns the first record of a collection matching a PocketBase filter.
func superuserFirst(t *testing.T, s *Server, su, collection, filter string) map[string]any {
	t.Helper()
	rows := superuserRecords(t, s, su, collection, filter)
	if len(rows) == 0 {
		t.Fatalf("no %s record matches %s", collection, filter)
	}
	return rows[0]
}

// makeHDTSAdmin creates an active staff user holding the Admin role of system hdts.
func makeHDTSAdmin(t *testing.T, s *Server, su, email, password string) string {
	t.Helper()
	id := createStaffUser(t, s, su, email, password)
	sys := superuserFirst(t, s, su, "systems", "slug='hdts'")
	role := superuserFirst(t, s, su, "roles", "name='Admin' && system='"+sys["id"].(string)+"'")
	st, _, body := s.Do(t, http.MethodPost, "/api/collections/user_system_roles/records", map[string]any{
		"user": id, "system": sys["id"], "role": role["id"], "is_active": true,
	}, "Authorization", su)
	if st != 200 {
		t.Fatalf("assign hdts Admin: %d %s", st, body)
	}
	return id
}

// createEmployee makes an employee with a status through PocketBase's superuser records API.
func createEmployee(t *testing.T, s *Server, su, email, password, status string) string {
	t.Helper()
	st, _, body := s.Do(t, http.MethodPost, "/api/collections/employees/records", map[string]any{
		"email": email, "password": password, "passwordConfirm": password, "status": status, "first_name": "Emp", "last_name": "Loyee",
	}, "Authorization", su)
	if st != 200 {
		t.Fatalf("create employee: %d %s", st, body)
	}
	var rec struct{ ID string }
	_ = json.Unmarshal(body, &rec)
	return rec.ID
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, raw)
}

func TestEmployeePortalEndToEnd(t *testing.T) {
	t.Parallel()
	tool := oathtoolPath(t)
	sink := smtpsink.Start(t)
	s := Start(t, Options{Env: []string{"RATE_LIMITS_ENABLED=false"}})
	su := s.SuperuserToken(t)
	auth := []string{"Authorization", su}
	configureSMTP(t, s, auth, sink)
	if st, _, body := s.Do(t, http.MethodPatch, "/api/settings", map[string]any{"meta": map[string]any{"appURL": s.URL}}, auth...); st != http.StatusOK {
		t.Fatalf("PATCH appURL = %d %s", st, body)
	}
	const email, password, newPassword = "help.seeker@example.com", "violet-harbor-42", "amber-lantern-77"
	const adminEmail, adminPassword = "hdts.admin@example.com", "copper-kettle-58"
	makeHDTSAdmin(t, s, su, adminEmail, adminPassword)

	// 1. register → Pending, welcome email
	st, _, body := s.Do(t, http.MethodPost, hdtsAPI+"register/", map[string]any{
		"email": "Help.Seeker@Example.com", "password": password, "first_name": "Help", "last_name": "Seeker", "department": "IT Department",
	})
	registered := decodeJSON(t, body)
	employeeID, _ := registered["id"].(string)
	if st != 201 || registered["status"] != "Pending" || !strings.HasPrefix(registered["company_id"].(string), "EM") || employeeID == "" {
		t.Fatalf("register: %d %s", st, body)
	}
	sink.WaitFor(t, mailTo(email, "Welcome to HDTS"), 15*time.Second)

	// 2. pending: the right password is answered account_pending, no tokens
	st, h, body := s.Do(t, http.MethodPost, hdtsAPI+"login/", map[string]string{"email": email, "password": password})
	if st != 403 || len(h.Values("Set-Cookie")) != 0 || !strings.Contains(string(body), `"code":"account_pending"`) {
		t.Fatalf("pending login: %d %s", st, body)
	}

	// 3.–4. the HDTS admin finds and approves the employee; the approval email arrives
	admin := staffLogin(t, s, adminEmail, adminPassword)
	st, _, body = s.Do(t, http.MethodGet, "/api/v1/hdts/user-management/pending/api/", nil, "Authorization", "Bearer "+admin.Access)
	if st != 200 || !strings.Contains(string(body), `"id":"`+employeeID+`"`) {
		t.Fatalf("pending list: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/hdts/user-management/update-status/"+employeeID+"/", map[string]string{"action": "approve"},
		"Authorization", "Bearer "+admin.Access)
	if st != 200 || string(body) != `{"success":true,"message":"User approved successfully","user_id":"`+employeeID+`","status":"Approved"}` {
		t.Fatalf("approve: %d %s", st, body)
	}
	approved := sink.WaitFor(t, mailTo(email, "Your HDTS account has been approved"), 15*time.Second)
	if !strings.Contains(approved.Text, s.URL+"/login/") {
		t.Fatalf("approval email without the login link:\n%s", approved.Text)
	}

	// 5. login → EmployeeTokenResponse; the access token's claims (§8.1 statement 10)
	st, h, body = s.Do(t, http.MethodPost, hdtsAPI+"login/", map[string]string{"email": email, "password": password})
	tokens := decodeJSON(t, body)
	if st != 200 || tokens["employee"] == nil || len(h.Values("Set-Cookie")) != 2 {
		t.Fatalf("login: %d %s", st, body)
	}
	access := tokens["access"].(string)
	claims := jwtClaims(t, access)
	aud, _ := json.Marshal(claims["aud"])
	roles, _ := json.Marshal(claims["roles"])
	if string(aud) != `["auth","hdts"]` || string(roles) != `[{"role":"Employee","system":"hdts"}]` || claims["user_type"] != "employee" ||
		claims["employee_id"] != claims["sub"] || claims["sub"] != employeeID {
		t.Fatalf("claims: %v", claims)
	}
	bearer := []string{"Authorization", "Bearer " + access}

	// 6. profile
	st, _, body = s.Do(t, http.MethodPatch, hdtsAPI+"profile/", map[string]string{"middle_name": "Q"}, bearer...)
	if st != 200 || !strings.Contains(string(body), `"updated_fields":["middle_name"]`) || !strings.Contains(string(body), `"full_name":"Help Q Seeker"`) {
		t.Fatalf("profile PATCH: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodGet, hdtsAPI+"profile/", nil, bearer...)
	if st != 200 || decodeJSON(t, body)["middle_name"] != "Q" {
		t.Fatalf("profile GET: %d %s", st, body)
	}

	// 7. TOTP with oathtool codes
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"2fa/enable/", map[string]string{"password": password}, bearer...)
	secret, _ := decodeJSON(t, body)["secret"].(string)
	if st != 200 || len(secret) != 32 {
		t.Fatalf("2fa/enable: %d %s", st, body)
	}
	now := time.Now()
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"2fa/enable/", map[string]string{"password": password, "otp_code": oathtoolCode(t, tool, secret, now)}, bearer...)
	enabled := decodeJSON(t, body)
	recovery, _ := enabled["recovery_codes"].([]any)
	if st != 200 || enabled["status"] != "enabled" || len(recovery) != 10 {
		t.Fatalf("2fa confirm: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"login/", map[string]string{"email": email, "password": password})
	challenge := decodeJSON(t, body)
	if st != 200 || challenge["otp_required"] != true {
		t.Fatalf("login with 2FA: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"2fa/verify-otp/", map[string]string{
		"temporary_token": challenge["temporary_token"].(string), "otp_code": oathtoolCode(t, tool, secret, now.Add(30*time.Second)),
	})
	second := decodeJSON(t, body)
	if st != 200 || second["employee"] == nil {
		t.Fatalf("verify-otp: %d %s", st, body)
	}

	// 8. refresh on the employee path
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"token/refresh/", map[string]string{"refresh": second["refresh"].(string)})
	refreshed := decodeJSON(t, body)
	if st != 200 || refreshed["user_type"] != "employee" {
		t.Fatalf("refresh: %d %s", st, body)
	}

	// 9.–10. forgot → the emailed link → the reset page → reset: every session ends
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"password/forgot/", map[string]string{"email": email})
	if st != 200 || !strings.Contains(string(body), `"success":true`) {
		t.Fatalf("forgot: %d %s", st, body)
	}
	msg := sink.WaitFor(t, mailTo(email, "Password reset request"), 15*time.Second)
	m := regexp.MustCompile(regexp.QuoteMeta(s.URL+"/reset-password/?kind=employee") + `#token=([A-Za-z0-9_-]+)`).FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no employee reset link in:\n%s", msg.Text)
	}
	link, _ := url.Parse(s.URL + "/reset-password/?kind=employee")
	st, _, page := s.Do(t, http.MethodGet, link.RequestURI(), nil, "Accept", "text/html")
	if st != 200 || !strings.Contains(string(page), "Reset your password") {
		t.Fatalf("reset page: %d %.200s", st, page)
	}
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"password/reset/", map[string]string{"token": m[1], "new_password": newPassword, "confirm_password": newPassword})
	if st != 200 || string(body) != `{"success":true,"message":"Password reset successfully. Please log in with your new password."}` {
		t.Fatalf("reset: %d %s", st, body)
	}
	if st, _, body := s.Do(t, http.MethodPost, hdtsAPI+"token/refresh/", map[string]string{"refresh": refreshed["refresh"].(string)}); st != 401 {
		t.Fatalf("refresh after the reset: %d %s", st, body)
	}

	// 11. login with the new password (2FA still on: a recovery code completes it), logout
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"login/", map[string]string{"email": email, "password": newPassword})
	challenge = decodeJSON(t, body)
	if st != 200 || challenge["otp_required"] != true {
		t.Fatalf("login after the reset: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, hdtsAPI+"2fa/verify-otp/", map[string]string{
		"temporary_token": challenge["temporary_token"].(string), "recovery_code": recovery[0].(string),
	})
	final := decodeJSON(t, body)
	if st != 200 || final["access"] == nil {
		t.Fatalf("verify-otp with a recovery code: %d %s", st, body)
	}
	st, h, body = s.Do(t, http.MethodPost, hdtsAPI+"logout/", map[string]string{"refresh": final["refresh"].(string)})
	if st != 200 || string(body) != `{"message":"Successfully logged out"}` || !strings.Contains(strings.Join(h.Values("Set-Cookie"), "\n"), "Max-Age=0") {
		t.Fatalf("logout: %d %s", st, body)
	}
	if st, _, body := s.Do(t, http.MethodGet, "/api/me/", nil, "Authorization", "Bearer "+final["access"].(string)); st != 401 {
		t.Fatalf("access after logout: %d %s", st, body)
	}
}
