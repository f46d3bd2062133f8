package server_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/server"
	"gatehouse/testkit"
)

// §7.2 with §1.1: HEAD on the GET endpoints of the `auth` and `captcha` groups is counted like
// GET, by the same rule and in the same counter: after the group's limit of GETs from one IP
// within 10 s, both the next GET and a HEAD answer 429; GETs and HEADs mixed use up one
// allowance; the POST of the same path keeps its own counter.
func TestHeadIsRateLimitedLikeGet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path  string
		limit int
		post  bool // the path has a POST in the same group
	}{
		{"/api/v1/invitations/accept/?token=x", 10, true},
		{"/api/v1/users/password/reset/?token=x", 10, true},
		{"/api/v1/users/captcha/required/?email=a@example.com", 20, false},
	}
	for _, c := range cases {
		for _, mixed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s mixed=%v", c.path, mixed), func(t *testing.T) {
				t.Parallel()
				app := testkit.NewApp(t, func(app *tests.TestApp) {
					cfg := testkit.Config()
					cfg.AppURLOverride = "https://auth.example.com"
					server.Register(app, cfg, server.Options{})
				})
				if !app.Settings().RateLimits.Enabled {
					t.Fatal("rate limits are off in the test app")
				}
				srv := testkit.Serve(t, app)
				do := func(method string) (int, http.Header, string) {
					t.Helper()
					req, _ := http.NewRequest(method, srv.URL+c.path, nil)
					if method == http.MethodPost {
						req.Header.Set("Content-Type", "application/json")
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer res.Body.Close()
					b, _ := io.ReadAll(res.Body)
					return res.StatusCode, res.Header, string(b)
				}
				const limited = `{"detail":"Too many requests. Try again in 10 seconds.","code":"too_many_requests"}`

				// the allowance by GETs, or half of it by HEADs (one counter)
				for i := 0; i < c.limit; i++ {
					method := http.MethodGet
					if mixed && i%2 == 1 {
						method = http.MethodHead
					}
					if st, _, body := do(method); st == http.StatusTooManyRequests {
						t.Fatalf("request %d (%s): 429 within the limit of %d: %s", i+1, method, c.limit, body)
					}
				}
				if st, h, body := do(http.MethodGet); st != http.StatusTooManyRequests || h.Get("Retry-After") != "10" || body != limited {
					t.Fatalf("GET after %d GET/HEAD: %d Retry-After=%q %s", c.limit, st, h.Get("Retry-After"), body)
				}
				if st, h, body := do(http.MethodHead); st != http.StatusTooManyRequests || h.Get("Retry-After") != "10" || body != "" {
					t.Fatalf("HEAD after %d GET/HEAD: %d Retry-After=%q %q", c.limit, st, h.Get("Retry-After"), body)
				}
				if c.post {
					if st, _, body := do(http.MethodPost); st == http.StatusTooManyRequests {
						t.Fatalf("POST shares the GET counter: %d %s", st, body)
					}
				}
			})
		}
	}
}

// §7.2: on a PUBLIC route a caller with a valid access token (header or cookie) is counted in
// the @auth bucket (3000 / 10 s), not with the guests of its IP (300 / 10 s); the handler's
// answer is the same as for a guest; an invalid token stays a guest.
func TestPublicRoutesCountValidTokensAsAuth(t *testing.T) {
	t.Parallel()
	var services *server.Services
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = "https://auth.example.com"
		services = server.Register(app, cfg, server.Options{})
	})
	if !app.Settings().RateLimits.Enabled {
		t.Fatal("rate limits are off in the test app")
	}
	c := testkit.Client{TB: t, URL: testkit.Serve(t, app).URL} // (serving creates the signing key)
	u := testkit.NewPrincipal(t, app, "users", "limits")
	testkit.SetField(t, app, u, "is_active", true)
	issued, err := services.Tokens.StartSession(app, "staff", u, "password", "127.0.0.1", "limits-test")
	if err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/systems/public/"
	const limited = `{"detail":"Too many requests. Try again in 10 seconds.","code":"too_many_requests"}`

	guest := c.Do(http.MethodGet, path, nil)
	if guest.Status != 200 || len(guest.Body) == 0 {
		t.Fatalf("guest: %d %s", guest.Status, guest.Body)
	}
	for i := 0; i < 301; i++ {
		hdr := []string{"Authorization", "Bearer " + issued.Access}
		if i%2 == 1 {
			hdr = []string{"Cookie", "access_token=" + issued.Access}
		}
		if r := c.Do(http.MethodGet, path, nil, hdr...); r.Status != 200 || string(r.Body) != string(guest.Body) {
			t.Fatalf("request %d with a valid token (%s): %d %s", i+1, hdr[0], r.Status, r.Body)
		}
	}
	// the guests of the IP still have their 299 requests, then 429; an invalid token is a guest
	for i := 0; i < 299; i++ {
		if r := c.Do(http.MethodGet, path, nil); r.Status != 200 {
			t.Fatalf("guest request %d: %d %s", i+2, r.Status, r.Body)
		}
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer not-a-token"}, {"Cookie", "access_token=not-a-token"}} {
		if r := c.Do(http.MethodGet, path, nil, hdr...); r.Status != 429 || r.Header.Get("Retry-After") != "10" || string(r.Body) != limited {
			t.Fatalf("guest %v after 300: %d Retry-After=%q %s", hdr, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if r := c.Do(http.MethodGet, path, nil, "Authorization", "Bearer "+issued.Access); r.Status != 200 || string(r.Body) != string(guest.Body) {
		t.Fatalf("valid token after the guests' 429: %d %s", r.Status, r.Body)
	}
	if n := countRecords(t, app, "sessions"); n != 1 {
		t.Fatalf("%d sessions, want the one", n)
	}
}
