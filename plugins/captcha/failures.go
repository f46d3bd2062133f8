package captcha

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/plugins/realm"
)

const (
	colAuthFailures = "auth_failures"
	kindPassword    = "password"
)

// ErrInvalidPrincipal is returned for an unknown principal type or a record that is not a
// users/employees record.
var ErrInvalidPrincipal = realm.ErrUnknown

// NormalizeEmail is the form in which emails are stored in and matched against auth_failures.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func countRows(app core.App, sql string, params dbx.Params) (int, error) {
	var n int
	if err := app.DB().NewQuery(sql).Bind(params).Row(&n); err != nil {
		return 0, fmt.Errorf("captcha: count: %w", err)
	}
	return n, nil
}

// RecordPasswordFailure stores a password failure (§6.1): an auth_failures row of kind
// "password" with the lower-cased email (empty for a rejected registration, which then counts
// toward the IP only), the client ip, the user type (may be empty) and the account id (empty
// when there is no account), occurred_at = now.
//
// For an existing account (principalID set) it then applies the password lockout and reports
// whether a lock started: when the account is not locked and has cfg.LockoutFailures password
// failures within cfg.LockoutWindow, counting only failures after the latest of
// lock_counter_reset_at (last successful password verification / last superuser unlock) and
// locked_until (the end of its last lock), locked_until is set to now + cfg.LockDuration. The
// lock is set with a compare-and-swap on the previous locked_until, so concurrent failures
// start it once; the caller sends the account_locked email and audits login.locked when
// lockStarted is true. Failures recorded while the account is locked are stored (they feed the
// CAPTCHA counters) but neither extend the lock nor count toward the next one.
func RecordPasswordFailure(app core.App, cfg *config.Config, email, ip, userType, principalID string) (lockStarted bool, err error) {
	if userType != "" && userType != realm.TypeStaff && userType != realm.TypeEmployee {
		return false, ErrInvalidPrincipal
	}
	now := time.Now()
	col, err := app.FindCachedCollectionByNameOrId(colAuthFailures)
	if err != nil {
		return false, err
	}
	row := core.NewRecord(col)
	row.Set("kind", kindPassword)
	row.Set("email", NormalizeEmail(email))
	row.Set("ip", ip)
	row.Set("user_type", userType)
	row.Set("principal_id", principalID)
	row.Set("occurred_at", dbTime(now))
	if err := app.Save(row); err != nil {
		return false, err
	}
	if principalID == "" {
		return false, nil
	}

	r, err := realm.ByType(userType)
	if err != nil {
		return false, err
	}
	table := r.Collection
	account, err := app.FindRecordById(table, principalID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // no such account: the row still counts for email and IP
	}
	if err != nil {
		return false, err
	}
	if IsLocked(account) {
		return false, nil
	}
	n, err := lockoutFailures(app, cfg, account, now)
	if err != nil {
		return false, err
	}
	if n < cfg.LockoutFailures {
		return false, nil
	}
	affected, err := updateRow(app, table,
		dbx.Params{"locked_until": dbTime(now.Add(cfg.LockDuration))},
		dbx.HashExp{"id": principalID, "locked_until": account.GetString("locked_until")})
	if err != nil {
		return false, err
	}
	return affected == 1, nil
}

// lockoutFailures counts the account's password failures toward its next lock (§6.1 item 1):
// within cfg.LockoutWindow, after the latest of lock_counter_reset_at (last successful
// password verification / last superuser unlock) and locked_until (the end of its last lock).
func lockoutFailures(app core.App, cfg *config.Config, account *core.Record, now time.Time) (int, error) {
	r, err := realm.Of(account)
	if err != nil {
		return 0, err
	}
	since := now.Add(-cfg.LockoutWindow)
	if reset := account.GetDateTime("lock_counter_reset_at"); !reset.IsZero() && reset.Time().After(since) {
		since = reset.Time()
	}
	if until := account.GetDateTime("locked_until"); !until.IsZero() && until.Time().After(since) {
		since = until.Time()
	}
	return countRows(app,
		"SELECT COUNT(*) FROM {{"+colAuthFailures+"}} WHERE [[user_type]] = {:type} AND [[principal_id]] = {:id} AND [[kind]] = 'password' AND [[occurred_at]] > {:since}",
		dbx.Params{"type": r.Type, "id": account.Id, "since": dbTime(since)})
}

