package accounts_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/pocketbase/pocketbase/tests"
)

func TestMe(t *testing.T) {
	t.Parallel()
	f := newFactory(appOpts{})
	scenarios := []tests.ApiScenario{
		{
			Name: "staff: type user, UserProfile with every assignment", Method: http.MethodGet, URL: "/api/me/",
			Headers: auth("staff:" + staffID), TestAppFactory: f, ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{`{"type":"user","data":{"id":"staffuser000001","email":"staff@example.com","username":"staffer",`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				var env struct {
					Type string          `json:"type"`
					Data json.RawMessage `json:"data"`
				}
				raw := readBody(tb, res)
				must(tb, json.Unmarshal(raw, &env))
				if keys := objectKeys(tb, raw); !slices.Equal(keys, []string{"type", "data"}) {
					tb.Errorf("keys = %v", keys)
				}
				m := checkUserProfile(tb, env.Data)
				if got := roleList(m); !slices.Equal(got, []string{"hdts/Ticket Coordinator/inactive", "tts/Admin/active", "tts/Asset Manager/active"}) {
					tb.Errorf("system_roles = %v", got)
				}
			},
		},
		{
			Name: "employee: type employee, EmployeeProfile with the synthetic hdts item", Method: http.MethodGet, URL: "/api/me",
			Headers: auth("employee:" + employeeID), TestAppFactory: f, ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`{"type":"employee","data":{"id":"employee0000001","email":"emp@example.com","username":"emp","first_name":"Emp","middle_name":"M","last_name":"Loyee","suffix":null,"phone_number":null,"company_id":"EM0001","department":null,"status":"Approved","profile_picture":null,"otp_enabled":false,"otp_method":null,"last_login":null,"created_at":"`,
				`"full_name":"Emp M Loyee","system_roles":[{"id":"employee0000001","system_id":"`,
				`"system_name":"Help Desk and Ticketing System","system_slug":"hdts","role_id":null,"role_name":"Employee","assigned_at":"`,
				`"last_logged_on":null,"is_active":true}]}}`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				var env struct {
					Data struct {
						CreatedAt   string `json:"created_at"`
						UpdatedAt   string `json:"updated_at"`
						SystemRoles []struct {
							SystemID   string `json:"system_id"`
							AssignedAt string `json:"assigned_at"`
						} `json:"system_roles"`
					} `json:"data"`
				}
				must(tb, json.Unmarshal(readBody(tb, res), &env))
				hdts, err := app.FindFirstRecordByData("systems", "slug", "hdts")
				must(tb, err)
				d := env.Data
				if !tsRe.MatchString(d.CreatedAt) || !tsRe.MatchString(d.UpdatedAt) || len(d.SystemRoles) != 1 ||
					d.SystemRoles[0].SystemID != hdts.Id || d.SystemRoles[0].AssignedAt != d.CreatedAt {
					tb.Errorf("employee profile = %+v", d)
				}
			},
		},
		{
			Name: "no credentials", Method: http.MethodGet, URL: "/api/me/", TestAppFactory: f,
			ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyNotAuthenticated},
		},
		{
			Name: "an API key is not a credential here", Method: http.MethodGet, URL: "/api/me/",
			Headers: map[string]string{"X-API-Key": "ak_abcdefgh_0123456789abcdefghijklmnopqrstuv"}, TestAppFactory: f,
			ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyNotAuthenticated},
		},
		{
			Name: "invalid token", Method: http.MethodGet, URL: "/api/me/", Headers: auth("employee:nosuchemployee1"),
			TestAppFactory: f, ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyTokenNotValid},
		},
		{
			Name: "POST is 405", Method: http.MethodPost, URL: "/api/me/", Headers: auth("staff:" + staffID),
			TestAppFactory: f, ExpectedStatus: http.StatusMethodNotAllowed,
			ExpectedContent: []string{`"code":"method_not_allowed"`},
			AfterTestFunc: func(tb testing.TB, _ *tests.TestApp, res *http.Response) {
				if res.Header.Get("Allow") != "GET" {
					tb.Errorf("Allow = %q", res.Header.Get("Allow"))
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}
