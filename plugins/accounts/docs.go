package accounts

import (
	"net/http"

	"gatehouse/plugins/apikit"
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
	captcha := fail(http.StatusBadRequest, "Validation failed (`invalid`), or a CAPTCHA is needed and missing or wrong (`captcha_required`).")
	credentials := map[string]S{"email": str("The account's email."), "password": str("The password."),
		"captcha_id":     str("A CAPTCHA challenge: solved through captcha/verify, or answered here."),
		"captcha_answer": str("The answer to captcha_id's image.")}
	loginBody := obj(map[string]S{"email": credentials["email"], "password": credentials["password"],
		"otp_code":   str("Optional: the second factor at once (6 digits)."),
		"captcha_id": credentials["captcha_id"], "captcha_answer": credentials["captcha_answer"]}, "email", "password")
	loginAnswer := ok("Signed in (TokenResponse; the `access_token` and `refresh_token` cookies are set), or a second factor is needed (OtpChallenge).",
		S{"oneOf": []any{ref("TokenResponse"), ref("OtpChallenge")}})
	loginResponses := []R{loginAnswer,
		fail(http.StatusBadRequest, "Body invalid (`invalid`), CAPTCHA needed or wrong (`captcha_required`), or wrong email or password — also for unknown, locked and inactive accounts (`invalid_credentials`)."),
		fail(http.StatusForbidden, "The account's second-factor step is locked (`account_locked`).")}
	login := func(summary string) *apikit.Doc {
		return &apikit.Doc{Tag: "Sign-in", Summary: summary,
			Description: "The staff login of §5.1.2: CAPTCHA gate (§6.1), password, then a session — or an OtpChallenge when 2FA is on.",
			Body:        loginBody, Responses: loginResponses}
	}
	refreshBody := obj(map[string]S{"refresh": nullable("The refresh token; absent, null or empty: the `refresh_token` cookie (then `Origin` is checked).")})
	refreshResponses := []R{ok("Rotated: a new pair, both cookies set.", ref("RefreshResponse")),
		invalid,
		fail(http.StatusUnauthorized, "No refresh token (`not_authenticated`), or it is invalid, expired, revoked or reused (`token_not_valid`)."),
		fail(http.StatusForbidden, "The cookie was used without an allowed `Origin` (`permission_denied`)."),
		fail(http.StatusConflict, "The previous token was presented within 10 s of its rotation (`conflict`); nothing changed.")}
	refresh := func(summary, desc string) *apikit.Doc {
		return &apikit.Doc{Tag: "Tokens", Summary: summary, Description: desc, Body: refreshBody, Responses: refreshResponses}
	}
	systemQuery := []apikit.Param{{Name: "system", Description: "A system slug: `system_roles` lists only that system's assignments."}}
	profileFields := obj(map[string]S{
		"username": str("§1.16."), "phone_number": nullable("E.164 or 09… (§1.16)."),
		"profile_picture": S{"type": []string{"string", "null"}, "format": "binary", "description": "Multipart file (PNG, JPEG, GIF, WebP ≤ 2 MiB, ≤ 1024 px); null clears."},
		"first_name":      str("Staff and superusers only."), "middle_name": str("Staff and superusers only."),
		"last_name": str("Staff and superusers only."), "suffix": nullable("Staff and superusers only."),
		"email":            str("Staff and superusers only; needs current_password."),
		"current_password": str("Required when email changes."),
	})
	passwordChange := &apikit.Doc{Tag: "Password", Summary: "Change the own password (§5.6.1)",
		Description: "Every other session of the user is revoked.",
		Body: obj(map[string]S{"current_password": str("The current password."), "new_password": str("§1.13."),
			"new_password_confirm": str("Equal to new_password.")}, "current_password", "new_password", "new_password_confirm"),
		Responses: []R{ok("Changed.", obj(map[string]S{"detail": str("`Password changed successfully.`")})), invalid}}
	codeBody := func(extra map[string]S, required ...string) S {
		m := map[string]S{"password": str("The current password."), "otp_code": str("6 digits: TOTP or the emailed code.")}
		for k, v := range extra {
			m[k] = v
		}
		return obj(m, required...)
	}
	message := ref("Message")

	return map[string]*apikit.Doc{
		"POST /api/v1/users/login/":  login("Staff login (§5.1.2)"),
		"POST /api/v1/token/obtain/": login("Staff login, alias (§5.2.1)"),
		"POST /token/":               login("Staff login, legacy alias (§5.2.6)"),
		"POST /api/v1/users/login/verify-otp/": {Tag: "Sign-in", Summary: "Second step of a staff login (§5.1.3)",
			Description: "The temporary token of the OtpChallenge with a TOTP or emailed code, or a recovery code.",
			Body: obj(map[string]S{"temporary_token": str("From the OtpChallenge."), "otp_code": str("6 digits."),
				"recovery_code": str("Instead of otp_code.")}, "temporary_token"),
			Responses: []R{ok("Signed in; both cookies set.", ref("TokenResponse")),
				fail(http.StatusBadRequest, "Body invalid (`invalid`) or a wrong, expired or used code (`otp_invalid`)."),
				fail(http.StatusUnauthorized, "The temporary token is invalid, expired, used, or had 5 wrong codes (`token_not_valid`)."),
				fail(http.StatusForbidden, "The second-factor step is locked (`account_locked`).")}},
		"POST /api/v1/users/logout/": {Tag: "Sign-in", Summary: "Log out (§5.1.4)",
			Description: "Revokes the session of the body's refresh token, else the refresh cookie, else the access token; always clears both cookies.",
			Body:        obj(map[string]S{"refresh": str("Optional refresh token.")}),
			Responses: []R{ok("Logged out.", message),
				fail(http.StatusForbidden, "A cookie was used without an allowed `Origin` (`permission_denied`); nothing changed.")}},
		"POST /api/v1/token/refresh/":        refresh("Rotate a refresh token (§5.2.2)", "Staff or employee refresh tokens; reuse detection with a 10 s grace (§3.4)."),
		"POST /api/v1/token/refresh/cookie/": refresh("Rotate a refresh token, cookie alias (§5.15.2)", "Same as POST /api/v1/token/refresh/."),
		"POST /api/v1/users/token/refresh/":  refresh("Rotate a staff refresh token (§5.2.4)", "Employee refresh tokens get 401 and are never rotated."),
		"POST /api/v1/token/verify/": {Tag: "Tokens", Summary: "Check an access token (§5.2.3)",
			Description: "For downstream systems; never rotates anything.",
			Body:        obj(map[string]S{"token": str("An access token.")}, "token"),
			Responses: []R{ok("The token is valid.", obj(map[string]S{})), invalid,
				fail(http.StatusUnauthorized, "Invalid, expired, revoked, or not an access token (`token_not_valid`).")}},
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
			Body: obj(map[string]S{"email": str("§1.16."), "password": str("§1.13."), "username": str("Derived from the email when absent."),
				"first_name": str(""), "middle_name": str(""), "last_name": str(""), "suffix": nullable(""), "department": nullable(""),
				"phone_number": nullable(""), "notified": boolean(""), "captcha_id": credentials["captcha_id"],
				"captcha_answer": credentials["captcha_answer"]}, "email", "password"),
			Responses: []R{{Status: http.StatusCreated, Description: "The new user.", Schema: ref("UserProfile")}, captcha,
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
			Responses: []R{ok("The principal.", S{"oneOf": []any{
				obj(map[string]S{"type": {"const": "user"}, "data": ref("UserProfile")}, "type", "data"),
				obj(map[string]S{"type": {"const": "employee"}, "data": ref("EmployeeProfile")}, "type", "data"),
			}})}},

		"POST /api/v1/users/2fa/enable/": {Tag: "Two-factor", Summary: "Turn on 2FA: start, then confirm (§5.7.1)",
			Description: "Without otp_code: starts the setup (TOTP: secret, otpauth URL and a QR code as a data: URL; email: a code is mailed). " +
				"With otp_code: confirms it and answers the 10 recovery codes, shown only here.",
			Body: codeBody(map[string]S{"method": S{"type": "string", "enum": []string{"totp", "email"}}}, "password"),
			Responses: []R{ok("Setup started (`status` pending) or 2FA enabled (`status` enabled, with `recovery_codes`).", obj(map[string]S{
				"status": S{"type": "string", "enum": []string{"pending", "enabled"}}, "method": str(""), "secret": str("TOTP start only."),
				"otpauth_url": str("TOTP start only."), "qr_code": str("TOTP start only: data:image/png;base64,…"),
				"expires_in": integer("Start only."), "message": str("Confirmation only."),
				"recovery_codes": S{"type": "array", "items": S{"type": "string"}, "description": "Confirmation only."},
			}, "status", "method")),
				fail(http.StatusBadRequest, "Wrong password or body invalid (`invalid`), or a wrong code or no pending setup (`otp_invalid`)."),
				fail(http.StatusConflict, "2FA is already enabled (`conflict`).")}},
		"POST /api/v1/users/2fa/disable/": {Tag: "Two-factor", Summary: "Turn off 2FA (§5.7.2)",
			Body: codeBody(map[string]S{"recovery_code": str("Instead of otp_code.")}, "password"),
			Responses: []R{ok("Disabled.", message),
				fail(http.StatusBadRequest, "Wrong password, 2FA off or both codes (`invalid`), no code (`otp_required`), wrong code (`otp_invalid`)."),
				fail(http.StatusForbidden, "The second-factor step is locked (`account_locked`).")}},
		"POST /api/v1/users/2fa/request-otp/": {Tag: "Two-factor", Summary: "Resend the email code of a login (§5.7.3)",
			Description: "The same answer whether or not a code was sent.",
			Body:        obj(map[string]S{"email": credentials["email"], "password": credentials["password"], "captcha_id": credentials["captcha_id"], "captcha_answer": credentials["captcha_answer"]}, "email", "password"),
			Responses:   []R{ok("Generic answer.", obj(map[string]S{"message": str(""), "expires_in_minutes": integer("")})), captcha}},
		"POST /api/v1/users/2fa/request-otp-authenticated/": {Tag: "Two-factor", Summary: "Email a code to the signed-in user (§5.7.4)",
			Responses: []R{ok("Sent (or a live code was sent less than 60 s ago).", obj(map[string]S{"message": str(""), "expires_in_minutes": integer("")})),
				fail(http.StatusBadRequest, "2FA is off or its method is TOTP (`invalid`).")}},
		"POST /api/v1/users/verify-disable-otp/": {Tag: "Two-factor", Summary: "Check password and code before disabling (§5.7.5)",
			Body: codeBody(nil, "password"),
			Responses: []R{ok("Verified; the code is spent, 2FA stays on.", obj(map[string]S{"message": str(""), "verified": boolean("")})),
				fail(http.StatusBadRequest, "Wrong password or 2FA off (`invalid`), no code (`otp_required`), wrong code (`otp_invalid`)."),
				fail(http.StatusForbidden, "The second-factor step is locked (`account_locked`).")}},

		"POST /api/v1/users/captcha/generate/": {Tag: "CAPTCHA", Summary: "A new CAPTCHA challenge (§5.8.1)",
			Responses: []R{ok("The challenge; the image is a data: URL.", obj(map[string]S{"captcha_id": str(""), "image": str("data:image/png;base64,…"),
				"expires_in": integer("Seconds.")}, "captcha_id", "image", "expires_in"))}},
		"GET /api/v1/users/captcha/required/": {Tag: "CAPTCHA", Summary: "Whether a CAPTCHA is needed (§5.8.2)",
			Query:     []apikit.Param{{Name: "email", Description: "Optional: also the state of this email.", Schema: S{"type": "string", "format": "email"}}},
			Responses: []R{ok("The state.", obj(map[string]S{"required": boolean("")}, "required")), invalid}},
		"POST /api/v1/users/captcha/verify/": {Tag: "CAPTCHA", Summary: "Answer a CAPTCHA (one guess) (§5.8.3)",
			Body:      obj(map[string]S{"captcha_id": str(""), "answer": str("")}, "captcha_id", "answer"),
			Responses: []R{ok("Whether the answer was right; a solved challenge is redeemable once within 120 s.", obj(map[string]S{"valid": boolean("")}, "valid")), invalid}},

		"POST /api/v1/users/password/change/":        passwordChange,
		"POST /api/v1/users/profile/reset-password/": passwordChange,
		"POST /api/v1/users/password/forgot/": {Tag: "Password", Summary: "Email a password reset link (§5.6.2)",
			Description: "Always the same answer; the link carries the token in its fragment.",
			Body:        obj(map[string]S{"email": credentials["email"], "captcha_id": credentials["captcha_id"], "captcha_answer": credentials["captcha_answer"]}, "email"),
			Responses:   []R{ok("Generic answer.", message), captcha}},
		"GET /api/v1/users/password/reset/": {Tag: "Password", Summary: "Check a reset token, or the reset page (§5.6.3)",
			Description: "With `Accept: text/html` the reset page; otherwise whether the token is valid (not consumed).",
			Query:       []apikit.Param{{Name: "token", Description: "The reset token (JSON variant)."}},
			Responses:   []R{{Status: http.StatusOK, Description: "The token's validity, or the page.", Schema: obj(map[string]S{"valid": boolean("")}, "valid"), HTML: true}, invalid}},
		"POST /api/v1/users/password/reset/": {Tag: "Password", Summary: "Set a new password with a reset token (§5.6.4)",
			Description: "Ends every session of the user and clears a lock.",
			Body:        obj(map[string]S{"token": str("From the emailed link."), "password": str("§1.13."), "password_confirm": str("Equal to password.")}, "token", "password", "password_confirm"),
			Responses:   []R{ok("Reset.", obj(map[string]S{"success": boolean(""), "message": str("")})), invalid}},
	}
}()
