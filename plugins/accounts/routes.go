package accounts

import (
	"net/http"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/realm"
)

// tokenRoutes: login, token endpoints, logout, sessions.
func (p *plugin) tokenRoutes() []apikit.Route {
	staff, employee := realm.TypeStaff, realm.TypeEmployee
	return []apikit.Route{
		{Method: http.MethodPost, Path: "/api/v1/users/login/", Handler: p.flows.Login},
		{Method: http.MethodPost, Path: "/api/v1/token/obtain/", Handler: p.flows.Login},
		{Method: http.MethodPost, Path: "/token/", Handler: p.flows.Login}, // GET /token/ is a 405 (§5.2.6)
		{Method: http.MethodPost, Path: "/api/v1/users/login/verify-otp/", Handler: p.flows.VerifyOTP},
		{Method: http.MethodPost, Path: "/api/v1/users/logout/", Handler: p.flows.Logout},
		{Method: http.MethodPost, Path: "/api/v1/token/refresh/", SkipSuccessLog: true, Handler: p.flows.Refresh(staff, employee)},
		{Method: http.MethodPost, Path: "/api/v1/token/refresh/cookie/", SkipSuccessLog: true, Handler: p.flows.Refresh(staff, employee)},
		{Method: http.MethodPost, Path: "/api/v1/users/token/refresh/", SkipSuccessLog: true, Handler: p.flows.Refresh(staff)},
		{Method: http.MethodPost, Path: "/api/v1/token/verify/", SkipSuccessLog: true, Handler: p.flows.Verify},
		{Method: http.MethodGet, Path: "/api/v1/users/token/validate/", Access: apikit.Staff, SkipSuccessLog: true, Fast: true, Handler: p.validate},

		{Method: http.MethodGet, Path: "/api/v1/users/sessions/", Access: apikit.Principal, Handler: p.listSessions},
		{Method: http.MethodDelete, Path: "/api/v1/users/sessions/", Access: apikit.Principal, Handler: p.deleteOtherSessions},
		{Method: http.MethodDelete, Path: "/api/v1/users/sessions/{id}/", Access: apikit.Principal, Handler: p.deleteSession},
	}
}