// IsLocked reports whether the account's password step is locked: locked_until > now.
func IsLocked(principal *core.Record) bool {
	until := principal.GetDateTime("locked_until")
	return !until.IsZero() && until.Time().After(time.Now())
}

// Required reports whether a CAPTCHA is required for a login-type request (staff and
// employee login, 2fa/request-otp): the client IP is in the CAPTCHA state, or email is given
// and in the CAPTCHA state (§6.1).
func Required(app core.App, cfg *config.Config, email, ip string) (bool, error) {
	byIP, err := RequiredForIP(app, cfg, ip)
	if err != nil || byIP {
		return byIP, err
	}
	return RequiredForEmail(app, cfg, email)
}

// RequiredForIP reports the IP state of §6.1: at least cfg.CaptchaIPThreshold password
// failures from ip with occurred_at in the last cfg.CaptchaWindow (any email, including
// rejected registrations). Registration and forgot-password use this state only.
func RequiredForIP(app core.App, cfg *config.Config, ip string) (bool, error) {
	n, err := ipFailures(app, cfg, ip)
	return n >= cfg.CaptchaIPThreshold, err
}

// RequiredForEmail reports the email state of §6.1: at least cfg.CaptchaEmailThreshold
// password failures recorded with that (lower-cased) email in the last cfg.CaptchaWindow and
// after its last successful password verification (see PasswordVerified). The answer is the
// same for existing and unknown emails. An empty email is never in the CAPTCHA state.
func RequiredForEmail(app core.App, cfg *config.Config, email string) (bool, error) {
	email = NormalizeEmail(email)
	if email == "" {
		return false, nil
	}
	n, err := emailFailures(app, cfg, email)
	return n >= cfg.CaptchaEmailThreshold, err
}

// PasswordVerified is called after a successful password verification of principal (login
// step 5 of §5.1.2, and the current-password checks of authenticated endpoints). It resets
// the account's lockout counter (lock_counter_reset_at = now) and the CAPTCHA counter of the
// account's email: the email's earlier password failures stop counting toward the email
// state. The latter is done by blanking the email of those rows — they keep their ip,
// user_type, principal_id and occurred_at, so the IP state and the audit value of the rows are
// unchanged (like the rows of rejected registrations, they now count for the IP only).
func PasswordVerified(app core.App, principal *core.Record) error {
	if _, err := realm.Of(principal); err != nil {
		return err
	}
	now := dbTime(time.Now())
	return app.RunInTransaction(func(tx core.App) error {
		if _, err := updateRow(tx, principal.Collection().Name,
			dbx.Params{"lock_counter_reset_at": now}, dbx.HashExp{"id": principal.Id}); err != nil {
			return err
		}
		if email := NormalizeEmail(principal.GetString("email")); email != "" {
			if _, err := updateRow(tx, colAuthFailures, dbx.Params{"email": ""},
				dbx.HashExp{"email": email, "kind": kindPassword}); err != nil {
				return err
			}
		}
		principal.Set("lock_counter_reset_at", now)
		return nil
	})
}

// Unlock ends the account's password lock now and restarts its lockout counter
// (locked_until cleared, lock_counter_reset_at = now): a superuser's is_locked=false
// (§5.3.6) and a completed password reset (§6.1 item 4).
func Unlock(app core.App, principal *core.Record) error {
	if _, err := realm.Of(principal); err != nil {
		return err
	}
	params := dbx.Params{"locked_until": "", "lock_counter_reset_at": dbTime(time.Now())}
	if _, err := updateRow(app, principal.Collection().Name, params, dbx.HashExp{"id": principal.Id}); err != nil {
		return err
	}
	for k, v := range params {
		principal.Set(k, v)
	}
	return nil
}
