package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/server"
	"gatehouse/testkit"
)

// serveDev starts the full server on a fresh data dir with --dev (app.IsDev) and answer as
// CAPTCHA_TEST_ANSWER; it returns the OnServe error, or the running server.
func serveDev(t *testing.T, answer string) (*tests.TestApp, *httptest.Server, error) {
	t.Helper()
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: t.TempDir(), IsDev: true, EncryptionEnv: "pb_test_env"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	cfg := testkit.Config()
	cfg.AppURLOverride = "https://auth.example.com"
	cfg.CaptchaTestAnswer = answer
	server.Register(app, cfg, server.Options{})
	srv, err := testkit.TryServe(t, app)
	return app, srv, err
}

// §1.15: with --dev, a CAPTCHA_TEST_ANSWER that is not 6 characters of the CAPTCHA alphabet
// stops start-up with an error naming the variable (before, the server started and every
// challenge generation answered 500); a valid one (any case) is served as the answer.
func TestDevRefusesAnInvalidCaptchaTestAnswer(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"abc", "ABCDEF1", "AAAAA0", "AAAAAI", "AAAAA!"} {
		app, _, err := serveDev(t, answer)
		if err == nil || !strings.Contains(err.Error(), "CAPTCHA_TEST_ANSWER") {
			t.Errorf("CAPTCHA_TEST_ANSWER=%q with --dev: serve err = %v, want an error naming the variable", answer, err)
		}
		if n, _ := app.CountRecords("captcha_challenges"); n != 0 {
			t.Errorf("%d challenges stored", n)
		}
	}

	app, srv, err := serveDev(t, " acd234 ")
	if err != nil {
		t.Fatalf("valid answer refused: %v", err)
	}
	res, err := http.Post(srv.URL+"/api/v1/users/captcha/generate/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out struct {
		CaptchaID string `json:"captcha_id"`
		Image     string `json:"image"`
	}
	if res.StatusCode != 200 || json.Unmarshal(body, &out) != nil || out.CaptchaID == "" || !strings.HasPrefix(out.Image, "data:image/png;base64,") {
		t.Fatalf("generate: %d %s", res.StatusCode, body)
	}
	if _, err := app.FindRecordById("captcha_challenges", out.CaptchaID); err != nil {
		t.Fatalf("challenge not stored: %v", err)
	}
	res, err = http.Post(srv.URL+"/api/v1/users/captcha/verify/", "application/json",
		strings.NewReader(`{"captcha_id":"`+out.CaptchaID+`","answer":"ACD234"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != `{"valid":true}` {
		t.Fatalf("verify with the test answer: %d %s", res.StatusCode, body)
	}
}
