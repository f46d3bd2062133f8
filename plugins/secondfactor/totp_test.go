package secondfactor

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

func TestBeginTOTPSetupStoresSealedPendingSecret(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)

	secret, otpauth, qr, err := BeginTOTPSetup(app, cfg, u, "Gatehouse", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 {
		t.Fatalf("secret %q: want 32 base32 characters", secret)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret does not decode to 160 bits: %v (%d bytes)", err, len(raw))
	}

	parsed, err := url.Parse(otpauth)
	if err != nil || parsed.Scheme != "otpauth" || parsed.Host != "totp" {
		t.Fatalf("otpauth URL %q", otpauth)
	}
	q := parsed.Query()
	if q.Get("secret") != secret || q.Get("issuer") != "Gatehouse" || q.Get("digits") != "6" ||
		q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("otpauth query %v", q)
	}
	if !strings.HasSuffix(parsed.Path, "Gatehouse:alice@example.com") {
		t.Fatalf("otpauth label %q", parsed.Path)
	}

	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(qr, prefix) {
		t.Fatalf("QR is not a PNG data URL: %.40s", qr)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, prefix))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(pngBytes)); err != nil {
		t.Fatalf("QR PNG: %v", err)
	}

	fresh := testkit.Reload(t, app, u)
	sealed := fresh.GetString("totp_pending_secret")
	if sealed == "" || strings.Contains(sealed, secret) || strings.Contains(strings.ToLower(sealed), strings.ToLower(secret)) {
		t.Fatalf("pending secret stored in clear or missing: %q", sealed)
	}
	opened, err := cfg.Secret.Open(sealed)
	if err != nil || string(opened) != secret {
		t.Fatalf("sealed pending secret does not open back: %q %v", opened, err)
	}
	exp := fresh.GetDateTime("totp_pending_expires").Time()
	if d := time.Until(exp); d < cfg.TOTPPendingTTL-time.Minute || d > cfg.TOTPPendingTTL {
		t.Fatalf("pending expiry in %v, want ~%v", d, cfg.TOTPPendingTTL)
	}
	if fresh.GetString("totp_secret") != "" || fresh.GetBool("otp_enabled") {
		t.Fatal("begin must not activate TOTP")
	}
}

func TestConfirmTOTPSetup(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)

	if ok, err := ConfirmTOTPSetup(app, cfg, u, "123456"); err != nil || ok {
		t.Fatalf("confirm without a pending setup: ok=%v err=%v", ok, err)
	}

	secret, _, _, err := BeginTOTPSetup(app, cfg, u, "Gatehouse", "u")
	if err != nil {
		t.Fatal(err)
	}
	now := waitForFreshStep()
	right := codeAt(t, secret, now)
	wrong := codeAt(t, secret, now.Add(-90*time.Second))
	if wrong == right {
		t.Skip("code collision")
	}
	if ok, err := ConfirmTOTPSetup(app, cfg, u, wrong); err != nil || ok {
		t.Fatalf("wrong confirmation code accepted: ok=%v err=%v", ok, err)
	}
	if ok, err := ConfirmTOTPSetup(app, cfg, u, "12345"); err != nil || ok {
		t.Fatalf("5-digit code accepted: ok=%v err=%v", ok, err)
	}
	if ok, err := ConfirmTOTPSetup(app, cfg, u, right); err != nil || !ok {
		t.Fatalf("right confirmation code refused: ok=%v err=%v", ok, err)
	}

	fresh := testkit.Reload(t, app, u)
	if !fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "totp" {
		t.Fatalf("otp_enabled=%v otp_method=%q", fresh.GetBool("otp_enabled"), fresh.GetString("otp_method"))
	}
	if fresh.GetString("totp_pending_secret") != "" || !fresh.GetDateTime("totp_pending_expires").IsZero() {
		t.Fatal("pending setup not cleared")
	}
	stored := fresh.GetString("totp_secret")
	if stored == "" || strings.Contains(strings.ToUpper(stored), secret) {
		t.Fatalf("totp_secret missing or in clear: %q", stored)
	}
	if opened, err := cfg.Secret.Open(stored); err != nil || string(opened) != secret {
		t.Fatalf("totp_secret does not open back to the secret: %q %v", opened, err)
	}
	if got, want := int64(fresh.GetInt("totp_last_step")), now.Unix()/30; got != want {
		t.Fatalf("totp_last_step = %d, want %d", got, want)
	}
	// The in-memory record mirrors the database.
	if !u.GetBool("otp_enabled") || u.GetString("totp_secret") != stored {
		t.Fatal("in-memory record not updated")
	}

	// The confirmation code cannot be replayed for a login in the same step, nor confirm again.
	if ok, err := VerifyTOTP(app, cfg, u, right); err != nil || ok {
		t.Fatalf("confirmation code replayed at login: ok=%v err=%v", ok, err)
	}
	if ok, err := ConfirmTOTPSetup(app, cfg, u, right); err != nil || ok {
		t.Fatalf("second confirmation accepted: ok=%v err=%v", ok, err)
	}
}

