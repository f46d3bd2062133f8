package secondfactor

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
)

// EmailCodeDigits is the length of an emailed code (§6.2).
const EmailCodeDigits = 6

// macPurposeOTP scopes the HMAC of email codes (config.Secret.MAC).
const macPurposeOTP = "otp"

func validPurpose(purpose string) bool {
	return purpose == PurposeLogin || purpose == PurposeManage || purpose == PurposeSetup
}

// emailCodeMACInput binds a code to its principal and purpose, so the MAC of A's code never
// equals the stored MAC of B's row, nor of another purpose's row.
func emailCodeMACInput(principalType, principalID, purpose, code string) string {
	return principalType + "\x00" + principalID + "\x00" + purpose + "\x00" + code
}

// liveCodeExp is the "live" condition of §2.9: unused, unexpired, fewer than max wrong attempts.
func liveCodeExp(cfg *config.Config, now time.Time) dbx.Expression {
	return dbx.NewExp("[[used_at]] = '' AND [[expires_at]] > {:now} AND [[attempts]] < {:max}",
		dbx.Params{"now": dbTime(now), "max": cfg.EmailOTPMaxAttempts})
}

// findLiveCode returns the newest live code of a principal and purpose, or nil.
func findLiveCode(app core.App, cfg *config.Config, principalType, principalID, purpose string, now time.Time) (*core.Record, error) {
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return nil, err
	}
	if !validPurpose(purpose) {
		return nil, ErrInvalidPurpose
	}
	rec := &core.Record{}
	err = app.RecordQuery(colOTPCodes).
		AndWhere(exp).
		AndWhere(dbx.HashExp{"purpose": purpose}).
		AndWhere(liveCodeExp(cfg, now)).
		OrderBy("created DESC", "rowid DESC").
		Limit(1).
		One(rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// HasLiveEmailCode reports whether the principal has a live code (unused, unexpired, fewer than
// cfg.EmailOTPMaxAttempts wrong attempts) for purpose. The login step uses it to email a login
// code only when none is live (§5.1.2 step 7.3).
func HasLiveEmailCode(app core.App, cfg *config.Config, principalType, principalID, purpose string) (bool, error) {
	rec, err := findLiveCode(app, cfg, principalType, principalID, purpose, time.Now())
	return rec != nil, err
}

// IssueEmailCode creates a new 6-digit code (uniform from crypto/rand, zero-padded) for the
// principal and purpose and returns it for the caller to email; only its HMAC is stored
// (cfg.Secret.MAC("otp", …) bound to principal and purpose), valid for cfg.EmailOTPTTL.
// Issuing marks every earlier unused code of the same principal and purpose as used (one live
// code, §2.9).
//
// Resend cooldown (§6.2): while a live code of the same principal and purpose was issued less
// than cfg.OTPResendCooldown ago, nothing is issued and throttled = true (code = ""). The issue
// instant of a code is measured as expires_at − cfg.EmailOTPTTL, so tests can move it through
// the editable expires_at (§1.15). Check, invalidation and creation run in one transaction.
func IssueEmailCode(app core.App, cfg *config.Config, principalType, principalID, purpose string) (code string, throttled bool, err error) {
	if cfg.Secret == nil {
		return "", false, ErrNoSecretKey
	}
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return "", false, err
	}
	if !validPurpose(purpose) {
		return "", false, ErrInvalidPurpose
	}
	code, err = randomDigits(EmailCodeDigits)
	if err != nil {
		return "", false, err
	}
	err = app.RunInTransaction(func(tx core.App) error {
		now := time.Now()
		live, err := findLiveCode(tx, cfg, principalType, principalID, purpose, now)
		if err != nil {
			return err
		}
		if live != nil {
			issued := live.GetDateTime("expires_at").Time().Add(-cfg.EmailOTPTTL)
			if now.Sub(issued) < cfg.OTPResendCooldown {
				throttled = true
				return nil
			}
		}
		if _, err := updateRow(tx, colOTPCodes, dbx.Params{"used_at": dbTime(now)},
			dbx.And(exp, dbx.HashExp{"purpose": purpose, "used_at": ""})); err != nil {
			return err
		}
		col, err := tx.FindCachedCollectionByNameOrId(colOTPCodes)
		if err != nil {
			return err
		}
		r := core.NewRecord(col)
		if err := setPrincipal(r, principalType, principalID); err != nil {
			return err
		}
		r.Set("purpose", purpose)
		r.Set("code_hash", cfg.Secret.MAC(macPurposeOTP, emailCodeMACInput(principalType, principalID, purpose, code)))
		r.Set("attempts", 0)
		r.Set("expires_at", dbTime(now.Add(cfg.EmailOTPTTL)))
		return tx.Save(r)
	})
	if err != nil || throttled {
		return "", throttled, err
	}
	return code, false, nil
}

