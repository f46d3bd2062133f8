package hdts

import (
	"net/http"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/realm"
)

const (
	employeeAPI = "/api/v1/hdts/employees/api/"
	management  = "/api/v1/hdts/user-management/"
)

// HDTS_ADMIN and MEMBER(hdts) (§1.7), checked by plugins/permissions after authentication.
var (
	hdtsAdmin  = apikit.AdminOf(profiles.HDTSSlug)
	hdtsMember = apikit.MemberOf(profiles.HDTSSlug)
)

// routes is the plugin's path table (§5.12, §5.15.3). GET /api/v1/hdts/ is the discovery
// document of plugins/apidocs.
func (p *plugin) routes() []apikit.Route {
	f := p.flows
	return []apikit.Route{
		{Method: http.MethodGet, Path: "/api/v1/hdts/employees/", Access: hdtsAdmin, Handler: p.listEmployees},

		// the employee realm of the sign-in flows
		{Method: http.MethodPost, Path: employeeAPI + "register/", Accepts: apikit.BodyMultipart, Handler: p.register},
		{Method: http.MethodPost, Path: employeeAPI + "login/", Handler: f.Login},
		{Method: http.MethodPost, Path: employeeAPI + "logout/", Handler: f.Logout},
		{Method: http.MethodPost, Path: employeeAPI + "2fa/verify-otp/", Handler: f.VerifyOTP},
		{Method: http.MethodPost, Path: employeeAPI + "token/refresh/", SkipSuccessLog: true, Handler: f.Refresh(realm.TypeEmployee)},
		{Method: http.MethodPost, Path: employeeAPI + "password/forgot/", Handler: f.ForgotPassword},
		{Method: http.MethodPost, Path: employeeAPI + "password/reset/", Handler: f.ResetPassword},
		{Method: http.MethodPost, Path: employeeAPI + "profile/change-password/", Access: apikit.Employee, Handler: f.ChangePassword},
		{Method: http.MethodPost, Path: employeeAPI + "2fa/enable/", Access: apikit.Employee, Handler: f.Enable2FA},
		{Method: http.MethodPost, Path: employeeAPI + "2fa/disable/", Access: apikit.Employee, Handler: f.Disable2FA},
		{Method: http.MethodPost, Path: employeeAPI + "2fa/request-otp/", Handler: p.requestOTP}, // public or EMPLOYEE, by body

		{Method: http.MethodGet, Path: employeeAPI + "me/", Access: apikit.Principal, Handler: p.me},
		{Method: http.MethodGet, Path: employeeAPI + "profile/", Access: apikit.Employee, Handler: p.getProfile},
		{Method: http.MethodPut, Path: employeeAPI + "profile/", Access: apikit.Employee, Accepts: apikit.BodyMultipart, Handler: p.updateProfile(true)},
		{Method: http.MethodPatch, Path: employeeAPI + "profile/", Access: apikit.Employee, Accepts: apikit.BodyMultipart, Handler: p.updateProfile(false)},

		{Method: http.MethodGet, Path: management + "pending/api/", Access: hdtsAdmin, Handler: p.listPending},
		{Method: http.MethodGet, Path: management + "users/api/", Access: hdtsAdmin, Handler: p.listHDTSUsers},
		{Method: http.MethodPost, Path: management + "update-status/{id}/", Access: hdtsAdmin, Accepts: apikit.BodyForm | apikit.BodyMultipart, Handler: p.updateStatus},
		{Method: http.MethodGet, Path: "/api/v1/hdts/users/{user_id}/", Access: hdtsMember.OrService(scopeUsersRead), Handler: p.lookupUser},
	}
}
