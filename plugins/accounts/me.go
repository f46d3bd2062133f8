package accounts

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
)

// meResponse is the body of GET /api/me/ (§5.14.2).
type meResponse struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// me serves GET /api/me/ (§5.14.2): the caller's UserProfile (all own assignments) for a staff
// token, the EmployeeProfile for an employee token. API keys are not accepted (the route's
// Access has no scope, so X-API-Key is ignored).
func (p *plugin) me(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	if caller == nil || caller.Record == nil {
		return apikit.TokenNotValid()
	}
	switch caller.Kind {
	case apikit.KindStaff:
		// caller.Record was read from the database for this request by the authenticator
		out, err := profiles.UserProfileBytes(p.app, p.kit.AppURL(), caller.Record, "")
		if err != nil {
			return err
		}
		body := make([]byte, 0, len(out)+24)
		body = append(body, `{"type":"user","data":`...)
		body = append(body, out...)
		body = append(body, '}')
		return apikit.WriteRawJSON(e, http.StatusOK, body)
	case apikit.KindEmployee:
		out, err := profiles.EmployeeProfile(p.app, p.kit.AppURL(), caller.Record)
		if err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, meResponse{Type: "employee", Data: out})
	}
	return apikit.TokenNotValid()
}
