package apikit_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

// fakeAuth accepts the bearer "good-staff" / "good-employee" and the API key "ak_good".
type fakeAuth struct{}

func (fakeAuth) AccessToken(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	switch raw {
	case "good-staff":
		return &apikit.Caller{Kind: apikit.KindStaff, SessionID: "s1"}, nil
	case "good-employee":
		return &apikit.Caller{Kind: apikit.KindEmployee, SessionID: "s2"}, nil
	}
	return nil, apikit.TokenNotValid()
}

func (fakeAuth) APIKey(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	if raw == "ak_good" {
		return &apikit.Caller{Kind: apikit.KindService, Scopes: []string{"users:read"}}, nil
	}
	return nil, apikit.InvalidAPIKey()
}

// testTable is a small path table exercising each access level and the static-over-param rule.
func testTable() []apikit.Route {
	echo := func(e *core.RequestEvent) error {
		kind := 0
		if c := apikit.CallerOf(e); c != nil {
			kind = int(c.Kind)
		}
		return apikit.WriteJSON(e, http.StatusOK, map[string]any{"ok": true, "kind": kind, "ip": e.RealIP(), "id": e.Request.PathValue("id")})
	}
	return []apikit.Route{
		{Method: http.MethodGet, Path: "/api/v1/things/", Handler: echo},
		{Method: http.MethodPost, Path: "/api/v1/things/", Access: apikit.Staff, Handler: echo},
		{Method: http.MethodGet, Path: "/api/v1/things/profile/", Access: apikit.Staff, Handler: echo},
		{Method: http.MethodPatch, Path: "/api/v1/things/profile/", Access: apikit.Staff, Handler: echo},
		{Method: http.MethodGet, Path: "/api/v1/things/{id}/", Access: apikit.Principal, Handler: echo},
		{Method: http.MethodDelete, Path: "/api/v1/things/{id}/", Access: apikit.Staff, Handler: echo},
		{Method: http.MethodGet, Path: "/api/v1/svc/", Access: apikit.ServiceOr("users:read", apikit.KindStaff), Handler: echo},
		{Method: http.MethodGet, Path: "/api/v1/svc2/", Access: apikit.ServiceOr("round_robin:read", apikit.KindStaff), Handler: echo},
		{Method: http.MethodPost, Path: "/api/v1/upload/", Access: apikit.Staff, Accepts: apikit.BodyMultipart, Handler: echo},
		{Method: http.MethodGet, Path: "/api/v1/page/", Page: true, Handler: echo},
		{Method: http.MethodPost, Path: "/api/v1/boom/", Handler: func(e *core.RequestEvent) error { panic("kaboom /secret/path") }},
	}
}

func factory(mutate func(*config.Config)) func(testing.TB) *tests.TestApp {
	return func(tb testing.TB) *tests.TestApp {
		return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
			cfg := testkit.Config()
			cfg.AppURLOverride = "https://auth.example.com"
			cfg.CORSAllowedOrigins = []string{"https://app.example.com"}
			if mutate != nil {
				mutate(cfg)
			}
			kit := apikit.New(app, cfg)
			kit.SetAuthenticator(fakeAuth{})
			app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Func: func(se *core.ServeEvent) error {
				kit.BindGuards(se.Router)
				if err := kit.Mount(se.Router, testTable()); err != nil {
					return err
				}
				kit.MountAPIFallbacks(se.Router)
				return se.Next()
			}})
		})
	}
}

