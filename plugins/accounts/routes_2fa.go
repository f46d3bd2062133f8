package accounts

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// secondFactorRoutes: 2FA management and the CAPTCHA endpoints (§5.7, §5.8).
func (p *plugin) secondFactorRoutes() []apikit.Route {
	return []apikit.Route{
		{Method: http.MethodPost, Path: "/api/v1/users/2fa/enable/", Access: apikit.Staff, Handler: p.flows.Enable2FA},
		{Method: http.MethodPost, Path: "/api/v1/users/2fa/disable/", Access: apikit.Staff, Handler: p.flows.Disable2FA},
		{Method: http.MethodPost, Path: "/api/v1/users/2fa/request-otp/", Access: apikit.Public, Handler: p.flows.RequestLoginOTP},
		{Method: http.MethodPost, Path: "/api/v1/users/2fa/request-otp-authenticated/", Access: apikit.Staff, Handler: p.flows.RequestManageOTP},
		{Method: http.MethodPost, Path: "/api/v1/users/verify-disable-otp/", Access: apikit.Staff, Handler: p.flows.VerifyDisableOTP},

		{Method: http.MethodPost, Path: "/api/v1/users/captcha/generate/", Access: apikit.Public, Handler: p.captchaGenerate},
		{Method: http.MethodGet, Path: "/api/v1/users/captcha/required/", Access: apikit.Public, Handler: p.captchaRequiredState},
		{Method: http.MethodPost, Path: "/api/v1/users/captcha/verify/", Access: apikit.Public, Handler: p.captchaVerify},
	}
}
