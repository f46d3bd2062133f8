package accounts_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
)

var recoveryCodeFormat = regexp.MustCompile(`^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{5}-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{5}$`)

// §5.7.1 and §6.11: start (pending) → confirm with a real code (enabled), with every side effect.
func TestEnableTOTPPendingThenEnabled(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("agent.one@example.com", tfPassword, true)
	access := f.loginAs("agent.one@example.com")
	other := f.loginAs("agent.one@example.com") // another device: revoked on enablement

	start := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}, bearer(access)...)
	if start.status != 200 {
		t.Fatalf("start: %d %s", start.status, start.body)
	}
	var pending struct {
		Status, Method, Secret string
		OTPAuthURL             string `json:"otpauth_url"`
		QRCode                 string `json:"qr_code"`
		ExpiresIn              int    `json:"expires_in"`
	}
	if err := json.Unmarshal(start.body, &pending); err != nil || len(start.json) != 6 {
		t.Fatalf("pending body: %v %s", err, start.body)
	}
	secret := pending.Secret
	if pending.Status != "pending" || pending.Method != "totp" || pending.ExpiresIn != 600 ||
		!regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Fatalf("pending: %+v", pending)
	}
	if want := "otpauth://totp/Gatehouse:agent.one@example.com?secret=" + secret + "&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"; pending.OTPAuthURL != want {
		t.Fatalf("otpauth_url = %q, want %q", pending.OTPAuthURL, want)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pending.QRCode, "data:image/png;base64,"))
	if !strings.HasPrefix(pending.QRCode, "data:image/png;base64,") || err != nil {
		t.Fatalf("qr_code is not a PNG data URL: %.60s", pending.QRCode)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("qr_code PNG: %v", err)
	}
	fresh := f.reload(u.Id)
	if fresh.GetBool("otp_enabled") || fresh.GetString("totp_pending_secret") == "" || strings.Contains(fresh.GetString("totp_pending_secret"), secret) {
		t.Fatalf("pending state: enabled=%v pending=%q", fresh.GetBool("otp_enabled"), fresh.GetString("totp_pending_secret"))
	}

	// A wrong code: 400 otp_invalid, one OTP failure, still pending.
	wrong := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "otp_code": tfWrongCode(t, secret)}, bearer(access)...)
	if wrong.status != 400 || string(wrong.body) != tfOTPInvalid {
		t.Fatalf("wrong code: %d %s", wrong.status, wrong.body)
	}
	if n := f.count("auth_failures", dbx.HashExp{"kind": "otp", "principal_id": u.Id}); n != 1 {
		t.Fatalf("OTP failures after a wrong setup code = %d", n)
	}

	done := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "otp_code": tfSetupCode(t, secret)}, bearer(access)...)
	if done.status != 200 || done.str("status") != "enabled" || done.str("method") != "totp" || done.str("message") != "2FA enabled successfully" || len(done.json) != 4 {
		t.Fatalf("confirm: %d %s", done.status, done.body)
	}
	codes := done.json["recovery_codes"].([]any)
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryCodeFormat.MatchString(c.(string)) || seen[c.(string)] {
			t.Errorf("recovery code %q", c)
		}
		seen[c.(string)] = true
	}
	if len(codes) != 10 || f.count("recovery_codes", dbx.HashExp{"user": u.Id}) != 10 {
		t.Fatalf("recovery codes: %d shown, %d stored", len(codes), f.count("recovery_codes", dbx.HashExp{"user": u.Id}))
	}
	fresh = f.reload(u.Id)
	if !fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "totp" || fresh.GetString("totp_secret") == "" ||
		strings.Contains(fresh.GetString("totp_secret"), secret) || fresh.GetString("totp_pending_secret") != "" {
		t.Fatalf("enabled state: %v", fresh)
	}
	if n := f.count("auth_failures", dbx.HashExp{"kind": "otp", "principal_id": u.Id}); n != 0 {
		t.Fatalf("a successful code must delete the OTP failures, %d left", n)
	}
	// The request's session lives on; the other device's session is revoked (security_change).
	if r := f.do(http.MethodGet, "/api/v1/users/profile/", nil, bearer(access)...); r.status != 200 || r.json["otp_enabled"] != true || r.json["otp_method"] != "totp" {
		t.Fatalf("current session after enablement: %d %s", r.status, r.body)
	}
	if s := f.session(sidOf(t, other)); s.GetString("revoked_reason") != "security_change" {
		t.Fatalf("other session: %v", s)
	}
	if f.mails("agent.one@example.com", "2fa_enabled") != 1 || !strings.Contains(f.lastMail("agent.one@example.com", "2fa_enabled"), "totp") {
		t.Fatal("2fa_enabled mail missing")
	}
	if f.auditCount("2fa.enabled") != 1 {
		t.Fatal("audit 2fa.enabled missing")
	}

	// Enabled: a further enable is a 409 (after the password check); the password comes first.
	// (In this order: a right password restarts the email's failure counter, §6.1.)
	for _, tc := range []struct {
		name   string
		body   map[string]string
		status int
		want   string
	}{
		{"already enabled", map[string]string{"password": tfPassword}, 409, `{"detail":"2FA is already enabled for this account.","code":"conflict"}`},
		{"already enabled, email method", map[string]string{"password": tfPassword, "method": "email"}, 409, `{"detail":"2FA is already enabled for this account.","code":"conflict"}`},
		{"wrong password first", map[string]string{"password": "not-the-password", "otp_code": "123456"}, 400, tfBadPassword},
	} {
		if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", tc.body, bearer(access)...); r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	if n := f.count("auth_failures", dbx.HashExp{"kind": "password", "principal_id": u.Id, "email": "agent.one@example.com"}); n != 1 {
		t.Fatalf("a wrong current password must be a password failure with the account's email: %d rows", n)
	}
}

