package signin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/tokens"
)

func mfaLocked() *apikit.Error {
	return apikit.NewError(http.StatusForbidden, apikit.CodeAccountLocked, detailMFALocked)
}

func otpInvalid() *apikit.Error {
	return apikit.NewError(http.StatusBadRequest, apikit.CodeOTPInvalid, detailOTPInvalid)
}

// beginSecondFactor starts a second-factor step of user (secondfactor.Steps): from the lock
// check to the written outcome, no other step of the account runs. A wait past its bound is a
// 429. The caller ends the step (defer end()).
func (p *Flows) beginSecondFactor(e *core.RequestEvent, user *core.Record) (end func(), err error) {
	end, err = p.steps.Begin(e.Request.Context(), p.realm.Type, user.Id)
	if errors.Is(err, secondfactor.ErrStepWaitTimeout) {
		return nil, apikit.TooManyRequests(passwords.RetryAfterSeconds)
	}
	return end, err
}

// secondFactorAtLogin is step 7 of §5.1.2 for an account with 2FA on.
func (p *Flows) secondFactorAtLogin(e *core.RequestEvent, user *core.Record, req loginRequest) error {
	end, err := p.beginSecondFactor(e, user)
	if err != nil {
		return err
	}
	defer end()
	locked, err := secondfactor.MFALocked(e.App, p.cfg, user)
	if err != nil {
		return err
	}
	if locked {
		// the password was right, the login fails all the same (§8.8 st. 71: every login
		// attempt writes its row)
		entry := audit.FromRequest(e, "login.failure", false)
		entry.TargetType, entry.TargetID = p.realm.Noun, user.Id
		entry.Details = map[string]any{"reason": failureLocked, "email": req.email, "step": "second_factor"}
		_ = audit.Log(e.App, entry)
		return mfaLocked()
	}
	method := user.GetString("otp_method")
	otpError := ""
	if req.otpCode != "" {
		err := p.completeLogin(e, user, loginMethodFor(method), func(tx core.App, fresh *core.Record) (bool, error) {
			if !sameSecondFactor(fresh, user) {
				return false, &twoFactorChanged{account: fresh}
			}
			right, err := p.checkOTP(tx, fresh, method, secondfactor.PurposeLogin, req.otpCode)
			if err != nil || !right {
				return false, err
			}
			if err := secondfactor.ClearOTPFailures(tx, fresh); err != nil {
				return false, err
			}
			return true, p.auditMFA(tx, e, fresh, "mfa.success", true, method)
		})
		if !errors.Is(err, errWrongCode) {
			return err
		}
		if err := p.otpFailed(e, user, method); err != nil {
			return err
		}
		otpError = detailOTPInvalid
	}

	token, jti, err := p.tokens.MintMFAPending(p.realm.Type, user.Id)
	if err != nil {
		return err
	}
	// the challenge, the login code and its email, and the audit row: all or nothing
	err = e.App.RunInTransaction(func(tx core.App) error {
		// the account as it is now: a password replaced, an account stopped or its 2FA changed
		// since the password was proved must not get a challenge (its code would start a session
		// with the old password, or with a second factor the account no longer has)
		fresh, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return apikit.NewError(http.StatusBadRequest, apikit.CodeInvalidCredentials, apikit.DetailInvalidCredentials)
		}
		if err := p.stillProved(fresh, user); err != nil {
			return err
		}
		if !sameSecondFactor(fresh, user) {
			return &twoFactorChanged{account: fresh}
		}
		if _, err := secondfactor.CreateChallenge(tx, p.cfg, p.realm.Type, user.Id, []string{method}, jti, e.RealIP()); err != nil {
			return err
		}
		if method == secondfactor.MethodEmail {
			// a live login code keeps working; resending is 2fa/request-otp's job (§5.1.2 step 7.3)
			live, err := secondfactor.HasLiveEmailCode(tx, p.cfg, p.realm.Type, user.Id, secondfactor.PurposeLogin)
			if err != nil {
				return err
			}
			if !live {
				if err := p.sendEmailCode(tx, user, secondfactor.PurposeLogin); err != nil {
					return err
				}
			}
		}
		entry := audit.FromRequest(e, "login.mfa_required", true)
		entry.ActorType, entry.ActorID = p.realm.Type, user.Id
		entry.Details = map[string]any{"method": method}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}

	return apikit.WriteJSON(e, http.StatusOK, otpChallenge{
		OTPRequired: true, TemporaryToken: token, Methods: []string{method},
		ExpiresIn: int(p.cfg.MFATokenTTL.Seconds()), Message: msgTwoFARequired, OTPError: otpError,
	})
}