func TestConfirmTOTPSetupPendingExpiry(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	secret, _, _, err := BeginTOTPSetup(app, cfg, u, "Gatehouse", "u")
	if err != nil {
		t.Fatal(err)
	}
	fresh := testkit.Reload(t, app, u)
	fresh.Set("totp_pending_expires", time.Now().Add(-time.Second))
	if err := app.Save(fresh); err != nil {
		t.Fatal(err)
	}
	now := waitForFreshStep()
	if ok, err := ConfirmTOTPSetup(app, cfg, u, codeAt(t, secret, now)); err != nil || ok {
		t.Fatalf("expired pending setup confirmed: ok=%v err=%v", ok, err)
	}
	if testkit.Reload(t, app, u).GetBool("otp_enabled") {
		t.Fatal("TOTP enabled from an expired setup")
	}

	// A new setup replaces the old pending secret; the old secret's codes no longer confirm.
	secret2, _, _, err := BeginTOTPSetup(app, cfg, u, "Gatehouse", "u")
	if err != nil {
		t.Fatal(err)
	}
	now = waitForFreshStep()
	if old, cur := codeAt(t, secret, now), codeAt(t, secret2, now); old != cur {
		if ok, _ := ConfirmTOTPSetup(app, cfg, u, old); ok {
			t.Fatal("code of a replaced pending secret accepted")
		}
	}
	if ok, err := ConfirmTOTPSetup(app, cfg, u, codeAt(t, secret2, now)); err != nil || !ok {
		t.Fatalf("fresh setup refused: ok=%v err=%v", ok, err)
	}
}

