package signin

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// Docs are the OpenAPI descriptions (§5.15.7) of one realm's sign-in flows, for the feature
// plugin that mounts the handlers (accounts: staff; hdts: employees). Field names, answers and
// messages come from the realm's Spec, so the two realms' documents say what the shared code
// answers. Each method takes the route's summary (a flow may be mounted at several paths).
type Docs struct{ spec *Spec }

// Docs describes the flows of s.
func (s *Spec) Docs() Docs { return Docs{s} }

type docSchema = apikit.Schema

func docNullable(desc string) docSchema {
	return docSchema{"type": []string{"string", "null"}, "description": desc}
}

// docConst is a string that is always text.
func docConst(text string) docSchema { return docSchema{"type": "string", "const": text} }

// docAnswer is the schema of one of the Spec's fixed answers.
func docAnswer(v any) docSchema {
	switch a := v.(type) {
	case detailAnswer:
		return apikit.Obj(map[string]docSchema{"detail": docConst(a.Detail)}, "detail")
	case messageAnswer:
		return apikit.Obj(map[string]docSchema{"message": docConst(a.Message)}, "message")
	case successAnswer:
		return apikit.Obj(map[string]docSchema{"success": {"const": a.Success}, "message": docConst(a.Message)}, "success", "message")
	}
	panic("signin: no schema for the answer")
}

var (
	docEmail    = apikit.Text("The account's email.")
	docPassword = apikit.Text("The password.")
	docInvalid  = apikit.Fail(http.StatusBadRequest, "Validation failed (`invalid`, with `errors` per field).")
	docCaptcha  = apikit.Fail(http.StatusBadRequest, "Validation failed (`invalid`), or a CAPTCHA is needed and missing or wrong (`captcha_required`).")
	docLocked   = apikit.Fail(http.StatusForbidden, "The account's second-factor step is locked (`account_locked`).")
	docOTPSent  = apikit.Obj(map[string]docSchema{"message": apikit.Text(""), "expires_in_minutes": apikit.Integer("")})
)

// CaptchaFields are the request fields of the CAPTCHA gate (§6.1), for the bodies of the
// routes that pass it (logins, registrations, forgot-password).
func CaptchaFields() map[string]docSchema {
	return map[string]docSchema{
		"captcha_id":     apikit.Text("A CAPTCHA challenge: solved through captcha/verify, or answered here."),
		"captcha_answer": apikit.Text("The answer to captcha_id's image."),
	}
}

// CaptchaFail is the 400 of a route behind the CAPTCHA gate.
func CaptchaFail() apikit.Response { return docCaptcha }

// withCaptcha is props plus the CAPTCHA fields.
func withCaptcha(props map[string]docSchema) map[string]docSchema {
	for k, v := range CaptchaFields() {
		props[k] = v
	}
	return props
}

// RegistrationBody is the body of a self-registration (§5.1.1, §5.12.3: accountfields' rules),
// plus extra (the employee profile picture).
func RegistrationBody(extra map[string]docSchema) docSchema {
	props := withCaptcha(map[string]docSchema{"email": apikit.Text("§1.16."), "password": apikit.Text("§1.13."),
		"username": apikit.Text("Derived from the email when absent."), "first_name": apikit.Text(""), "middle_name": apikit.Text(""),
		"last_name": apikit.Text(""), "suffix": docNullable(""), "department": docNullable(""), "phone_number": docNullable(""),
		"notified": apikit.Boolean("")})
	for k, v := range extra {
		props[k] = v
	}
	return apikit.Obj(props, "email", "password")
}

func (d Docs) employee() bool { return d.spec == Employee }

// tokenAnswer is the success answer of a login or second-factor step (§4.14).
func (d Docs) tokenAnswer() docSchema {
	if d.employee() {
		return apikit.Ref("EmployeeTokenResponse")
	}
	return apikit.Ref("TokenResponse")
}

