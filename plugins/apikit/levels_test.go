package apikit_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/testkit"
)

// headerChecker grants a level when the request carries "X-Grant: <level number>"; it counts
// its calls.
type headerChecker struct{ calls *atomic.Int64 }

func (c headerChecker) CheckLevel(e *core.RequestEvent, access apikit.Access) error {
	c.calls.Add(1)
	if e.Request.Header.Get("X-Grant") == string(rune('0'+access.Level)) {
		return nil
	}
	return apikit.PermissionDenied(access.Denied)
}

func levelTable(handled *atomic.Int64) []apikit.Route {
	ok := func(e *core.RequestEvent) error {
		handled.Add(1)
		return apikit.WriteJSON(e, http.StatusOK, map[string]any{"ok": true})
	}
	return []apikit.Route{
		{Method: http.MethodGet, Path: "/api/v1/lv/super/", Access: apikit.Superuser.WithDenied("Only superusers can do this"), Handler: ok},
		{Method: http.MethodPost, Path: "/api/v1/lv/any/", Access: apikit.AnyAdmin, Handler: ok},
		{Method: http.MethodGet, Path: "/api/v1/lv/tts/", Access: apikit.AdminOf("tts"), Handler: ok},
		{Method: http.MethodGet, Path: "/api/v1/lv/member/", Access: apikit.MemberOf("tts", "hdts").OrService("users:read"), Handler: ok},
		{Method: http.MethodGet, Path: "/api/v1/lv/staff/", Access: apikit.Staff, Handler: ok},
	}
}

// levelApp mounts levelTable on a kit with fakeAuth, and with checker unless it is nil.
func levelApp(checker apikit.LevelChecker, handled *atomic.Int64) func(testing.TB) *tests.TestApp {
	return func(tb testing.TB) *tests.TestApp {
		return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
			cfg := testkit.Config()
			cfg.AppURLOverride = "https://auth.example.com"
			kit := apikit.New(app, cfg)
			kit.SetAuthenticator(fakeAuth{})
			if checker != nil {
				kit.SetLevelChecker(checker)
			}
			app.OnServe().BindFunc(func(se *core.ServeEvent) error {
				kit.BindGuards(se.Router)
				if err := kit.Mount(se.Router, levelTable(handled)); err != nil {
					return err
				}
				kit.MountAPIFallbacks(se.Router)
				return se.Next()
			})
		})
	}
}

// The level of a route is checked after CSRF and authentication (§1.3), for token callers
// only; an API key holding the route's scope is the SERVICE alternative.
func TestRouteLevels(t *testing.T) {
	t.Parallel()
	var calls, handled atomic.Int64
	f := levelApp(headerChecker{calls: &calls}, &handled)
	bearer := "Bearer good-staff"
	type want struct {
		status  int
		body    string
		checked int64 // calls of the checker
	}
	cases := []struct {
		name, method, url string
		headers           map[string]string
		want              want
	}{
		{"anonymous: 401 before the level", http.MethodGet, "/api/v1/lv/super/", nil, want{401, bodyNotAuth, 0}},
		{"employee token on a staff level: 401", http.MethodGet, "/api/v1/lv/super/", headers("Authorization", "Bearer good-employee"), want{401, bodyBadToken, 0}},
		{"bad token: 401", http.MethodPost, "/api/v1/lv/any/", headers("Authorization", "Bearer nope"), want{401, bodyBadToken, 0}},
		{"CSRF before the level", http.MethodPost, "/api/v1/lv/any/", headers("Cookie", "access_token=good-staff", "Origin", "https://evil.example"), want{403, bodyCSRF, 0}},
		{"superuser level refused: the route's text", http.MethodGet, "/api/v1/lv/super/", headers("Authorization", bearer),
			want{403, `{"detail":"Only superusers can do this","code":"permission_denied"}`, 1}},
		{"superuser level granted", http.MethodGet, "/api/v1/lv/super/", headers("Authorization", bearer, "X-Grant", "1"), want{200, `{"ok":true}`, 1}},
		{"any-admin refused: default text", http.MethodPost, "/api/v1/lv/any/", headers("Authorization", bearer, "X-Grant", "1"), want{403, bodyForbidden, 1}},
		{"any-admin granted", http.MethodPost, "/api/v1/lv/any/", headers("Authorization", bearer, "X-Grant", "2"), want{200, `{"ok":true}`, 1}},
		{"admin of a fixed system granted", http.MethodGet, "/api/v1/lv/tts/", headers("Authorization", bearer, "X-Grant", "3"), want{200, `{"ok":true}`, 1}},
		{"member level refused", http.MethodGet, "/api/v1/lv/member/", headers("Authorization", bearer), want{403, bodyForbidden, 1}},
		{"API key with the scope: SERVICE, no level check", http.MethodGet, "/api/v1/lv/member/", headers("X-API-Key", "ak_good"), want{200, `{"ok":true}`, 0}},
		{"API key where no scope is named: ignored", http.MethodGet, "/api/v1/lv/tts/", headers("X-API-Key", "ak_good"), want{401, bodyNotAuth, 0}},
		{"no level: the checker is not asked", http.MethodGet, "/api/v1/lv/staff/", headers("Authorization", bearer), want{200, `{"ok":true}`, 0}},
	}
	for _, c := range cases {
		var callsBefore, handledBefore int64
		s := tests.ApiScenario{
			Name: c.name, Method: c.method, URL: c.url, Headers: c.headers,
			ExpectedStatus: c.want.status, ExpectedContent: []string{c.want.body},
			TestAppFactory: f,
			BeforeTestFunc: func(testing.TB, *tests.TestApp, *core.ServeEvent) {
				callsBefore, handledBefore = calls.Load(), handled.Load()
			},
			AfterTestFunc: func(tb testing.TB, _ *tests.TestApp, _ *http.Response) {
				if got := calls.Load() - callsBefore; got != c.want.checked {
					tb.Errorf("checker called %d times, want %d", got, c.want.checked)
				}
				wantHandled := int64(0)
				if c.want.status == 200 {
					wantHandled = 1
				}
				if got := handled.Load() - handledBefore; got != wantHandled {
					tb.Errorf("handler ran %d times, want %d", got, wantHandled)
				}
			},
		}
		s.Test(t)
	}
}

