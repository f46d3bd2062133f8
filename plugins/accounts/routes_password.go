package accounts

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// passwordRoutes: password change, forgot and reset (§5.6).
func (p *plugin) passwordRoutes() []apikit.Route {
	return []apikit.Route{
		{Method: http.MethodPost, Path: "/api/v1/users/password/change/", Access: apikit.Staff, Handler: p.flows.ChangePassword},
		{Method: http.MethodPost, Path: "/api/v1/users/profile/reset-password/", Access: apikit.Staff, Handler: p.flows.ChangePassword},
		{Method: http.MethodPost, Path: "/api/v1/users/password/forgot/", Access: apikit.Public, Handler: p.flows.ForgotPassword},
		{Method: http.MethodGet, Path: "/api/v1/users/password/reset/", Access: apikit.Public, Page: true, SecretQuery: true, Handler: p.flows.ResetPasswordPage},
		{Method: http.MethodPost, Path: "/api/v1/users/password/reset/", Access: apikit.Public, Handler: p.flows.ResetPassword},
	}
}
