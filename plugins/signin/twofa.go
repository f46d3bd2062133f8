package signin

import (
	"errors"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/tokens"
)

// The 2FA management endpoints of §5.7 (employees: §5.12.12–§5.12.14): enable (start and confirm), disable, the public
// and the authenticated email-code requests, and verify-disable-otp. The login branches
// (OtpChallenge, one-step otp_code, verify-otp) are in login.go and login_2fa.go.

const (
	msgTwoFAInvalidPassword   = "Invalid password"
	msgTwoFANotEnabled        = "2FA is not enabled for this account"
	msgTwoFAEitherCode        = "Provide either otp_code or recovery_code, not both."
	msgTwoFANoEmailCodes      = "Email codes are not available for this account's 2FA method."
	detailTwoFAAlreadyEnabled = "2FA is already enabled for this account."
	detailOTPRequired         = "An OTP code is required."
	msgTwoFAEnabled           = "2FA enabled successfully"
	msgTwoFADisabled          = "2FA disabled successfully"
	msgTwoFAVerified          = "Credentials verified successfully"
	msgManageOTPSent          = "OTP sent to your email address"
	msgLoginOTPMaybeSent      = "If the credentials are valid and email two-factor authentication is enabled, a verification code has been sent."
	methodRecoveryCode        = "recovery_code"
)

func otpRequired() *apikit.Error {
	return apikit.NewError(http.StatusBadRequest, apikit.CodeOTPRequired, detailOTPRequired)
}

// twoFAQueue queues an email in the transaction of the change that causes it.
func (p *Flows) twoFAQueue(tx core.App, to, template string, data map[string]any) error {
	_, err := p.mailer.Queue(tx, to, template, data)
	return err
}

// twoFACheckPassword is step 1 of §5.7.1, §5.7.2 and §5.7.5: the caller's current password.
// While the account is locked the answer is "Invalid password" without comparing (§6.1 item
// 3). A wrong or refused password is recorded as a password failure of the account (it may
// start a lock); a right one restarts the account's lockout counter and its email's CAPTCHA
// counter, like every successful password verification (§6.1).
func (p *Flows) twoFACheckPassword(e *core.RequestEvent, user *core.Record, password string) error {
	ok, _, err := p.CheckCurrentPassword(e, user, password)
	if err != nil {
		return err
	}
	if !ok {
		return apikit.InvalidField("password", msgTwoFAInvalidPassword)
	}
	return nil
}

// readOTPField reads an optional 6-digit otp_code: "" and null are absent.
func readOTPField(body *apikit.Body) string {
	code, _ := body.String("otp_code", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	if code != "" && !body.Errors.Has("otp_code") && !sixDigits.MatchString(code) {
		body.Errors.Add("otp_code", msgOTPFormat)
		return ""
	}
	return code
}

// ---------------------------------------------------------------------------------------------
// POST /api/v1/users/2fa/enable/ (§5.7.1, §6.11)

type twoFAPendingTOTP struct {
	Status     string `json:"status"`
	Method     string `json:"method"`
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
	QRCode     string `json:"qr_code"`
	ExpiresIn  int    `json:"expires_in"`
}

type twoFAPendingEmail struct {
	Status    string `json:"status"`
	Method    string `json:"method"`
	ExpiresIn int    `json:"expires_in"`
}

type twoFAEnabled struct {
	Status        string   `json:"status"`
	Method        string   `json:"method"`
	Message       string   `json:"message"`
	RecoveryCodes []string `json:"recovery_codes"`
}

func (p *Flows) Enable2FA(e *core.RequestEvent) error {
	caller, err := p.Caller(e)
	if err != nil {
		return err
	}
	user := caller.Record
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	password, _ := body.String("password", apikit.Str{Required: true, Raw: true})
	method, _ := body.String("method", apikit.Str{Nullable: true, Choices: []string{secondfactor.MethodTOTP, secondfactor.MethodEmail}})
	if method == "" {
		method = secondfactor.MethodTOTP
	}
	code := readOTPField(body)
	if err := body.Err(); err != nil {
		return err
	}

	if err := p.twoFACheckPassword(e, user, password); err != nil {
		return err
	}
	if user.GetBool("otp_enabled") {
		return apikit.Conflict(detailTwoFAAlreadyEnabled)
	}
	if code == "" {
		return p.startTwoFASetup(e, user, method)
	}
	return p.confirmTwoFASetup(e, caller, method, code)
}

// startTwoFASetup is step 3 of §5.7.1: a pending TOTP secret (replacing any earlier one), or an
// emailed setup code (not re-sent within the 60 s cooldown of a live one; the answer is the
// same).
func (p *Flows) startTwoFASetup(e *core.RequestEvent, user *core.Record, method string) error {
	if method == secondfactor.MethodEmail {
		if err := p.sendEmailCodeAudited(e, user, secondfactor.PurposeSetup); err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, twoFAPendingEmail{
			Status: "pending", Method: method, ExpiresIn: int(p.cfg.EmailOTPTTL.Seconds()),
		})
	}
	issuer := totpIssuer(e.App)
	secret, _, _, err := secondfactor.BeginTOTPSetup(e.App, p.cfg, user, issuer, user.Email())
	if err != nil {
		return err
	}
	otpauth := otpauthURL(issuer, user.Email(), secret)
	qr, err := qrDataURL(otpauth)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, twoFAPendingTOTP{
		Status: "pending", Method: method, Secret: secret, OTPAuthURL: otpauth, QRCode: qr,
		ExpiresIn: int(p.cfg.TOTPPendingTTL.Seconds()),
	})
}

