package hdts_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

const (
	employeesURL = "/api/v1/hdts/employees/"
	pendingURL   = "/api/v1/hdts/user-management/pending/api/"
	usersURL     = "/api/v1/hdts/user-management/users/api/"
)

func asAdmin(f *fixtures) *core.Record  { return f.hdtsAdmin }
func asMember(f *fixtures) *core.Record { return f.hdtsMember }

// page decodes a Page body into its ids (in order) and its other top-level keys.
func page(tb testing.TB, body string) (ids []string, kinds []string, top map[string]any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		tb.Fatal(err)
	}
	for _, it := range top["results"].([]any) {
		m := it.(map[string]any)
		ids = append(ids, m["id"].(string))
		if k, ok := m["kind"].(string); ok {
			kinds = append(kinds, k)
		}
	}
	return ids, kinds, top
}

// levelScenarios are the 401/403 answers of an HDTS_ADMIN endpoint (§8.7 statement 64).
func levelScenarios(method, url, body string) []scenario {
	return []scenario{
		{name: url + " without credentials", method: method, url: url, body: body, status: 401, exact: notAuthenticated},
		{name: url + " employee token: 401", method: method, url: url, body: body, as: asApproved, status: 401, exact: tokenInvalid},
		{name: url + " HDTS member (not admin): 403", method: method, url: url, body: body, as: asMember, status: 403, exact: denied},
		{name: url + " inactive Admin assignment: 403", method: method, url: url, body: body,
			as: func(f *fixtures) *core.Record { return f.inactiveAd }, status: 403, exact: denied},
		{name: url + " TTS admin: 403", method: method, url: url, body: body,
			as: func(f *fixtures) *core.Record { return f.ttsAdmin }, status: 403, exact: denied},
	}
}

func TestEmployeeLists(t *testing.T) {
	t.Parallel()
	var all []scenario
	all = append(all, levelScenarios(http.MethodGet, employeesURL, "")...)
	all = append(all, levelScenarios(http.MethodGet, pendingURL, "")...)
	all = append(all,
		scenario{
			name: "employees: every status, newest first (default -created_at)", method: http.MethodGet, url: employeesURL, as: asAdmin,
			status: 200, content: []string{`"count":3,"next":null,"previous":null,"results":[{"id":"`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				ids, _, _ := page(tb, body)
				if want := idsBy(tb, app, "SELECT id FROM employees ORDER BY created DESC, id ASC"); !slices.Equal(ids, want) {
					tb.Errorf("order %v", ids)
				}
			},
		},
		scenario{
			name: "employees: status filter, search, ordering, paging", method: http.MethodGet,
			url: employeesURL + "?ordering=last_name&page_size=1&page=2&search=EMP", as: func(f *fixtures) *core.Record { return f.superuser },
			status: 200,
			content: []string{`"count":3,"next":"` + testAppURL + employeesURL + `?ordering=last_name&page_size=1&page=3&search=EMP",` +
				`"previous":"` + testAppURL + employeesURL + `?ordering=last_name&page_size=1&page=1&search=EMP"`, `"last_name":"Pend"`},
		},
		scenario{
			name: "employees: status=Rejected", method: http.MethodGet, url: employeesURL + "?status=Rejected", as: asAdmin,
			status: 200, content: []string{`"count":1,`, `"status":"Rejected"`},
		},
		scenario{
			name: "employees: bad filter, ordering and page together", method: http.MethodGet,
			url: employeesURL + "?status=Gone&ordering=password&page=0", as: asAdmin, status: 400,
			exact: invalid(`{"ordering":["Invalid ordering field: password."],"page":["A valid integer is required."],"status":["\"Gone\" is not a valid choice."]}`),
		},
		scenario{
			name: "employees: page past the end", method: http.MethodGet, url: employeesURL + "?page=9", as: asAdmin,
			status: 404, exact: `{"detail":"Invalid page.","code":"not_found"}`,
		},
		scenario{
			name: "pending: only Pending employees", method: http.MethodGet, url: pendingURL, as: asAdmin,
			status: 200, content: []string{`"count":1,`, `"status":"Pending"`},
			not: []string{`"status":"Approved"`, `"status":"Rejected"`},
		},
		scenario{
			name: "pending: status is not a parameter here; unknown ordering", method: http.MethodGet, url: pendingURL + "?ordering=-last_name", as: asAdmin,
			status: 400, exact: invalid(`{"ordering":["Invalid ordering field: last_name."]}`),
		},
		scenario{
			name: "pending: a status parameter is not a filter here and is ignored (§1.8)", method: http.MethodGet,
			url: pendingURL + "?status=Approved", as: asAdmin,
			status: 200, content: []string{`"count":1,`, `"status":"Pending"`},
			not: []string{`"status":"Approved"`},
		},
		scenario{
			name: "pending: an unknown status value is ignored too", method: http.MethodGet,
			url: pendingURL + "?status=Gone", as: asAdmin,
			status: 200, content: []string{`"count":1,`, `"status":"Pending"`},
		},
		scenario{
			name: "pending: search matches nothing", method: http.MethodGet, url: pendingURL + "?search=zzz", as: asAdmin,
			status: 200, exact: `{"count":0,"next":null,"previous":null,"results":[]}`,
		},
	)
	run(t, all)
}

