package accounts

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// profileRoutes: registration, the own profile and /api/me/ (staff side).
func (p *plugin) profileRoutes() []apikit.Route {
	return []apikit.Route{
		{Method: http.MethodPost, Path: "/api/v1/users/register/", Access: apikit.Public, Handler: p.register},
		{Method: http.MethodGet, Path: "/api/v1/users/profile/", Access: apikit.Staff, SkipSuccessLog: true, Fast: true, Handler: p.getProfile},
		{Method: http.MethodPut, Path: "/api/v1/users/profile/", Access: apikit.Staff, Accepts: apikit.BodyMultipart, Handler: p.updateProfile(true)},
		{Method: http.MethodPatch, Path: "/api/v1/users/profile/", Access: apikit.Staff, Accepts: apikit.BodyMultipart, Handler: p.updateProfile(false)},
		{Method: http.MethodGet, Path: "/api/me/", Access: apikit.Principal, SkipSuccessLog: true, Fast: true, Handler: p.me},
	}
}