func TestEnableValidationAuthAndPendingExpiry(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	access := f.loginAs("a@example.com")

	for name, tc := range map[string]struct {
		body   any
		status int
		want   string
	}{
		"no password":      {map[string]string{}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"password":["This field is required."]}}`},
		"blank password":   {map[string]string{"password": ""}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"password":["This field may not be blank."]}}`},
		"unknown method":   {map[string]string{"password": tfPassword, "method": "sms"}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"method":["\"sms\" is not a valid choice."]}}`},
		"malformed code":   {map[string]string{"password": tfPassword, "otp_code": "12345a"}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"otp_code":["OTP must be a 6-digit number."]}}`},
		"number password":  {map[string]any{"password": 12345678}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"password":["Not a valid string."]}}`},
		"wrong password":   {map[string]string{"password": "wrong-password-1"}, 400, tfBadPassword},
		"no pending setup": {map[string]string{"password": tfPassword, "otp_code": "123456"}, 400, tfOTPInvalid},
		"no pending email": {map[string]string{"password": tfPassword, "method": "email", "otp_code": "123456"}, 400, tfOTPInvalid},
	} {
		if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", tc.body, bearer(access)...); r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}); r.status != 401 || r.json["code"] != "not_authenticated" {
		t.Errorf("anonymous: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/api/v1/users/2fa/enable", nil, bearer(access)...); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET: %d %v", r.status, r.header)
	}

	// An expired pending secret cannot be confirmed, even with its right code.
	start := f.do(http.MethodPost, "/api/v1/users/2fa/enable", map[string]string{"password": tfPassword}, bearer(access)...)
	f.setDate("users", dbx.HashExp{"id": u.Id}, "totp_pending_expires", time.Now().Add(-time.Second))
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "otp_code": tfSetupCode(t, start.str("secret"))}, bearer(access)...); r.status != 400 || string(r.body) != tfOTPInvalid {
		t.Fatalf("expired setup: %d %s", r.status, r.body)
	}
	// A new start replaces the pending secret: the earlier secret's codes no longer confirm.
	first := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}, bearer(access)...).str("secret")
	second := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}, bearer(access)...).str("secret")
	if first == second {
		t.Fatal("a new setup must get a new secret")
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "otp_code": tfSetupCode(t, first)}, bearer(access)...); r.status != 400 {
		t.Fatalf("replaced secret: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "otp_code": tfSetupCode(t, second)}, bearer(access)...); r.status != 200 {
		t.Fatalf("current secret: %d %s", r.status, r.body)
	}
	// OTP failures: no pending setup, expired setup, wrong secret — three; the success cleared them.
	if n := f.count("auth_failures", dbx.HashExp{"kind": "otp", "principal_id": u.Id}); n != 0 {
		t.Fatalf("OTP failures after success = %d", n)
	}
	if n := f.count("auth_failures", dbx.HashExp{"kind": "password", "principal_id": u.Id}); n != 1 {
		t.Fatalf("password failures = %d (only the wrong password counts)", n)
	}
}

// §6.4: login with TOTP — OtpChallenge, verify-otp, single use per step, the one-step shortcut.
func TestLoginWithTOTP(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	secret, _ := f.enableTOTP(f.loginAs("a@example.com"))

	r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword})
	if r.status != 200 || len(r.json) != 5 || r.json["otp_required"] != true || r.json["expires_in"] != float64(300) ||
		r.str("message") != "Two-factor authentication required." || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	if m, _ := r.json["methods"].([]any); len(m) != 1 || m[0] != "totp" {
		t.Fatalf("methods = %v", r.json["methods"])
	}
	if p := payloadOf(t, r.str("temporary_token")); p["token_type"] != "mfa_pending" || p["sub"] != u.Id {
		t.Fatalf("temporary token claims: %v", p)
	}
	sessionsBefore := f.count("sessions")

	code := f.nextTOTP(u.Id, secret)
	ok := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": r.str("temporary_token"), "otp_code": code})
	if ok.status != 200 || ok.str("access") == "" || ok.cookie("access_token") == nil || ok.cookie("refresh_token") == nil {
		t.Fatalf("verify-otp: %d %s", ok.status, ok.body)
	}
	if s := f.session(sidOf(t, ok.str("access"))); s.GetString("login_method") != "password+totp" || f.count("sessions") != sessionsBefore+1 {
		t.Fatalf("session: %v", s)
	}
	if f.auditCount("mfa.success") != 1 || f.auditCount("login.mfa_required") != 1 {
		t.Fatalf("audit: mfa.success %d, login.mfa_required %d", f.auditCount("mfa.success"), f.auditCount("login.mfa_required"))
	}
	// §8.5 st. 41: the temporary token is single use.
	if again := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": r.str("temporary_token"), "otp_code": code}); again.status != 401 || string(again.body) != tokenNotValid {
		t.Fatalf("second use of the temporary token: %d %s", again.status, again.body)
	}
	// §8.5 st. 39: the code that completed a login is refused in the same window (one-step form).
	replay := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "otp_code": code})
	if replay.status != 200 || replay.json["otp_required"] != true || replay.str("otp_error") != "Invalid or expired OTP code." {
		t.Fatalf("replayed code: %d %s", replay.status, replay.body)
	}
	// and at verify-otp
	if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": replay.str("temporary_token"), "otp_code": code}); rr.status != 400 || string(rr.body) != tfOTPInvalid {
		t.Fatalf("replayed code at verify-otp: %d %s", rr.status, rr.body)
	}
	// §6.4 step 6: one-step login with the next code returns tokens directly.
	one := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "otp_code": f.nextTOTP(u.Id, secret)})
	if one.status != 200 || one.str("access") == "" || one.cookie("refresh_token") == nil {
		t.Fatalf("one-step login: %d %s", one.status, one.body)
	}
	// Every wrong code was an OTP failure; the successes deleted them.
	if n := f.count("auth_failures", dbx.HashExp{"kind": "otp", "principal_id": u.Id}); n != 0 {
		t.Fatalf("OTP failures after a success = %d", n)
	}
}

// §6.5: login with an email code, the live-code rule and the resend through 2fa/request-otp.
func TestLoginWithEmailCode(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("e@example.com", tfPassword, true)
	access := f.loginAs("e@example.com")
	f.enableEmail(access, "e@example.com")
	if fresh := f.reload(u.Id); !fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "email" {
		t.Fatalf("email method not enabled: %v", fresh)
	}

	mailsBefore := f.mails("e@example.com", "otp_code")
	r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "e@example.com", "password": tfPassword})
	if r.status != 200 || r.json["otp_required"] != true || r.json["methods"].([]any)[0] != "email" {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	if f.mails("e@example.com", "otp_code") != mailsBefore+1 {
		t.Fatal("the login must email a login code")
	}
	first := f.lastCode("e@example.com")
	if body := f.lastMail("e@example.com", "otp_code"); !strings.Contains(body, "5 minutes") {
		t.Fatalf("otp_code mail: %s", body)
	}
	// A second login keeps the live code (no new mail); request-otp within 60 s is throttled.
	tok2 := f.challenge("e@example.com")
	resend := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": "e@example.com", "password": tfPassword})
	if resend.status != 200 || string(resend.body) != tfRequestOTPReply || f.mails("e@example.com", "otp_code") != mailsBefore+1 {
		t.Fatalf("throttled resend: %d %s, %d mails", resend.status, resend.body, f.mails("e@example.com", "otp_code"))
	}
	// 61 s later (the code's expires_at says when it was issued, §1.15) a resend emails a new
	// code and the old one stops working.
	f.setDate("otp_codes", dbx.HashExp{"user": u.Id, "purpose": "login", "used_at": ""}, "expires_at", time.Now().Add(239*time.Second))
	resend = f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": "e@example.com", "password": tfPassword})
	if resend.status != 200 || string(resend.body) != tfRequestOTPReply || f.mails("e@example.com", "otp_code") != mailsBefore+2 {
		t.Fatalf("resend: %d %s", resend.status, resend.body)
	}
	second := f.lastCode("e@example.com")
	if first != second {
		if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": r.str("temporary_token"), "otp_code": first}); rr.status != 400 || string(rr.body) != tfOTPInvalid {
			t.Fatalf("the replaced code: %d %s", rr.status, rr.body)
		}
	}
	if f.auditCount("otp.requested") < 2 {
		t.Fatalf("otp.requested rows = %d", f.auditCount("otp.requested"))
	}
	// §8.5 st. 43: a manage code cannot complete a login.
	if rr := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(access)...); rr.status != 200 {
		t.Fatalf("request-otp-authenticated: %d %s", rr.status, rr.body)
	}
	manage := f.lastCode("e@example.com")
	if manage != second {
		if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok2, "otp_code": manage}); rr.status != 400 || string(rr.body) != tfOTPInvalid {
			t.Fatalf("manage code at login: %d %s", rr.status, rr.body)
		}
	}
	ok := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok2, "otp_code": second})
	if ok.status != 200 || ok.str("access") == "" {
		t.Fatalf("verify-otp with the live code: %d %s", ok.status, ok.body)
	}
	if s := f.session(sidOf(t, ok.str("access"))); s.GetString("login_method") != "password+email" {
		t.Fatalf("login_method = %q", s.GetString("login_method"))
	}
	// single use: the spent code fails the one-step login, which then emails a fresh code
	// (no code is live any more).
	before := f.mails("e@example.com", "otp_code")
	rr := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "e@example.com", "password": tfPassword, "otp_code": second})
	if rr.status != 200 || rr.str("otp_error") == "" || f.mails("e@example.com", "otp_code") != before+1 {
		t.Fatalf("spent code: %d %s", rr.status, rr.body)
	}
	// §6.5 step 3: the cookie-only form — login with the emailed code returns tokens.
	one := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "e@example.com", "password": tfPassword, "otp_code": f.lastCode("e@example.com")})
	if one.status != 200 || one.str("access") == "" {
		t.Fatalf("one-step email login: %d %s", one.status, one.body)
	}
}

// §8.5 st. 44: an email code dies after 5 wrong attempts (then the right code is refused) and
// after 300 s.
func TestEmailCodeDiesAfterAttemptsAndExpiry(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("e@example.com", tfPassword, true)
	f.enableEmail(f.loginAs("e@example.com"), "e@example.com")

	tok := f.challenge("e@example.com")
	right := f.lastCode("e@example.com")
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 5; i++ {
		r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "e@example.com", "password": tfPassword, "otp_code": wrong})
		if r.status != 200 || r.str("otp_error") != "Invalid or expired OTP code." {
			t.Fatalf("wrong code %d: %d %s", i+1, r.status, r.body)
		}
	}
	if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok, "otp_code": right}); rr.status != 400 || string(rr.body) != tfOTPInvalid {
		t.Fatalf("right code after 5 wrong attempts: %d %s", rr.status, rr.body)
	}

	// A fresh code (the dead one is not live, so the next login emails one) expires after 300 s.
	tok = f.challenge("e@example.com")
	fresh := f.lastCode("e@example.com")
	f.setDate("otp_codes", dbx.HashExp{"user": u.Id, "purpose": "login", "used_at": ""}, "expires_at", time.Now().Add(-time.Second))
	if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok, "otp_code": fresh}); rr.status != 400 || string(rr.body) != tfOTPInvalid {
		t.Fatalf("expired code: %d %s", rr.status, rr.body)
	}
}

// §6.4 step 5: login with a recovery code; each code works once.
func TestLoginWithRecoveryCode(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	_, codes := f.enableTOTP(f.loginAs("a@example.com"))

	// any case, without the hyphen
	input := strings.ToLower(strings.ReplaceAll(codes[3], "-", ""))
	ok := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": f.challenge("a@example.com"), "recovery_code": input})
	if ok.status != 200 || ok.str("access") == "" {
		t.Fatalf("recovery login: %d %s", ok.status, ok.body)
	}
	if s := f.session(sidOf(t, ok.str("access"))); s.GetString("login_method") != "password+recovery_code" {
		t.Fatalf("login_method = %q", s.GetString("login_method"))
	}
	if n := f.count("recovery_codes", dbx.HashExp{"user": u.Id, "used_at": ""}); n != 9 {
		t.Fatalf("unused codes = %d", n)
	}
	if f.mails("a@example.com", "recovery_code_used") != 1 || !strings.Contains(f.lastMail("a@example.com", "recovery_code_used"), "9") ||
		f.auditCount("mfa.recovery_code_used") != 1 {
		t.Fatal("recovery_code_used mail or audit missing")
	}
	if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": f.challenge("a@example.com"), "recovery_code": codes[3]}); rr.status != 400 || string(rr.body) != tfOTPInvalid {
		t.Fatalf("reused recovery code: %d %s", rr.status, rr.body)
	}
	// both or neither
	tok := f.challenge("a@example.com")
	if rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok, "recovery_code": codes[0], "otp_code": "123456"}); rr.status != 400 || string(rr.body) != tfBothCodes {
		t.Fatalf("both codes: %d %s", rr.status, rr.body)
	}
}

// §5.7.2 and §6.11: disable with a TOTP code, and the checks before it in their order.
func TestDisableTOTP(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	f.user("plain@example.com", tfPassword, true)
	access := f.loginAs("a@example.com")
	secret, _ := f.enableTOTP(access)
	other := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "otp_code": f.nextTOTP(u.Id, secret)}).str("access")
	if other == "" {
		t.Fatal("second session")
	}
	plain := f.loginAs("plain@example.com")

	type tc struct {
		name   string
		access string
		body   any
		status int
		want   string
	}
	for _, c := range []tc{
		{"no password", access, map[string]string{"otp_code": "123456"}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"password":["This field is required."]}}`},
		{"malformed code", access, map[string]string{"password": tfPassword, "otp_code": "12345"}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"otp_code":["OTP must be a 6-digit number."]}}`},
		{"wrong password before anything", access, map[string]string{"password": "wrong-password-1", "otp_code": "123456"}, 400, tfBadPassword},
		{"2FA not enabled", plain, map[string]string{"password": tfPassword, "otp_code": "123456"}, 400, tfNotEnabled},
		{"no code", access, map[string]string{"password": tfPassword}, 400, tfOTPRequired},
		{"empty codes are no codes", access, map[string]any{"password": tfPassword, "otp_code": "", "recovery_code": nil}, 400, tfOTPRequired},
		{"both codes", access, map[string]string{"password": tfPassword, "otp_code": "123456", "recovery_code": "AAAAA-BBBBB"}, 400, tfBothCodes},
		{"wrong recovery code", access, map[string]string{"password": tfPassword, "recovery_code": "AAAAA-BBBBB"}, 400, tfOTPInvalid},
		{"anonymous", "", map[string]string{"password": tfPassword}, 401, `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`},
	} {
		var kv []string
		if c.access != "" {
			kv = bearer(c.access)
		}
		if r := f.do(http.MethodPost, "/api/v1/users/2fa/disable/", c.body, kv...); r.status != c.status || string(r.body) != c.want {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	if n := f.count("auth_failures", dbx.HashExp{"kind": "otp", "principal_id": u.Id}); n != 1 {
		t.Fatalf("OTP failures = %d, want 1 (the wrong recovery code)", n)
	}
	if fresh := f.reload(u.Id); !fresh.GetBool("otp_enabled") {
		t.Fatal("§8.5 st. 47: 2FA must stay on after a refused disable")
	}

	r := f.do(http.MethodPost, "/api/v1/users/2fa/disable", map[string]string{"password": tfPassword, "otp_code": f.nextTOTP(u.Id, secret)}, bearer(access)...)
	if r.status != 200 || string(r.body) != `{"message":"2FA disabled successfully"}` {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	fresh := f.reload(u.Id)
	if fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "" || fresh.GetString("totp_secret") != "" ||
		f.count("recovery_codes", dbx.HashExp{"user": u.Id}) != 0 {
		t.Fatalf("after disable: %v", fresh)
	}
	if s := f.session(sidOf(t, other)); s.GetString("revoked_reason") != "security_change" {
		t.Fatalf("other session after disable: %v", s)
	}
	if rr := f.do(http.MethodGet, "/api/v1/users/profile/", nil, bearer(access)...); rr.status != 200 || rr.json["otp_enabled"] != false || rr.json["otp_method"] != nil {
		t.Fatalf("current session after disable: %d %s", rr.status, rr.body)
	}
	if f.mails("a@example.com", "2fa_disabled") != 1 || !strings.Contains(f.lastMail("a@example.com", "2fa_disabled"), "UTC") || f.auditCount("2fa.disabled") != 1 {
		t.Fatal("2fa_disabled mail or audit missing")
	}
	if rr := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword}); rr.status != 200 || rr.str("access") == "" {
		t.Fatalf("login after disable must not need a code: %d %s", rr.status, rr.body)
	}
	if rr := f.do(http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"password": tfPassword, "otp_code": "123456"}, bearer(access)...); rr.status != 400 || string(rr.body) != tfNotEnabled {
		t.Fatalf("disable twice: %d %s", rr.status, rr.body)
	}
}

// Disable with a recovery code; the recovery_code_used mail says none is left.
func TestDisableWithRecoveryCode(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	access := f.loginAs("a@example.com")
	_, codes := f.enableTOTP(access)
	r := f.do(http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"password": tfPassword, "recovery_code": codes[9]}, bearer(access)...)
	if r.status != 200 {
		t.Fatalf("disable with a recovery code: %d %s", r.status, r.body)
	}
	if f.reload(u.Id).GetBool("otp_enabled") || f.count("recovery_codes", dbx.HashExp{"user": u.Id}) != 0 {
		t.Fatal("not disabled")
	}
	if f.mails("a@example.com", "recovery_code_used") != 1 || f.auditCount("mfa.recovery_code_used") != 1 || f.auditCount("2fa.disabled") != 1 {
		t.Fatal("mails/audit")
	}
}

// §6.11 (email method) and §8.5 st. 86: request-otp-authenticated, verify-disable-otp spends the
// code, a new one is emailed at once, and it disables 2FA; a login code cannot.
func TestDisableEmailMethodWithManageCodes(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("e@example.com", tfPassword, true)
	access := f.loginAs("e@example.com")
	f.enableEmail(access, "e@example.com")
	access = f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": f.challenge("e@example.com"), "otp_code": f.lastCode("e@example.com")}).str("access")
	if access == "" {
		t.Fatal("email login")
	}
	// §8.5 st. 43: a login code cannot disable 2FA.
	f.challenge("e@example.com") // emails a new login code
	loginCode := f.lastCode("e@example.com")
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"password": tfPassword, "otp_code": loginCode}, bearer(access)...); r.status != 400 || string(r.body) != tfOTPInvalid {
		t.Fatalf("login code at disable: %d %s", r.status, r.body)
	}

	before := f.mails("e@example.com", "otp_code")
	sent := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(access)...)
	if sent.status != 200 || string(sent.body) != `{"message":"OTP sent to your email address","expires_in_minutes":5}` || f.mails("e@example.com", "otp_code") != before+1 {
		t.Fatalf("request-otp-authenticated: %d %s", sent.status, sent.body)
	}
	manage := f.lastCode("e@example.com")
	// within 60 s: same answer, nothing sent
	if again := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(access)...); string(again.body) != string(sent.body) || f.mails("e@example.com", "otp_code") != before+1 {
		t.Fatalf("throttled request: %s", again.body)
	}

	for name, tc := range map[string]struct {
		body   map[string]string
		status int
		want   string
	}{
		"wrong password":       {map[string]string{"password": "wrong-password-1", "otp_code": manage}, 400, tfBadPassword},
		"no code":              {map[string]string{"password": tfPassword}, 400, tfOTPRequired},
		"recovery not allowed": {map[string]string{"password": tfPassword, "recovery_code": "AAAAA-BBBBB"}, 400, tfOTPRequired},
	} {
		if r := f.do(http.MethodPost, "/api/v1/users/verify-disable-otp/", tc.body, bearer(access)...); r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("verify-disable-otp %s: %d %s", name, r.status, r.body)
		}
	}
	v := f.do(http.MethodPost, "/api/v1/users/verify-disable-otp/", map[string]string{"password": tfPassword, "otp_code": manage}, bearer(access)...)
	if v.status != 200 || string(v.body) != `{"message":"Credentials verified successfully","verified":true}` || f.auditCount("2fa.verify") != 1 {
		t.Fatalf("verify-disable-otp: %d %s", v.status, v.body)
	}
	if !f.reload(u.Id).GetBool("otp_enabled") {
		t.Fatal("verify-disable-otp must not disable")
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"password": tfPassword, "otp_code": manage}, bearer(access)...); r.status != 400 || string(r.body) != tfOTPInvalid {
		t.Fatalf("spent manage code at disable: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(access)...); r.status != 200 || f.mails("e@example.com", "otp_code") != before+2 {
		t.Fatalf("a spent code is not live: a new one must be emailed at once (%d %s)", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"password": tfPassword, "otp_code": f.lastCode("e@example.com")}, bearer(access)...); r.status != 200 {
		t.Fatalf("disable with the new manage code: %d %s", r.status, r.body)
	}
	if f.reload(u.Id).GetBool("otp_enabled") || f.count("otp_codes", dbx.HashExp{"user": u.Id, "used_at": ""}) != 0 {
		t.Fatal("disable must turn 2FA off and invalidate live codes")
	}
}

func TestRequestOTPAuthenticatedChecks(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	f.user("plain@example.com", tfPassword, true)
	f.user("t@example.com", tfPassword, true)
	plain := f.loginAs("plain@example.com")
	totpAccess := f.loginAs("t@example.com")
	f.enableTOTP(totpAccess)
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(plain)...); r.status != 400 || string(r.body) != tfNotEnabled {
		t.Errorf("2FA off: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil, bearer(totpAccess)...); r.status != 400 ||
		string(r.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"non_field_errors":["Email codes are not available for this account's 2FA method."]}}` {
		t.Errorf("totp method: %d %s", r.status, r.body)
	}
	if f.mails("t@example.com", "otp_code")+f.mails("plain@example.com", "otp_code") != 0 {
		t.Error("no code may be sent")
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/", nil); r.status != 401 {
		t.Errorf("anonymous: %d", r.status)
	}
}