// Login is the login (§5.1.2, §5.12.4).
func (d Docs) Login(summary string) *apikit.Doc {
	desc := "The staff login of §5.1.2: CAPTCHA gate (§6.1), password, then a session — or an OtpChallenge when 2FA is on."
	locked := docLocked
	if d.employee() {
		desc = "The employee login of §5.12.4: the staff login's CAPTCHA gate (§6.1) and password, then the approval gate, " +
			"then a session — or an OtpChallenge when 2FA is on."
		locked = apikit.Fail(http.StatusForbidden, "The password was right but the account is pending approval (`account_pending`) "+
			"or rejected (`account_rejected`); or its second-factor step is locked (`account_locked`). No tokens.")
	}
	return &apikit.Doc{Tag: "Sign-in", Summary: summary, Description: desc,
		Body: apikit.Obj(withCaptcha(map[string]docSchema{"email": docEmail, "password": docPassword,
			"otp_code": apikit.Text("Optional: the second factor at once (6 digits).")}), "email", "password"),
		Responses: []apikit.Response{
			apikit.OK("Signed in (the `access_token` and `refresh_token` cookies are set), or a second factor is needed (OtpChallenge).",
				docSchema{"oneOf": []any{d.tokenAnswer(), apikit.Ref("OtpChallenge")}}),
			apikit.Fail(http.StatusBadRequest, "Body invalid (`invalid`), CAPTCHA needed or wrong (`captcha_required`), or wrong email or password — also for unknown, locked and inactive accounts (`invalid_credentials`)."),
			locked}}
}

// VerifyOTP is the second step of a login (§5.1.3, §5.12.15).
func (d Docs) VerifyOTP(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Sign-in", Summary: summary,
		Description: "The temporary token of the OtpChallenge (of this realm) with a TOTP or emailed code, or a recovery code.",
		Body: apikit.Obj(map[string]docSchema{"temporary_token": apikit.Text("From the OtpChallenge."), "otp_code": apikit.Text("6 digits."),
			"recovery_code": apikit.Text("Instead of otp_code.")}, "temporary_token"),
		Responses: []apikit.Response{apikit.OK("Signed in; both cookies set.", d.tokenAnswer()),
			apikit.Fail(http.StatusBadRequest, "Body invalid (`invalid`) or a wrong, expired or used code (`otp_invalid`)."),
			apikit.Fail(http.StatusUnauthorized, "The temporary token is invalid, expired, used, of the other realm, or had 5 wrong codes (`token_not_valid`)."),
			docLocked}}
}

// Logout ends a session (§5.1.4, §5.12.5).
func (d Docs) Logout(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Sign-in", Summary: summary,
		Description: "Revokes the session of the body's refresh token, else the refresh cookie, else the access token (staff or employee); always clears both cookies.",
		Body:        apikit.Obj(map[string]docSchema{"refresh": apikit.Text("Optional refresh token.")}),
		Responses: []apikit.Response{apikit.OK("Logged out.", docAnswer(d.spec.logoutAnswer)),
			apikit.Fail(http.StatusForbidden, "A cookie was used without an allowed `Origin` (`permission_denied`); nothing changed.")}}
}

// Refresh rotates a refresh token (§5.2.2, §5.2.4, §5.12.16, §5.15.2); desc names the realms
// the route accepts.
func (d Docs) Refresh(summary, desc string) *apikit.Doc {
	return &apikit.Doc{Tag: "Tokens", Summary: summary, Description: desc,
		Body: apikit.Obj(map[string]docSchema{"refresh": docNullable("The refresh token; absent, null or empty: the `refresh_token` cookie (then `Origin` is checked).")}),
		Responses: []apikit.Response{apikit.OK("Rotated: a new pair, both cookies set.", apikit.Ref("RefreshResponse")),
			docInvalid,
			apikit.Fail(http.StatusUnauthorized, "No refresh token (`not_authenticated`), or it is invalid, expired, revoked, reused or of another realm (`token_not_valid`)."),
			apikit.Fail(http.StatusForbidden, "The cookie was used without an allowed `Origin` (`permission_denied`)."),
			apikit.Fail(http.StatusConflict, "The previous token was presented within 10 s of its rotation (`conflict`); nothing changed.")}}
}

