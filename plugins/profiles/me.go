package profiles

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/realm"
)

// ErrNotPrincipal is MeJSON's error for a record that is neither a staff user nor an employee.
var ErrNotPrincipal = errors.New("profiles: not a staff user or employee")

// MeJSON is the body of GET /api/me/ (§5.14.2), shared by its alias
// GET /api/v1/hdts/employees/api/me/ (§5.12.6): {"type":"user","data":UserProfile} (all own
// assignments) for a users record, {"type":"employee","data":EmployeeProfile} for an employees
// record. principal must be the caller's record as read for this request; it is not modified.
func MeJSON(app core.App, appURL string, principal *core.Record) ([]byte, error) {
	r, err := realm.Of(principal)
	if err != nil {
		return nil, ErrNotPrincipal
	}
	var kind string
	var data []byte
	if r == realm.Staff {
		kind = `{"type":"user","data":`
		if data, err = UserProfileBytes(app, appURL, principal, ""); err != nil {
			return nil, err
		}
	} else {
		kind = `{"type":"employee","data":`
		ep, err := EmployeeProfile(app, appURL, principal)
		if err != nil {
			return nil, err
		}
		if data, err = apikit.MarshalJSON(ep); err != nil {
			return nil, err
		}
	}
	body := make([]byte, 0, len(kind)+len(data)+1)
	body = append(body, kind...)
	body = append(body, data...)
	return append(body, '}'), nil
}
