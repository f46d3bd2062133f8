package accounts_test

import (
	"net/http"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

// Helpers of the second-factor and CAPTCHA flow tests (twofa_test.go, captcha_endpoints_test.go).
// They build on the flow helper of tokens_flow_test.go.

const (
	tfPassword = "violet-harbor-42"
	// tfCaptchaAnswer is the answer every challenge gets through tfChallenge.
	tfCaptchaAnswer = "ABCDEF"

	tfOTPInvalid      = `{"detail":"Invalid or expired OTP code.","code":"otp_invalid"}`
	tfOTPRequired     = `{"detail":"An OTP code is required.","code":"otp_required"}`
	tfMFALocked       = `{"detail":"Too many failed verification attempts. Try again later.","code":"account_locked"}`
	tfBadPassword     = `{"detail":"Invalid input.","code":"invalid","errors":{"password":["Invalid password"]}}`
	tfNotEnabled      = `{"detail":"Invalid input.","code":"invalid","errors":{"non_field_errors":["2FA is not enabled for this account"]}}`
	tfBothCodes       = `{"detail":"Invalid input.","code":"invalid","errors":{"non_field_errors":["Provide either otp_code or recovery_code, not both."]}}`
	tfCaptchaMissing  = `{"detail":"CAPTCHA verification required.","code":"captcha_required"}`
	tfCaptchaInvalid  = `{"detail":"Invalid or expired CAPTCHA.","code":"captcha_required"}`
	tfRequestOTPReply = `{"message":"If the credentials are valid and email two-factor authentication is enabled, a verification code has been sent.","expires_in_minutes":5}`
)

// tfFlow is a flow whose rate limiter is off (these flows send many requests from one IP) and
// which believes X-Real-IP from the loopback test client, so a test can play several client IPs.
func tfFlow(t *testing.T, mutate func(*config.Config)) *flow {
	t.Helper()
	f := newFlow(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
		if mutate != nil {
			mutate(c)
		}
	})
	s := f.app.Settings()
	s.RateLimits.Enabled = false
	s.TrustedProxy.Headers = []string{"X-Real-IP"}
	if err := f.app.Save(s); err != nil {
		t.Fatal(err)
	}
	return f
}

func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }

