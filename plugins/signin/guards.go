package signin

import (
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
)

// The bot-defence steps of §6.1 as the sign-in endpoints use them: the CAPTCHA gate, the
// persisted password-failure counters with the account lockout, and their reset.

const (
	detailCaptchaRequired = "CAPTCHA verification required."
	detailCaptchaInvalid  = "Invalid or expired CAPTCHA."
)

func captchaRequired(detail string) *apikit.Error {
	return apikit.NewError(http.StatusBadRequest, apikit.CodeCaptchaRequired, detail)
}

// captchaGate is §5.1.2 step 2: when a CAPTCHA is required, the request must carry a solved
// redeemable challenge, or a challenge id with its one-shot answer. Failing it records no
// password failure.
func (p *Flows) captchaGate(e *core.RequestEvent, required bool, id, answer string) error {
	if !required {
		return nil
	}
	if id == "" {
		AuditCaptchaFailure(e, "missing")
		return captchaRequired(detailCaptchaRequired)
	}
	ok, err := captcha.Satisfy(e.App, p.cfg, id, answer)
	if err != nil {
		return err
	}
	if !ok {
		AuditCaptchaFailure(e, "invalid")
		return captchaRequired(detailCaptchaInvalid)
	}
	return nil
}

// AuditCaptchaFailure writes captcha.failure (a missing, wrong or expired CAPTCHA).
func AuditCaptchaFailure(e *core.RequestEvent, reason string) {
	entry := audit.FromRequest(e, "captcha.failure", false)
	entry.Details = map[string]any{"reason": reason}
	_ = audit.Log(e.App, entry)
}

