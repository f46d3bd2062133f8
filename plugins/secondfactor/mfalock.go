package secondfactor

import (
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
)

// MFALockMemory is how long a second-factor lock is remembered for the doubling rule of §6.1:
// a lock starting less than this after the previous one doubles the window, and the window
// stays widened while the latest lock started less than this ago.
const MFALockMemory = 24 * time.Hour

const kindOTP = "otp"

// lockWindow returns the current window W of §6.1 for a fresh principal record:
// mfa_lock_window minutes while mfa_lock_started_at is less than MFALockMemory old, else
// cfg.MFALockWindow.
func lockWindow(cfg *config.Config, fresh *core.Record, now time.Time) time.Duration {
	started := fresh.GetDateTime("mfa_lock_started_at")
	minutes := fresh.GetInt("mfa_lock_window")
	if !started.IsZero() && minutes > 0 && now.Sub(started.Time()) < MFALockMemory {
		return time.Duration(minutes) * time.Minute
	}
	return cfg.MFALockWindow
}

// nextLockWindow is the window of a lock starting now: cfg.MFALockWindow, or twice the
// previous lock's window (capped at cfg.MFALockMaxWindow) when the previous lock started less
// than MFALockMemory ago.
func nextLockWindow(cfg *config.Config, fresh *core.Record, now time.Time) time.Duration {
	started := fresh.GetDateTime("mfa_lock_started_at")
	if started.IsZero() || now.Sub(started.Time()) >= MFALockMemory {
		return cfg.MFALockWindow
	}
	prev := time.Duration(fresh.GetInt("mfa_lock_window")) * time.Minute
	if prev < cfg.MFALockWindow {
		prev = cfg.MFALockWindow
	}
	next := 2 * prev
	if next > cfg.MFALockMaxWindow {
		next = cfg.MFALockMaxWindow
	}
	return next
}

func windowMinutes(d time.Duration) int {
	m := int(d / time.Minute)
	if m < 1 {
		m = 1
	}
	return m
}

// countOTPFailures counts the principal's OTP failures with occurred_at after since
// (index user_type, principal_id, kind, occurred_at).
func countOTPFailures(app core.App, principalType, principalID string, since time.Time) (int, error) {
	return count(app,
		"SELECT COUNT(*) FROM {{"+colAuthFailures+"}} WHERE [[user_type]] = {:type} AND [[principal_id]] = {:id} AND [[kind]] = 'otp' AND [[occurred_at]] > {:since}",
		dbx.Params{"type": principalType, "id": principalID, "since": dbTime(since)})
}

// MFALocked reports whether the principal's second-factor step is locked (§6.1): at least
// cfg.MFALockFailures OTP failures with occurred_at inside the current window W (sliding).
// W is mfa_lock_window minutes while mfa_lock_started_at is less than 24 h old, else
// cfg.MFALockWindow. The lock therefore ends by itself as the failures age out of W, or when
// a successful code verification deletes them. Callers answer 403 account_locked before
// checking any code.
func MFALocked(app core.App, cfg *config.Config, principal *core.Record) (bool, error) {
	principalType, err := PrincipalType(principal)
	if err != nil {
		return false, err
	}
	fresh, err := app.FindRecordById(principal.Collection().Name, principal.Id)
	if err != nil {
		return false, err
	}
	now := time.Now()
	n, err := countOTPFailures(app, principalType, principal.Id, now.Add(-lockWindow(cfg, fresh, now)))
	if err != nil {
		return false, err
	}
	return n >= cfg.MFALockFailures, nil
}

// RecordOTPFailure stores an OTP failure (auth_failures row, kind "otp", with the principal's
// type, id and email and the client ip) and reports whether it started a second-factor lock:
// the principal was not locked before and this failure brings the count within W to
// cfg.MFALockFailures. When a lock starts, mfa_lock_started_at = now and mfa_lock_window =
// cfg.MFALockWindow, or twice the previous window (cap cfg.MFALockMaxWindow) if the previous
// lock started less than 24 h earlier; the caller then sends the mfa_locked email and writes
// the mfa.locked audit event (once per lock: lockStarted is true for exactly one call).
// windowMinutes is the window W in force after the call, in minutes.
func RecordOTPFailure(app core.App, cfg *config.Config, principal *core.Record, ip string) (lockStarted bool, windowMins int, err error) {
	principalType, err := PrincipalType(principal)
	if err != nil {
		return false, 0, err
	}
	table := principal.Collection().Name
	var newStarted string
	var newWindow int
	err = app.RunInTransaction(func(tx core.App) error {
		lockStarted, newStarted, newWindow = false, "", 0
		fresh, err := tx.FindRecordById(table, principal.Id)
		if err != nil {
			return err
		}
		now := time.Now()
		w := lockWindow(cfg, fresh, now)
		windowMins = windowMinutes(w)
		before, err := countOTPFailures(tx, principalType, principal.Id, now.Add(-w))
		if err != nil {
			return err
		}

		col, err := tx.FindCachedCollectionByNameOrId(colAuthFailures)
		if err != nil {
			return err
		}
		row := core.NewRecord(col)
		row.Set("kind", kindOTP)
		row.Set("email", strings.ToLower(strings.TrimSpace(fresh.GetString("email"))))
		row.Set("ip", ip)
		row.Set("user_type", principalType)
		row.Set("principal_id", principal.Id)
		row.Set("occurred_at", dbTime(now))
		if err := tx.Save(row); err != nil {
			return err
		}

		if before >= cfg.MFALockFailures || before+1 < cfg.MFALockFailures {
			return nil // already locked, or not there yet
		}
		next := windowMinutes(nextLockWindow(cfg, fresh, now))
		started := dbTime(now)
		// Compare-and-swap on the previous start so that one lock starts once.
		n, err := updateRow(tx, table,
			dbx.Params{"mfa_lock_started_at": started, "mfa_lock_window": next},
			dbx.HashExp{"id": principal.Id, "mfa_lock_started_at": fresh.GetString("mfa_lock_started_at")})
		if err != nil {
			return err
		}
		if n == 1 {
			lockStarted, newStarted, newWindow, windowMins = true, started, next, next
		}
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	if lockStarted {
		principal.Set("mfa_lock_started_at", newStarted)
		principal.Set("mfa_lock_window", newWindow)
	}
	return lockStarted, windowMins, nil
}

// ClearOTPFailures deletes the principal's OTP failures; a successful second-factor
// verification does this (§6.1) — VerifyTOTP, ConfirmTOTPSetup, VerifyEmailCode and
// UseRecoveryCode call it themselves. The lock history (mfa_lock_started_at/window) is kept.
func ClearOTPFailures(app core.App, principal *core.Record) error {
	principalType, err := PrincipalType(principal)
	if err != nil {
		return err
	}
	return clearOTPFailures(app, principalType, principal.Id)
}

func clearOTPFailures(app core.App, principalType, principalID string) error {
	_, err := app.DB().Delete(colAuthFailures, dbx.HashExp{
		"user_type": principalType, "principal_id": principalID, "kind": kindOTP,
	}).Execute()
	return err
}
