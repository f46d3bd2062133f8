package accounts_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// §5.8.1: a challenge is a 200×60 PNG; only the HMAC of its answer is stored, with the client IP.
func TestCaptchaGenerate(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	r := f.do(http.MethodPost, "/api/v1/users/captcha/generate/", nil, "X-Real-IP", "198.51.100.4")
	if r.status != 200 || len(r.json) != 3 || r.json["expires_in"] != float64(300) ||
		!regexp.MustCompile(`^[a-z0-9]{15}$`).MatchString(r.str("captcha_id")) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("generate: %d %s", r.status, r.body)
	}
	image := r.str("image")
	if !strings.HasPrefix(image, "data:image/png;base64,") {
		t.Fatalf("image: %.40s", image)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(image, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil || img.Bounds().Dx() != 200 || img.Bounds().Dy() != 60 {
		t.Fatalf("PNG: %v %v", err, img)
	}
	rec, err := f.app.FindRecordById("captcha_challenges", r.str("captcha_id"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.GetString("answer_hash")) < 32 || rec.GetString("ip") != "198.51.100.4" ||
		time.Until(rec.GetDateTime("expires_at").Time()) < 290*time.Second || !rec.GetDateTime("guessed_at").IsZero() {
		t.Fatalf("challenge row: %v", rec)
	}
	// a body is not needed; an empty one with any type is fine, another type is 415
	if rr := f.do(http.MethodPost, "/api/v1/users/captcha/generate", nil, "Content-Type", "text/plain"); rr.status != 200 {
		t.Fatalf("empty text/plain body: %d", rr.status)
	}
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/api/v1/users/captcha/generate/", "POST"},
		{http.MethodPost, "/api/v1/users/captcha/required/", "GET"},
		{http.MethodGet, "/api/v1/users/captcha/verify/", "POST"},
		{http.MethodGet, "/api/v1/users/2fa/request-otp/", "POST"},
		{http.MethodGet, "/api/v1/users/verify-disable-otp", "POST"},
	} {
		if rr := f.do(tc.method, tc.path, nil); rr.status != 405 || rr.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %v", tc.method, tc.path, rr.status, rr.header.Get("Allow"))
		}
	}
}

func TestCaptchaRequiredAndVerifyValidation(t *testing.T) {
	t.Parallel()
	f := tfFlow(t, nil)
	for name, tc := range map[string]struct {
		query  string
		status int
		want   string
	}{
		"no email":       {"", 200, `{"required":false}`},
		"empty email":    {"?email=", 200, `{"required":false}`},
		"valid email":    {"?email=Someone%40Example.com", 200, `{"required":false}`},
		"invalid email":  {"?email=not-an-email", 400, `{"detail":"Invalid input.","code":"invalid","errors":{"email":["Enter a valid email address."]}}`},
		"too long email": {"?email=" + strings.Repeat("a", 250) + "%40example.com", 400, `{"detail":"Invalid input.","code":"invalid","errors":{"email":["Ensure this field has no more than 254 characters."]}}`},
	} {
		if r := f.do(http.MethodGet, "/api/v1/users/captcha/required/"+tc.query, nil); r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("required %s: %d %s", name, r.status, r.body)
		}
	}
	for name, tc := range map[string]struct {
		body   any
		status int
		want   string
	}{
		"missing both":    {map[string]string{}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"answer":["This field is required."],"captcha_id":["This field is required."]}}`},
		"blank answer":    {map[string]string{"captcha_id": "x", "answer": ""}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"answer":["This field may not be blank."]}}`},
		"number answer":   {map[string]any{"captcha_id": "x", "answer": 123456}, 400, `{"detail":"Invalid input.","code":"invalid","errors":{"answer":["Not a valid string."]}}`},
		"unknown id":      {map[string]string{"captcha_id": "nosuchchallenge", "answer": "ABCDEF"}, 200, `{"valid":false}`},
		"non-object json": {"{", 400, `{"detail":"Invalid input.","code":"invalid","errors":{"non_field_errors":["Malformed JSON request body."]}}`},
	} {
		if r := f.do(http.MethodPost, "/api/v1/users/captcha/verify/", tc.body); r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("verify %s: %d %s", name, r.status, r.body)
		}
	}
	if f.auditCount("captcha.failure") != 1 {
		t.Errorf("captcha.failure rows = %d (one wrong guess)", f.auditCount("captcha.failure"))
	}
	// HEAD follows GET
	if r := f.do(http.MethodHead, "/api/v1/users/captcha/required/", nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD: %d", r.status)
	}
}