// §8.4 st. 37 and the "Done when" comparison: unknown email, wrong password, locked account,
// inactive account, account without 2FA and a valid email-2FA account — login and request-otp
// answer each failure identically; request-otp's wrong passwords count toward the lockout.
func TestFailuresAreIndistinguishableOnLoginAndRequestOTP(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	f.user("plain@example.com", tfPassword, true)
	f.user("inactive@example.com", tfPassword, false)
	locked := f.user("locked@example.com", tfPassword, true)
	mail := f.user("mail@example.com", tfPassword, true)
	f.enableEmail(f.loginAs("mail@example.com"), "mail@example.com")
	f.setDate("users", dbx.HashExp{"id": locked.Id}, "locked_until", time.Now().Add(10*time.Minute))
	f.setDate("otp_codes", dbx.HashExp{"user": mail.Id}, "expires_at", time.Now().Add(-time.Second)) // no live code

	// Each case from its own client IP, so no CAPTCHA state builds up between them.
	cases := []struct{ name, email, password string }{
		{"unknown email", "nobody@example.com", tfPassword},
		{"wrong password", "plain@example.com", "wrong-password-1"},
		{"locked account, right password", "locked@example.com", tfPassword},
		{"inactive account, right password", "inactive@example.com", tfPassword},
	}
	var loginFirst, otpFirst reply
	for i, c := range cases {
		ip := []string{"X-Real-IP", "10.0.0." + string(rune('1'+i))}
		l := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": c.email, "password": c.password}, ip...)
		o := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": c.email, "password": c.password}, ip...)
		if l.status != 400 || string(l.body) != badCreds {
			t.Errorf("login, %s: %d %s", c.name, l.status, l.body)
		}
		if o.status != 200 || string(o.body) != tfRequestOTPReply {
			t.Errorf("request-otp, %s: %d %s", c.name, o.status, o.body)
		}
		if i == 0 {
			loginFirst, otpFirst = l, o
			continue
		}
		sameAnswer(t, "login: "+c.name+" vs unknown email", l, loginFirst)
		sameAnswer(t, "request-otp: "+c.name+" vs unknown email", o, otpFirst)
	}
	// Failure rows (before a success resets an email's counter): two per failing case (login + request-otp), with the submitted email.
	for _, c := range cases {
		if n := f.count("auth_failures", dbx.HashExp{"kind": "password", "email": c.email}); n != 2 {
			t.Errorf("%s: %d password failure rows", c.name, n)
		}
	}
	// The successes of request-otp answer the same bytes too; only the email-2FA account gets a code.
	noTwoFA := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": "plain@example.com", "password": tfPassword}, "X-Real-IP", "10.0.1.1")
	valid := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": "mail@example.com", "password": tfPassword}, "X-Real-IP", "10.0.1.2")
	sameAnswer(t, "request-otp: account without 2FA vs unknown email", noTwoFA, otpFirst)
	sameAnswer(t, "request-otp: valid email-2FA account vs unknown email", valid, otpFirst)
	if f.mails("plain@example.com", "otp_code") != 0 || f.mails("locked@example.com", "otp_code") != 0 || f.mails("inactive@example.com", "otp_code") != 0 {
		t.Error("only the valid email-2FA account may get a code")
	}
	if n := f.count("otp_codes", dbx.HashExp{"user": mail.Id, "purpose": "login", "used_at": ""}); n != 1 {
		t.Errorf("live login codes of the email-2FA account = %d", n)
	}
	if f.auditCount("otp.requested") < 1 {
		t.Error("otp.requested audit missing")
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": "bad", "password": ""}); r.status != 400 ||
		string(r.body) != `{"detail":"Invalid input.","code":"invalid","errors":{"email":["Enter a valid email address."],"password":["This field may not be blank."]}}` {
		t.Errorf("validation: %d %s", r.status, r.body)
	}
}

// §8.4 st. 37 (second half): wrong passwords at request-otp count toward the lockout; the CAPTCHA
// gate of login applies after 3 of them.
func TestRequestOTPWrongPasswordsLockTheAccount(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	bad := map[string]string{"email": "a@example.com", "password": "wrong-password-1"}
	for i := 0; i < 3; i++ {
		if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", bad); r.status != 200 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", bad); r.status != 400 || string(r.body) != tfCaptchaMissing {
		t.Fatalf("4th attempt without CAPTCHA: %d %s", r.status, r.body)
	}
	for i := 3; i < 10; i++ {
		if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", f.withCaptcha(bad)); r.status != 200 || string(r.body) != tfRequestOTPReply {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.body)
		}
	}
	fresh := f.reload(u.Id)
	if until := fresh.GetDateTime("locked_until"); until.IsZero() || !until.Time().After(time.Now().Add(14*time.Minute)) {
		t.Fatalf("locked_until = %v", until)
	}
	if f.mails("a@example.com", "account_locked") != 1 || f.auditCount("login.locked") != 1 {
		t.Fatal("account_locked mail / login.locked audit")
	}
	if r := f.do(http.MethodPost, "/api/v1/users/login/", f.withCaptcha(map[string]string{"email": "a@example.com", "password": tfPassword})); r.status != 400 || string(r.body) != badCreds {
		t.Fatalf("locked login with the right password: %d %s", r.status, r.body)
	}
}

