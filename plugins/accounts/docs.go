package accounts

import (
	"net/http"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/signin"
)

// docs describes the plugin's routes in the OpenAPI document (§5.15.7), keyed "METHOD path".
// apikit.WithDocs refuses a key that names no route; apidocs' completeness test refuses a route
// without a doc.
var docs = func() map[string]*apikit.Doc {
	str, integer, boolean, obj, ref, ok, fail := apikit.Text, apikit.Integer, apikit.Boolean, apikit.Obj, apikit.Ref, apikit.OK, apikit.Fail
	type S = apikit.Schema
	type R = apikit.Response
	nullable := func(desc string) S { return S{"type": []string{"string", "null"}, "description": desc} }
	invalid := fail(http.StatusBadRequest, "Validation failed (`invalid`, with `errors` per field).")
	flows := signin.Staff.Docs()
	refreshAll := "Staff or employee refresh tokens; reuse detection with a 10 s grace (§3.4)."
	systemQuery := []apikit.Param{{Name: "system", Description: "A system slug: `system_roles` lists only that system's assignments."}}
	profileFields := obj(map[string]S{
		"username": str("§1.16."), "phone_number": nullable("E.164 or 09… (§1.16)."),
		"profile_picture": S{"type": []string{"string", "null"}, "format": "binary", "description": "Multipart file (PNG, JPEG, GIF, WebP ≤ 2 MiB, ≤ 1024 px); null clears."},
		"first_name":      str("Staff and superusers only."), "middle_name": str("Staff and superusers only."),
		"last_name": str("Staff and superusers only."), "suffix": nullable("Staff and superusers only."),
		"email":            str("Staff and superusers only; needs current_password."),
		"current_password": str("Required when email changes."),
	})

	return map[string]*apikit.Doc{
		"POST /api/v1/users/login/":            flows.Login("Staff login (§5.1.2)"),
		"POST /api/v1/token/obtain/":           flows.Login("Staff login, alias (§5.2.1)"),
		"POST /token/":                         flows.Login("Staff login, legacy alias (§5.2.6)"),
		"POST /api/v1/users/login/verify-otp/": flows.VerifyOTP("Second step of a staff login (§5.1.3)"),
		"POST /api/v1/users/logout/":           flows.Logout("Log out (§5.1.4)"),
		"POST /api/v1/token/refresh/":          flows.Refresh("Rotate a refresh token (§5.2.2)", refreshAll),
		"POST /api/v1/token/refresh/cookie/":   flows.Refresh("Rotate a refresh token, cookie alias (§5.15.2)", "Same as POST /api/v1/token/refresh/."),
		"POST /api/v1/users/token/refresh/":    flows.Refresh("Rotate a staff refresh token (§5.2.4)", "Employee refresh tokens get 401 and are never rotated."),
		"POST /api/v1/token/verify/":           flows.Verify("Check an access token (§5.2.3)"),
		"GET /api/v1/users/token/validate/": {Tag: "Tokens", Summary: "Validate the caller's token (§5.2.5)",
			Query:     systemQuery,
			Responses: []R{ok("The caller's UserProfile with the token's times.", ref("ValidatedProfile"))}},
		"GET /api/v1/users/sessions/": {Tag: "Sessions", Summary: "The caller's live sessions (§5.15.6)",
			Query: []apikit.Param{{Name: "page", Description: "Page number (from 1).", Schema: integer("")},
				{Name: "page_size", Description: "Items per page.", Schema: integer("")}},
			Responses: []R{ok("A page of sessions, most recently used first.", apikit.PageOf(ref("Session"))), invalid,
				fail(http.StatusNotFound, "A page number past the last page (`not_found`).")}},
		"DELETE /api/v1/users/sessions/": {Tag: "Sessions", Summary: "End every other session (§5.15.6)",
			Responses: []R{ok("The number of sessions ended.", obj(map[string]S{"revoked": integer("")}, "revoked"))}},
		"DELETE /api/v1/users/sessions/{id}/": {Tag: "Sessions", Summary: "End one session (§5.15.6)",
			Description: "Ending the current session clears the cookies too.",
			Responses: []R{{Status: http.StatusNoContent, Description: "Ended."},
				fail(http.StatusNotFound, "Not a live session of the caller (`not_found`).")}},

		"POST /api/v1/users/register/": {Tag: "Profile", Summary: "Staff self-registration (§5.1.1)",
			Description: "A CAPTCHA is needed while the client IP is in the CAPTCHA state (§6.1).",
			Body:        signin.RegistrationBody(nil),
			Responses: []R{{Status: http.StatusCreated, Description: "The new user.", Schema: ref("UserProfile")}, signin.CaptchaFail(),
				fail(http.StatusForbidden, "Self-registration is disabled (`permission_denied`).")}},
		"GET /api/v1/users/profile/": {Tag: "Profile", Summary: "The caller's profile (§5.3.1)", Query: systemQuery,
			Responses: []R{ok("The caller.", ref("UserProfile"))}},
		"PUT /api/v1/users/profile/": {Tag: "Profile", Summary: "Replace the caller's profile (§5.3.2)",
			Description: "`username` is required; other writable fields are optional.", Body: profileFields,
			Responses: []R{ok("The updated profile.", ref("UserProfile")), invalid,
				fail(http.StatusForbidden, "The body names fields the caller may not write (`permission_denied`).")}},
		"PATCH /api/v1/users/profile/": {Tag: "Profile", Summary: "Update the caller's profile (§5.3.2)", Body: profileFields,
			Responses: []R{ok("The updated profile.", ref("UserProfile")), invalid,
				fail(http.StatusForbidden, "The body names fields the caller may not write (`permission_denied`).")}},
		"GET /api/me/": {Tag: "Profile", Summary: "The current principal, staff or employee (§5.14.2)",
			Responses: []R{ok("The principal.", ref("TypedPrincipal"))}},

		"POST /api/v1/users/2fa/enable/":                    flows.Enable2FA("Turn on 2FA: start, then confirm (§5.7.1)"),
		"POST /api/v1/users/2fa/disable/":                   flows.Disable2FA("Turn off 2FA (§5.7.2)"),
		"POST /api/v1/users/2fa/request-otp/":               flows.RequestLoginOTP("Resend the email code of a login (§5.7.3)"),
		"POST /api/v1/users/2fa/request-otp-authenticated/": flows.RequestManageOTP("Email a code to the signed-in user (§5.7.4)"),
		"POST /api/v1/users/verify-disable-otp/":            flows.VerifyDisableOTP("Check password and code before disabling (§5.7.5)"),

		"POST /api/v1/users/captcha/generate/": {Tag: "CAPTCHA", Summary: "A new CAPTCHA challenge (§5.8.1)",
			Responses: []R{ok("The challenge; the image is a data: URL.", obj(map[string]S{"captcha_id": str(""), "image": str("data:image/png;base64,…"),
				"expires_in": integer("Seconds.")}, "captcha_id", "image", "expires_in"))}},
		"GET /api/v1/users/captcha/required/": {Tag: "CAPTCHA", Summary: "Whether a CAPTCHA is needed (§5.8.2)",
			Query:     []apikit.Param{{Name: "email", Description: "Optional: also the state of this email.", Schema: S{"type": "string", "format": "email"}}},
			Responses: []R{ok("The state.", obj(map[string]S{"required": boolean("")}, "required")), invalid}},
		"POST /api/v1/users/captcha/verify/": {Tag: "CAPTCHA", Summary: "Answer a CAPTCHA (one guess) (§5.8.3)",
			Body:      obj(map[string]S{"captcha_id": str(""), "answer": str("")}, "captcha_id", "answer"),
			Responses: []R{ok("Whether the answer was right; a solved challenge is redeemable once within 120 s.", obj(map[string]S{"valid": boolean("")}, "valid")), invalid}},

		"POST /api/v1/users/password/change/":        flows.ChangePassword("Change the own password (§5.6.1)"),
		"POST /api/v1/users/profile/reset-password/": flows.ChangePassword("Change the own password, alias (§5.6.5)"),
		"POST /api/v1/users/password/forgot/":        flows.ForgotPassword("Email a password reset link (§5.6.2)"),
		"GET /api/v1/users/password/reset/":          flows.ResetPasswordPage("Check a reset token, or the reset page (§5.6.3)"),
		"POST /api/v1/users/password/reset/":         flows.ResetPassword("Set a new password with a reset token (§5.6.4)"),
	}
}()
