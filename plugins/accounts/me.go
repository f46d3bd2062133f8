package accounts

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
)

// me serves GET /api/me/ (§5.14.2): the caller's UserProfile (all own assignments) for a staff
// token, the EmployeeProfile for an employee token (profiles.MeJSON, shared with the HDTS
// alias). API keys are not accepted (the route's Access has no scope, so X-API-Key is ignored).
func (p *plugin) me(e *core.RequestEvent) error {
	caller := apikit.CallerOf(e)
	if caller == nil || caller.Record == nil || caller.Kind == apikit.KindService {
		return apikit.TokenNotValid()
	}
	// caller.Record was read from the database for this request by the authenticator
	body, err := profiles.MeJSON(p.app, p.kit.AppURL(), caller.Record)
	if err != nil {
		return err
	}
	return apikit.WriteRawJSON(e, http.StatusOK, body)
}