// §6.6: CAPTCHA escalation after 3 failures (unknown and existing emails alike), the gate's
// answers, redemption of solved challenges, and the reset by a successful login.
func TestCaptchaEscalationAndRedemption(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	f.user("a@example.com", tfPassword, true)
	for _, email := range []string{"a@example.com", "ghost@example.com"} {
		for i := 0; i < 3; i++ {
			if f.captchaRequired(email) {
				t.Fatalf("%s: CAPTCHA required after %d failures", email, i)
			}
			if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": "wrong-password-1"}); r.status != 400 || string(r.body) != badCreds {
				t.Fatalf("%s failure %d: %d %s", email, i+1, r.status, r.body)
			}
		}
		if !f.captchaRequired(email) || !f.captchaRequired(strings.ToUpper(email)) {
			t.Fatalf("%s: CAPTCHA not required after 3 failures", email)
		}
	}
	if f.captchaRequired("someone.else@example.com") || f.captchaRequired("") {
		t.Fatal("other emails and the IP (6 failures) are not in the CAPTCHA state")
	}

	rows := f.count("auth_failures", dbx.HashExp{"kind": "password"})
	right := map[string]string{"email": "a@example.com", "password": tfPassword}
	// Missing: even the right password is refused, nothing is counted.
	if r := f.do(http.MethodPost, "/api/v1/users/login/", right); r.status != 400 || string(r.body) != tfCaptchaMissing {
		t.Fatalf("no CAPTCHA: %d %s", r.status, r.body)
	}
	for name, body := range map[string]map[string]string{
		"unknown id":            {"captcha_id": "nosuchchallenge", "captcha_answer": tfCaptchaAnswer},
		"unsolved id, no guess": {"captcha_id": f.tfChallenge()},
		"wrong one-shot answer": {"captcha_id": f.tfChallenge(), "captcha_answer": "ZZZZZZ"},
	} {
		for k, v := range right {
			body[k] = v
		}
		if r := f.do(http.MethodPost, "/api/v1/users/login/", body); r.status != 400 || string(r.body) != tfCaptchaInvalid {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if n := f.count("auth_failures", dbx.HashExp{"kind": "password"}); n != rows {
		t.Fatalf("failing the CAPTCHA gate recorded %d password failures", n-rows)
	}
	if f.auditCount("captcha.failure") < 4 {
		t.Fatalf("captcha.failure rows = %d", f.auditCount("captcha.failure"))
	}

	// §8.4 st. 30: one guess per challenge.
	id := f.tfChallenge()
	if r := f.do(http.MethodPost, "/api/v1/users/captcha/verify/", map[string]string{"captcha_id": id, "answer": "ZZZZZZ"}); r.status != 200 || string(r.body) != `{"valid":false}` {
		t.Fatalf("wrong guess: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/captcha/verify/", map[string]string{"captcha_id": id, "answer": tfCaptchaAnswer}); string(r.body) != `{"valid":false}` {
		t.Fatalf("right answer after a wrong guess: %s", r.body)
	}
	// A burnt challenge cannot pass the gate either.
	if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "captcha_id": id, "captcha_answer": tfCaptchaAnswer}); string(r.body) != tfCaptchaInvalid {
		t.Fatalf("burnt challenge at login: %s", r.body)
	}

	// §8.4 st. 31: a solved challenge works for exactly one request.
	solved := f.tfChallenge()
	if r := f.do(http.MethodPost, "/api/v1/users/captcha/verify/", map[string]string{"captcha_id": solved, "answer": strings.ToLower(tfCaptchaAnswer)}); string(r.body) != `{"valid":true}` {
		t.Fatalf("right guess (case-insensitive): %s", r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "ghost@example.com", "password": "wrong-password-1", "captcha_id": solved}); r.status != 400 || string(r.body) != badCreds {
		t.Fatalf("login with a solved challenge: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "ghost@example.com", "password": "wrong-password-1", "captcha_id": solved}); r.status != 400 || string(r.body) != tfCaptchaInvalid {
		t.Fatalf("second use of a solved challenge: %d %s", r.status, r.body)
	}
	// a solved challenge redeemed 121 s after solving is refused
	late := f.tfChallenge()
	f.do(http.MethodPost, "/api/v1/users/captcha/verify/", map[string]string{"captcha_id": late, "answer": tfCaptchaAnswer})
	f.setDate("captcha_challenges", dbx.HashExp{"id": late}, "solved_at", time.Now().Add(-121*time.Second))
	if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "captcha_id": late}); r.status != 400 || string(r.body) != tfCaptchaInvalid {
		t.Fatalf("late redemption: %d %s", r.status, r.body)
	}
	// an expired challenge takes no guess
	old := f.tfChallenge()
	f.setDate("captcha_challenges", dbx.HashExp{"id": old}, "expires_at", time.Now().Add(-time.Second))
	if r := f.do(http.MethodPost, "/api/v1/users/captcha/verify/", map[string]string{"captcha_id": old, "answer": tfCaptchaAnswer}); string(r.body) != `{"valid":false}` {
		t.Fatalf("expired challenge: %s", r.body)
	}

	// One-shot id + answer with the right password logs in and resets the email's state.
	ok := f.do(http.MethodPost, "/api/v1/users/login/", f.withCaptcha(right))
	if ok.status != 200 || ok.str("access") == "" {
		t.Fatalf("login with a one-shot CAPTCHA: %d %s", ok.status, ok.body)
	}
	if f.captchaRequired("a@example.com") {
		t.Fatal("a successful password verification must reset the email's CAPTCHA state")
	}
	if !f.captchaRequired("ghost@example.com") {
		t.Fatal("the other email keeps its state")
	}
	// §8.4 st. 81: moving the failures 16 minutes back ends the state.
	f.setDate("auth_failures", dbx.HashExp{"email": "ghost@example.com"}, "occurred_at", time.Now().Add(-16*time.Minute))
	if f.captchaRequired("ghost@example.com") {
		t.Fatal("aged-out failures must end the CAPTCHA state")
	}
}

