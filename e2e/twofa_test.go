package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oathtoolPath finds the oathtool command (Debian package oathtool, installed by .ci/run). The
// test is skipped without it, unless E2E_REQUIRED is set: then a missing tool is a failure.
func oathtoolPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("E2E_REQUIRED") != "" {
			t.Fatalf("oathtool is required (E2E_REQUIRED is set): %v", err)
		}
		t.Skip("oathtool not installed")
	}
	return path
}

// oathtoolCode is the TOTP code oathtool computes for a base32 secret at the instant at: an
// independent RFC 6238 implementation, not our library.
func oathtoolCode(t *testing.T, tool, secret string, at time.Time) string {
	t.Helper()
	out, err := exec.Command(tool, "--totp", "-b", "--now=@"+strconv.FormatInt(at.Unix(), 10), secret).CombinedOutput()
	code := strings.TrimSpace(string(out))
	if err != nil || !regexp.MustCompile(`^\d{6}$`).MatchString(code) {
		t.Fatalf("oathtool: %v %q", err, out)
	}
	return code
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("JSON: %v %s", err, body)
	}
	return m
}

// TestTOTPEnableAndLoginWithOathtool: enable TOTP on the real binary, confirm it and log in with
// codes computed by oathtool from the secret that 2fa/enable returned (§6.11, §6.4, §1.15).
func TestTOTPEnableAndLoginWithOathtool(t *testing.T) {
	t.Parallel()
	tool := oathtoolPath(t)
	s := Start(t, Options{Env: []string{"RATE_LIMITS_ENABLED=false"}})
	su := s.SuperuserToken(t)
	userID := createStaffUser(t, s, su, "totp.user@example.com", "violet-harbor-42")

	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "totp.user@example.com", "password": "violet-harbor-42"})
	if st != 200 {
		t.Fatalf("login: %d %s", st, body)
	}
	auth := []string{"Authorization", "Bearer " + decodeJSON(t, body)["access"].(string)}

	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/2fa/enable/", map[string]string{"password": "violet-harbor-42"}, auth...)
	pending := decodeJSON(t, body)
	secret, _ := pending["secret"].(string)
	if st != 200 || pending["status"] != "pending" || len(secret) != 32 ||
		pending["otpauth_url"] != "otpauth://totp/Gatehouse:totp.user@example.com?secret="+secret+"&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30" {
		t.Fatalf("enable start: %d %s", st, body)
	}

	// Two consecutive time steps: one confirms the setup, the next completes a login (a step is
	// accepted once per account; the server accepts ±1 step around its clock).
	now := time.Now()
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/2fa/enable/",
		map[string]string{"password": "violet-harbor-42", "otp_code": oathtoolCode(t, tool, secret, now)}, auth...)
	enabled := decodeJSON(t, body)
	if st != 200 || enabled["status"] != "enabled" || len(enabled["recovery_codes"].([]any)) != 10 {
		t.Fatalf("enable confirm with the oathtool code: %d %s", st, body)
	}

	// §8.5 st. 87: the stored secret is not the clear text.
	st, _, body = s.Do(t, http.MethodGet, "/api/collections/users/records/"+userID, nil, "Authorization", su)
	if st != 200 || strings.Contains(string(body), secret) {
		t.Fatalf("user record: %d (secret in clear: %v)", st, strings.Contains(string(body), secret))
	}

	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "totp.user@example.com", "password": "violet-harbor-42"})
	challenge := decodeJSON(t, body)
	if st != 200 || challenge["otp_required"] != true || challenge["methods"].([]any)[0] != "totp" {
		t.Fatalf("login with 2FA on: %d %s", st, body)
	}
	st, h, body := s.Do(t, http.MethodPost, "/api/v1/users/login/verify-otp/", map[string]string{
		"temporary_token": challenge["temporary_token"].(string), "otp_code": oathtoolCode(t, tool, secret, now.Add(30*time.Second)),
	})
	tokens := decodeJSON(t, body)
	if st != 200 || tokens["access"] == nil || tokens["token_type"] != "Bearer" || len(h.Values("Set-Cookie")) != 2 {
		t.Fatalf("verify-otp with the oathtool code: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodGet, "/api/v1/users/profile/", nil, "Authorization", "Bearer "+tokens["access"].(string))
	if st != 200 || decodeJSON(t, body)["otp_method"] != "totp" {
		t.Fatalf("profile with the 2FA session: %d %s", st, body)
	}
}

// TestFailureCountersSurviveRestart: §8.4 st. 34 on the real binary — the failure counters live
// in the database, so a restart with the same data dir keeps the CAPTCHA state.
func TestFailureCountersSurviveRestart(t *testing.T) {
	t.Parallel()
	env := []string{"RATE_LIMITS_ENABLED=false"}
	s := Start(t, Options{Env: env})
	su := s.SuperuserToken(t)
	createStaffUser(t, s, su, "counted@example.com", "violet-harbor-42")
	const email = "counted@example.com"

	required := func(s *Server) bool {
		t.Helper()
		st, _, body := s.Do(t, http.MethodGet, "/api/v1/users/captcha/required/?email="+email, nil)
		if st != 200 {
			t.Fatalf("captcha/required: %d %s", st, body)
		}
		return decodeJSON(t, body)["required"] == true
	}
	fail := func(s *Server) {
		t.Helper()
		st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": "wrong-password-1"})
		if st != 400 || string(body) != `{"detail":"Invalid email or password.","code":"invalid_credentials"}` {
			t.Fatalf("wrong password: %d %s", st, body)
		}
	}
	restart := func(old *Server) *Server {
		t.Helper()
		old.Stop()
		return Start(t, Options{DataDir: old.DataDir, Env: old.Env})
	}

	fail(s)
	fail(s)
	if required(s) {
		t.Fatal("CAPTCHA required after 2 failures")
	}
	s = restart(s)
	if required(s) {
		t.Fatal("CAPTCHA required after 2 failures and a restart")
	}
	fail(s) // the third failure, counted together with the two from before the restart
	if !required(s) {
		t.Fatal("2 failures, restart, 1 failure: CAPTCHA must be required")
	}
	s = restart(s)
	if !required(s) {
		t.Fatal("the CAPTCHA state must survive a restart")
	}
	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": "violet-harbor-42"})
	if st != 400 || string(body) != `{"detail":"CAPTCHA verification required.","code":"captcha_required"}` {
		t.Fatalf("login without CAPTCHA after the restart: %d %s", st, body)
	}
}

// §1.15: CAPTCHA_TEST_ANSWER fixes every challenge's answer only with --dev; without it the
// variable is ignored and a warning is printed at start-up.
func TestCaptchaTestAnswerSeam(t *testing.T) {
	t.Parallel()
	const answer = "ACDEFG"
	solve := func(s *Server) string {
		st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/captcha/generate/", nil)
		if st != 200 {
			t.Fatalf("generate: %d %s", st, body)
		}
		var gen map[string]any
		_ = json.Unmarshal(body, &gen)
		id, _ := gen["captcha_id"].(string)
		if id == "" {
			t.Fatalf("no captcha_id in %s", body)
		}
		_, _, v := s.Do(t, http.MethodPost, "/api/v1/users/captcha/verify/", map[string]string{"captcha_id": id, "answer": answer})
		return string(v)
	}
	dev := Start(t, Options{Env: []string{"CAPTCHA_TEST_ANSWER=" + answer}, Args: []string{"--dev"}})
	if got := solve(dev); got != `{"valid":true}` {
		t.Fatalf("--dev with CAPTCHA_TEST_ANSWER: %s", got)
	}
	prod := Start(t, Options{Env: []string{"CAPTCHA_TEST_ANSWER=" + answer}})
	if got := solve(prod); got != `{"valid":false}` {
		t.Fatalf("without --dev the test answer must not work: %s", got)
	}
	if !strings.Contains(prod.Output(), "CAPTCHA_TEST_ANSWER is set but ignored") {
		t.Fatalf("no start-up warning:\n%s", prod.Output())
	}
}