// checkOTP verifies a 6-digit code with the account's method: a TOTP code, or the live email
// code of the given purpose (`login` for logins, `manage` for 2FA management; a code of
// another purpose never works, §6.2).
func (p *Flows) checkOTP(app core.App, user *core.Record, method, purpose, code string) (bool, error) {
	if method == secondfactor.MethodTOTP {
		return secondfactor.VerifyTOTP(app, p.cfg, user, code)
	}
	return secondfactor.VerifyEmailCode(app, p.cfg, p.realm.Type, user.Id, purpose, code)
}

// wrongOTP answers a wrong code: the failure is recorded (otpFailed), then 400 otp_invalid.
func (p *Flows) wrongOTP(e *core.RequestEvent, user *core.Record, method string) error {
	if err := p.otpFailed(e, user, method); err != nil {
		return err
	}
	return otpInvalid()
}

// otpFailed records an OTP failure (§6.1); when it starts a second-factor lock the owner gets the
// mfa_locked email and the audit log mfa.locked.
// The failure, its audit row, and the lock's email are one transaction: a lock is never started
// without its (single) email.
func (p *Flows) otpFailed(e *core.RequestEvent, user *core.Record, method string) error {
	return e.App.RunInTransaction(func(tx core.App) error {
		started, windowMinutes, err := secondfactor.RecordOTPFailure(tx, p.cfg, user, e.RealIP())
		if err != nil {
			return err
		}
		if err := p.auditMFA(tx, e, user, "mfa.failure", false, method); err != nil {
			return err
		}
		if !started {
			return nil
		}
		entry := audit.FromRequest(e, "mfa.locked", true)
		entry.TargetType, entry.TargetID = p.realm.Noun, user.Id
		entry.Details = map[string]any{"window_minutes": windowMinutes}
		if err := audit.Log(tx, entry); err != nil {
			return err
		}
		_, err = p.mailer.Queue(tx, user.Email(), mailer.TemplateMFALocked, map[string]any{
			"window_minutes": windowMinutes, "ip": e.RealIP(),
		})
		return err
	})
}

// sendEmailCode issues a code and queues its email in one transaction: a code that exists was
// sent (its 60 s resend cooldown never holds back a code nobody received).
func (p *Flows) sendEmailCode(app core.App, user *core.Record, purpose string) error {
	return app.RunInTransaction(func(tx core.App) error {
		code, throttled, err := secondfactor.IssueEmailCode(tx, p.cfg, p.realm.Type, user.Id, purpose)
		if err != nil || throttled {
			return err
		}
		_, err = p.mailer.Queue(tx, user.Email(), mailer.TemplateOTPCode, map[string]any{
			"code": code, // the mailer renders the validity from EMAIL_OTP TTL ("expires in 5 minutes")
		})
		return err
	})
}

func (p *Flows) auditMFA(app core.App, e *core.RequestEvent, user *core.Record, event string, success bool, method string) error {
	entry := audit.FromRequest(e, event, success)
	entry.ActorType, entry.ActorID = p.realm.Type, user.Id
	entry.Details = map[string]any{"method": method}
	return audit.Log(app, entry)
}

func loginMethodFor(method string) string {
	switch method {
	case secondfactor.MethodTOTP:
		return tokens.MethodPasswordTOTP
	case secondfactor.MethodEmail:
		return tokens.MethodPasswordEmail
	}
	return tokens.MethodPasswordRecoveryCode
}

