package hdts

import (
	"net/http"
	"strings"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/signin"
)

// docs describes the plugin's routes in the OpenAPI document (§5.15.7), keyed "METHOD path".
// The employee realm of the sign-in flows is described by signin (the staff realm's docs come
// from the same code); apikit.WithDocs refuses a key that names no route.
var docs = func() map[string]*apikit.Doc {
	str, obj, ref, ok, fail := apikit.Text, apikit.Obj, apikit.Ref, apikit.OK, apikit.Fail
	type S = apikit.Schema
	type R = apikit.Response
	nullable := func(desc string) S { return S{"type": []string{"string", "null"}, "description": desc} }
	invalid := fail(http.StatusBadRequest, "Validation failed (`invalid`, with `errors` per field).")
	flows := signin.Employee.Docs()

	// listQuery is the query of a list (§1.8): search over the fields named, ordering by
	// orderings (default def), the filters, then the page.
	listQuery := func(search, def string, orderings []string, filters ...apikit.Param) []apikit.Param {
		params := append(filters,
			apikit.Param{Name: "search", Description: "Case-insensitive substring of " + search + " (≤ 100 characters)."},
			apikit.Param{Name: "ordering", Description: "Comma-separated of `" + strings.Join(orderings, "`, `") +
				"`, each optionally prefixed with `-`; default `" + def + "`."},
			apikit.Param{Name: "page", Description: "Page number (from 1).", Schema: apikit.Integer("")},
			apikit.Param{Name: "page_size", Description: "Items per page (default 50, at most 200).", Schema: apikit.Integer("")})
		return params
	}
	statusFilter := apikit.Param{Name: "status", Description: "Only this status.", Schema: S{"type": "string", "enum": employeeStatuses}}
	pageFails := []R{fail(http.StatusBadRequest, "A query parameter is invalid (`invalid`)."),
		fail(http.StatusNotFound, "A page number past the last page (`not_found`, `Invalid page.`).")}
	list := func(summary, desc string, items S, extra map[string]S, query []apikit.Param) *apikit.Doc {
		page := apikit.PageOf(items)
		if extra != nil {
			page = S{"allOf": []any{page, obj(extra, "system_users_count", "employees_count")}}
		}
		return &apikit.Doc{Tag: "HDTS", Summary: summary, Description: desc, Query: query,
			Responses: append([]R{ok("A page.", page)}, pageFails...)}
	}

	profileBody := obj(map[string]S{
		"first_name": str("PUT-required; not blank."), "middle_name": nullable(""), "last_name": str("PUT-required; not blank."),
		"suffix": nullable(""), "phone_number": nullable("E.164 or 09… (§1.16), unique among employees."), "department": nullable(""),
		"profile_picture": S{"type": []string{"string", "null"}, "format": "binary",
			"description": "Multipart file (PNG, JPEG, GIF, WebP ≤ 2 MiB, ≤ 1024 px); null clears."},
	})
	restricted := fail(http.StatusForbidden, "The body names a field that is not writable (an EmployeeProfile field or `password`): "+
		"`permission_denied` naming them; nothing changed.")
	profileUpdate := func(summary, desc string, answer S) *apikit.Doc {
		return &apikit.Doc{Tag: "HDTS", Summary: summary, Description: desc, Body: profileBody,
			Responses: []R{ok("The updated profile.", answer), invalid, restricted}}
	}
	employee := ref("EmployeeProfile")
	hdtsUser := obj(map[string]S{
		"kind": S{"type": "string", "enum": []string{"staff", "employee"}}, "id": str("User id or employee id, by kind."),
		"email": str(""), "username": str(""), "first_name": str(""), "last_name": str(""),
		"middle_name": nullable(""), "suffix": nullable(""), "phone_number": nullable(""), "department": nullable(""),
		"company_id": str(""), "status": str(""), "is_active": apikit.Boolean("Staff: is_active; employee: status is Approved."),
		"profile_picture": nullable(""), "date_joined": S{"type": "string", "format": "date-time"},
		"otp_enabled": apikit.Boolean(""), "system_roles": S{"type": "array", "items": ref("SystemRoleItem")},
	}, "kind", "id", "email", "username", "first_name", "last_name", "middle_name", "suffix", "phone_number", "department",
		"company_id", "status", "is_active", "profile_picture", "date_joined", "otp_enabled", "system_roles")

	return map[string]*apikit.Doc{
		"GET /api/v1/hdts/employees/": list("List employees (§5.12.2)", "", employee, nil,
			listQuery("email, username, first and last name, company_id", "-created_at", []string{"created_at", "email", "last_name", "company_id", "status"}, statusFilter)),

		"POST /api/v1/hdts/employees/api/register/": {Tag: "HDTS", Summary: "Employee self-registration (§5.12.3)",
			Description: "The employee starts `Pending` and cannot log in until approved (§5.15.3). A CAPTCHA is needed while the client IP is in the CAPTCHA state (§6.1).",
			Body: signin.RegistrationBody(map[string]S{"profile_picture": S{"type": "string", "format": "binary",
				"description": "Multipart file (PNG, JPEG, GIF, WebP ≤ 2 MiB, ≤ 1024 px)."}}),
			Responses: []R{{Status: http.StatusCreated, Description: "The new employee (`Pending`, with a generated `company_id`).", Schema: employee},
				signin.CaptchaFail()}},
		"POST /api/v1/hdts/employees/api/login/":          flows.Login("Employee login (§5.12.4)"),
		"POST /api/v1/hdts/employees/api/logout/":         flows.Logout("Log out (§5.12.5)"),
		"POST /api/v1/hdts/employees/api/2fa/verify-otp/": flows.VerifyOTP("Second step of an employee login (§5.12.15)"),
		"POST /api/v1/hdts/employees/api/token/refresh/": flows.Refresh("Rotate an employee refresh token (§5.12.16)",
			"Only employee refresh tokens: a staff one gets 401 and is never rotated."),
		"POST /api/v1/hdts/employees/api/password/forgot/":         flows.ForgotPassword("Email an employee password reset link (§5.12.10)"),
		"POST /api/v1/hdts/employees/api/password/reset/":          flows.ResetPassword("Set a new employee password with a reset token (§5.12.11)"),
		"POST /api/v1/hdts/employees/api/profile/change-password/": flows.ChangePassword("Change the own employee password (§5.12.9)"),
		"POST /api/v1/hdts/employees/api/2fa/enable/":              flows.Enable2FA("Turn on employee 2FA: start, then confirm (§5.12.12)"),
		"POST /api/v1/hdts/employees/api/2fa/disable/":             flows.Disable2FA("Turn off employee 2FA (§5.12.13)"),
		"POST /api/v1/hdts/employees/api/2fa/request-otp/": {Tag: "Two-factor", Summary: "Request an emailed employee code (§5.12.14)",
			Description: "With `email` in the body: the public resend of a login code (as §5.7.3, same generic answer). " +
				"Without: emails a code for disabling 2FA to the employee of the access token (as §5.7.4).",
			Body: signin.RequestLoginOTPBody(),
			Responses: []R{signin.LoginOTPSent,
				fail(http.StatusBadRequest, "With `email`: body invalid (`invalid`) or a CAPTCHA needed (`captcha_required`); without: 2FA is off or its method is TOTP (`invalid`)."),
				fail(http.StatusUnauthorized, "Without `email` and without a valid employee token (`not_authenticated`, `token_not_valid`).")}},

		"GET /api/v1/hdts/employees/api/me/": {Tag: "HDTS", Summary: "The current principal, staff or employee (§5.12.6)",
			Description: "The answer of GET /api/me/.", Responses: []R{ok("The principal.", ref("TypedPrincipal"))}},
		"GET /api/v1/hdts/employees/api/profile/": {Tag: "HDTS", Summary: "The caller's employee profile (§5.12.7)",
			Responses: []R{ok("The caller.", employee)}},
		"PUT /api/v1/hdts/employees/api/profile/": profileUpdate("Replace the caller's employee profile (§5.12.8)",
			"`first_name` and `last_name` are required; the other fields are optional.",
			obj(map[string]S{"employee": employee, "message": str("`Profile fully updated successfully`")}, "employee", "message")),
		"PATCH /api/v1/hdts/employees/api/profile/": profileUpdate("Update the caller's employee profile (§5.12.8)", "",
			obj(map[string]S{"employee": employee, "updated_fields": S{"type": "array", "items": S{"type": "string"}, "description": "The writable keys sent, sorted."},
				"message": str("`Successfully updated <n> field(s)`")}, "employee", "updated_fields", "message")),

		"GET /api/v1/hdts/user-management/pending/api/": list("List pending employees (§5.12.17)", "Employees with status `Pending`.", employee, nil,
			listQuery("email, username, first and last name", "created_at", []string{"created_at", "email"})),
		"GET /api/v1/hdts/user-management/users/api/": list("List HDTS people (§5.12.18)",
			"Staff users with an active assignment in hdts, and every employee. `count` is the sum of the two extra counts.", hdtsUser,
			map[string]S{"system_users_count": apikit.Integer("Staff items in the filtered result set."),
				"employees_count": apikit.Integer("Employee items in the filtered result set.")},
			listQuery("email, username, first and last name, company_id", "email", []string{"email", "date_joined", "last_name"},
				apikit.Param{Name: "kind", Description: "Only staff users or only employees.", Schema: S{"type": "string", "enum": []string{"staff", "employee"}}},
				statusFilter)),
		"POST /api/v1/hdts/user-management/update-status/{id}/": {Tag: "HDTS", Summary: "Approve or reject an employee (§5.15.3)",
			Description: "A rejection ends every session of the employee; the employee is emailed either way.",
			Body:        obj(map[string]S{"action": S{"type": "string", "enum": []string{"approve", "reject"}}}, "action"),
			Responses: []R{ok("Done.", obj(map[string]S{"success": S{"const": true}, "message": str("`User approved successfully` or `User rejected successfully`."),
				"user_id": str(""), "status": S{"type": "string", "enum": []string{"Approved", "Rejected"}}}, "success", "message", "user_id", "status")),
				invalid,
				fail(http.StatusNotFound, "No employee with this id (`not_found`, `User not found.`)."),
				fail(http.StatusConflict, "Already in the target state (`conflict`).")}},
		"GET /api/v1/hdts/users/{user_id}/": {Tag: "HDTS", Summary: "Look up an HDTS person by id (§5.12.19)",
			Description: "Staff users first (only with an assignment in hdts; `system_roles` limited to hdts), then employees. " +
				"An API key must be unbound or bound to hdts.",
			Responses: []R{ok("The person.", ref("TypedPrincipal")),
				fail(http.StatusNotFound, "Unknown id (`User not found.`), or a staff user without an assignment in hdts (`User not found in HDTS`).")}},
	}
}()