// Without a checker (nothing wired) every level above authentication is refused: fail closed.
func TestRouteLevelsFailClosed(t *testing.T) {
	t.Parallel()
	var handled atomic.Int64
	f := levelApp(nil, &handled)
	for _, c := range []struct{ method, url, body string }{
		{http.MethodGet, "/api/v1/lv/super/", `{"detail":"Only superusers can do this","code":"permission_denied"}`},
		{http.MethodPost, "/api/v1/lv/any/", bodyForbidden},
		{http.MethodGet, "/api/v1/lv/tts/", bodyForbidden},
		{http.MethodGet, "/api/v1/lv/member/", bodyForbidden},
	} {
		s := tests.ApiScenario{
			Name: c.url, Method: c.method, URL: c.url, Headers: headers("Authorization", "Bearer good-staff", "X-Grant", "1"),
			ExpectedStatus: 403, ExpectedContent: []string{c.body}, TestAppFactory: f,
		}
		s.Test(t)
	}
	s := tests.ApiScenario{Name: "no level", Method: http.MethodGet, URL: "/api/v1/lv/staff/", Headers: headers("Authorization", "Bearer good-staff"),
		ExpectedStatus: 200, ExpectedContent: []string{`{"ok":true}`}, TestAppFactory: f}
	s.Test(t)
	if got := handled.Load(); got != 1 {
		t.Fatalf("handlers ran %d times, want 1 (the route without a level)", got)
	}
}

// A level must fit its route: staff tokens only, and ADMIN(S)/MEMBER(S) name their systems.
func TestMountRejectsBadLevels(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	kit := apikit.New(app, testkit.Config())
	ok := func(e *core.RequestEvent) error { return nil }
	for _, a := range []apikit.Access{
		{Kinds: apikit.KindStaff | apikit.KindEmployee, Level: apikit.LevelAnyAdmin},
		{Kinds: apikit.KindEmployee, Level: apikit.LevelSuperuser},
		{Kinds: apikit.KindStaff, Level: apikit.LevelAdmin},
		{Kinds: apikit.KindStaff, Level: apikit.LevelMember},
		{Kinds: apikit.KindStaff, Level: apikit.LevelAnyAdmin, Systems: "tts"},
		{Kinds: apikit.KindStaff, Systems: "tts"},
		{Kinds: apikit.KindStaff, Level: 99},
	} {
		r, err := apis.NewRouter(app)
		if err != nil {
			t.Fatal(err)
		}
		if err := kit.Mount(r, []apikit.Route{{Method: http.MethodGet, Path: "/api/v1/bad/", Access: a, Handler: ok}}); err == nil {
			t.Errorf("Mount accepted %+v", a)
		}
	}
}