func (f *flow) reload(id string) *core.Record {
	f.t.Helper()
	r, err := f.app.FindRecordById("users", id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// setDate moves a date field of a record (what §1.15 lets tests do through the superuser API).
func (f *flow) setDate(collection string, where dbx.Expression, field string, at time.Time) {
	f.t.Helper()
	if _, err := f.app.DB().Update(collection, dbx.Params{field: at.UTC().Format("2006-01-02 15:04:05.000Z")}, where).Execute(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *flow) count(collection string, where ...dbx.Expression) int {
	f.t.Helper()
	n, err := f.app.CountRecords(collection, where...)
	if err != nil {
		f.t.Fatal(err)
	}
	return int(n)
}

func (f *flow) auditCount(event string) int { return f.count("audit_log", dbx.HashExp{"event": event}) }

func (f *flow) mails(to, template string) int {
	return f.count("email_outbox", dbx.HashExp{"to": to, "template": template})
}

var tfCodeInMail = regexp.MustCompile(`verification code is: (\d{6})`)

// lastMail returns the text body of the newest outbox mail of a template to an address.
func (f *flow) lastMail(to, template string) string {
	f.t.Helper()
	rec := &core.Record{}
	err := f.app.RecordQuery("email_outbox").AndWhere(dbx.HashExp{"to": to, "template": template}).
		OrderBy("rowid DESC").Limit(1).One(rec)
	if err != nil {
		f.t.Fatalf("no %s mail to %s: %v", template, to, err)
	}
	return rec.GetString("text_body")
}

// lastCode is the 6-digit code of the newest otp_code mail to an address.
func (f *flow) lastCode(to string) string {
	f.t.Helper()
	m := tfCodeInMail.FindStringSubmatch(f.lastMail(to, "otp_code"))
	if m == nil {
		f.t.Fatalf("no code in the otp_code mail to %s", to)
	}
	return m[1]
}

// loginAs logs in a user without 2FA and returns the access token.
func (f *flow) loginAs(email string) string {
	f.t.Helper()
	return f.login(email, tfPassword).str("access")
}

// tfTOTPAt is the TOTP code of a time step (RFC 6238 with the contract's parameters).
func tfTOTPAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, time.Unix(step*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// tfSetupCode is a code that confirms a fresh TOTP setup: the oldest step the server accepts
// (so the steps after it remain for later logins), unless the step is about to change.
func tfSetupCode(t *testing.T, secret string) string {
	now := time.Now().Unix()
	step := now/30 - 1
	if 30-now%30 < 4 {
		step = now / 30
	}
	return tfTOTPAt(t, secret, step)
}

// nextTOTP is a code the server accepts now for the user: within ±1 step of the clock and after
// the last step the account used (a code works once, §6.2). It waits when no such step exists.
func (f *flow) nextTOTP(userID, secret string) string {
	f.t.Helper()
	for {
		now := time.Now().Unix()
		cur, remain := now/30, 30-now%30
		lo := cur - 1
		if remain < 4 {
			lo = cur
		}
		step := max(lo, int64(f.reload(userID).GetInt("totp_last_step"))+1)
		if step <= cur+1 {
			return tfTOTPAt(f.t, secret, step)
		}
		time.Sleep(time.Duration(remain)*time.Second + 100*time.Millisecond)
	}
}

// enableTOTP runs the two enable calls and returns the secret and the recovery codes.
func (f *flow) enableTOTP(access string) (string, []string) {
	f.t.Helper()
	start := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword}, bearer(access)...)
	if start.status != 200 || start.str("status") != "pending" {
		f.t.Fatalf("enable start: %d %s", start.status, start.body)
	}
	secret := start.str("secret")
	done := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "otp_code": tfSetupCode(f.t, secret)}, bearer(access)...)
	if done.status != 200 || done.str("status") != "enabled" {
		f.t.Fatalf("enable confirm: %d %s", done.status, done.body)
	}
	var codes []string
	for _, c := range done.json["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

// enableEmail switches a user to the email method with an emailed setup code.
func (f *flow) enableEmail(access, email string) []string {
	f.t.Helper()
	start := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "method": "email"}, bearer(access)...)
	if start.status != 200 || string(start.body) != `{"status":"pending","method":"email","expires_in":300}` {
		f.t.Fatalf("enable email start: %d %s", start.status, start.body)
	}
	done := f.do(http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": tfPassword, "method": "email", "otp_code": f.lastCode(email)}, bearer(access)...)
	if done.status != 200 || done.str("method") != "email" {
		f.t.Fatalf("enable email confirm: %d %s", done.status, done.body)
	}
	var codes []string
	for _, c := range done.json["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return codes
}

// challenge logs in a 2FA user and returns the temporary token of the OtpChallenge.
func (f *flow) challenge(email string, kv ...string) string {
	f.t.Helper()
	r := f.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": tfPassword}, kv...)
	if r.status != 200 || r.json["otp_required"] != true || r.str("temporary_token") == "" {
		f.t.Fatalf("login of a 2FA user: %d %s", r.status, r.body)
	}
	return r.str("temporary_token")
}

// tfChallenge generates a CAPTCHA challenge and gives it the known answer tfCaptchaAnswer: the
// test app is not in dev mode, so CAPTCHA_TEST_ANSWER does not apply, and the answer is only
// stored as an HMAC under the test secret.
func (f *flow) tfChallenge(kv ...string) string {
	f.t.Helper()
	r := f.do(http.MethodPost, "/api/v1/users/captcha/generate/", nil, kv...)
	if r.status != 200 || r.str("captcha_id") == "" {
		f.t.Fatalf("captcha/generate: %d %s", r.status, r.body)
	}
	id := r.str("captcha_id")
	hash := testkit.Config().Secret.MAC("captcha", tfCaptchaAnswer)
	if _, err := f.app.DB().Update("captcha_challenges", dbx.Params{"answer_hash": hash}, dbx.HashExp{"id": id}).Execute(); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// withCaptcha adds a one-shot CAPTCHA (a fresh challenge and its answer) to a body.
func (f *flow) withCaptcha(body map[string]string, kv ...string) map[string]string {
	out := map[string]string{"captcha_id": f.tfChallenge(kv...), "captcha_answer": tfCaptchaAnswer}
	for k, v := range body {
		out[k] = v
	}
	return out
}

func (f *flow) captchaRequired(email string, kv ...string) bool {
	f.t.Helper()
	path := "/api/v1/users/captcha/required/"
	if email != "" {
		path += "?email=" + email
	}
	r := f.do(http.MethodGet, path, nil, kv...)
	if r.status != 200 {
		f.t.Fatalf("captcha/required: %d %s", r.status, r.body)
	}
	return r.json["required"] == true
}

// sameAnswer fails unless two replies have the same status, body and header set.
func sameAnswer(t *testing.T, name string, a, b reply) {
	t.Helper()
	if a.status != b.status || string(a.body) != string(b.body) {
		t.Errorf("%s: %d %s vs %d %s", name, a.status, a.body, b.status, b.body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "Www-Authenticate", "Set-Cookie", "Retry-After"} {
		if a.header.Get(h) != b.header.Get(h) {
			t.Errorf("%s: header %s differs: %q vs %q", name, h, a.header.Get(h), b.header.Get(h))
		}
	}
	if len(a.header) != len(b.header) {
		t.Errorf("%s: header sets differ: %v vs %v", name, a.header, b.header)
	}
}

// tfWrongCode is a well-formed code that is none of the secret's codes around now.
func tfWrongCode(t *testing.T, secret string) string {
	t.Helper()
	cur := time.Now().Unix() / 30
	for _, c := range []string{"000000", "999999", "123123", "456456"} {
		clash := false
		for s := cur - 2; s <= cur+3; s++ {
			if tfTOTPAt(t, secret, s) == c {
				clash = true
			}
		}
		if !clash {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}
