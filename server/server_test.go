package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

// ourCollections are every collection of API.md §2.
var ourCollections = []string{
	"users", "employees", "systems", "roles", "user_system_roles", "sessions", "mfa_challenges", "otp_codes",
	"recovery_codes", "password_reset_tokens", "invitations", "captcha_challenges", "api_keys", "auth_failures",
	"tts_round_robin_state", "tts_round_robin_picks", "email_outbox", "audit_log", "signing_keys",
}

type staffOnly struct{}

func (staffOnly) AccessToken(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	if raw == "staff" {
		return &apikit.Caller{Kind: apikit.KindStaff}, nil
	}
	return nil, apikit.TokenNotValid()
}
func (staffOnly) APIKey(*core.RequestEvent, string) (*apikit.Caller, error) {
	return nil, apikit.InvalidAPIKey()
}

func factory(withAuth bool) func(testing.TB) *tests.TestApp {
	return func(tb testing.TB) *tests.TestApp {
		return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
			cfg := testkit.Config()
			cfg.AppURLOverride = "https://auth.example.com"
			kit := server.Register(app, cfg, server.Options{}).Kit
			if withAuth {
				kit.SetAuthenticator(staffOnly{})
			}
		})
	}
}

func superuserToken(t testing.TB, app *tests.TestApp) string {
	su, err := app.FindAuthRecordByEmail(core.CollectionNameSuperusers, "root@example.com")
	if err != nil {
		col, _ := app.FindCachedCollectionByNameOrId(core.CollectionNameSuperusers)
		su = core.NewRecord(col)
		su.SetEmail("root@example.com")
		su.SetPassword("root-password-123")
		if err := app.Save(su); err != nil {
			t.Fatal(err)
		}
	}
	token, err := su.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func countRecords(t testing.TB, app core.App, collection string) int {
	n, err := app.CountRecords(collection)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestAnonymousCannotUsePocketBaseCollectionAPI(t *testing.T) {
	t.Parallel()
	for _, name := range ourCollections {
		before := 0
		list := tests.ApiScenario{
			Name: "list " + name, Method: http.MethodGet, URL: "/api/collections/" + name + "/records",
			ExpectedStatus: 403, ExpectedContent: []string{`"status":403`}, NotExpectedContent: []string{`"items"`},
			TestAppFactory: factory(false),
		}
		list.Test(t)
		create := tests.ApiScenario{
			Name: "create " + name, Method: http.MethodPost, URL: "/api/collections/" + name + "/records",
			Body:           strings.NewReader(`{"email":"evil@example.com","password":"12345678aA","passwordConfirm":"12345678aA","name":"x","slug":"x"}`),
			ExpectedStatus: 403, ExpectedContent: []string{`"status":403`},
			TestAppFactory: factory(false),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) { before = countRecords(t, app, name) },
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				if after := countRecords(t, app, name); after != before {
					t.Errorf("%s: %d records before, %d after an anonymous create", name, before, after)
				}
			},
		}
		create.Test(t)
	}
}

// A Gatehouse access token, even a staff superuser's, is not a PocketBase superuser's: the
// service never sets PocketBase's e.Auth on /api/collections/... (§2.1), so PocketBase's records
// API refuses it with its own 403 (all rules are null) and changes nothing.
func TestGatehouseSuperuserTokenIsNotPocketBaseAuth(t *testing.T) {
	t.Parallel()
	const (
		id        = "gatehousesu0001"
		pbRefusal = `{"data":{},"message":"Only superusers can perform this action.","status":403}`
	)
	for _, c := range []struct {
		method, url, body string
		status            int
		want              string // exact body; "" for the control
	}{
		// the control: the same token is a superuser's on the service's own endpoints
		{http.MethodGet, "/api/v1/users/" + id + "/", "", 200, ""},
		{http.MethodGet, "/api/collections/users/records/" + id, "", 403, pbRefusal},
		{http.MethodPatch, "/api/collections/users/records/" + id, `{"first_name":"Pwned","is_superuser":false,"is_active":false}`, 403, pbRefusal},
		{http.MethodDelete, "/api/collections/users/records/" + id, "", 403, pbRefusal},
		{http.MethodGet, "/api/collections/users/records", "", 403, pbRefusal},
		{http.MethodGet, "/api/collections/sessions/records", "", 403, pbRefusal},
	} {
		content := []string{c.want}
		if c.want == "" {
			content = []string{`"id":"` + id + `"`, `"is_superuser":true`}
		}
		var tokenSvc *tokens.Service
		var sid string
		hdr := map[string]string{} // filled before the request is built
		s := tests.ApiScenario{
			Name: c.method + " " + c.url, Method: c.method, URL: c.url, Body: strings.NewReader(c.body), Headers: hdr,
			ExpectedStatus: c.status, ExpectedContent: content,
			TestAppFactory: func(tb testing.TB) *tests.TestApp {
				return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
					cfg := testkit.Config()
					cfg.AppURLOverride = "https://auth.example.com"
					tokenSvc = server.Register(app, cfg, server.Options{}).Tokens
				})
			},
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				col, _ := app.FindCachedCollectionByNameOrId("users")
				u := core.NewRecord(col)
				u.Set("id", id)
				u.SetEmail("super@example.com")
				u.SetPassword("violet-harbor-42")
				u.SetVerified(true)
				u.Set("first_name", "Sue")
				u.Set("is_active", true)
				u.Set("is_superuser", true)
				if err := app.Save(u); err != nil {
					t.Fatal(err)
				}
				issued, err := tokenSvc.StartSession(app, "staff", u, "password", "127.0.0.1", "server-test")
				if err != nil {
					t.Fatal(err)
				}
				sid = issued.SessionID
				hdr["Authorization"] = "Bearer " + issued.Access
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if got, _ := io.ReadAll(res.Body); c.want != "" && strings.TrimSpace(string(got)) != c.want {
					t.Errorf("%s %s: %s, want %s", c.method, c.url, got, c.want)
				}
				u, err := app.FindRecordById("users", id)
				if err != nil {
					t.Fatalf("%s %s: the user is gone", c.method, c.url)
				}
				if u.GetString("first_name") != "Sue" || !u.GetBool("is_superuser") || !u.GetBool("is_active") {
					t.Errorf("%s %s: the user changed: %v", c.method, c.url, u)
				}
				if !tokens.IsLiveSessionOf(app, sid, "staff", id) || countRecords(t, app, "sessions") != 1 {
					t.Errorf("%s %s: the sessions changed", c.method, c.url)
				}
			},
		}
		s.Test(t)
	}
}

