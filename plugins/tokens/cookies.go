package tokens

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

// RefreshCookieName is the cookie of §3.6 that carries the refresh token.
const RefreshCookieName = "refresh_token"

// SetCookies sets both auth cookies of §3.6 for an issued pair.
func (s *Service) SetCookies(e *core.RequestEvent, issued *Issued) {
	secure := s.cookieSecure()
	setCookie(e, &http.Cookie{Name: apikit.AccessCookieName, Value: issued.Access, Path: "/",
		MaxAge: int(s.cfg.AccessTokenTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: secure, Domain: s.cfg.CookieDomain})
	maxAge := int(time.Until(issued.RefreshExp).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	setCookie(e, &http.Cookie{Name: RefreshCookieName, Value: issued.Refresh, Path: "/api/v1/",
		MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
}

// setCookie adds c's Set-Cookie header (net/http's, which checks every attribute).
func setCookie(e *core.RequestEvent, c *http.Cookie) { http.SetCookie(e.Response, c) }

// ClearCookies clears both auth cookies (same name, Path and Domain, empty, Max-Age=0).
func (s *Service) ClearCookies(e *core.RequestEvent) {
	secure := s.cookieSecure()
	setCookie(e, &http.Cookie{Name: apikit.AccessCookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure, Domain: s.cfg.CookieDomain})
	setCookie(e, &http.Cookie{Name: RefreshCookieName, Value: "", Path: "/api/v1/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
}

func (s *Service) cookieSecure() bool {
	return s.cfg.CookieSecure || len(s.kit.AppURL()) >= 8 && s.kit.AppURL()[:8] == "https://"
}
