package server_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/server"
	"gatehouse/testkit"
)

// fuzzServer is one live app per fuzz target (built once, reused by every input).
func fuzzServer(f *testing.F) string {
	app := testkit.NewApp(f, func(app *tests.TestApp) { server.Register(app, testkit.Config(), server.Options{}) })
	return testkit.Serve(f, app).URL
}

var fuzzClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send answers the status of one request, or -1 when the request cannot be written at all.
func send(t *testing.T, method, url string, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return -1, ""
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := fuzzClient.Do(req)
	if err != nil {
		return -1, "" // net/http refused to send it (bad header value, ...)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The path tables (§1.1): any method and path answers without a 5xx.
func FuzzPathTable(f *testing.F) {
	for _, s := range [][2]string{
		{"GET", "/api/v1/users/token/validate/"}, {"POST", "/api/v1/users/login"}, {"DELETE", "/api/v1/users/sessions/x/"},
		{"PATCH", "/api/v1/users/%2e%2e/profile/"}, {"GET", "/api//v1//users/"}, {"PUT", "/api/me/?x=%zz"},
		{"GET", "/api/collections/users/records"}, {"OPTIONS", "/api/v1/"}, {"GET", "/%00"}, {"TRACE", "/_/"},
	} {
		f.Add(s[0], s[1])
	}
	base := fuzzServer(f)
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, method, path string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		mu.Lock() // one request at a time: the server is shared
		defer mu.Unlock()
		if status, body := send(t, method, base+path, ""); status >= 500 {
			t.Fatalf("%s %q: %d %s", method, path, status, body)
		}
	})
}

// JWT parsing (§3.1): any bearer token, cookie or API key on the token routes is refused with a
// 4xx (401, or 429 from the failure limiter), never a 5xx.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.eyJleHAiOjF9.AAAA",
		"eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzMjU2In0.e30.e30", "ak_12345678_abcdefghijklmnopqrstuvwxyz012345", strings.Repeat("A", 9000)} {
		f.Add(s)
	}
	base := fuzzServer(f)
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, token string) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range []struct{ path, h, v string }{
			{"/api/v1/users/token/validate/", "Authorization", "Bearer " + token},
			{"/api/me/", "Cookie", "access_token=" + token},
			{"/api/v1/users/profile/", "X-API-Key", token},
		} {
			status, body := send(t, http.MethodGet, base+c.path, "", c.h, c.v)
			if status >= 500 || status != -1 && status < 400 { // 401, or 429 once the limiter counts the failures
				t.Fatalf("%s %s=%q: %d %s", c.path, c.h, c.v, status, body)
			}
		}
		status, body := send(t, http.MethodPost, base+"/api/v1/users/token/refresh/", `{"refresh":"`+strings.ReplaceAll(strings.ReplaceAll(token, `\`, `\\`), `"`, `\"`)+`"}`,
			"Content-Type", "application/json")
		if status >= 500 {
			t.Fatalf("refresh %q: %d %s", token, status, body)
		}
	})
}

// Email normalisation (§1.9): registration with any email gives a 201 or a 4xx, never a 5xx,
// and a stored email is trimmed and lower case.
func FuzzRegisterEmail(f *testing.F) {
	for _, s := range []string{"a@example.com", "  Mixed.Case@Example.COM ", "\u212a@example.com", "İ@example.com",
		"a@b", "@", "a@example.com\x00", strings.Repeat("a", 300) + "@example.com", "ß@EXAMPLE.com"} {
		f.Add(s)
	}
	app := testkit.NewApp(f, func(app *tests.TestApp) { server.Register(app, testkit.Config(), server.Options{}) })
	base := testkit.Serve(f, app).URL
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, email string) {
		mu.Lock()
		defer mu.Unlock()
		q := func(s string) string {
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s) + `"`
		}
		body := `{"email":` + q(email) + `,"password":"Fuzz-Register-Pass-9","first_name":"F","last_name":"Z"}`
		status, out := send(t, http.MethodPost, base+"/api/v1/users/register/", body, "Content-Type", "application/json")
		if status >= 500 {
			t.Fatalf("register %q: %d %s", email, status, out)
		}
		rows, err := app.FindAllRecords("users")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if e := r.GetString("email"); e != strings.ToLower(strings.TrimSpace(e)) {
				t.Fatalf("stored email not normalised: %q (from %q)", e, email)
			}
		}
	})
}
