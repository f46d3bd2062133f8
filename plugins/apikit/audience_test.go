package apikit_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/plugins/apikit"
	"gatehouse/testkit"
)

// recordAuth accepts the bearer "good-staff" with a principal record, as the tokens plugin does.
type recordAuth struct{ rec *core.Record }

func (a recordAuth) AccessToken(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	if raw == "good-staff" {
		return &apikit.Caller{Kind: apikit.KindStaff, Record: a.rec, SessionID: "s1"}, nil
	}
	return nil, apikit.TokenNotValid()
}

func (recordAuth) APIKey(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	return nil, apikit.InvalidAPIKey()
}

// §7.2 on a PUBLIC route: a valid access token (header or cookie) puts the request in the
// limiter's @auth bucket, an invalid one or none in @guest; the handler still sees no caller
// and no e.Auth, as before.
func TestPublicRouteLimiterAudience(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = "https://auth.example.com"
		kit := apikit.New(app, cfg)
		col, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			t.Fatal(err)
		}
		kit.SetAuthenticator(recordAuth{rec: core.NewRecord(col)})
		app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Func: func(se *core.ServeEvent) error {
			kit.BindGuards(se.Router)
			err := kit.Mount(se.Router, []apikit.Route{{Method: http.MethodGet, Path: "/api/v1/pub/", Handler: func(e *core.RequestEvent) error {
				return apikit.WriteJSON(e, http.StatusOK, map[string]bool{"auth": e.Auth != nil, "caller": apikit.CallerOf(e) != nil})
			}}})
			if err != nil {
				return err
			}
			return se.Next()
		}})
	})
	s := app.Settings()
	s.RateLimits.Enabled = true
	s.RateLimits.Rules = []core.RateLimitRule{
		{Label: "/api/v1/pub/", MaxRequests: 1, Duration: 60, Audience: core.RateLimitRuleAudienceGuest},
		{Label: "/api/v1/pub/", MaxRequests: 100, Duration: 60, Audience: core.RateLimitRuleAudienceAuth},
	}
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}
	c := testkit.Client{TB: t, URL: testkit.Serve(t, app).URL}
	const answer = `{"auth":false,"caller":false}`
	const limited = `{"detail":"Too many requests. Try again in 60 seconds.","code":"too_many_requests"}`

	if r := c.Do(http.MethodGet, "/api/v1/pub/", nil); r.Status != 200 || string(r.Body) != answer {
		t.Fatalf("first guest: %d %s", r.Status, r.Body)
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer bad"}, {"Authorization", "Basic good-staff"}, {"Cookie", "access_token=bad"}} {
		if r := c.Do(http.MethodGet, "/api/v1/pub/", nil, hdr...); r.Status != 429 || string(r.Body) != limited || r.Header.Get("Retry-After") != "60" {
			t.Fatalf("guest %v after the guest limit: %d %s", hdr, r.Status, r.Body)
		}
	}
	for _, hdr := range [][]string{{"Authorization", "Bearer good-staff"}, {"Cookie", "refresh_token=x; access_token=good-staff"}} {
		for i := 0; i < 3; i++ {
			if r := c.Do(http.MethodGet, "/api/v1/pub/", nil, hdr...); r.Status != 200 || string(r.Body) != answer {
				t.Fatalf("valid token %v, request %d: %d %s", hdr, i+1, r.Status, r.Body)
			}
		}
	}
}