// §6.1 IP state: 10 failures from one IP (any emails) require a CAPTCHA from that IP only.
func TestCaptchaRequiredForAnIPAfterTenFailures(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	ip := []string{"X-Real-IP", "192.0.2.7"}
	for i := 0; i < 10; i++ {
		email := "probe" + string(rune('a'+i)) + "@example.com"
		if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": "wrong-password-1"}, ip...); r.status != 400 || string(r.body) != badCreds {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	if !f.captchaRequired("", ip...) || !f.captchaRequired("fresh@example.com", ip...) {
		t.Fatal("the IP must be in the CAPTCHA state")
	}
	if f.captchaRequired("", "X-Real-IP", "192.0.2.8") || f.captchaRequired("probea@example.com", "X-Real-IP", "192.0.2.8") {
		t.Fatal("another IP is not in the CAPTCHA state (each email has one failure)")
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/request-otp/", map[string]string{"email": "fresh@example.com", "password": "x"}, ip...); r.status != 400 || string(r.body) != tfCaptchaMissing {
		t.Fatalf("request-otp from the IP: %d %s", r.status, r.body)
	}
}

// §6.6 steps 5–7: the 10th password failure locks the account for 15 minutes; the lock ends
// when locked_until passes.
func TestLockoutAndItsExpiry(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	wrong := map[string]string{"email": "a@example.com", "password": "wrong-password-1"}
	for i := 0; i < 10; i++ {
		body := wrong
		if i >= 3 {
			body = f.withCaptcha(wrong)
		}
		if r := f.do(http.MethodPost, "/api/v1/users/login/", body); r.status != 400 || string(r.body) != badCreds {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	until := f.reload(u.Id).GetDateTime("locked_until")
	if until.IsZero() || until.Time().Before(time.Now().Add(14*time.Minute)) || until.Time().After(time.Now().Add(15*time.Minute)) {
		t.Fatalf("locked_until = %v", until)
	}
	if f.mails("a@example.com", "account_locked") != 1 || f.auditCount("login.locked") != 1 {
		t.Fatal("account_locked mail / login.locked audit missing")
	}
	right := map[string]string{"email": "a@example.com", "password": tfPassword}
	locked := f.do(http.MethodPost, "/api/v1/users/login/", f.withCaptcha(right))
	wrongReply := f.do(http.MethodPost, "/api/v1/users/login/", f.withCaptcha(wrong))
	sameAnswer(t, "locked account with the right password vs a wrong password", locked, wrongReply)
	if string(locked.body) != badCreds {
		t.Fatalf("locked: %d %s", locked.status, locked.body)
	}
	// Attempts during the lock neither extend it nor send another mail.
	if f.reload(u.Id).GetDateTime("locked_until").String() != until.String() || f.mails("a@example.com", "account_locked") != 1 {
		t.Fatal("attempts during a lock must not extend it")
	}
	// §8.4 st. 79: while locked the current-password check of 2fa/enable refuses the right password.
	access := tokensFor(t, f)
	issued, err := access.StartSession(f.app, "staff", f.reload(u.Id), "password", "127.0.0.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}, bearer(issued.Access)...); r.status != 400 || string(r.body) != tfBadPassword {
		t.Fatalf("2fa/enable while locked: %d %s", r.status, r.body)
	}
	if f.reload(u.Id).GetString("totp_pending_secret") != "" {
		t.Fatal("nothing may start while locked")
	}

	// The lock passes (§1.15: move locked_until): the right password works again (the email is
	// still in the CAPTCHA state) and resets the counters.
	f.setDate("users", dbx.HashExp{"id": u.Id}, "locked_until", time.Now().Add(-time.Second))
	if r := f.do(http.MethodPost, "/api/v1/users/login/", f.withCaptcha(right)); r.status != 200 || r.str("access") == "" {
		t.Fatalf("login after the lock: %d %s", r.status, r.body)
	}
	// (asked from another client IP: this one has 13 failures and is in the IP state)
	if f.captchaRequired("a@example.com", "X-Real-IP", "203.0.113.9") || !f.captchaRequired("") {
		t.Fatal("the successful login must reset the email's CAPTCHA state, not the IP's")
	}
}

// §6.1 second-factor lock and §8.5 st. 45/85: after 10 wrong codes the right code is refused with
// 403 account_locked at every second-factor step; the password step is not locked.
func TestSecondFactorLockAfterTenWrongCodes(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	access := f.loginAs("a@example.com")
	secret, codes := f.enableTOTP(access)

	early := f.challenge("a@example.com") // a temporary token from before the lock
	wrong := tfWrongCode(t, secret)
	for i := 0; i < 10; i++ {
		r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "otp_code": wrong})
		if r.status != 200 || r.str("otp_error") == "" {
			t.Fatalf("wrong code %d: %d %s", i+1, r.status, r.body)
		}
	}
	if f.mails("a@example.com", "mfa_locked") != 1 || f.auditCount("mfa.locked") != 1 {
		t.Fatal("mfa_locked mail / mfa.locked audit missing")
	}
	right := f.nextTOTP(u.Id, secret)
	for name, r := range map[string]reply{
		"verify-otp":                f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": early, "otp_code": right}),
		"login":                     f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword, "otp_code": right}),
		"login without code":        f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": tfPassword}),
		"verify-otp, recovery code": f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": early, "recovery_code": codes[0]}),
		"2fa/disable":               f.do(http.MethodPost, "/api/v1/users/2fa/disable/", map[string]string{"password": tfPassword, "otp_code": right}, bearer(access)...),
		"verify-disable-otp":        f.do(http.MethodPost, "/api/v1/users/verify-disable-otp/", map[string]string{"password": tfPassword, "otp_code": right}, bearer(access)...),
	} {
		if r.status != 403 || string(r.body) != tfMFALocked {
			t.Errorf("%s while locked: %d %s", name, r.status, r.body)
		}
	}
	// every login attempt writes its row (§8.8 st. 71): the two logins a login.failure of the
	// second-factor step, the two verify-otp calls an mfa.failure, both with reason locked
	lockedRows := func(event string) int {
		return f.count("audit_log", dbx.And(dbx.HashExp{"event": event, "success": false, "target_id": u.Id},
			dbx.NewExp("json_extract(details, '$.reason') = 'locked' AND json_extract(details, '$.step') = 'second_factor'")))
	}
	if n := lockedRows("login.failure"); n != 2 {
		t.Errorf("%d login.failure rows of the locked second factor, want 2", n)
	}
	if n := f.count("audit_log", dbx.And(dbx.HashExp{"event": "mfa.failure", "success": false, "actor_id": u.Id},
		dbx.NewExp("json_extract(details, '$.reason') = 'locked'"))); n != 2 {
		t.Errorf("%d mfa.failure rows of the locked second factor, want 2", n)
	}
	// the password step is not locked: a wrong password is still the plain wrong-password answer
	if r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": "wrong-password-1"}); r.status != 400 || string(r.body) != badCreds {
		t.Fatalf("password step: %d %s", r.status, r.body)
	}
	if !f.reload(u.Id).GetDateTime("locked_until").IsZero() {
		t.Fatal("OTP failures must never lock the password step")
	}
	// The lock ends when the failures age out of the 15-minute window (first lock).
	f.setDate("auth_failures", dbx.HashExp{"kind": "otp", "principal_id": u.Id}, "occurred_at", time.Now().Add(-16*time.Minute))
	tok := f.challenge("a@example.com")
	if r := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok, "otp_code": f.nextTOTP(u.Id, secret)}); r.status != 200 {
		t.Fatalf("after the lock window: %d %s", r.status, r.body)
	}
}