// VerifyEmailCode checks code against the principal's live code for purpose (only that one).
// A wrong code adds one attempt atomically (the code dies at cfg.EmailOTPMaxAttempts); a right
// code is spent with a conditional UPDATE (used_at set only if still live), so it succeeds at
// most once under concurrency. The comparison is constant-time (EqualMAC). A success deletes
// the principal's OTP failures (§6.1); recording a failure is the caller's job.
func VerifyEmailCode(app core.App, cfg *config.Config, principalType, principalID, purpose, code string) (bool, error) {
	if cfg.Secret == nil {
		return false, ErrNoSecretKey
	}
	now := time.Now()
	live, err := findLiveCode(app, cfg, principalType, principalID, purpose, now)
	if err != nil || live == nil {
		return false, err
	}
	// The attempt counts before the comparison (so parallel guesses cannot get more than
	// cfg.EmailOTPMaxAttempts compared); a right code gives it back when it marks the code used.
	reserved, err := exec(app,
		"UPDATE {{"+colOTPCodes+"}} SET [[attempts]] = [[attempts]] + 1 WHERE [[id]] = {:id} AND [[used_at]] = '' AND [[attempts]] < {:max}",
		dbx.Params{"id": live.Id, "max": cfg.EmailOTPMaxAttempts})
	if err != nil || reserved != 1 {
		return false, err
	}
	input := emailCodeMACInput(principalType, principalID, purpose, code)
	if !cfg.Secret.EqualMAC(macPurposeOTP, input, live.GetString("code_hash")) {
		return false, nil
	}
	n, err := exec(app,
		"UPDATE {{"+colOTPCodes+"}} SET [[used_at]] = {:now}, [[attempts]] = [[attempts]] - 1 "+
			"WHERE [[id]] = {:id} AND [[used_at]] = '' AND [[expires_at]] > {:now}",
		dbx.Params{"id": live.Id, "now": dbTime(now)})
	if err != nil || n != 1 {
		return false, err
	}
	return true, clearOTPFailures(app, principalType, principalID)
}

// InvalidateEmailCodes marks the principal's unused codes as used: all purposes when none is
// given (password change, password reset and 2FA disable invalidate codes, §6.2).
func InvalidateEmailCodes(app core.App, principalType, principalID string, purposes ...string) error {
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return err
	}
	where := dbx.And(exp, dbx.HashExp{"used_at": ""})
	if len(purposes) > 0 {
		in := make([]any, 0, len(purposes))
		for _, p := range purposes {
			if !validPurpose(p) {
				return ErrInvalidPurpose
			}
			in = append(in, p)
		}
		where = dbx.And(where, dbx.In("purpose", in...))
	}
	_, err = updateRow(app, colOTPCodes, dbx.Params{"used_at": dbTime(time.Now())}, where)
	return err
}

// randomDigits returns n decimal digits, uniformly distributed, from crypto/rand.
func randomDigits(n int) (string, error) {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", n, v.Int64()), nil
}
