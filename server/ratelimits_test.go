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