// errTwoFAConflict ends the confirmation transaction when 2FA got enabled concurrently.
var errTwoFAConflict = errors.New("accounts: 2FA already enabled")

// confirmTwoFASetup is step 4 of §5.7.1: the code must match the pending setup of method. On
// success, in one transaction: the method is enabled, 10 new recovery codes replace the old
// ones, every other session of the user is revoked (security_change), the 2fa_enabled email is
// queued and 2fa.enabled audited. A missing, expired or wrong setup is 400 otp_invalid and an
// OTP failure.
func (p *Flows) confirmTwoFASetup(e *core.RequestEvent, caller *apikit.Caller, method, code string) error {
	user := caller.Record
	var right bool
	var codes []string
	err := e.App.RunInTransaction(func(tx core.App) error {
		right, codes = false, nil
		fresh, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return err
		}
		if fresh.GetBool("otp_enabled") {
			return errTwoFAConflict
		}
		switch method {
		case secondfactor.MethodTOTP:
			right, err = secondfactor.ConfirmTOTPSetup(tx, p.cfg, fresh, code)
		case secondfactor.MethodEmail:
			right, err = secondfactor.VerifyEmailCode(tx, p.cfg, p.realm.Type, user.Id, secondfactor.PurposeSetup, code)
			if err == nil && right {
				err = secondfactor.EnableEmailMethod(tx, fresh)
			}
		}
		if err != nil || !right {
			return err // a wrong code commits its attempt count (email setup codes die after 5)
		}
		if codes, err = secondfactor.GenerateRecoveryCodes(tx, p.cfg, p.realm.Type, user.Id); err != nil {
			return err
		}
		if _, err := tokens.RevokeSessions(tx, p.realm.Type, user.Id, tokens.ReasonSecurityChange, caller.SessionID); err != nil {
			return err
		}
		if err := p.twoFAQueue(tx, fresh.Email(), mailer.Template2FAEnabled, map[string]any{"method": method}); err != nil {
			return err
		}
		return audit.Log(tx, p.twoFAAuditEntry(e, user, "2fa.enabled", method))
	})
	if errors.Is(err, errTwoFAConflict) {
		return apikit.Conflict(detailTwoFAAlreadyEnabled)
	}
	if err != nil {
		return err
	}
	if !right {
		return p.wrongOTP(e, user, method)
	}
	return apikit.WriteJSON(e, http.StatusOK, twoFAEnabled{
		Status: "enabled", Method: method, Message: msgTwoFAEnabled, RecoveryCodes: codes,
	})
}

// ---------------------------------------------------------------------------------------------
// POST /api/v1/users/2fa/disable/ (§5.7.2) and POST /api/v1/users/verify-disable-otp/ (§5.7.5)

type twoFACodeRequest struct {
	password, otpCode, recoveryCode string
}

// readTwoFACodeRequest binds password, otp_code and (when recovery codes are accepted)
// recovery_code. Only the types, the required password and the otp_code format are checked
// here; the rest follows the endpoint's numbered checks.
func readTwoFACodeRequest(e *core.RequestEvent, withRecovery bool) (twoFACodeRequest, error) {
	var req twoFACodeRequest
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return req, err
	}
	req.password, _ = body.String("password", apikit.Str{Required: true, Raw: true})
	req.otpCode = readOTPField(body)
	if withRecovery {
		req.recoveryCode, _ = body.String("recovery_code", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	}
	return req, body.Err()
}

