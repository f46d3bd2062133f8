package accounts

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

// The bot-defence steps of §6.1 as the staff endpoints use them: the CAPTCHA gate, the
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
func (p *plugin) captchaGate(e *core.RequestEvent, required bool, id, answer string) error {
	if !required {
		return nil
	}
	if id == "" {
		p.auditCaptchaFailure(e, "missing")
		return captchaRequired(detailCaptchaRequired)
	}
	ok, err := captcha.Satisfy(e.App, p.cfg, id, answer)
	if err != nil {
		return err
	}
	if !ok {
		p.auditCaptchaFailure(e, "invalid")
		return captchaRequired(detailCaptchaInvalid)
	}
	return nil
}

func (p *plugin) auditCaptchaFailure(e *core.RequestEvent, reason string) {
	entry := audit.FromRequest(e, "captcha.failure", false)
	entry.Details = map[string]any{"reason": reason}
	_ = audit.Log(e.App, entry)
}

// loginCaptchaGate: the email state or the IP state requires the CAPTCHA (§6.1).
func (p *plugin) loginCaptchaGate(e *core.RequestEvent, req loginRequest) error {
	required, err := captcha.Required(e.App, p.cfg, req.email, e.RealIP())
	if err != nil {
		return err
	}
	return p.captchaGate(e, required, req.captchaID, req.captchaAnswer)
}

// registrationCaptchaGate: only the client IP's state counts for registration (§6.1). It runs
// before validation, so validation messages cannot be used to probe for taken values.
func (p *plugin) registrationCaptchaGate(e *core.RequestEvent, body *apikit.Body) error {
	required, err := captcha.RequiredForIP(e.App, p.cfg, e.RealIP())
	if err != nil || !required {
		return err
	}
	id, _ := body.String("captcha_id", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	answer, _ := body.String("captcha_answer", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	return p.captchaGate(e, true, id, answer)
}

// recordRegistrationProbe: a registration refused for a taken email, username or phone number
// counts as a password failure of the client IP only (empty email, no account).
func (p *plugin) recordRegistrationProbe(e *core.RequestEvent) error {
	_, err := captcha.RecordPasswordFailure(e.App, p.cfg, "", e.RealIP(), "", "")
	return err
}

// passwordFailed is §5.1.2 step 4: the failure row (which may start a lock) and the audit row.
func (p *plugin) passwordFailed(e *core.RequestEvent, email string, user *core.Record, reason string) error {
	auditFailure(e, email, user, reason)
	return p.recordPasswordFailure(e, email, user)
}

// recordProfilePasswordFailure: a wrong (or, while locked, refused) current password.
func (p *plugin) recordProfilePasswordFailure(e *core.RequestEvent, user *core.Record) error {
	return p.recordPasswordFailure(e, user.Email(), user)
}

// recordPasswordFailure stores a password failure; when it starts a lock the owner gets the
// account_locked email (once per lock) and the audit log login.locked.
func (p *plugin) recordPasswordFailure(e *core.RequestEvent, email string, user *core.Record) error {
	principalID := ""
	if user != nil {
		principalID = user.Id
	}
	started, err := captcha.RecordPasswordFailure(e.App, p.cfg, email, e.RealIP(), realm.TypeStaff, principalID)
	if err != nil || !started {
		return err
	}
	fresh, err := e.App.FindRecordById(realm.CollectionStaff, user.Id)
	if err != nil {
		return err
	}
	entry := audit.FromRequest(e, "login.locked", true)
	entry.TargetType, entry.TargetID = "user", user.Id
	_ = audit.Log(e.App, entry)
	_, err = mailer.For(e.App).Queue(e.App, fresh.Email(), mailer.TemplateAccountLocked, map[string]any{
		"lock_until_utc": profiles.Timestamp(fresh.GetDateTime("locked_until")), "ip": e.RealIP(),
	})
	return err
}

// passwordVerified is §5.1.2 step 5: the account's lockout counter and its email's CAPTCHA
// counter restart.
func (p *plugin) passwordVerified(e *core.RequestEvent, user *core.Record) error {
	return captcha.PasswordVerified(e.App, user)
}
