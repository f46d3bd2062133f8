package accounts

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/tokens"
)

// validate is GET /api/v1/users/token/validate/ (§5.2.5): the caller's UserProfile (all
// assignments, or those of ?system=) with the validation time and the token's expiry, in that
// key order: the cached encoding of the profile with the two keys appended.
func (p *plugin) validate(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	profile, err := profiles.UserProfileBytes(e.App, p.kit.AppURL(), caller.Record, apikit.QueryParam(e.Request, "system"))
	if err != nil {
		return err
	}
	out := make([]byte, 0, len(profile)+96)
	out = append(out, profile[:len(profile)-1]...) // without the closing brace
	out = append(out, `,"token_validated_at":"`...)
	out = profiles.AppendTime(out, time.Now())
	out = append(out, `","token_expires_at":"`...)
	if c, ok := caller.Claims.(*tokens.Claims); ok {
		out = profiles.AppendTime(out, time.Unix(c.ExpiresAt, 0))
	}
	out = append(out, `"}`...)
	return apikit.WriteRawJSON(e, http.StatusOK, out)
}
