package secondfactor

import (
	"bytes"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"image/png"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/plugins/config"
)

// TOTP parameters of §6.2 / §7.1.
const (
	TOTPPeriod     = 30 // seconds
	TOTPDigits     = 6
	TOTPSecretSize = 20 // bytes = 160 bits = 32 base32 characters
	QRCodeSize     = 256
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// ErrNoSecretKey is returned when cfg.Secret is not set.
var ErrNoSecretKey = errors.New("secondfactor: server secret not configured")

// BeginTOTPSetup starts (or restarts) a TOTP enrolment: it generates a 160-bit secret, stores
// it sealed in totp_pending_secret with totp_pending_expires = now + cfg.TOTPPendingTTL, and
// returns the base32 secret (32 characters), the otpauth:// URL and a QR code of that URL as a
// data:image/png;base64 URL. The active TOTP secret, if any, is untouched until
// ConfirmTOTPSetup succeeds.
func BeginTOTPSetup(app core.App, cfg *config.Config, principal *core.Record, issuer, accountName string) (secret, otpauthURL, qrPNGDataURL string, err error) {
	if cfg.Secret == nil {
		return "", "", "", ErrNoSecretKey
	}
	if _, err := PrincipalType(principal); err != nil {
		return "", "", "", err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountName,
		Period:      TOTPPeriod,
		SecretSize:  TOTPSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", "", err
	}
	img, err := key.Image(QRCodeSize, QRCodeSize)
	if err != nil {
		return "", "", "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", "", "", err
	}
	sealed, err := cfg.Secret.Seal([]byte(key.Secret()))
	if err != nil {
		return "", "", "", err
	}
	expires := dbTime(time.Now().Add(cfg.TOTPPendingTTL))
	params := dbx.Params{"totp_pending_secret": sealed, "totp_pending_expires": expires}
	n, err := updateRow(app, principal.Collection().Name, params, dbx.HashExp{"id": principal.Id})
	if err != nil {
		return "", "", "", err
	}
	if n == 0 { // the account is gone: no secret is handed out that nothing stored
		return "", "", "", sql.ErrNoRows
	}
	setAll(principal, params)
	return key.Secret(), key.URL(), "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// ConfirmTOTPSetup checks code against the pending secret (which must exist and be unexpired)
// and, when it matches, makes it the active secret in one conditional UPDATE: totp_secret is
// set, otp_enabled = true, otp_method = "totp", the pending fields are cleared and
// totp_last_step is set to the code's step (so the confirmation code cannot be replayed at
// login). Two concurrent confirmations cannot both succeed. A success deletes the principal's
// OTP failures (§6.1). Recovery codes, sessions and emails are the caller's business.
func ConfirmTOTPSetup(app core.App, cfg *config.Config, principal *core.Record, code string) (bool, error) {
	return confirmTOTPSetupAt(app, cfg, principal, code, time.Now())
}

func confirmTOTPSetupAt(app core.App, cfg *config.Config, principal *core.Record, code string, now time.Time) (bool, error) {
	fresh, err := totpCandidate(app, cfg, principal, code)
	if err != nil || fresh == nil {
		return false, err
	}
	sealed := fresh.GetString("totp_pending_secret")
	expires := fresh.GetDateTime("totp_pending_expires")
	if sealed == "" || expires.IsZero() || !expires.Time().After(now) {
		return false, nil
	}
	secret, err := cfg.Secret.Open(sealed)
	if err != nil {
		return false, err
	}
	step, ok := matchTOTP(string(secret), code, now, cfg.TOTPSkewSteps)
	if !ok {
		return false, nil
	}
	params := dbx.Params{
		"totp_secret":          sealed,
		"otp_enabled":          true,
		"otp_method":           MethodTOTP,
		"totp_pending_secret":  "",
		"totp_pending_expires": "",
		"totp_last_step":       step,
		"updated":              dbTime(now),
	}
	n, err := updateRow(app, principal.Collection().Name, params, dbx.And(
		dbx.HashExp{"id": principal.Id, "totp_pending_secret": sealed},
		dbx.NewExp("[[totp_pending_expires]] > {:now}", dbx.Params{"now": dbTime(now)}),
	))
	if err != nil || n != 1 {
		return false, err
	}
	setAll(principal, params)
	return true, ClearOTPFailures(app, principal)
}

// VerifyTOTP checks code against the principal's active totp_secret at the server clock. A code
// of the current step or of cfg.TOTPSkewSteps steps before/after is accepted, but only if its
// step is greater than totp_last_step: the step is stored with a conditional UPDATE
// (WHERE totp_last_step < step), so a code is accepted at most once even under concurrency and
// an older code is refused after a newer one (§6.2). The secret is decrypted in memory only.
// A principal without totp_secret never verifies. A success deletes the principal's OTP
// failures (§6.1); recording a failure is the caller's job (RecordOTPFailure).
func VerifyTOTP(app core.App, cfg *config.Config, principal *core.Record, code string) (bool, error) {
	return verifyTOTPAt(app, cfg, principal, code, time.Now())
}

func verifyTOTPAt(app core.App, cfg *config.Config, principal *core.Record, code string, now time.Time) (bool, error) {
	fresh, err := totpCandidate(app, cfg, principal, code)
	if err != nil || fresh == nil {
		return false, err
	}
	sealed := fresh.GetString("totp_secret")
	if sealed == "" {
		return false, nil
	}
	secret, err := cfg.Secret.Open(sealed)
	if err != nil {
		return false, err
	}
	step, ok := matchTOTP(string(secret), code, now, cfg.TOTPSkewSteps)
	if !ok || step <= int64(fresh.GetInt("totp_last_step")) {
		return false, nil
	}
	n, err := exec(app,
		"UPDATE {{"+principal.Collection().Name+"}} SET [[totp_last_step]] = {:step} WHERE [[id]] = {:id} AND [[totp_last_step]] < {:step}",
		dbx.Params{"step": step, "id": principal.Id})
	if err != nil || n != 1 {
		return false, err
	}
	principal.Set("totp_last_step", step)
	return true, ClearOTPFailures(app, principal)
}

// matchTOTP returns the largest time step within now ± skew steps whose code equals code.
// Every candidate is computed and compared in constant time.
func matchTOTP(secret, code string, now time.Time, skew uint) (int64, bool) {
	current := now.Unix() / TOTPPeriod
	var best int64
	found := false
	for off := -int64(skew); off <= int64(skew); off++ {
		step := current + off
		if step < 0 {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && (!found || step > best) {
			best, found = step, true
		}
	}
	return best, found
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// setAll mirrors an UPDATE's values on the in-memory record.
func setAll(r *core.Record, params dbx.Params) {
	for k, v := range params {
		r.Set(k, v)
	}
}

// totpCandidate is the common first step of a TOTP check: the server secret is configured, the
// principal is a staff user or an employee, the code has the right shape; it returns the
// principal's stored row (nil, nil when the code cannot match).
func totpCandidate(app core.App, cfg *config.Config, principal *core.Record, code string) (*core.Record, error) {
	if cfg.Secret == nil {
		return nil, ErrNoSecretKey
	}
	if _, err := PrincipalType(principal); err != nil {
		return nil, err
	}
	if !isDigits(code, TOTPDigits) {
		return nil, nil
	}
	return app.FindRecordById(principal.Collection().Name, principal.Id)
}