func TestPocketBasePasswordAuthIsOff(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"users", "employees"} {
		s := tests.ApiScenario{
			Name: name, Method: http.MethodPost, URL: "/api/collections/" + name + "/auth-with-password",
			Body:           strings.NewReader(`{"identity":"known@example.com","password":"correct horse battery"}`),
			ExpectedStatus: 403, ExpectedContent: []string{`"status":403`}, NotExpectedContent: []string{`"token"`},
			TestAppFactory: factory(false),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				col, _ := app.FindCachedCollectionByNameOrId(name)
				r := core.NewRecord(col)
				r.SetEmail("known@example.com")
				r.SetPassword("correct horse battery")
				r.Set("is_active", true)
				r.Set("status", "Approved")
				if err := app.Save(r); err != nil {
					t.Fatal(err)
				}
			},
		}
		s.Test(t)
	}
}

func TestPocketBaseAccountRoutesAreClosed(t *testing.T) {
	t.Parallel()
	const pbNotFound = `{"data":{},"message":"The requested resource wasn't found.","status":404}`
	probe := testkit.NewApp(t)
	var targets []string // collection names and ids
	for _, name := range []string{"users", "employees"} {
		col, err := probe.FindCachedCollectionByNameOrId(name)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, name, col.Id)
	}
	actions := []string{"request-verification", "confirm-verification", "request-password-reset",
		"confirm-password-reset", "request-email-change", "confirm-email-change"}
	for _, target := range targets {
		for _, action := range actions {
			s := tests.ApiScenario{
				Name: target + " " + action, Method: http.MethodPost, URL: "/api/collections/" + target + "/" + action,
				Body:           strings.NewReader(`{"email":"known@example.com","token":"x","password":"p","passwordConfirm":"p"}`),
				ExpectedStatus: 404, ExpectedContent: []string{pbNotFound},
				TestAppFactory: factory(false),
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
					if app.TestMailer.TotalSend() != 0 {
						t.Error("no mail may be sent")
					}
				},
			}
			s.Test(t)
		}
	}

	// A PocketBase superuser keeps PocketBase's own behaviour (204 for request-verification).
	hdr := map[string]string{} // filled by the factory, read when the request is built
	su := tests.ApiScenario{
		Name: "superuser passes", Method: http.MethodPost, URL: "/api/collections/users/request-verification",
		Body: strings.NewReader(`{"email":"nobody@example.com"}`), Headers: hdr, ExpectedStatus: 204,
		TestAppFactory: func(tb testing.TB) *tests.TestApp {
			app := factory(false)(tb)
			hdr["Authorization"] = superuserToken(tb, app)
			return app
		},
	}
	su.Test(t)
}