func TestHDTSUsersList(t *testing.T) {
	t.Parallel()
	all := levelScenarios(http.MethodGet, usersURL, "")
	all = append(all,
		scenario{
			name: "staff with an active hdts assignment plus every employee, by email; the two counts", method: http.MethodGet, url: usersURL, as: asAdmin,
			status: 200, content: []string{`"count":5,`, `"system_users_count":2,"employees_count":3}`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				ids, kinds, _ := page(tb, body)
				// emails: appr<n>, hadmin<n>, hmember<n>, pend<n>, reje<n>
				want := []string{f.approved.Id, f.hdtsAdmin.Id, f.hdtsMember.Id, f.pending.Id, f.rejected.Id}
				if !slices.Equal(ids, want) || !slices.Equal(kinds, []string{"employee", "staff", "staff", "employee", "employee"}) {
					tb.Errorf("items %v %v", ids, kinds)
				}
				var top struct {
					Results []map[string]any `json:"results"`
				}
				_ = json.Unmarshal([]byte(body), &top)
				staffItem, empItem := top.Results[1], top.Results[0]
				roles := staffItem["system_roles"].([]any)
				if len(roles) != 1 || roles[0].(map[string]any)["system_slug"] != "hdts" || staffItem["is_active"] != true {
					tb.Errorf("staff item %v", staffItem)
				}
				if empItem["is_active"] != true || empItem["date_joined"] == nil || len(empItem["system_roles"].([]any)) != 1 {
					tb.Errorf("employee item %v", empItem)
				}
				keys := []string{}
				for k := range staffItem {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if strings.Join(keys, ",") != "company_id,date_joined,department,email,first_name,id,is_active,kind,last_name,middle_name,otp_enabled,phone_number,profile_picture,status,suffix,system_roles,username" {
					tb.Errorf("HDTSUser keys %v", keys)
				}
			},
		},
		scenario{
			name: "kind=staff, ordering -date_joined", method: http.MethodGet, url: usersURL + "?kind=staff&ordering=-date_joined", as: asAdmin,
			status: 200, content: []string{`"count":2,`, `"system_users_count":2,"employees_count":0}`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				want := idsBy(tb, app, "SELECT id FROM users WHERE id IN ('"+idAdmin+"','"+idMember+"') ORDER BY created DESC, id ASC")
				if ids, _, _ := page(tb, body); !slices.Equal(ids, want) {
					tb.Errorf("order %v", ids)
				}
			},
		},
		scenario{
			name: "status=Rejected and search over company ids", method: http.MethodGet, url: usersURL + "?status=Rejected&search=em000", as: asAdmin,
			status: 200, content: []string{`"count":1,`, `"system_users_count":0,"employees_count":1}`, `"kind":"employee"`},
		},
		scenario{
			name: "bad kind and ordering", method: http.MethodGet, url: usersURL + "?kind=robot&ordering=created_at", as: asAdmin,
			status: 400, exact: invalid(`{"kind":["\"robot\" is not a valid choice."],"ordering":["Invalid ordering field: created_at."]}`),
		},
	)
	run(t, all)
}

func statusURL(id string) string { return "/api/v1/hdts/user-management/update-status/" + id + "/" }

func TestUpdateStatus(t *testing.T) {
	t.Parallel()
	all := levelScenarios(http.MethodPost, statusURL(idPending), `{"action":"approve"}`)
	all = append(all,
		scenario{
			name: "approve: Pending → Approved, status_by/status_at, email employee_approved, audit", method: http.MethodPost,
			url: statusURL(idPending), as: asAdmin, body: `{"action": "approve"}`, status: 200,
			exact: `{"success":true,"message":"User approved successfully","user_id":"` + idPending + `","status":"Approved"}`,
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				r := reload(tb, app, f.pending)
				if r.GetString("status") != "Approved" || r.GetString("status_by") != f.hdtsAdmin.Id || r.GetDateTime("status_at").IsZero() {
					tb.Errorf("stored %v", r.PublicExport())
				}
				if got := outbox(tb, app, f.pending.Email()); !slices.Equal(got, []string{"employee_approved"}) {
					tb.Errorf("emails %v", got)
				}
				if n := count(tb, app, "audit_log", dbx.HashExp{"event": "employee.approved", "actor_id": f.hdtsAdmin.Id, "target_id": f.pending.Id}); n != 1 {
					tb.Errorf("%d audit rows", n)
				}
			},
		},
		scenario{
			name: "reject (form body, superuser): Approved → Rejected, sessions revoked, email", method: http.MethodPost,
			url: statusURL(idApproved), as: func(f *fixtures) *core.Record { return f.superuser },
			contentType: "application/x-www-form-urlencoded", body: "action=reject", status: 200,
			exact: `{"success":true,"message":"User rejected successfully","user_id":"` + idApproved + `","status":"Rejected"}`,
			before: func(tb testing.TB, app *tests.TestApp, f *fixtures) {
				login(tb, app, f.approved)
				login(tb, app, f.approved)
			},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if n := count(tb, app, "sessions", dbx.HashExp{"employee": f.approved.Id, "revoked_reason": "employee_rejected"}); n != 2 {
					tb.Errorf("%d sessions revoked", n)
				}
				if got := outbox(tb, app, f.approved.Email()); !slices.Equal(got, []string{"employee_rejected"}) {
					tb.Errorf("emails %v", got)
				}
				if n := count(tb, app, "audit_log", dbx.HashExp{"event": "employee.rejected", "target_id": f.approved.Id}); n != 1 {
					tb.Errorf("%d audit rows", n)
				}
			},
		},
		scenario{
			name: "approve a rejected employee (multipart)", method: http.MethodPost, url: statusURL(idRejected), as: asAdmin,
			contentType: "multipart/form-data; boundary=XX", body: "--XX\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\napprove\r\n--XX--\r\n",
			status: 200, content: []string{`"status":"Approved"`},
		},
		scenario{
			name: "already approved: 409, nothing sent", method: http.MethodPost, url: statusURL(idApproved), as: asAdmin, body: `{"action":"approve"}`,
			status: 409, exact: `{"detail":"User is already approved.","code":"conflict"}`,
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if got := outbox(tb, app, f.approved.Email()); len(got) != 0 {
					tb.Errorf("emails %v", got)
				}
			},
		},
		scenario{
			name: "already rejected: 409", method: http.MethodPost, url: statusURL(idRejected), as: asAdmin, body: `{"action":"reject"}`,
			status: 409, exact: `{"detail":"User is already rejected.","code":"conflict"}`,
		},
		scenario{
			name: "action not a choice", method: http.MethodPost, url: statusURL(idPending), as: asAdmin, body: `{"action":"delete"}`,
			status: 400, exact: invalid(`{"action":["\"delete\" is not a valid choice."]}`),
		},
		scenario{
			name: "action required", method: http.MethodPost, url: statusURL(idPending), as: asAdmin,
			status: 400, exact: invalid(`{"action":["This field is required."]}`),
		},
		scenario{
			name: "a staff user's id is not an employee: 404, the user untouched", method: http.MethodPost, url: statusURL(idPlain), as: asAdmin,
			body: `{"action":"reject"}`, status: 404, exact: `{"detail":"User not found.","code":"not_found"}`,
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if reload(tb, app, f.plain).GetString("status") == "Rejected" {
					tb.Error("the staff user was changed")
				}
			},
		},
		scenario{name: "unknown id (404 before the body's 400)", method: http.MethodPost, url: statusURL("nope"), as: asAdmin, body: `{}`,
			status: 404, exact: `{"detail":"User not found.","code":"not_found"}`},
		scenario{name: "GET is 405", method: http.MethodGet, url: statusURL("nope"), as: asAdmin,
			status: 405, exact: `{"detail":"Method \"GET\" not allowed.","code":"method_not_allowed"}`},
	)
	run(t, all)
}

// idsBy runs a query of ids: the order the contract defines, computed independently.
func idsBy(tb testing.TB, app core.App, query string) []string {
	tb.Helper()
	var ids []string
	if err := app.DB().NewQuery(query).Column(&ids); err != nil {
		tb.Fatal(err)
	}
	return ids
}
