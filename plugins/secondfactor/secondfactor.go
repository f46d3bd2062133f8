// Package secondfactor implements the second-factor building blocks of spec/API.md §6.1–§6.2:
// TOTP (RFC 6238) with single use per time step, emailed one-time codes (otp_codes), recovery
// codes, pending second-factor challenges (mfa_challenges) and the second-factor lock
// (auth_failures rows of kind "otp").
//
// Every piece of state lives in the database; secrets are stored only as MACs, hashes or
// AES-GCM ciphertexts (cfg.Secret). Every check that must be single use under concurrency
// (a TOTP step, an email code, a recovery code, a challenge) is a conditional UPDATE whose
// affected-row count decides the winner.
//
// Principals are records of the auth collections `users` (principal type "staff") and
// `employees` (principal type "employee").
//
// Stale records: functions that change a principal's columns do it with a targeted UPDATE and
// then Set the same values on the *core.Record they were given, so a later app.Save of that
// record writes the same values back. A record loaded before the call and saved after it would
// still roll those columns back (PocketBase saves whole rows); reload it, or call
// IgnoreUnchangedFields(true) on it before saving.
package secondfactor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"gatehouse/plugins/realm"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Email-code purposes (§2.9).
const (
	PurposeLogin  = "login"
	PurposeManage = "manage"
	PurposeSetup  = "setup"
)

// Second-factor methods (users.otp_method, mfa_challenges.methods).
const (
	MethodTOTP  = "totp"
	MethodEmail = "email"
)

// Collection names.
const (
	colMFAChallenges = "mfa_challenges"
	colOTPCodes      = "otp_codes"
	colRecoveryCodes = "recovery_codes"
	colAuthFailures  = "auth_failures"
)

// ErrInvalidPrincipal is returned for a record that is not a users/employees record or an
// unknown principal type.
var ErrInvalidPrincipal = errors.New("secondfactor: not a staff user or employee")

// ErrInvalidPurpose is returned for an email-code purpose other than login, manage, setup.
var ErrInvalidPurpose = errors.New("secondfactor: invalid email code purpose")

// PrincipalType returns "staff" for a users record and "employee" for an employees record.
func PrincipalType(principal *core.Record) (string, error) {
	r, err := realm.Of(principal)
	if err != nil {
		return "", ErrInvalidPrincipal
	}
	return r.Type, nil
}

// FindPrincipal loads the users/employees record of a principal.
func FindPrincipal(app core.App, principalType, principalID string) (*core.Record, error) {
	r, err := realm.ByType(principalType)
	if err != nil {
		return nil, ErrInvalidPrincipal
	}
	return r.Find(app, principalID)
}

// relationField is the relation column of the principal in the per-principal collections.
func relationField(principalType string) (string, error) {
	r, err := realm.ByType(principalType)
	if err != nil {
		return "", ErrInvalidPrincipal
	}
	return r.Relation, nil
}

// principalExp matches the rows of one principal in otp_codes, recovery_codes, mfa_challenges:
// user_type plus both relation columns (the unused one empty), the prefix of the otp_codes index.
func principalExp(principalType, principalID string) (dbx.HashExp, error) {
	r, err := realm.ByType(principalType)
	if err != nil || principalID == "" {
		return nil, ErrInvalidPrincipal
	}
	exp := dbx.HashExp{"user_type": r.Type}
	for _, other := range realm.All {
		exp[other.Relation] = ""
	}
	exp[r.Relation] = principalID
	return exp, nil
}

// setPrincipal fills user_type and the relation column of a new per-principal row.
func setPrincipal(r *core.Record, principalType, principalID string) error {
	field, err := relationField(principalType)
	if err != nil {
		return err
	}
	if principalID == "" {
		return ErrInvalidPrincipal
	}
	r.Set("user_type", principalType)
	r.Set(field, principalID)
	return nil
}

// dbTime formats t like PocketBase stores date fields, so that SQL string comparisons order
// dates correctly ("2006-01-02 15:04:05.000Z", UTC).
func dbTime(t time.Time) string {
	return t.UTC().Format(types.DefaultDateLayout)
}

// sha256Hex is the hex SHA-256 of s.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// updateRow runs UPDATE table SET params WHERE where and returns the number of affected rows.
func updateRow(app core.App, table string, params dbx.Params, where dbx.Expression) (int64, error) {
	res, err := app.DB().Update(table, params, where).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// exec runs a raw statement with params and returns the number of affected rows.
func exec(app core.App, sql string, params dbx.Params) (int64, error) {
	res, err := app.DB().NewQuery(sql).Bind(params).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// count runs a SELECT COUNT(*) statement.
func count(app core.App, sql string, params dbx.Params) (int, error) {
	var n int
	if err := app.DB().NewQuery(sql).Bind(params).Row(&n); err != nil {
		return 0, fmt.Errorf("secondfactor: count: %w", err)
	}
	return n, nil
}
