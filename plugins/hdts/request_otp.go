package hdts

import (
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

// requestOTP serves POST /api/v1/hdts/employees/api/2fa/request-otp/ (§5.12.14), whose body
// picks the mode: with `email` it is the public resend of a login code (§5.7.3: the password is
// checked like a login, one answer whatever the outcome); without, the authenticated request
// of a `manage` code (§5.7.4), which needs a valid employee token. Neither mode yields tokens:
// a code is only ever accepted together with the temporary token of a proven password (§8.5
// statement 48).
func (p *plugin) requestOTP(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0) // the body stays readable for the flow (ReadBody keeps it)
	if err != nil {
		return err
	}
	if body.Has("email") {
		return p.flows.RequestLoginOTP(e)
	}
	if err := p.kit.Authenticate(e, apikit.Employee); err != nil {
		return err
	}
	return p.flows.RequestManageOTP(e)
}
