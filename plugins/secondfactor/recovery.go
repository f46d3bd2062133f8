package secondfactor

import (
	"crypto/rand"
	"crypto/subtle"
	"math/big"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
)

// RecoveryAlphabet is the character set of recovery codes (§2.10): A–Z without I and O, and
// 2–9 (32 characters).
const RecoveryAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// RecoveryCodeLength is the number of characters of a recovery code, without the hyphen.
const RecoveryCodeLength = 10

// GenerateRecoveryCodes deletes the principal's recovery codes and creates cfg.RecoveryCodeCount
// new ones (in one transaction). The codes are returned in the display format XXXXX-XXXXX,
// drawn uniformly from RecoveryAlphabet with crypto/rand; only the SHA-256 hex of the
// normalised code (upper-case, no hyphen) is stored.
func GenerateRecoveryCodes(app core.App, cfg *config.Config, principalType, principalID string) ([]string, error) {
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return nil, err
	}
	codes := make([]string, 0, cfg.RecoveryCodeCount)
	seen := make(map[string]bool, cfg.RecoveryCodeCount)
	for len(codes) < cfg.RecoveryCodeCount {
		raw, err := randomString(RecoveryAlphabet, RecoveryCodeLength)
		if err != nil {
			return nil, err
		}
		if seen[raw] {
			continue
		}
		seen[raw] = true
		codes = append(codes, raw[:5]+"-"+raw[5:])
	}
	err = app.RunInTransaction(func(tx core.App) error {
		if _, err := tx.DB().Delete(colRecoveryCodes, exp).Execute(); err != nil {
			return err
		}
		col, err := tx.FindCachedCollectionByNameOrId(colRecoveryCodes)
		if err != nil {
			return err
		}
		for _, c := range codes {
			r := core.NewRecord(col)
			if err := setPrincipal(r, principalType, principalID); err != nil {
				return err
			}
			r.Set("code_hash", sha256Hex(NormalizeRecoveryCode(c)))
			if err := tx.Save(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// NormalizeRecoveryCode upper-cases input and removes hyphens and white space.
func NormalizeRecoveryCode(input string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(input) {
		if r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// UseRecoveryCode spends one of the principal's unused recovery codes matching input (any case,
// with or without the hyphen). The hash is compared in constant time against each unused code
// and the code is spent with a conditional UPDATE (used_at set only if still unused), so a code
// works once even under concurrency. remaining is the number of unused codes afterwards (also
// on failure). A success deletes the principal's OTP failures (§6.1).
func UseRecoveryCode(app core.App, principalType, principalID, input string) (ok bool, remaining int, err error) {
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return false, 0, err
	}
	norm := NormalizeRecoveryCode(input)
	if len(norm) == RecoveryCodeLength && strings.Trim(norm, RecoveryAlphabet) == "" {
		rows, err := app.FindAllRecords(colRecoveryCodes, exp, dbx.HashExp{"used_at": ""})
		if err != nil {
			return false, 0, err
		}
		want := []byte(sha256Hex(norm))
		var match *core.Record
		for _, r := range rows {
			if subtle.ConstantTimeCompare(want, []byte(r.GetString("code_hash"))) == 1 {
				match = r
			}
		}
		if match != nil {
			n, err := updateRow(app, colRecoveryCodes, dbx.Params{"used_at": dbTime(time.Now())},
				dbx.HashExp{"id": match.Id, "used_at": ""})
			if err != nil {
				return false, 0, err
			}
			ok = n == 1
		}
	}
	remaining, err = CountRecoveryCodes(app, principalType, principalID)
	if err != nil {
		return false, 0, err
	}
	if ok {
		if err := clearOTPFailures(app, principalType, principalID); err != nil {
			return false, remaining, err
		}
	}
	return ok, remaining, nil
}

// CountRecoveryCodes returns the number of the principal's unused recovery codes.
func CountRecoveryCodes(app core.App, principalType, principalID string) (int, error) {
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return 0, err
	}
	n, err := app.CountRecords(colRecoveryCodes, exp, dbx.HashExp{"used_at": ""})
	return int(n), err
}

// DeleteRecoveryCodes deletes all of the principal's recovery codes (2FA disabled or
// re-enabled, §2.10).
func DeleteRecoveryCodes(app core.App, principalType, principalID string) error {
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		return err
	}
	_, err = app.DB().Delete(colRecoveryCodes, exp).Execute()
	return err
}

// randomString returns n characters drawn uniformly from alphabet with crypto/rand
// (rand.Int rejects out-of-range samples, so there is no modulo bias).
func randomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b), nil
}