const (
	bodyNotAuth   = `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`
	bodyBadToken  = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
	bodyNotFound  = `{"detail":"Not found.","code":"not_found"}`
	bodyCSRF      = `{"detail":"CSRF check failed: origin not allowed.","code":"permission_denied"}`
	bodyForbidden = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`
)

func headers(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// expectHeader returns an AfterTestFunc asserting response headers (an empty value = absent).
func expectHeader(kv ...string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(t testing.TB, _ *tests.TestApp, res *http.Response) {
		for i := 0; i+1 < len(kv); i += 2 {
			if got := res.Header.Get(kv[i]); got != kv[i+1] {
				t.Errorf("header %s = %q, want %q", kv[i], got, kv[i+1])
			}
		}
	}
}

func TestRoutingConventions(t *testing.T) {
	t.Parallel()
	f := factory(nil)
	scenarios := []tests.ApiScenario{
		{Name: "slash form", Method: http.MethodGet, URL: "/api/v1/things/", ExpectedStatus: 200,
			ExpectedContent: []string{`"ok":true`}, AfterTestFunc: expectHeader("Cache-Control", "no-store", "Content-Type", "application/json; charset=utf-8", "X-Content-Type-Options", "nosniff")},
		{Name: "no-slash form, no redirect", Method: http.MethodGet, URL: "/api/v1/things", ExpectedStatus: 200, ExpectedContent: []string{`"ok":true`}},
		// The recorder keeps HEAD bodies; the real server drops them (asserted in e2e).
		{Name: "HEAD follows GET", Method: http.MethodHead, URL: "/api/v1/things", ExpectedStatus: 200, ExpectedContent: []string{`"ok":true`}},
		{Name: "HEAD on a path without GET is 405", Method: http.MethodHead, URL: "/api/v1/upload/", ExpectedStatus: 405,
			ExpectedContent: []string{`"code":"method_not_allowed"`}, AfterTestFunc: expectHeader("Allow", "POST")},
		{Name: "wrong method: 405 with Allow in contract order", Method: http.MethodPut, URL: "/api/v1/things/profile",
			ExpectedStatus: 405, ExpectedContent: []string{`{"detail":"Method \"PUT\" not allowed.","code":"method_not_allowed"}`},
			AfterTestFunc: expectHeader("Allow", "GET, PATCH")},
		{Name: "static segment wins over {id} for every method", Method: http.MethodDelete, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "Bearer good-staff"), ExpectedStatus: 405,
			ExpectedContent: []string{`"Method \"DELETE\" not allowed."`}, AfterTestFunc: expectHeader("Allow", "GET, PATCH")},
		// methods no table mounts reached PocketBase's catch-all and its 404 format
		{Name: "other method on a known path: 405 with Allow", Method: "PROPFIND", URL: "/api/v1/things/profile/",
			ExpectedStatus: 405, ExpectedContent: []string{`{"detail":"Method \"PROPFIND\" not allowed.","code":"method_not_allowed"}`},
			AfterTestFunc: expectHeader("Allow", "GET, PATCH")},
		{Name: "other method on a {param} path: that path's Allow", Method: "TRACE", URL: "/api/v1/things/abc",
			ExpectedStatus: 405, ExpectedContent: []string{`{"detail":"Method \"TRACE\" not allowed.","code":"method_not_allowed"}`},
			AfterTestFunc: expectHeader("Allow", "GET, DELETE")},
		{Name: "other method on an unknown api path: 404 envelope", Method: "PROPFIND", URL: "/api/v1/nope/", ExpectedStatus: 404,
			ExpectedContent: []string{bodyNotFound}},
		{Name: "param route", Method: http.MethodGet, URL: "/api/v1/things/abc", Headers: headers("Authorization", "Bearer good-employee"),
			ExpectedStatus: 200, ExpectedContent: []string{`"id":"abc"`, `"kind":2`}},
		{Name: "unknown api path: 404 envelope", Method: http.MethodGet, URL: "/api/v1/nope/", ExpectedStatus: 404, ExpectedContent: []string{bodyNotFound}},
		{Name: "unknown api path, POST", Method: http.MethodPost, URL: "/api/whatever", ExpectedStatus: 404, ExpectedContent: []string{bodyNotFound}},
		{Name: "subpath of a known path is unknown", Method: http.MethodGet, URL: "/api/v1/things/abc/more/", ExpectedStatus: 404, ExpectedContent: []string{bodyNotFound}},
		{Name: "pocketbase routes keep their own answers", Method: http.MethodGet, URL: "/api/health", ExpectedStatus: 200, ExpectedContent: []string{`"message":"API is healthy."`}},
		{Name: "OPTIONS anywhere: 204 empty", Method: http.MethodOptions, URL: "/api/v1/things/", ExpectedStatus: 204,
			AfterTestFunc: expectHeader("Access-Control-Allow-Origin", "")},
		{Name: "OPTIONS preflight from an allowed origin", Method: http.MethodOptions, URL: "/api/v1/things/profile",
			Headers: headers("Origin", "https://app.example.com", "Access-Control-Request-Method", "PATCH"), ExpectedStatus: 204,
			AfterTestFunc: expectHeader("Access-Control-Allow-Origin", "https://app.example.com", "Access-Control-Allow-Credentials", "true",
				"Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS",
				"Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Requested-With, Accept", "Access-Control-Max-Age", "600")},
		{Name: "a foreign origin gets no CORS header", Method: http.MethodGet, URL: "/api/v1/things/",
			Headers: headers("Origin", "https://evil.example"), ExpectedStatus: 200, ExpectedContent: []string{`"ok":true`},
			AfterTestFunc: expectHeader("Access-Control-Allow-Origin", "", "Access-Control-Allow-Credentials", "")},
		{Name: "page endpoint carries Vary: Accept, on errors too", Method: http.MethodDelete, URL: "/api/v1/page", ExpectedStatus: 405,
			ExpectedContent: []string{`"code":"method_not_allowed"`}, AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Accept") {
					t.Errorf("Vary = %v, want Accept", res.Header.Values("Vary"))
				}
			}},
		{Name: "panic: opaque 500", Method: http.MethodPost, URL: "/api/v1/boom/", ExpectedStatus: 500,
			ExpectedContent: []string{`{"detail":"A server error occurred.","code":"server_error"}`}, NotExpectedContent: []string{"kaboom", "secret"}},
	}
	for _, s := range scenarios {
		s.TestAppFactory = f
		s.Test(t)
	}
}

func TestCheckOrder(t *testing.T) {
	t.Parallel()
	f := factory(nil)
	big := strings.Repeat("x", 1<<20+1)
	scenarios := []tests.ApiScenario{
		{Name: "413 before 405", Method: http.MethodPut, URL: "/api/v1/things/", Body: strings.NewReader(big),
			ExpectedStatus: 413, ExpectedContent: []string{`{"detail":"Request body too large.","code":"payload_too_large"}`}},
		{Name: "a chunked body over the limit: 413 before authentication", Method: http.MethodPost, URL: "/api/v1/things/",
			Body: io.MultiReader(strings.NewReader(big)), Headers: headers("Content-Type", "application/json"), // (unknown length)
			ExpectedStatus: 413, ExpectedContent: []string{`{"detail":"Request body too large.","code":"payload_too_large"}`}},
		{Name: "a chunked body over the limit where the handler reads none: 413", Method: http.MethodDelete, URL: "/api/v1/things/x1/",
			Body: io.MultiReader(strings.NewReader(big)), Headers: headers("Content-Type", "application/json", "Authorization", "Bearer good-staff"),
			ExpectedStatus: 413, ExpectedContent: []string{`"code":"payload_too_large"`}},
		{Name: "a chunked body within the limit reaches the handler", Method: http.MethodPost, URL: "/api/v1/things/",
			Body: io.MultiReader(strings.NewReader(`{"a":1}`)), Headers: headers("Content-Type", "application/json", "Authorization", "Bearer good-staff"),
			ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "multipart gets 3 MiB", Method: http.MethodPost, URL: "/api/v1/upload/", Body: strings.NewReader(big),
			Headers: headers("Content-Type", "multipart/form-data; boundary=x"), ExpectedStatus: 401, ExpectedContent: []string{bodyNotAuth}},
		{Name: "405 before 415", Method: http.MethodPut, URL: "/api/v1/things/", Body: strings.NewReader("a=b"),
			Headers: headers("Content-Type", "text/plain"), ExpectedStatus: 405, ExpectedContent: []string{`"code":"method_not_allowed"`}},
		{Name: "415 before auth", Method: http.MethodPost, URL: "/api/v1/things/", Body: strings.NewReader("a=b"),
			Headers: headers("Content-Type", "application/x-www-form-urlencoded"), ExpectedStatus: 415,
			ExpectedContent: []string{`{"detail":"Unsupported media type \"application/x-www-form-urlencoded\" in request.","code":"unsupported_media_type"}`}},
		{Name: "empty body with any content type is fine", Method: http.MethodPost, URL: "/api/v1/things/",
			Headers: headers("Content-Type", "text/plain", "Authorization", "Bearer good-staff"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "no credentials: 401 not_authenticated", Method: http.MethodPost, URL: "/api/v1/things/", ExpectedStatus: 401,
			ExpectedContent: []string{bodyNotAuth}, AfterTestFunc: expectHeader("WWW-Authenticate", `Bearer realm="api"`)},
		{Name: "bad bearer: 401 token_not_valid", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "Bearer nope"), ExpectedStatus: 401, ExpectedContent: []string{bodyBadToken},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				expectHeader("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)(tb, app, res)
				expectAudit("", "")(tb, app, res)
			}},
		{Name: "other scheme is an invalid token", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "Basic Z29vZC1zdGFmZg=="), ExpectedStatus: 401, ExpectedContent: []string{bodyBadToken}},
		{Name: "scheme is case-insensitive", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "bEaReR good-staff"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "header wins over a valid cookie", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "Bearer nope", "Cookie", "access_token=good-staff"), ExpectedStatus: 401, ExpectedContent: []string{bodyBadToken}},
		{Name: "cookie on a safe method needs no origin", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=good-staff"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "cookie on an unsafe method without origin: CSRF 403", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=good-staff"), ExpectedStatus: 403, ExpectedContent: []string{bodyCSRF},
			AfterTestFunc: expectAudit(apikit.EventAuthzDenied, `"detail":"CSRF check failed: origin not allowed."`)},
		{Name: "CSRF before authentication of an invalid cookie", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=garbage", "Origin", "https://evil.example"), ExpectedStatus: 403, ExpectedContent: []string{bodyCSRF},
			AfterTestFunc: expectAudit(apikit.EventAuthzDenied, `"path":"/api/v1/things/profile/"`)},
		{Name: "cookie with APP_URL origin passes", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=good-staff", "Origin", "https://auth.example.com"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "cookie with an allowed CORS origin passes", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=good-staff", "Origin", "https://app.example.com"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "referer is used when origin is absent", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=good-staff", "Referer", "https://auth.example.com/login/"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "invalid cookie with good origin: 401", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Cookie", "access_token=garbage", "Origin", "https://auth.example.com"), ExpectedStatus: 401, ExpectedContent: []string{bodyBadToken}},
		{Name: "bearer needs no origin", Method: http.MethodPatch, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "Bearer good-staff"), ExpectedStatus: 200, ExpectedContent: []string{`"kind":1`}},
		{Name: "employee token on a staff endpoint: 401, never 403", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("Authorization", "Bearer good-employee"), ExpectedStatus: 401, ExpectedContent: []string{bodyBadToken}},
		{Name: "API key ignored where no scope is named", Method: http.MethodGet, URL: "/api/v1/things/profile/",
			Headers: headers("X-API-Key", "ak_good"), ExpectedStatus: 401, ExpectedContent: []string{bodyNotAuth}},
		{Name: "API key with the scope", Method: http.MethodGet, URL: "/api/v1/svc/", Headers: headers("X-API-Key", "ak_good"),
			ExpectedStatus: 200, ExpectedContent: []string{`"kind":4`}},
		{Name: "invalid API key", Method: http.MethodGet, URL: "/api/v1/svc/", Headers: headers("X-API-Key", "ak_bad"),
			ExpectedStatus: 401, ExpectedContent: []string{`{"detail":"Invalid API key.","code":"token_not_valid"}`}},
		{Name: "API key lacking the scope: 403", Method: http.MethodGet, URL: "/api/v1/svc2/", Headers: headers("X-API-Key", "ak_good"),
			ExpectedStatus: 403, ExpectedContent: []string{bodyForbidden}},
	}
	for _, s := range scenarios {
		s.TestAppFactory = f
		s.Test(t)
	}
}

func TestNoAuthenticatorRefusesEveryCredential(t *testing.T) {
	t.Parallel()
	s := tests.ApiScenario{
		Method: http.MethodGet, URL: "/api/v1/things/profile/", Headers: headers("Authorization", "Bearer good-staff"),
		ExpectedStatus: 401, ExpectedContent: []string{bodyBadToken},
		TestAppFactory: func(tb testing.TB) *tests.TestApp {
			return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
				kit := apikit.New(app, testkit.Config())
				app.OnServe().BindFunc(func(se *core.ServeEvent) error {
					if err := kit.Mount(se.Router, testTable()); err != nil {
						return err
					}
					return se.Next()
				})
			})
		},
	}
	s.Test(t)
}

func TestRateLimitAnswerUsesEnvelope(t *testing.T) {
	t.Parallel()
	f := factory(nil)
	s := tests.ApiScenario{
		Method: http.MethodGet, URL: "/api/v1/things/", ExpectedStatus: 429,
		ExpectedContent: []string{`{"detail":"Too many requests. Try again in 7 seconds.","code":"too_many_requests"}`},
		TestAppFactory:  f,
		BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
			app.Settings().RateLimits.Enabled = true
			app.Settings().RateLimits.Rules = []core.RateLimitRule{{Label: "GET /api/v1/things/", MaxRequests: 0, Duration: 7}}
		},
		AfterTestFunc: expectHeader("Retry-After", "7"),
	}
	s.Test(t)
}

func TestForwardingHeadersOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	ipOf := func(want string) func(testing.TB, *tests.TestApp, *http.Response) {
		return func(t testing.TB, _ *tests.TestApp, res *http.Response) {
			var body struct{ IP string }
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.IP != want {
				t.Errorf("client ip = %q, want %q", body.IP, want)
			}
		}
	}
	trustHeader := func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
		app.Settings().TrustedProxy.Headers = []string{"X-Real-IP", "X-Forwarded-For"}
	}
	untrusted := tests.ApiScenario{Name: "untrusted peer cannot choose its IP", Method: http.MethodGet, URL: "/api/v1/things/",
		Headers: headers("X-Real-IP", "203.0.113.9", "X-Forwarded-For", "203.0.113.9"), ExpectedStatus: 200, ExpectedContent: []string{`"ok":true`},
		TestAppFactory: factory(nil), BeforeTestFunc: trustHeader, AfterTestFunc: ipOf("192.0.2.1")}
	untrusted.Test(t)

	trusted := tests.ApiScenario{Name: "trusted proxy's header is the client IP", Method: http.MethodGet, URL: "/api/v1/things/",
		Headers: headers("X-Real-IP", "203.0.113.9"), ExpectedStatus: 200, ExpectedContent: []string{`"ok":true`},
		TestAppFactory: factory(func(c *config.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} }),
		BeforeTestFunc: trustHeader, AfterTestFunc: ipOf("203.0.113.9")}
	trusted.Test(t)
}

// A SecretQuery route takes the query off the request URL before anything else runs, so even
// an answer given before the handler (here a 405) leaves no token for the request log.
func TestSecretQueryNeverReachesTheLog(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		var seen string
		var handlerSaw string
		s := tests.ApiScenario{
			Name: method, Method: method, URL: "/api/v1/secret/?token=s3cr3t&kind=x",
			ExpectedStatus:  map[string]int{http.MethodGet: 200, http.MethodDelete: 405}[method],
			ExpectedContent: []string{`{`},
			TestAppFactory: func(tb testing.TB) *tests.TestApp {
				return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
					kit := apikit.New(app, testkit.Config())
					app.OnServe().BindFunc(func(se *core.ServeEvent) error {
						// what PocketBase's activity logger (-1040) reads after the chain
						se.Router.Bind(&hook.Handler[*core.RequestEvent]{Priority: -99999, Func: func(e *core.RequestEvent) error {
							err := e.Next()
							seen = e.Request.URL.String() + " " + e.Request.RequestURI
							return err
						}})
						err := kit.Mount(se.Router, []apikit.Route{{Method: http.MethodGet, Path: "/api/v1/secret/", SecretQuery: true,
							Handler: func(e *core.RequestEvent) error {
								handlerSaw = apikit.Query(e).Get("token")
								return apikit.WriteJSON(e, 200, map[string]bool{"ok": true})
							}}})
						if err != nil {
							return err
						}
						return se.Next()
					})
				})
			},
			AfterTestFunc: func(t testing.TB, _ *tests.TestApp, _ *http.Response) {
				if strings.Contains(seen, "s3cr3t") {
					t.Errorf("%s: the token reached the request URL seen by the logger: %s", method, seen)
				}
				if method == http.MethodGet && handlerSaw != "s3cr3t" {
					t.Errorf("the handler must still read the token, got %q", handlerSaw)
				}
			},
		}
		s.Test(t)
	}
}

// expectAudit checks that the request wrote exactly one audit row, of event, whose details
// contain detail; an empty event checks that it wrote none.
func expectAudit(event, detail string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		tb.Helper()
		var rows []struct{ Event, Details string }
		if err := app.DB().Select("event", "details").From("audit_log").All(&rows); err != nil {
			tb.Fatal(err)
		}
		if event == "" {
			if len(rows) != 0 {
				tb.Fatalf("audit rows %+v, want none", rows)
			}
			return
		}
		if len(rows) != 1 || rows[0].Event != event || !strings.Contains(rows[0].Details, detail) {
			tb.Fatalf("audit rows %+v, want one %s with %s", rows, event, detail)
		}
	}
}
