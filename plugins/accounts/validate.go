package accounts

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/tokens"
)

type validateResponse struct {
	profiles.UserProfileJSON
	TokenValidatedAt string `json:"token_validated_at"`
	TokenExpiresAt   string `json:"token_expires_at"`
}

// validate is GET /api/v1/users/token/validate/ (§5.2.5): the caller's UserProfile (all
// assignments, or those of ?system=) with the validation time and the token's expiry.
func (p *plugin) validate(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	profile, err := profiles.UserProfile(e.App, p.kit.AppURL(), caller.Record, e.Request.URL.Query().Get("system"))
	if err != nil {
		return err
	}
	out := validateResponse{UserProfileJSON: profile, TokenValidatedAt: profiles.FormatTime(time.Now())}
	if c, ok := caller.Claims.(*tokens.Claims); ok {
		out.TokenExpiresAt = profiles.FormatTime(time.Unix(c.ExpiresAt, 0))
	}
	return apikit.WriteJSON(e, http.StatusOK, out)
}
