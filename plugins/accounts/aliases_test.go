package accounts_test

import (
	"net/http"
	"strings"
	"testing"
)

// The three refresh paths answer alike (§5.2.2, §5.2.4, §5.15.2), each with the errors the
// OpenAPI document gives it: a non-string refresh (400), a cookie without an allowed Origin
// (403, nothing rotated), the previous token within the grace window (409, nothing changed).
func TestRefreshPathsAnswerTheSameErrors(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	for _, path := range []string{"/api/v1/token/refresh/", "/api/v1/token/refresh/cookie/", "/api/v1/users/token/refresh/"} {
		r := f.login("a@example.com", "violet-harbor-42")
		sid := sidOf(t, r.str("access"))

		typ := f.do(http.MethodPost, path, map[string]any{"refresh": 42})
		if typ.status != 400 || string(typ.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"refresh":["Not a valid string."]}}` {
			t.Fatalf("%s non-string refresh: %d %s", path, typ.status, typ.body)
		}
		csrf := f.do(http.MethodPost, path, nil, "Cookie", "refresh_token="+r.str("refresh"), "Origin", "https://evil.example")
		if csrf.status != 403 || string(csrf.body) != csrfFailed || len(csrf.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("%s CSRF: %d %s", path, csrf.status, csrf.body)
		}
		if f.session(sid).GetInt("generation") != 1 {
			t.Fatalf("%s: a refused refresh must not rotate", path)
		}
		if ok := f.do(http.MethodPost, path, map[string]string{"refresh": r.str("refresh")}); ok.status != 200 {
			t.Fatalf("%s rotate: %d %s", path, ok.status, ok.body)
		}
		grace := f.do(http.MethodPost, path, map[string]string{"refresh": r.str("refresh")})
		if grace.status != 409 || string(grace.body) != `{"detail":"Refresh already in progress.","code":"conflict"}` || len(grace.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("%s grace: %d %s", path, grace.status, grace.body)
		}
		if f.session(sid).GetInt("generation") != 2 {
			t.Fatalf("%s: the grace answer must not rotate", path)
		}
	}
}

// The login aliases share the second-factor lock of §5.1.2 step 7.1 (403 account_locked).
func TestLoginAliasesAnswerTheSecondFactorLock(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	f.user("a@example.com", tfPassword, true)
	secret, _ := f.enableTOTP(f.loginAs("a@example.com"))
	wrong := tfWrongCode(t, secret)
	for i := 0; i < 10; i++ {
		if r := f.do(http.MethodPost, "/api/v1/token/obtain/", map[string]string{"email": "a@example.com", "password": tfPassword, "otp_code": wrong}); r.status != 200 || r.str("otp_error") == "" {
			t.Fatalf("wrong code %d: %d %s", i+1, r.status, r.body)
		}
	}
	for _, path := range []string{"/api/v1/token/obtain/", "/token/", "/api/v1/users/login/"} {
		r := f.do(http.MethodPost, path, map[string]string{"email": "a@example.com", "password": tfPassword})
		if r.status != 403 || string(r.body) != tfMFALocked || len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s while locked: %d %s", path, r.status, r.body)
		}
	}
	if n := f.count("sessions"); n != 1 {
		t.Fatalf("sessions = %d: a locked second factor must create none (only the setup login's)", n)
	}
}

// The sessions list validates its pagination (§1.8): a malformed page is 400, a page past the
// last is 404 "Invalid page.".
func TestSessionsPagination(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	f.user("a@example.com", "violet-harbor-42", true)
	auth := []string{"Authorization", "Bearer " + f.login("a@example.com", "violet-harbor-42").str("access")}
	f.login("a@example.com", "violet-harbor-42")

	bad := f.do(http.MethodGet, "/api/v1/users/sessions/?page=abc&page_size=0", nil, auth...)
	if bad.status != 400 || string(bad.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"page":["A valid integer is required."],"page_size":["A valid integer is required."]}}` {
		t.Fatalf("malformed page: %d %s", bad.status, bad.body)
	}
	second := f.do(http.MethodGet, "/api/v1/users/sessions/?page=2&page_size=1", nil, auth...)
	if second.status != 200 || second.json["count"] != float64(2) || len(second.json["results"].([]any)) != 1 || second.json["next"] != nil {
		t.Fatalf("page 2: %d %s", second.status, second.body)
	}
	// ordering and search are not parameters of this list (§5.15.6): ignored, as unknown ones are (§1.8)
	undocumented := f.do(http.MethodGet, "/api/v1/users/sessions/?ordering=-last_used_at&search="+strings.Repeat("a", 101), nil, auth...)
	if undocumented.status != 200 || undocumented.json["count"] != float64(2) {
		t.Fatalf("undocumented parameters: %d %s", undocumented.status, undocumented.body)
	}
	past := f.do(http.MethodGet, "/api/v1/users/sessions/?page=3&page_size=1", nil, auth...)
	if past.status != 404 || string(past.body) != `{"detail":"Invalid page.","code":"not_found"}` {
		t.Fatalf("past the last page: %d %s", past.status, past.body)
	}
}
