package accounts_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/writeepoch"
	"gatehouse/server"
	"gatehouse/testkit"
)

// The fast lane fails closed (issue 17): a middleware it does not reproduce, bound on the
// router (here) or on a Fast route after Mount (apikit's TestFastLaneUnknownMiddlewares), switches the whole lane off at start-up, so that
// middleware runs for every request of the hot routes.
func TestFastLaneFailsClosedOnUnknownMiddleware(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"none", "global"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			var kit *apikit.Kit
			app := testkit.NewApp(t, func(app *tests.TestApp) {
				cfg := testkit.Config()
				cfg.AppURLOverride = appURL
				kit = server.Register(app, cfg, server.Options{}).Kit
				app.OnServe().BindFunc(func(se *core.ServeEvent) error {
					mark := &hook.Handler[*core.RequestEvent]{Id: "requestIdTest", Func: func(e *core.RequestEvent) error {
						e.Response.Header().Set("X-Request-Id", "seen")
						return e.Next()
					}}
					if level == "global" {
						se.Router.Bind(mark)
					}
					return se.Next()
				})
			})
			f := &flow{t: t, app: app, url: testkit.Serve(t, app).URL}
			f.user("fail.closed@example.com", "Fail-Closed-Pass-9", true)
			access := f.login("fail.closed@example.com", "Fail-Closed-Pass-9").str("access")

			before := kit.FastLaneServed()
			r := f.do(http.MethodGet, "/api/v1/users/token/validate/", nil, bearer(access)...)
			served := kit.FastLaneServed() - before
			reason := kit.FastLaneDisabled()
			if d := writeepoch.Disabled(app); d != "" {
				t.Fatalf("a normal flow switched the write-epoch caches off: %s", d)
			}
			switch level {
			case "none":
				if r.status != http.StatusOK || served != 1 || reason != "" || r.header.Get("X-Request-Id") != "" {
					t.Fatalf("lane should serve: %d served=%d reason=%q %s", r.status, served, reason, r.body)
				}
				// a www. host may be redirected by PocketBase (pbWWWRedirect): the full chain answers
				req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v1/users/token/validate/", nil)
				req.Host = "www.example.com"
				req.Header.Set("Authorization", "Bearer "+access)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK || kit.FastLaneServed()-before != 1 {
					t.Fatalf("www host: %d, lane served %d", res.StatusCode, kit.FastLaneServed()-before)
				}
			case "global":
				if r.status != http.StatusOK || served != 0 || !strings.Contains(reason, `"requestIdTest"`) {
					t.Fatalf("lane should be off: %d served=%d reason=%q %s", r.status, served, reason, r.body)
				}
				if r.header.Get("X-Request-Id") != "seen" || !strings.Contains(string(r.body), `"token_validated_at"`) {
					t.Fatalf("the full chain did not run the new middleware: %v %s", r.header, r.body)
				}
			}
		})
	}
}
