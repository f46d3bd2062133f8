package signin

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/tokens"
)

// tokenResponse is TokenResponse (§4.14).
type tokenResponse struct {
	Access      string                 `json:"access"`
	AccessHS256 string                 `json:"access_hs256,omitempty"`
	Refresh     string                 `json:"refresh"`
	TokenType   string                 `json:"token_type"`
	ExpiresIn   int                    `json:"expires_in"`
	User        profiles.LoginUserJSON `json:"user"`
	Redirect    profiles.RedirectJSON  `json:"redirect"`
}

// otpChallenge is OtpChallenge (§4.15).
type otpChallenge struct {
	OTPRequired    bool     `json:"otp_required"`
	TemporaryToken string   `json:"temporary_token"`
	Methods        []string `json:"methods"`
	ExpiresIn      int      `json:"expires_in"`
	Message        string   `json:"message"`
	OTPError       string   `json:"otp_error,omitempty"`
}

const (
	msgOTPFormat     = "OTP must be a 6-digit number."
	detailOTPInvalid = "Invalid or expired OTP code."
	detailMFALocked  = "Too many failed verification attempts. Try again later."
	msgTwoFARequired = "Two-factor authentication required."
	failureUnknown   = "unknown_account"
	failureBadPass   = "bad_password"
	failureLocked    = "locked"
	failureInactive  = "inactive"
)

var sixDigits = regexp.MustCompile(`^\d{6}$`)

type loginRequest struct {
	email, password, otpCode, captchaID, captchaAnswer string
}