// twoFACodeStep is the shared start of 2fa/disable and verify-disable-otp: the caller, its
// code request (withRecovery: recovery_code accepted) and the preconditions, in that order.
// On success a second-factor step of the caller has begun: the caller ends it (defer end())
// once the code's outcome is written.
func (p *Flows) twoFACodeStep(e *core.RequestEvent, withRecovery bool) (*apikit.Caller, twoFACodeRequest, func(), error) {
	caller, err := p.Caller(e)
	if err != nil {
		return nil, twoFACodeRequest{}, nil, err
	}
	req, err := readTwoFACodeRequest(e, withRecovery)
	if err != nil {
		return nil, twoFACodeRequest{}, nil, err
	}
	end, err := p.checkTwoFAPreconditions(e, caller.Record, req)
	if err != nil {
		return nil, twoFACodeRequest{}, nil, err
	}
	return caller, req, end, nil
}

// checkTwoFAPreconditions runs steps 1–4 of §5.7.2: password, 2FA enabled, second-factor
// lock, exactly one code. The second-factor step begins before the lock is read (not during
// the password's bcrypt) and is ended here when a later precondition fails.
func (p *Flows) checkTwoFAPreconditions(e *core.RequestEvent, user *core.Record, req twoFACodeRequest) (end func(), err error) {
	if err := p.twoFACheckPassword(e, user, req.password); err != nil {
		return nil, err
	}
	if !user.GetBool("otp_enabled") {
		return nil, apikit.InvalidField("non_field_errors", msgTwoFANotEnabled)
	}
	end, err = p.beginSecondFactor(e, user)
	if err != nil {
		return nil, err
	}
	if err := p.checkLockAndCode(e, user, req); err != nil {
		end()
		return nil, err
	}
	return end, nil
}

// checkLockAndCode is steps 3–4 of §5.7.2: the second-factor lock, then exactly one code.
func (p *Flows) checkLockAndCode(e *core.RequestEvent, user *core.Record, req twoFACodeRequest) error {
	locked, err := secondfactor.MFALocked(e.App, p.cfg, user)
	if err != nil {
		return err
	}
	if locked {
		return mfaLocked()
	}
	switch {
	case req.otpCode == "" && req.recoveryCode == "":
		return otpRequired()
	case req.otpCode != "" && req.recoveryCode != "":
		return apikit.InvalidField("non_field_errors", msgTwoFAEitherCode)
	}
	return nil
}

func (p *Flows) Disable2FA(e *core.RequestEvent) error {
	caller, req, end, err := p.twoFACodeStep(e, true)
	if err != nil {
		return err
	}
	defer end()
	user := caller.Record

	method := user.GetString("otp_method")
	if req.recoveryCode != "" {
		method = methodRecoveryCode
	}
	var right bool
	err = e.App.RunInTransaction(func(tx core.App) error {
		right = false
		var err error
		if req.recoveryCode != "" {
			right, _, err = secondfactor.UseRecoveryCode(tx, p.realm.Type, user.Id, req.recoveryCode)
		} else {
			right, err = p.checkOTP(tx, user, method, secondfactor.PurposeManage, req.otpCode)
		}
		if err != nil || !right {
			return err // a wrong email code commits its attempt count
		}
		fresh, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return err
		}
		if err := secondfactor.Disable(tx, fresh); err != nil {
			return err
		}
		if _, err := tokens.RevokeSessions(tx, p.realm.Type, user.Id, tokens.ReasonSecurityChange, caller.SessionID); err != nil {
			return err
		}
		if err := p.twoFAQueue(tx, fresh.Email(), mailer.Template2FADisabled, map[string]any{"time_utc": time.Now().UTC()}); err != nil {
			return err
		}
		if method == methodRecoveryCode {
			// Disabling deletes the remaining codes: none is left.
			if err := p.twoFAQueue(tx, fresh.Email(), mailer.TemplateRecoveryCodeUsed, map[string]any{"remaining": "0"}); err != nil {
				return err
			}
			if err := audit.Log(tx, p.twoFAAuditEntry(e, user, "mfa.recovery_code_used", method)); err != nil {
				return err
			}
		}
		return audit.Log(tx, p.twoFAAuditEntry(e, user, "2fa.disabled", method))
	})
	if err != nil {
		return err
	}
	if !right {
		return p.wrongOTP(e, user, method)
	}
	return apikit.WriteJSON(e, http.StatusOK, map[string]string{"message": msgTwoFADisabled})
}