func TestVerifyTOTPRealClockReuse(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	secret := enableTOTP(t, app, cfg, u)

	// The confirmation used the current step; the next step's code (+1) is accepted once.
	now := waitForFreshStep()
	next := codeAt(t, secret, now.Add(30*time.Second))
	if ok, err := VerifyTOTP(app, cfg, u, next); err != nil || !ok {
		t.Fatalf("+1 step code refused: ok=%v err=%v", ok, err)
	}
	if ok, err := VerifyTOTP(app, cfg, u, next); err != nil || ok {
		t.Fatalf("code reused in the same window: ok=%v err=%v", ok, err)
	}
	if got, want := int64(testkit.Reload(t, app, u).GetInt("totp_last_step")), now.Unix()/30+1; got != want {
		t.Fatalf("totp_last_step = %d, want %d", got, want)
	}
	// After a newer code, the current (older) one is refused too.
	if cur := codeAt(t, secret, now); cur != next {
		if ok, _ := VerifyTOTP(app, cfg, u, cur); ok {
			t.Fatal("older code accepted after a newer one")
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", " 12345"} {
		if ok, err := VerifyTOTP(app, cfg, u, bad); err != nil || ok {
			t.Fatalf("malformed code %q: ok=%v err=%v", bad, ok, err)
		}
	}
}

func TestVerifyTOTPSkewWindow(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	secret := enableTOTP(t, app, cfg, u)

	// A fixed clock in the middle of a step, well after the real confirmation step.
	t0 := time.Unix((time.Now().Unix()/30+1000)*30+15, 0)
	step0 := t0.Unix() / 30
	at := func(steps int) string { return codeAt(t, secret, t0.Add(time.Duration(steps)*30*time.Second)) }
	verify := func(code string) bool {
		t.Helper()
		ok, err := verifyTOTPAt(app, cfg, u, code, t0)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	distinct := func(code string, steps ...int) bool {
		for _, s := range steps {
			if at(s) == code {
				return false
			}
		}
		return true
	}

	if c := at(-2); distinct(c, -1, 0, 1) && verify(c) {
		t.Fatal("-2 steps accepted")
	}
	if c := at(2); distinct(c, -1, 0, 1) && verify(c) {
		t.Fatal("+2 steps accepted")
	}
	if !verify(at(-1)) {
		t.Fatal("-1 step refused")
	}
	if got := int64(testkit.Reload(t, app, u).GetInt("totp_last_step")); got != step0-1 {
		t.Fatalf("last step %d, want %d", got, step0-1)
	}
	if verify(at(-1)) {
		t.Fatal("-1 step code reused")
	}
	if !verify(at(0)) {
		t.Fatal("current step refused after -1")
	}
	if !verify(at(1)) {
		t.Fatal("+1 step refused")
	}
	if c := at(0); distinct(c, 1) && verify(c) {
		t.Fatal("older step accepted after a newer one")
	}
	if verify(at(1)) {
		t.Fatal("+1 step code reused")
	}
}

func TestVerifyTOTPConcurrentDoubleUse(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	secret := enableTOTP(t, app, cfg, u)

	now := waitForFreshStep()
	code := codeAt(t, secret, now.Add(30*time.Second))
	wins := testkit.Concurrently(t, 16, func() (bool, error) {
		own, err := app.FindRecordById("users", u.Id)
		if err != nil {
			return false, err
		}
		return VerifyTOTP(app, cfg, own, code)
	})
	if wins != 1 {
		t.Fatalf("%d concurrent uses of one code passed, want exactly 1", wins)
	}
}

func TestVerifyTOTPWithoutSecret(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newEmployee(t, app)
	if ok, err := VerifyTOTP(app, cfg, u, "000000"); err != nil || ok {
		t.Fatalf("principal without TOTP verified: ok=%v err=%v", ok, err)
	}
	// A pending (unconfirmed) secret is not usable for verification.
	secret, _, _, err := BeginTOTPSetup(app, cfg, u, "Gatehouse", "e")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := VerifyTOTP(app, cfg, u, codeAt(t, secret, time.Now())); ok {
		t.Fatal("pending secret used for verification")
	}
}

func TestEnableEmailMethodAndDisable(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	enableTOTP(t, app, cfg, u)
	if _, err := GenerateRecoveryCodes(app, cfg, realm.TypeStaff, u.Id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage); err != nil {
		t.Fatal(err)
	}

	if err := EnableEmailMethod(app, u); err != nil {
		t.Fatal(err)
	}
	fresh := testkit.Reload(t, app, u)
	if !fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "email" || fresh.GetString("totp_secret") != "" {
		t.Fatalf("email method: enabled=%v method=%q secret=%q", fresh.GetBool("otp_enabled"), fresh.GetString("otp_method"), fresh.GetString("totp_secret"))
	}

	if err := Disable(app, u); err != nil {
		t.Fatal(err)
	}
	fresh = testkit.Reload(t, app, u)
	if fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "" || fresh.GetString("totp_secret") != "" {
		t.Fatal("2FA not disabled")
	}
	if n, _ := CountRecoveryCodes(app, realm.TypeStaff, u.Id); n != 0 {
		t.Fatalf("%d recovery codes left after disable", n)
	}
	if live, _ := HasLiveEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage); live {
		t.Fatal("email code still live after disable")
	}
}