func readLogin(e *core.RequestEvent) (loginRequest, error) {
	var req loginRequest
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return req, err
	}
	req.email, _ = body.Email("email", true)
	req.password, _ = body.String("password", apikit.Str{Required: true, Raw: true})
	req.otpCode, _ = body.String("otp_code", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	if req.otpCode != "" && !body.Errors.Has("otp_code") && !sixDigits.MatchString(req.otpCode) {
		body.Errors.Add("otp_code", msgOTPFormat)
	}
	req.captchaID, _ = body.String("captcha_id", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	req.captchaAnswer, _ = body.String("captcha_answer", apikit.Str{Raw: true, AllowBlank: true, Nullable: true})
	return req, body.Err()
}

// Login is the login protocol (§5.1.2; staff at /api/v1/users/login/, /api/v1/token/obtain/
// and /token/, employees at /api/v1/hdts/employees/api/login/, §5.12.4).
func (p *Flows) Login(e *core.RequestEvent) error {
	req, err := readLogin(e)
	if err != nil {
		return err
	}
	check, err := p.checkLoginPassword(e, req)
	if err != nil {
		return err
	}
	if check.failed {
		return apikit.NewError(http.StatusBadRequest, apikit.CodeInvalidCredentials, apikit.DetailInvalidCredentials)
	}
	if check.gate != nil {
		return check.gate
	}
	user := check.user
	if check.rehash {
		// the stored hash has another bcrypt cost than configured: re-hash now (§1.13)
		if err := p.rehash(e, user, req.password); err != nil {
			return err
		}
	}
	// Step 6 decides on the account as read before the comparison; the step's own transaction
	// reads it again, and a 2FA change committed meanwhile (enabled, disabled, another method)
	// sends the login through step 6 again with the account as it is now (at most twice).
	for range 2 {
		if user.GetBool("otp_enabled") {
			err = p.secondFactorAtLogin(e, user, req)
		} else {
			err = p.completeLogin(e, user, tokens.MethodPassword, nil)
		}
		var changed *twoFactorChanged
		if !errors.As(err, &changed) {
			return err
		}
		user = changed.account
	}
	return apikit.NewError(http.StatusBadRequest, apikit.CodeInvalidCredentials, apikit.DetailInvalidCredentials)
}

// twoFactorChanged is a login step's answer when the account's 2FA setting (otp_enabled or
// otp_method) is not the one the login chose its step by: account is the record as it is now,
// with the password the login proved (its other checks passed).
type twoFactorChanged struct{ account *core.Record }

func (*twoFactorChanged) Error() string { return "signin: the account's 2FA changed during the login" }

// sameSecondFactor reports whether fresh has the 2FA setting the login chose its step by.
func sameSecondFactor(fresh, user *core.Record) bool {
	return fresh.GetBool("otp_enabled") == user.GetBool("otp_enabled") &&
		fresh.GetString("otp_method") == user.GetString("otp_method")
}

// stillProved reports why fresh (the account as it is now, read in a login step's transaction)
// may not finish a login that proved its password against user: an error with the answer (a
// deactivation, rejection or password replacement committed meanwhile), or nil.
func (p *Flows) stillProved(fresh, user *core.Record) error {
	if reason, gate := p.spec.afterPassword(fresh); gate != nil {
		return gate
	} else if reason != "" || !p.realm.MayAct(fresh) || !SamePassword(fresh, user) {
		// (a password reset or change committed after the password was proved revoked every
		// session: the old password must not start a new one, §3.5)
		return apikit.NewError(http.StatusBadRequest, apikit.CodeInvalidCredentials, apikit.DetailInvalidCredentials)
	}
	return nil
}

// rehash stores a verified password again at the configured bcrypt cost (§1.13). The hash is
// computed (a bcrypt, ~250 ms) on a copy of the record read for the check, and only the
// password columns are written, in a transaction, to the row as it is now — and only while its
// hash is still the one just verified. A whole-record save of the copy would write back every
// column as it was before the comparison: a deactivation, a lock, a TOTP step or a 2FA change
// committed meanwhile would be undone, and a password changed meanwhile replaced by this one.
func (p *Flows) rehash(e *core.RequestEvent, user *core.Record, plain string) error {
	hashField := core.FieldNamePassword + ":hash"
	verified, verifiedLegacy := user.GetString(hashField), user.GetString(passwords.LegacyHashField)
	rehashed := user.Fresh()
	if err := p.pool.SetPassword(e.Request.Context(), rehashed, plain); err != nil {
		return err
	}
	return e.App.RunInTransaction(func(tx core.App) error {
		fresh, err := tx.FindRecordById(user.Collection(), user.Id)
		if err != nil {
			return err
		}
		if fresh.GetString(hashField) != verified || fresh.GetString(passwords.LegacyHashField) != verifiedLegacy {
			return nil // the password changed meanwhile: that one stays
		}
		fresh.SetRaw(core.FieldNamePassword, rehashed.GetRaw(core.FieldNamePassword))
		fresh.Set(passwords.LegacyHashField, rehashed.GetString(passwords.LegacyHashField))
		if err := tx.Save(fresh); err != nil {
			return err
		}
		// the login goes on with the hash it proved, as now stored (completeLogin compares it)
		user.SetRaw(core.FieldNamePassword, fresh.GetRaw(core.FieldNamePassword))
		user.Set(passwords.LegacyHashField, fresh.GetString(passwords.LegacyHashField))
		return nil
	})
}

// SamePassword reports whether stored still holds the password hash of proved (the record the
// password was verified against): a reset or change committed during the comparison replaced it.
func SamePassword(stored, proved *core.Record) bool {
	hashField := core.FieldNamePassword + ":hash"
	return stored.GetString(hashField) == proved.GetString(hashField) &&
		stored.GetString(passwords.LegacyHashField) == proved.GetString(passwords.LegacyHashField)
}

// checkLoginPassword is steps 2–5 of §5.1.2, shared by login and 2fa/request-otp. The attempt
// is first admitted by the CAPTCHA and lockout counters, counting the attempts still being
// compared (captcha.Attempts: the thresholds hold under parallel requests). Then exactly one
// bcrypt comparison (against a dummy hash when the email is unknown or the account locked, so
// timing reveals neither and a locked account is no oracle); an unknown account, a wrong
// password, a locked or an inactive account is a recorded failure (failed = true, same answer
// for all four); otherwise the counters restart. rehash reports a stored hash of another cost
// than configured. An account that may not sign in after proving its password is either a
// recorded failure (staff inactive) or has gate set (employee pending or rejected, §5.12.4).
func (p *Flows) checkLoginPassword(e *core.RequestEvent, req loginRequest) (passwordCheck, error) {
	email, password := req.email, req.password
	col, err := e.App.FindCachedCollectionByNameOrId(p.realm.Collection)
	if err != nil {
		return passwordCheck{}, err
	}
	// One wait budget (the pool's 5 s) from here to the start of the comparison: the wait for
	// other attempts on this account or IP, then for a bcrypt slot (§7.2, §8.4 item 84).
	pool := p.pool
	ctx := passwords.WaitingSince(e.Request.Context(), time.Now())
	attempt, err := p.attempts.Admit(ctx, e.App, p.cfg, captcha.AttemptRequest{
		Email: email, IP: e.RealIP(), MaxWait: pool.Wait(),
		Lookup: func() (*core.Record, error) { return findAccountByEmail(e.App, col, email) },
		SolveCaptcha: func() error {
			return p.captchaGate(e, true, req.captchaID, req.captchaAnswer)
		},
	})
	if err != nil {
		return passwordCheck{}, attemptError(err)
	}
	defer attempt.Done()
	check := passwordCheck{user: attempt.Account}

	ok := false
	if check.user == nil || attempt.Locked {
		if err := pool.VerifyDummy(ctx, col, password); err != nil {
			return passwordCheck{}, err
		}
	} else if ok, check.rehash, err = pool.Verify(ctx, check.user, password); err != nil {
		return passwordCheck{}, err
	}
	reason := ""
	switch {
	case check.user == nil:
		reason = failureUnknown
	case attempt.Locked:
		reason = failureLocked
	case !ok:
		reason = failureBadPass
	default:
		reason, check.gate = p.spec.afterPassword(check.user)
	}
	if reason != "" {
		return passwordCheck{user: check.user, failed: true}, p.passwordFailed(e, email, check.user, reason)
	}
	if check.gate != nil {
		// a Pending or Rejected employee proved the password: not a counted failure (§6.1), but
		// the password step failed all the same (Appendix C: login.failure, reason pending or
		// rejected)
		p.auditFailure(e, email, check.user, strings.ToLower(check.user.GetString("status")))
	}
	return check, p.passwordVerified(e, check.user)
}

// passwordCheck is the outcome of checkLoginPassword.
type passwordCheck struct {
	user   *core.Record // the account (nil for an unknown email)
	failed bool         // a recorded failure: answer invalid_credentials
	rehash bool         // the stored hash has another bcrypt cost than configured
	gate   error        // the password was right but the account may not sign in (§5.12.4)
}

// completeLogin is step 8 of §5.1.2: session, tokens, cookies, the realm's on-login writes.
// The account is read again in the session's transaction: user was read before the password's
// bcrypt (or the code's check), and a deactivation or rejection committed since must not get a
// session, tokens or cookies (§3.5, §5.12.4) — it gets the answer the login would give now; nor
// must a password replaced since.
// secondFactor, when not nil, checks the second factor's code and makes its writes (the code
// spent, the challenge consumed, failures cleared, their audit and email) in the same
// transaction, after that check and before the session: a login that does not end in a session
// spends nothing, and an error it returns rolls everything back and is the answer. A wrong code
// (false) commits what checking it wrote (an email code's attempt count) without a session, and
// completeLogin returns errWrongCode for the caller to record the failure.
func (p *Flows) completeLogin(e *core.RequestEvent, user *core.Record, method string, secondFactor func(tx core.App, fresh *core.Record) (bool, error)) error {
	var issued *tokens.Issued
	wrongCode := false
	err := e.App.RunInTransaction(func(tx core.App) error {
		fresh, err := tx.FindRecordById(p.realm.Collection, user.Id)
		if err != nil {
			return apikit.NewError(http.StatusBadRequest, apikit.CodeInvalidCredentials, apikit.DetailInvalidCredentials)
		}
		if err := p.stillProved(fresh, user); err != nil {
			return err
		}
		if secondFactor == nil && fresh.GetBool("otp_enabled") {
			// 2FA was turned on after the login chose the password-only step (§6.2)
			return &twoFactorChanged{account: fresh}
		}
		if secondFactor != nil {
			right, err := secondFactor(tx, fresh)
			if err != nil || !right {
				wrongCode = err == nil
				return err
			}
		}
		user = fresh
		issued, err = p.tokens.StartSession(tx, p.realm.Type, user, method, e.RealIP(), e.Request.UserAgent())
		if err != nil {
			return err
		}
		if err := p.spec.onLogin(tx, user, time.Now().UTC().Format("2006-01-02 15:04:05.000Z")); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "login.success", true)
		entry.ActorType, entry.ActorID = p.realm.Type, user.Id
		entry.TargetType, entry.TargetID = "session", issued.SessionID
		entry.Details = map[string]any{"method": method}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	if wrongCode {
		return errWrongCode
	}
	p.tokens.SetCookies(e, issued)
	return p.spec.writeTokens(p, e, user, issued)
}

// auditFailure writes login.failure; details never hold the password.
func (p *Flows) auditFailure(e *core.RequestEvent, email string, user *core.Record, reason string) {
	entry := audit.FromRequest(e, "login.failure", false)
	entry.Details = map[string]any{"reason": reason, "email": email}
	if user != nil {
		entry.TargetType, entry.TargetID = p.realm.Noun, user.Id
	}
	_ = audit.Log(e.App, entry)
}
