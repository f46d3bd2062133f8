package accounts

import (
	"net/http"
	"regexp"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
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

// login is the staff login protocol (§5.1.2), served at /api/v1/users/login/,
// /api/v1/token/obtain/ and /token/.
func (p *plugin) login(e *core.RequestEvent) error {
	req, err := readLogin(e)
	if err != nil {
		return err
	}
	user, rehash, failed, err := p.checkLoginPassword(e, req)
	if err != nil {
		return err
	}
	if failed {
		return apikit.NewError(http.StatusBadRequest, apikit.CodeInvalidCredentials, apikit.DetailInvalidCredentials)
	}
	pool := passwords.PoolFor(e.App, p.cfg)
	ctx := e.Request.Context()
	if rehash {
		// the stored hash has another bcrypt cost than configured: re-hash now (§1.13)
		if err := pool.SetPassword(ctx, user, req.password); err != nil {
			return err
		}
		if err := e.App.Save(user); err != nil {
			return err
		}
	}
	if user.GetBool("otp_enabled") {
		return p.secondFactorAtLogin(e, user, req)
	}
	return p.completeLogin(e, user, tokens.MethodPassword)
}

// checkLoginPassword is steps 2–5 of §5.1.2, shared by login and 2fa/request-otp. The attempt
// is first admitted by the CAPTCHA and lockout counters, counting the attempts still being
// compared (captcha.Attempts: the thresholds hold under parallel requests). Then exactly one
// bcrypt comparison (against a dummy hash when the email is unknown or the account locked, so
// timing reveals neither and a locked account is no oracle); an unknown account, a wrong
// password, a locked or an inactive account is a recorded failure (failed = true, same answer
// for all four); otherwise the counters restart. rehash reports a stored hash of another cost
// than configured.
func (p *plugin) checkLoginPassword(e *core.RequestEvent, req loginRequest) (user *core.Record, rehash, failed bool, err error) {
	email, password := req.email, req.password
	col, err := e.App.FindCachedCollectionByNameOrId(realm.CollectionStaff)
	if err != nil {
		return nil, false, false, err
	}
	attempt, err := p.attempts.Admit(e.Request.Context(), e.App, p.cfg, captcha.AttemptRequest{
		Email: email, IP: e.RealIP(),
		Lookup: func() (*core.Record, error) { return findAccountByEmail(e.App, col, email) },
		SolveCaptcha: func() error {
			return p.captchaGate(e, true, req.captchaID, req.captchaAnswer)
		},
	})
	if err != nil {
		return nil, false, false, attemptError(err)
	}
	defer attempt.Done()
	user = attempt.Account

	pool := passwords.PoolFor(e.App, p.cfg)
	ok := false
	if user == nil || attempt.Locked {
		if err := pool.VerifyDummy(e.Request.Context(), col, password); err != nil {
			return nil, false, false, err
		}
	} else if ok, rehash, err = pool.Verify(e.Request.Context(), user, password); err != nil {
		return nil, false, false, err
	}
	reason := ""
	switch {
	case user == nil:
		reason = failureUnknown
	case attempt.Locked:
		reason = failureLocked
	case !ok:
		reason = failureBadPass
	case !user.GetBool("is_active"):
		reason = failureInactive
	}
	if reason != "" {
		return user, false, true, p.passwordFailed(e, email, user, reason)
	}
	return user, rehash, false, p.passwordVerified(e, user)
}

// completeLogin is step 8 of §5.1.2: session, tokens, cookies, last_login, last_logged_on.
func (p *plugin) completeLogin(e *core.RequestEvent, user *core.Record, method string) error {
	var issued *tokens.Issued
	err := e.App.RunInTransaction(func(tx core.App) error {
		var err error
		issued, err = p.tokens.StartSession(tx, realm.TypeStaff, user, method, e.RealIP(), e.Request.UserAgent())
		if err != nil {
			return err
		}
		now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
		if _, err := tx.DB().Update(realm.CollectionStaff, dbx.Params{"last_login": now}, dbx.HashExp{"id": user.Id}).Execute(); err != nil {
			return err
		}
		if _, err := tx.DB().Update("user_system_roles", dbx.Params{"last_logged_on": now}, dbx.HashExp{"user": user.Id}).Execute(); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "login.success", true)
		entry.ActorType, entry.ActorID = realm.TypeStaff, user.Id
		entry.TargetType, entry.TargetID = "session", issued.SessionID
		entry.Details = map[string]any{"method": method}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	loginUser, redirect, err := profiles.ForLogin(e.App, p.cfg, user)
	if err != nil {
		return err
	}
	p.tokens.SetCookies(e, issued)
	return apikit.WriteJSON(e, http.StatusOK, tokenResponse{
		Access: issued.Access, AccessHS256: issued.AccessHS256, Refresh: issued.Refresh, TokenType: "Bearer",
		ExpiresIn: int(p.cfg.AccessTokenTTL.Seconds()), User: loginUser, Redirect: redirect,
	})
}

// auditFailure writes login.failure; details never hold the password.
func auditFailure(e *core.RequestEvent, email string, user *core.Record, reason string) {
	entry := audit.FromRequest(e, "login.failure", false)
	entry.Details = map[string]any{"reason": reason, "email": email}
	if user != nil {
		entry.TargetType, entry.TargetID = "user", user.Id
	}
	_ = audit.Log(e.App, entry)
}
