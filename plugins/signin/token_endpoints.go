package signin

import (
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/tokens"
)

// refreshResponse is RefreshResponse (§4.14).
type refreshResponse struct {
	Access      string `json:"access"`
	AccessHS256 string `json:"access_hs256,omitempty"`
	Refresh     string `json:"refresh"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	UserType    string `json:"user_type"`
	Message     string `json:"message"`
}

// refresh serves the refresh paths (§5.2.2, §5.2.4, §5.15.2): the token comes from the body
// `refresh`, else from the refresh_token cookie (then the CSRF rule applies). A 401 for a cookie
// token clears both cookies; a 409 or a CSRF 403 changes no cookie.
func (p *Flows) Refresh(allowed ...string) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		body, err := apikit.ReadBody(e, 0)
		if err != nil {
			return err
		}
		raw, _ := body.String("refresh", apikit.Str{Raw: true, Nullable: true, AllowBlank: true})
		if err := body.Err(); err != nil {
			return err
		}
		fromCookie := false
		if raw == "" {
			c, err := e.Request.Cookie(tokens.RefreshCookieName)
			if err != nil || c.Value == "" {
				return apikit.NotAuthenticated()
			}
			if err := p.kit.CheckOrigin(e); err != nil {
				return err
			}
			raw, fromCookie = c.Value, true
		}
		issued, err := p.tokens.Refresh(e, raw, allowed...)
		if err != nil {
			if apiErr, ok := err.(*apikit.Error); ok && apiErr.Status == http.StatusUnauthorized && fromCookie {
				p.tokens.ClearCookies(e)
			}
			return err
		}
		p.tokens.SetCookies(e, issued)
		return apikit.WriteJSON(e, http.StatusOK, refreshResponse{
			Access: issued.Access, AccessHS256: issued.AccessHS256, Refresh: issued.Refresh, TokenType: "Bearer",
			ExpiresIn: int(p.cfg.AccessTokenTTL.Seconds()), UserType: issued.UserType, Message: "Token refreshed successfully",
		})
	}
}

// verify is POST /api/v1/token/verify/ (§5.2.3): an access token passing every check of §1.5.
// It never rotates anything and never triggers reuse detection.
func (p *Flows) Verify(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	token, _ := body.String("token", apikit.Str{Required: true, Raw: true})
	if err := body.Err(); err != nil {
		return err
	}
	if _, _, err := p.tokens.VerifyAccess(e.App, token); err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, struct{}{})
}

// Logout is POST /api/v1/users/logout/ (§5.1.4; employees §5.12.5, another message): it ends the session of the first present of
// body refresh, refresh cookie, Bearer access token, access cookie, when that token is correctly
// signed and unexpired (a rotated refresh token still names its session). It always answers 200
// and clears both cookies, except a CSRF refusal (403) which changes nothing.
func (p *Flows) Logout(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	raw, _ := body.String("refresh", apikit.Str{Raw: true, Nullable: true, AllowBlank: true})
	body.Errors = apikit.FieldErrors{} // a malformed refresh field is simply no token (§5.1.4 lists only 403)

	fromCookie := false
	if raw == "" {
		if c, err := e.Request.Cookie(tokens.RefreshCookieName); err == nil && c.Value != "" {
			raw, fromCookie = c.Value, true
		} else if h := e.Request.Header.Get("Authorization"); h != "" {
			if scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
				raw = strings.TrimSpace(tok)
			}
		} else if c, err := e.Request.Cookie(apikit.AccessCookieName); err == nil && c.Value != "" {
			raw, fromCookie = c.Value, true
		}
	}
	if fromCookie {
		if err := p.kit.CheckOrigin(e); err != nil {
			return err
		}
	}
	p.tokens.ClearCookies(e)
	if raw != "" {
		if c, err := p.tokens.Parse(raw); err == nil && c.SessionID != "" && (c.TokenType == tokens.TypeAccess || c.TokenType == tokens.TypeRefresh) {
			// the revocation and its audit row commit together (a session that stays live is
			// never answered as logged out)
			err := e.App.RunInTransaction(func(tx core.App) error {
				revoked, err := p.tokens.EndSession(tx, c, tokens.ReasonLogout)
				if err != nil || !revoked {
					return err
				}
				entry := audit.FromRequest(e, "logout", true)
				entry.ActorType, entry.ActorID = c.UserType, c.Subject
				entry.TargetType, entry.TargetID = "session", c.SessionID
				return audit.Log(tx, entry)
			})
			if err != nil {
				return err
			}
		}
	}
	return apikit.WriteJSON(e, http.StatusOK, p.spec.logoutAnswer)
}