// findAccountByEmail returns the account of col with that email, nil when there is none. A
// database error is an error (a 500 with nothing recorded), never an unknown account.
func findAccountByEmail(app core.App, col *core.Collection, email string) (*core.Record, error) {
	rec, err := app.FindAuthRecordByEmail(col, email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

// attemptError maps what captcha.Attempts.Admit refuses with: the CAPTCHA gate's answers pass
// through; a wait past its bound for concurrent attempts on the same email or IP is a 429.
func attemptError(err error) error {
	if errors.Is(err, captcha.ErrAttemptWaitTimeout) {
		return apikit.TooManyRequests(passwords.RetryAfterSeconds)
	}
	return err
}

// RegistrationCaptchaGate: only the client IP's state counts for registration (§6.1). It runs
// before validation, so validation messages cannot be used to probe for taken values. Like a
// login it takes a reservation on the IP (captcha.Attempts) that counts as a probe not written
// yet, so a burst of parallel registrations cannot all pass the IP threshold on the count read
// before any of them wrote its probe row: call done once the registration's outcome is written
// (its probe row, or its account), and when it ends without one. A registration that would need
// the CAPTCHA only if those still running turn out to be probes waits for them (429 past the
// pool's wait budget).
func (p *Flows) RegistrationCaptchaGate(e *core.RequestEvent, body *apikit.Body) (done func(), err error) {
	id, _ := body.String("captcha_id", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	answer, _ := body.String("captcha_answer", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	attempt, err := p.attempts.Admit(e.Request.Context(), e.App, p.cfg, captcha.AttemptRequest{
		IP: e.RealIP(), MaxWait: p.passwordPool().Wait(),
		SolveCaptcha: func() error { return p.captchaGate(e, true, id, answer) },
	})
	if err != nil {
		return func() {}, attemptError(err)
	}
	return attempt.Done, nil
}

// recordRegistrationProbe: a registration refused for a taken email, username or phone number
// counts as a password failure of the client IP only (empty email, no account).
func (p *Flows) RecordRegistrationProbe(e *core.RequestEvent) error {
	_, err := captcha.RecordPasswordFailure(e.App, p.cfg, "", e.RealIP(), "", "")
	return err
}

// passwordFailed is §5.1.2 step 4: the failure row (which may start a lock) and the audit row.
func (p *Flows) passwordFailed(e *core.RequestEvent, email string, user *core.Record, reason string) error {
	p.auditFailure(e, email, user, reason)
	return p.recordPasswordFailure(e, email, user)
}

// CheckCurrentPassword is the current-password check of the authenticated endpoints (password
// change, 2fa enable/disable, verify-disable-otp, the profile email change). It is admitted by
// the lockout counter like a login (captcha.Attempts, no CAPTCHA gate), so parallel wrong
// passwords cannot pass the lock threshold. While the account is locked the password is not
// compared (§6.1 item 3; a dummy comparison keeps the time). A wrong or refused password is
// recorded as a password failure (it may start a lock); a right one restarts the counters.
// locked reports the lock, for the caller's audit entry.
func (p *Flows) CheckCurrentPassword(e *core.RequestEvent, user *core.Record, password string) (ok, locked bool, err error) {
	pool := p.passwordPool()
	ctx := passwords.WaitingSince(e.Request.Context(), time.Now()) // one wait budget, as at login
	attempt, err := p.attempts.Admit(ctx, e.App, p.cfg, captcha.AttemptRequest{
		Email: user.Email(), IP: e.RealIP(), CaptchaExempt: true, MaxWait: pool.Wait(),
		Lookup: func() (*core.Record, error) { return e.App.FindRecordById(user.Collection(), user.Id) },
	})
	if err != nil {
		return false, false, attemptError(err)
	}
	defer attempt.Done()
	if attempt.Locked {
		if err := pool.VerifyDummy(ctx, user.Collection(), password); err != nil {
			return false, true, err
		}
	} else if ok, _, err = pool.Verify(ctx, attempt.Account, password); err != nil {
		return false, false, err // 429 from the bcrypt pool: no failure recorded (§7.2)
	}
	if !ok {
		return false, attempt.Locked, p.recordProfilePasswordFailure(e, attempt.Account)
	}
	if err := p.passwordVerified(e, attempt.Account); err != nil {
		return false, false, err
	}
	// The caller may save its copy of the account: it must carry the stored lock fields, and the
	// hash just proved (a password change compares it with the row in its transaction).
	for _, f := range []string{"locked_until", "lock_counter_reset_at"} {
		user.Set(f, attempt.Account.Get(f))
	}
	user.SetRaw(core.FieldNamePassword, attempt.Account.GetRaw(core.FieldNamePassword))
	user.Set(passwords.LegacyHashField, attempt.Account.GetString(passwords.LegacyHashField))
	return true, false, nil
}

// recordProfilePasswordFailure: a wrong (or, while locked, refused) current password.
func (p *Flows) recordProfilePasswordFailure(e *core.RequestEvent, user *core.Record) error {
	return p.recordPasswordFailure(e, user.Email(), user)
}

// recordPasswordFailure stores a password failure; when it starts a lock the owner gets the
// account_locked email (once per lock) and the audit log login.locked.
func (p *Flows) recordPasswordFailure(e *core.RequestEvent, email string, user *core.Record) error {
	principalID := ""
	if user != nil {
		principalID = user.Id
	}
	// the failure, the lock it starts, its audit row and its email: one transaction, so a lock is
	// never started without its (single) email
	return e.App.RunInTransaction(func(tx core.App) error {
		started, err := captcha.RecordPasswordFailure(tx, p.cfg, email, e.RealIP(), p.realm.Type, principalID)
		if err != nil || !started {
			return err
		}
		fresh, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return err
		}
		entry := audit.FromRequest(e, "login.locked", true)
		entry.TargetType, entry.TargetID = p.realm.Noun, user.Id
		if err := audit.Log(tx, entry); err != nil {
			return err
		}
		_, err = p.mailer.Queue(tx, fresh.Email(), mailer.TemplateAccountLocked, map[string]any{
			"lock_until_utc": profiles.Timestamp(fresh.GetDateTime("locked_until")), "ip": e.RealIP(),
		})
		return err
	})
}

// passwordVerified is §5.1.2 step 5: the account's lockout counter and its email's CAPTCHA
// counter restart.
func (p *Flows) passwordVerified(e *core.RequestEvent, user *core.Record) error {
	return captcha.PasswordVerified(e.App, user)
}
