package hdts_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

const profileURL = "/api/v1/hdts/employees/api/profile/"

func asApproved(f *fixtures) *core.Record { return f.approved }

func TestEmployeeProfileAndMe(t *testing.T) {
	t.Parallel()
	run(t, []scenario{
		{
			name: "GET profile: the caller's EmployeeProfile", method: http.MethodGet, url: profileURL, as: asApproved,
			status:  http.StatusOK,
			content: []string{`"status":"Approved"`, `"full_name":"Emp Appr"`, `"system_roles":[{"id":"`, `"role_name":"Employee","assigned_at":"`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if !strings.Contains(body, `{"id":"`+f.approved.Id+`","email":"`+f.approved.Email()+`"`) {
					tb.Errorf("not the caller's profile: %s", body)
				}
			},
		},
		{name: "GET profile without credentials: 401", method: http.MethodGet, url: profileURL, status: 401, exact: notAuthenticated},
		{name: "GET profile with a staff token: 401 token_not_valid", method: http.MethodGet, url: profileURL,
			as: func(f *fixtures) *core.Record { return f.superuser }, status: 401, exact: tokenInvalid},
		{name: "DELETE profile: 405 with the Allow of the path", method: http.MethodDelete, url: profileURL, as: asApproved,
			status: 405, exact: `{"detail":"Method \"DELETE\" not allowed.","code":"method_not_allowed"}`},
		{
			name: "GET employees/api/me/: the /api/me/ answer for an employee", method: http.MethodGet, url: "/api/v1/hdts/employees/api/me",
			as: asApproved, status: http.StatusOK, content: []string{`{"type":"employee","data":{"id":"`, `"status":"Approved"`},
		},
		{
			name: "GET employees/api/me/ for a staff token (PRINCIPAL)", method: http.MethodGet, url: "/api/v1/hdts/employees/api/me/",
			as: func(f *fixtures) *core.Record { return f.hdtsAdmin }, status: http.StatusOK,
			content: []string{`{"type":"user","data":{"id":"`, `"system_roles":[{"id":"`, `"system_slug":"hdts","role_id":"`, `"role_name":"Admin"`},
		},
		{
			name: "GET /api/me/ for an employee", method: http.MethodGet, url: "/api/me/", as: asApproved,
			status: http.StatusOK, content: []string{`{"type":"employee","data":{"id":"`},
		},
		{name: "GET employees/api/me/ without credentials", method: http.MethodGet, url: "/api/v1/hdts/employees/api/me/", status: 401, exact: notAuthenticated},
	})
}

