package accounts

import (
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/signin"
)

// The CAPTCHA endpoints of §5.8. The gate that consumes challenges is captchaGate (guards.go).

// captchaChallengeJSON is the answer of POST /api/v1/users/captcha/generate/ (§5.8.1).
type captchaChallengeJSON struct {
	CaptchaID string `json:"captcha_id"`
	Image     string `json:"image"`
	ExpiresIn int    `json:"expires_in"`
}

// captchaGenerate is POST /api/v1/users/captcha/generate/ (§5.8.1): a new challenge for the
// client IP; only the HMAC of its answer is stored. The request takes no body.
func (p *plugin) captchaGenerate(e *core.RequestEvent) error {
	id, image, err := captcha.Generate(e.App, p.cfg, e.RealIP())
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, captchaChallengeJSON{
		CaptchaID: id, Image: image, ExpiresIn: int(p.cfg.CaptchaTTL.Seconds()),
	})
}

// captchaRequiredState is GET /api/v1/users/captcha/required/?email= (§5.8.2): true when the
// client IP is in the CAPTCHA state, or when the email is given and in the CAPTCHA state. The
// answer depends only on the failure rows, so it is the same for existing and unknown emails.
// An empty email parameter counts as absent.
func (p *plugin) captchaRequiredState(e *core.RequestEvent) error {
	email := strings.ToLower(strings.TrimSpace(e.Request.URL.Query().Get("email")))
	if email != "" {
		if msgs := apikit.EmailErrors(email); msgs != nil {
			return apikit.Invalid(apikit.FieldErrors{"email": msgs})
		}
	}
	required, err := captcha.Required(e.App, p.cfg, email, e.RealIP())
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, map[string]bool{"required": required})
}

// captchaVerify is POST /api/v1/users/captcha/verify/ (§5.8.3): the one guess of a challenge.
// A right guess marks it solved (redeemable once within 120 s by a gated endpoint); unknown,
// expired and already guessed challenges are {"valid": false}, even with the right answer.
func (p *plugin) captchaVerify(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	id, _ := body.String("captcha_id", apikit.Str{Required: true})
	answer, _ := body.String("answer", apikit.Str{Required: true, Raw: true})
	if err := body.Err(); err != nil {
		return err
	}
	valid, err := captcha.Verify(e.App, p.cfg, id, answer)
	if err != nil {
		return err
	}
	if !valid {
		signin.AuditCaptchaFailure(e, "invalid_guess")
	}
	return apikit.WriteJSON(e, http.StatusOK, map[string]bool{"valid": valid})
}