// §6.2 and §8.5 st. 40: an mfa_pending token is refused everywhere but verify-otp (as Bearer, as
// cookie, as refresh token) and dies after 5 wrong codes.
func TestMFAPendingTokenIsRefusedEverywhereAndDies(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	u := f.user("a@example.com", tfPassword, true)
	secret, _ := f.enableTOTP(f.loginAs("a@example.com"))
	tok := f.challenge("a@example.com")

	staffEndpoints := []struct{ method, path string }{
		{http.MethodPost, "/api/v1/users/2fa/enable/"},
		{http.MethodPost, "/api/v1/users/2fa/disable/"},
		{http.MethodPost, "/api/v1/users/2fa/request-otp-authenticated/"},
		{http.MethodPost, "/api/v1/users/verify-disable-otp/"},
		{http.MethodGet, "/api/v1/users/profile/"},
		{http.MethodPatch, "/api/v1/users/profile/"},
		{http.MethodGet, "/api/v1/users/token/validate/"},
		{http.MethodGet, "/api/v1/users/sessions/"},
		{http.MethodDelete, "/api/v1/users/sessions/"},
		{http.MethodGet, "/api/me/"},
	}
	for _, ep := range staffEndpoints {
		body := map[string]string{"password": tfPassword}
		if r := f.do(ep.method, ep.path, body, bearer(tok)...); r.status != 401 || string(r.body) != tokenNotValid {
			t.Errorf("Bearer mfa_pending at %s %s: %d %s", ep.method, ep.path, r.status, r.body)
		}
		if r := f.do(ep.method, ep.path, body, "Cookie", "access_token="+tok, "Origin", appURL); r.status != 401 || string(r.body) != tokenNotValid {
			t.Errorf("cookie mfa_pending at %s %s: %d %s", ep.method, ep.path, r.status, r.body)
		}
	}
	for _, path := range []string{"/api/v1/token/refresh/", "/api/v1/users/token/refresh/", "/api/v1/token/verify/"} {
		key := "refresh"
		if strings.HasSuffix(path, "verify/") {
			key = "token"
		}
		if r := f.do(http.MethodPost, path, map[string]string{key: tok}); r.status != 401 {
			t.Errorf("mfa_pending at %s: %d %s", path, r.status, r.body)
		}
	}

	wrong := tfWrongCode(t, secret)
	for i := 0; i < 5; i++ {
		if r := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok, "otp_code": wrong}); r.status != 400 || string(r.body) != tfOTPInvalid {
			t.Fatalf("wrong code %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": tok, "otp_code": f.nextTOTP(u.Id, secret)}); r.status != 401 || string(r.body) != tokenNotValid {
		t.Fatalf("right code after 5 wrong ones: %d %s", r.status, r.body)
	}
	if n := f.count("mfa_challenges", dbx.HashExp{"user": u.Id, "failed_attempts": 5}); n != 1 {
		t.Fatalf("dead challenges = %d", n)
	}
	// the flow restarts at login, and the right code works there
	if r := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": f.challenge("a@example.com"), "otp_code": f.nextTOTP(u.Id, secret)}); r.status != 200 {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
}