// verifyDisableOTP checks password and code exactly like 2fa/disable (without recovery codes)
// and spends the code; 2FA stays enabled.
func (p *Flows) VerifyDisableOTP(e *core.RequestEvent) error {
	caller, req, end, err := p.twoFACodeStep(e, false)
	if err != nil {
		return err
	}
	defer end()
	user := caller.Record
	method := user.GetString("otp_method")
	// the code is spent with its audit row, in one transaction
	right := false
	err = e.App.RunInTransaction(func(tx core.App) error {
		var err error
		right, err = p.checkOTP(tx, user, method, secondfactor.PurposeManage, req.otpCode)
		if err != nil || !right {
			return err // (a wrong code commits what checking it wrote: its attempt count)
		}
		return audit.Log(tx, p.twoFAAuditEntry(e, user, "2fa.verify", method))
	})
	if err != nil {
		return err
	}
	if !right {
		return p.wrongOTP(e, user, method)
	}
	return apikit.WriteJSON(e, http.StatusOK, struct {
		Message  string `json:"message"`
		Verified bool   `json:"verified"`
	}{msgTwoFAVerified, true})
}

// OwnAccountEntry is the audit entry of a principal acting on their own account.
func (p *Flows) OwnAccountEntry(e *core.RequestEvent, event string, success bool, userID string, details map[string]any) audit.Entry {
	entry := audit.FromRequest(e, event, success)
	entry.ActorType, entry.ActorID = p.realm.Type, userID
	entry.TargetType, entry.TargetID = p.realm.Noun, userID
	entry.Details = details
	return entry
}

func (p *Flows) twoFAAuditEntry(e *core.RequestEvent, user *core.Record, event, method string) audit.Entry {
	return p.OwnAccountEntry(e, event, true, user.Id, map[string]any{"method": method})
}

// sendEmailCodeAudited is sendEmailCode with its otp.requested audit row, in one transaction.
func (p *Flows) sendEmailCodeAudited(e *core.RequestEvent, user *core.Record, purpose string) error {
	return e.App.RunInTransaction(func(tx core.App) error {
		if err := p.sendEmailCode(tx, user, purpose); err != nil {
			return err
		}
		return audit.Log(tx, p.OwnAccountEntry(e, "otp.requested", true, user.Id, map[string]any{"purpose": purpose}))
	})
}

// ---------------------------------------------------------------------------------------------
// POST /api/v1/users/2fa/request-otp/ (§5.7.3) and .../request-otp-authenticated/ (§5.7.4)

type otpSentJSON struct {
	Message          string `json:"message"`
	ExpiresInMinutes int    `json:"expires_in_minutes"`
}

// requestLoginOTP resends the login code of an email-2FA account. The CAPTCHA gate and the
// password check are those of login (§5.1.2 steps 2–5: dummy hash for unknown accounts,
// failures recorded, lockout); whatever the outcome past validation and the CAPTCHA gate, the
// answer is the same.
func (p *Flows) RequestLoginOTP(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	var req loginRequest
	req.email, _ = body.Email("email", true)
	req.password, _ = body.String("password", apikit.Str{Required: true, Raw: true})
	req.captchaID, _ = body.String("captcha_id", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	req.captchaAnswer, _ = body.String("captcha_answer", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	if err := body.Err(); err != nil {
		return err
	}
	check, err := p.checkLoginPassword(e, req)
	if err != nil {
		return err
	}
	// the same answer whatever the outcome, also for an employee not (yet) approved
	user := check.user
	if !check.failed && check.gate == nil && user.GetBool("otp_enabled") && user.GetString("otp_method") == secondfactor.MethodEmail {
		if err := p.sendEmailCodeAudited(e, user, secondfactor.PurposeLogin); err != nil {
			return err
		}
	}
	return apikit.WriteJSON(e, http.StatusOK, otpSentJSON{
		Message: msgLoginOTPMaybeSent, ExpiresInMinutes: int(p.cfg.EmailOTPTTL.Minutes()),
	})
}

// requestManageOTP emails a `manage` code to the caller (needed to disable the email method).
// Within 60 s of a live manage code nothing is sent and the answer is the same (§6.2).
func (p *Flows) RequestManageOTP(e *core.RequestEvent) error {
	caller, err := p.Caller(e)
	if err != nil {
		return err
	}
	user := caller.Record
	switch {
	case !user.GetBool("otp_enabled"):
		return apikit.InvalidField("non_field_errors", msgTwoFANotEnabled)
	case user.GetString("otp_method") != secondfactor.MethodEmail:
		return apikit.InvalidField("non_field_errors", msgTwoFANoEmailCodes)
	}
	if err := p.sendEmailCodeAudited(e, user, secondfactor.PurposeManage); err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, otpSentJSON{
		Message: msgManageOTPSent, ExpiresInMinutes: int(p.cfg.EmailOTPTTL.Minutes()),
	})
}