func TestEmployeeProfileUpdate(t *testing.T) {
	t.Parallel()
	run(t, []scenario{
		{
			name: "PATCH: writable fields, normalised phone, sorted updated_fields, audit", method: http.MethodPatch, url: profileURL, as: asApproved,
			body:   `{"department": "Budget Department", "phone_number": "09181234567", "middle_name": "  Q ", "unknown": 1}`,
			status: http.StatusOK,
			content: []string{`"middle_name":"Q"`, `"phone_number":"+639181234567"`, `"department":"Budget Department"`, `"full_name":"Emp Q Appr"`,
				`"updated_fields":["department","middle_name","phone_number"],"message":"Successfully updated 3 field(s)"}`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				r := reload(tb, app, f.approved)
				if r.GetString("phone_number") != "+639181234567" || r.GetString("department") != "Budget Department" {
					tb.Errorf("stored: %v", r.PublicExport())
				}
				if n := count(tb, app, "audit_log", dbx.HashExp{"event": "employee.profile_updated", "actor_id": f.approved.Id, "actor_type": "employee"}); n != 1 {
					tb.Errorf("%d audit rows", n)
				}
			},
		},
		{
			name: "PATCH with an empty body: nothing changes", method: http.MethodPatch, url: profileURL, as: asApproved,
			status: http.StatusOK, content: []string{`"updated_fields":[],"message":"Successfully updated 0 field(s)"}`},
		},
		{
			name: "PUT: first and last name required", method: http.MethodPut, url: profileURL, as: asApproved,
			body: `{"department": "IT Department"}`, status: http.StatusBadRequest,
			exact: invalid(`{"first_name":["This field is required."],"last_name":["This field is required."]}`),
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if reload(tb, app, f.approved).GetString("department") != "" {
					tb.Error("a failed PUT changed the record")
				}
			},
		},
		{
			name: "PUT: full update answer", method: http.MethodPut, url: profileURL, as: asApproved,
			body:   `{"first_name": "Ada", "last_name": "Lovelace", "suffix": null}`,
			status: http.StatusOK,
			content: []string{`"first_name":"Ada"`, `"last_name":"Lovelace"`, `"full_name":"Ada Lovelace"`,
				`,"message":"Profile fully updated successfully"}`},
			not: []string{"updated_fields"},
		},
		{
			name: "blank names get the endpoint's messages; bad choices; long middle name", method: http.MethodPatch, url: profileURL, as: asApproved,
			body:   `{"first_name": " ", "last_name": "", "suffix": "Dr.", "department": "X", "middle_name": "` + strings.Repeat("m", 101) + `"}`,
			status: http.StatusBadRequest,
			exact: invalid(`{"department":["\"X\" is not a valid choice."],"first_name":["First name cannot be empty."],"last_name":["Last name cannot be empty."],` +
				`"middle_name":["Ensure this field has no more than 100 characters."],"suffix":["\"Dr.\" is not a valid choice."]}`),
		},
		{
			name: "a phone number of another employee", method: http.MethodPatch, url: profileURL, as: asApproved,
			before: func(tb testing.TB, app *tests.TestApp, f *fixtures) {
				f.pending.Set("phone_number", "+15551234567")
				if err := app.Save(f.pending); err != nil {
					tb.Fatal(err)
				}
			},
			body: `{"phone_number": "+1 (555) 123-4567"}`, status: http.StatusBadRequest,
			exact: invalid(`{"phone_number":["An employee with this phone number already exists."]}`),
		},
		{
			name: "restricted keys: 403 naming them sorted, nothing changes", method: http.MethodPatch, url: profileURL, as: asApproved,
			body:   `{"status": "Approved", "first_name": "X", "password": "x", "email": "e@example.com", "company_id": "EM1", "Status": "ignored"}`,
			status: http.StatusForbidden,
			exact: `{"detail":"You can only update: first_name, middle_name, last_name, suffix, phone_number, department, profile_picture. ` +
				`Attempted to update restricted fields: company_id, email, password, status","code":"permission_denied"}`,
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if reload(tb, app, f.approved).GetString("first_name") != "Emp" {
					tb.Error("a refused PATCH changed the record")
				}
			},
		},
		{
			name: "a staff token: 401", method: http.MethodPatch, url: profileURL, body: `{}`,
			as: func(f *fixtures) *core.Record { return f.hdtsAdmin }, status: 401, exact: tokenInvalid,
		},
	})
}

func TestEmployeeProfilePictureMultipart(t *testing.T) {
	t.Parallel()
	body, ct := multipartBody(t, map[string]string{"first_name": "Pic"}, 16, 16)
	clear, clearCT := multipartBody(t, map[string]string{"profile_picture": ""}, 0, 0)
	run(t, []scenario{
		{
			name: "PATCH multipart with a picture", method: http.MethodPatch, url: profileURL, as: asApproved, body: body, contentType: ct,
			status: http.StatusOK, content: []string{`"profile_picture":"` + testAppURL + `/api/files/employees/`, `"updated_fields":["first_name","profile_picture"]`},
		},
		{
			name: "PATCH multipart with an empty part clears", method: http.MethodPatch, url: profileURL, as: asApproved, body: clear, contentType: clearCT,
			status: http.StatusOK, content: []string{`"profile_picture":null`, `"updated_fields":["profile_picture"]`},
		},
	})
}