func TestDiscoveryDocuments(t *testing.T) {
	t.Parallel()
	const notAuth = `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`
	scenarios := []tests.ApiScenario{
		{Name: "v1 no slash, anonymous", Method: http.MethodGet, URL: "/api/v1", ExpectedStatus: 401, ExpectedContent: []string{notAuth}},
		{Name: "v1 slash, anonymous", Method: http.MethodGet, URL: "/api/v1/", ExpectedStatus: 401, ExpectedContent: []string{notAuth}},
		{Name: "wrong method on a known path", Method: http.MethodPost, URL: "/api/v1/", ExpectedStatus: 405,
			ExpectedContent: []string{`{"detail":"Method \"POST\" not allowed.","code":"method_not_allowed"}`}},
		{Name: "unknown v1 path", Method: http.MethodGet, URL: "/api/v1/does-not-exist/", ExpectedStatus: 404,
			ExpectedContent: []string{`{"detail":"Not found.","code":"not_found"}`}},
		{Name: "unknown /api/me/ subpath", Method: http.MethodGet, URL: "/api/me/x/", ExpectedStatus: 404,
			ExpectedContent: []string{`{"detail":"Not found.","code":"not_found"}`}},
	}
	for _, s := range scenarios {
		s.TestAppFactory = factory(false)
		s.Test(t)
	}

	// With a principal: absolute URLs from APP_URL (never Host), in the contract's key order,
	// listing exactly the documented entries whose route is mounted. Both slash forms agree.
	contract := map[string][][3]string{ // key, method, path — copied from §5.14.1, §5.14.3, §5.12.1, §5.13.1
		"/api/": {{"api_v1", "GET", "/api/v1/"}, {"token_obtain", "POST", "/api/v1/token/obtain/"}, {"token_refresh", "POST", "/api/v1/token/refresh/"},
			{"logout", "POST", "/api/v1/users/logout/"}, {"me", "GET", "/api/me/"}, {"jwks", "GET", "/.well-known/jwks.json"}, {"openapi", "GET", "/api/v1/openapi.json"}},
		"/api/v1/": {{"users", "GET", "/api/v1/users/"}, {"roles", "GET", "/api/v1/roles/"}, {"systems", "GET", "/api/v1/systems/"},
			{"system-roles", "GET", "/api/v1/system-roles/user-system-roles/"}, {"token", "POST", "/api/v1/token/obtain/"}, {"tts", "GET", "/api/v1/tts/"},
			{"hdts", "GET", "/api/v1/hdts/"}, {"employees", "GET", "/api/v1/hdts/employees/"}, {"invitations", "GET", "/api/v1/invitations/"},
			{"sessions", "GET", "/api/v1/users/sessions/"}, {"openapi", "GET", "/api/v1/openapi.json"}},
		"/api/v1/hdts/": {{"register", "POST", "/api/v1/hdts/employees/api/register/"}, {"login", "POST", "/api/v1/hdts/employees/api/login/"},
			{"employees", "GET", "/api/v1/hdts/employees/"}, {"pending_users_api", "GET", "/api/v1/hdts/user-management/pending/api/"},
			{"all_users_api", "GET", "/api/v1/hdts/user-management/users/api/"},
			{"update_user_status", "POST", "/api/v1/hdts/user-management/update-status/{id}/"}},
		"/api/v1/tts/": {{"round-robin", "GET", "/api/v1/tts/round-robin/"}, {"user-info", "GET", "/api/v1/tts/user-info/{user_id}/"},
			{"users-info", "POST", "/api/v1/tts/users-info/"}, {"assign-agent-to-role", "GET", "/api/v1/tts/assign-agent-to-role/"},
			{"assign-role", "GET", "/api/v1/tts/assign-role/"}, {"create-role", "GET", "/api/v1/tts/create-role/"},
			{"update-assignment", "PUT", "/api/v1/tts/update-assignment/{assignment_id}/"}},
	}
	for doc, links := range contract {
		for _, url := range []string{doc, strings.TrimSuffix(doc, "/")} {
			var kit *apikit.Kit
			s := tests.ApiScenario{Name: "discovery " + url, Method: http.MethodGet, URL: url,
				Headers:        map[string]string{"Authorization": "Bearer staff", "Host": "evil.example"},
				ExpectedStatus: 200, NotExpectedContent: []string{"evil.example"},
				TestAppFactory: func(tb testing.TB) *tests.TestApp {
					return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
						cfg := testkit.Config()
						cfg.AppURLOverride = "https://auth.example.com"
						kit = server.Register(app, cfg, server.Options{}).Kit
						kit.SetAuthenticator(staffOnly{})
					})
				},
			}
			s.AfterTestFunc = func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				want := "{"
				for _, l := range links {
					if kit.HasRoute(l[1], l[2]) {
						if want != "{" {
							want += ","
						}
						want += `"` + l[0] + `":"https://auth.example.com` + l[2] + `"`
					}
				}
				want += "}"
				got, _ := io.ReadAll(res.Body)
				if string(got) != want {
					t.Errorf("%s = %s\nwant %s", url, got, want)
				}
			}
			s.ExpectedContent = []string{`{`}
			s.Test(t)
		}
	}

}