// Verify checks an access token (§5.2.3).
func (d Docs) Verify(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Tokens", Summary: summary, Description: "For downstream systems; never rotates anything.",
		Body: apikit.Obj(map[string]docSchema{"token": apikit.Text("An access token.")}, "token"),
		Responses: []apikit.Response{apikit.OK("The token is valid.", apikit.Obj(map[string]docSchema{})), docInvalid,
			apikit.Fail(http.StatusUnauthorized, "Invalid, expired, revoked, or not an access token (`token_not_valid`).")}}
}

// ChangePassword is the caller's password change (§5.6.1, §5.12.9).
func (d Docs) ChangePassword(summary string) *apikit.Doc {
	c := d.spec.change
	return &apikit.Doc{Tag: "Password", Summary: summary,
		Description: "Every other session of the caller is revoked. Only the first failing stage answers: required fields, " +
			"`" + c.current + "`, `" + c.confirm + "`, `" + c.newPassword + "` (§1.13).",
		Body: apikit.Obj(map[string]docSchema{c.current: apikit.Text("The current password."), c.newPassword: apikit.Text("§1.13."),
			c.confirm: apikit.Text("Equal to " + c.newPassword + ".")}, c.current, c.newPassword, c.confirm),
		Responses: []apikit.Response{apikit.OK("Changed.", docAnswer(c.done)), docInvalid}}
}

// ForgotPassword emails a reset link (§5.6.2, §5.12.10).
func (d Docs) ForgotPassword(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Password", Summary: summary,
		Description: "Always the same answer; the link carries the token in its fragment.",
		Body:        apikit.Obj(withCaptcha(map[string]docSchema{"email": docEmail}), "email"),
		Responses:   []apikit.Response{apikit.OK("Generic answer.", docAnswer(d.spec.forgotAnswer)), docCaptcha}}
}

// ResetPasswordPage checks a reset token, or is the reset page (§5.6.3).
func (d Docs) ResetPasswordPage(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Password", Summary: summary,
		Description: "With `Accept: text/html` the reset page; otherwise whether the token is valid (not consumed).",
		Query:       []apikit.Param{{Name: "token", Description: "The reset token (JSON variant)."}},
		Responses: []apikit.Response{{Status: http.StatusOK, Description: "The token's validity, or the page.",
			Schema: apikit.Obj(map[string]docSchema{"valid": apikit.Boolean("")}, "valid"), HTML: true}, docInvalid}}
}

// ResetPassword sets a new password with a reset token (§5.6.4, §5.12.11).
func (d Docs) ResetPassword(summary string) *apikit.Doc {
	r := d.spec.reset
	return &apikit.Doc{Tag: "Password", Summary: summary,
		Description: "Ends every session of the account and clears a lock. Only the first failing stage answers: `token`, `" +
			r.confirm + "`, `" + r.password + "` (§1.13).",
		Body: apikit.Obj(map[string]docSchema{"token": apikit.Text("From the emailed link."), r.password: apikit.Text("§1.13."),
			r.confirm: apikit.Text("Equal to " + r.password + ".")}, "token", r.password, r.confirm),
		Responses: []apikit.Response{apikit.OK("Reset.", docAnswer(r.done)), docInvalid}}
}

// codeBody is the body of the 2FA steps that prove the password and a code.
func codeBody(extra map[string]docSchema) docSchema {
	m := map[string]docSchema{"password": apikit.Text("The current password."), "otp_code": apikit.Text("6 digits: TOTP or the emailed code.")}
	for k, v := range extra {
		m[k] = v
	}
	return apikit.Obj(m, "password")
}