// A login that passed the password step before a password change cannot be completed after it.
func TestPasswordChangeCancelsPendingSecondFactorLogins(t *testing.T) {
	t.Parallel()
	f := newFlow(t, nil)
	u := f.user("a@example.com", "violet-harbor-42", true)
	u.Set("otp_enabled", true)
	u.Set("otp_method", "email")
	if err := f.app.Save(u); err != nil {
		t.Fatal(err)
	}
	pending := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "a@example.com", "password": "violet-harbor-42"})
	if pending.status != 200 || pending.json["otp_required"] != true {
		t.Fatalf("login: %d %s", pending.status, pending.body)
	}
	// the owner, logged in elsewhere, changes the password
	svc := tokensFor(t, f)
	issued, err := svc.StartSession(f.app, "staff", u, "password", "127.0.0.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	ch := f.do(http.MethodPost, "/api/v1/users/password/change/", map[string]string{
		"current_password": "violet-harbor-42", "new_password": "a-brand-new-passphrase", "new_password_confirm": "a-brand-new-passphrase",
	}, "Authorization", "Bearer "+issued.Access)
	if ch.status != 200 {
		t.Fatalf("change: %d %s", ch.status, ch.body)
	}
	rr := f.do(http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{"temporary_token": pending.str("temporary_token"), "otp_code": "123456"})
	if rr.status != 401 || string(rr.body) != tokenNotValid {
		t.Fatalf("the pending login must be dead: %d %s", rr.status, rr.body)
	}
}
