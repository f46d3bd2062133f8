package accounts

import "gatehouse/plugins/apikit"

// passwordRoutes: password change, forgot and reset (§5.6).
func (p *plugin) passwordRoutes() []apikit.Route {
	return []apikit.Route{}
}