// Enable2FA starts and confirms the 2FA setup (§5.7.1, §5.12.12).
func (d Docs) Enable2FA(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Two-factor", Summary: summary,
		Description: "Without otp_code: starts the setup (TOTP: secret, otpauth URL and a QR code as a data: URL; email: a code is mailed). " +
			"With otp_code: confirms it and answers the 10 recovery codes, shown only here.",
		Body: codeBody(map[string]docSchema{"method": {"type": "string", "enum": []string{"totp", "email"}}}),
		Responses: []apikit.Response{apikit.OK("Setup started (`status` pending) or 2FA enabled (`status` enabled, with `recovery_codes`).", apikit.Obj(map[string]docSchema{
			"status": {"type": "string", "enum": []string{"pending", "enabled"}}, "method": apikit.Text(""), "secret": apikit.Text("TOTP start only."),
			"otpauth_url": apikit.Text("TOTP start only."), "qr_code": apikit.Text("TOTP start only: data:image/png;base64,…"),
			"expires_in": apikit.Integer("Start only."), "message": apikit.Text("Confirmation only."),
			"recovery_codes": {"type": "array", "items": docSchema{"type": "string"}, "description": "Confirmation only."},
		}, "status", "method")),
			apikit.Fail(http.StatusBadRequest, "Wrong password or body invalid (`invalid`), or a wrong code or no pending setup (`otp_invalid`)."),
			apikit.Fail(http.StatusConflict, "2FA is already enabled (`conflict`).")}}
}

// Disable2FA turns 2FA off (§5.7.2, §5.12.13).
func (d Docs) Disable2FA(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Two-factor", Summary: summary,
		Body: codeBody(map[string]docSchema{"recovery_code": apikit.Text("Instead of otp_code.")}),
		Responses: []apikit.Response{apikit.OK("Disabled.", apikit.Ref("Message")),
			apikit.Fail(http.StatusBadRequest, "Wrong password, 2FA off or both codes (`invalid`), no code (`otp_required`), wrong code (`otp_invalid`)."),
			docLocked}}
}

// VerifyDisableOTP checks password and code before disabling (§5.7.5).
func (d Docs) VerifyDisableOTP(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Two-factor", Summary: summary, Body: codeBody(nil),
		Responses: []apikit.Response{apikit.OK("Verified; the code is spent, 2FA stays on.", apikit.Obj(map[string]docSchema{"message": apikit.Text(""), "verified": apikit.Boolean("")})),
			apikit.Fail(http.StatusBadRequest, "Wrong password or 2FA off (`invalid`), no code (`otp_required`), wrong code (`otp_invalid`)."),
			docLocked}}
}

// RequestLoginOTPBody is the body of the public resend of a login code (§5.7.3).
func RequestLoginOTPBody() docSchema {
	return apikit.Obj(withCaptcha(map[string]docSchema{"email": docEmail, "password": docPassword}), "email", "password")
}

// LoginOTPSent and ManageOTPSent are the 200 answers of the two code requests.
var (
	LoginOTPSent  = apikit.OK("Generic answer, whether or not a code was sent.", docOTPSent)
	ManageOTPSent = apikit.OK("Sent (or a live code was sent less than 60 s ago).", docOTPSent)
	// ManageOTPFail is the 400 of the authenticated code request.
	ManageOTPFail = apikit.Fail(http.StatusBadRequest, "2FA is off or its method is TOTP (`invalid`).")
)

// RequestLoginOTP resends the email code of a login (§5.7.3).
func (d Docs) RequestLoginOTP(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Two-factor", Summary: summary, Description: "The same answer whether or not a code was sent.",
		Body: RequestLoginOTPBody(), Responses: []apikit.Response{LoginOTPSent, docCaptcha}}
}

// RequestManageOTP emails a code to the signed-in caller (§5.7.4).
func (d Docs) RequestManageOTP(summary string) *apikit.Doc {
	return &apikit.Doc{Tag: "Two-factor", Summary: summary, Responses: []apikit.Response{ManageOTPSent, ManageOTPFail}}
}