// VerifyOTP is the second step of a login (§5.1.3; employees §5.12.15): the temporary token
// must be an mfa_pending token of this realm.
func (p *Flows) VerifyOTP(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	raw, _ := body.String("temporary_token", apikit.Str{Required: true, Raw: true})
	otpCode, _ := body.String("otp_code", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	recovery, _ := body.String("recovery_code", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	switch {
	case body.Errors.Has("otp_code") || body.Errors.Has("recovery_code"):
	case otpCode == "" && recovery == "":
		body.Errors.Add("otp_code", "Either otp_code or recovery_code is required.")
	case otpCode != "" && recovery != "":
		body.Errors.Add("non_field_errors", "Provide either otp_code or recovery_code, not both.")
	case otpCode != "" && !sixDigits.MatchString(otpCode):
		body.Errors.Add("otp_code", msgOTPFormat)
	}
	if err := body.Err(); err != nil {
		return err
	}

	c, err := p.tokens.Parse(raw)
	if err != nil || c.TokenType != tokens.TypeMFAPending || c.UserType != p.realm.Type {
		return apikit.TokenNotValid()
	}
	challenge, err := secondfactor.LoadChallenge(e.App, p.cfg, c.ID)
	if err != nil || challenge == nil {
		return apikit.TokenNotValid()
	}
	if pt, pid := secondfactor.ChallengePrincipal(challenge); pt != p.realm.Type || pid != c.Subject {
		return apikit.TokenNotValid()
	}
	user, err := e.App.FindRecordById(p.realm.Collection, c.Subject)
	if err != nil || !p.realm.MayAct(user) {
		return apikit.TokenNotValid()
	}
	end, err := p.beginSecondFactor(e, user)
	if err != nil {
		return err
	}
	defer end()
	locked, err := secondfactor.MFALocked(e.App, p.cfg, user)
	if err != nil {
		return err
	}
	if locked {
		entry := audit.FromRequest(e, "mfa.failure", false)
		entry.ActorType, entry.ActorID = p.realm.Type, user.Id
		entry.Details = map[string]any{"method": user.GetString("otp_method"), "reason": failureLocked}
		_ = audit.Log(e.App, entry)
		return mfaLocked()
	}

	// The code counts against the token before it is compared, so parallel codes cannot get
	// more than 5 compared (§6.2); a right code gives its count back when it consumes the token.
	if reserved, err := secondfactor.ReserveCode(e.App, p.cfg, challenge); err != nil || !reserved {
		if err != nil {
			return err
		}
		return apikit.TokenNotValid()
	}
	method := user.GetString("otp_method")
	if recovery != "" {
		method = "recovery_code"
	}
	// The code is checked and spent, the challenge consumed, and the session started in one
	// transaction: a login refused at the end (account deactivated, token raced) spends nothing.
	err = p.completeLogin(e, user, loginMethodFor(method), func(tx core.App, fresh *core.Record) (bool, error) {
		var right bool
		var err error
		remaining := -1
		if recovery != "" {
			right, remaining, err = secondfactor.UseRecoveryCode(tx, p.realm.Type, fresh.Id, recovery)
		} else {
			right, err = p.checkOTP(tx, fresh, method, secondfactor.PurposeLogin, otpCode)
		}
		if err != nil || !right {
			return false, err
		}
		if consumed, err := secondfactor.ConsumeChallenge(tx, p.cfg, challenge); err != nil || !consumed {
			return false, apikit.TokenNotValid()
		}
		if err := secondfactor.ClearOTPFailures(tx, fresh); err != nil {
			return false, err
		}
		if err := p.auditMFA(tx, e, fresh, "mfa.success", true, method); err != nil {
			return false, err
		}
		if remaining < 0 {
			return true, nil
		}
		if err := p.auditMFA(tx, e, fresh, "mfa.recovery_code_used", true, method); err != nil {
			return false, err
		}
		_, err = p.mailer.Queue(tx, fresh.Email(), mailer.TemplateRecoveryCodeUsed,
			map[string]any{"remaining": strconv.Itoa(remaining)})
		return true, err
	})
	if errors.Is(err, errWrongCode) {
		return p.wrongOTP(e, user, method)
	}
	var apiErr *apikit.Error
	if errors.As(err, &apiErr) && (apiErr.Code == apikit.CodeInvalidCredentials || apiErr.Status == http.StatusForbidden) {
		// the account stopped (deactivated, rejected, deleted) or its password was replaced
		// after the challenge was issued: the token's principal may no longer act, which
		// §5.1.3 step 1 answers 401 (the login's own answers belong to the login)
		return apikit.TokenNotValid()
	}
	return err
}

// errWrongCode is completeLogin's answer when the second factor's code was wrong: no session was
// started, and the caller records the failure (otpFailed) in a transaction of its own.
var errWrongCode = errors.New("signin: wrong second-factor code")
