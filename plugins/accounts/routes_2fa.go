package accounts

import "gatehouse/plugins/apikit"

// secondFactorRoutes: 2FA management and the CAPTCHA endpoints (§5.7, §5.8).
func (p *plugin) secondFactorRoutes() []apikit.Route {
	return []apikit.Route{}
}
