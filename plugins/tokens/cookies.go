package tokens

import (
	"net/http"
	"strconv"
	"strings"
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

// setCookie adds c's Set-Cookie header, the one http.SetCookie writes. Our token cookies (a
// token's characters, a plain path, no domain or expiry) are written directly; any other
// cookie goes through net/http's checks.
func setCookie(e *core.RequestEvent, c *http.Cookie) {
	if v := cookieString(c); v != "" {
		e.Response.Header().Add("Set-Cookie", v)
	}
}

// cookieString is c.String() for the attributes SetCookies uses.
func cookieString(c *http.Cookie) string {
	if c.Domain != "" || !c.Expires.IsZero() || c.Quoted || c.Partitioned || c.SameSite != http.SameSiteLaxMode ||
		!plainCookie(c.Name, false) || !plainCookie(c.Value, false) || !plainCookie(c.Path, true) {
		return c.String()
	}
	var b strings.Builder // one allocation: the line itself
	b.Grow(len(c.Name) + len(c.Value) + len(c.Path) + 64)
	b.WriteString(c.Name)
	b.WriteByte('=')
	b.WriteString(c.Value)
	if c.Path != "" {
		b.WriteString("; Path=")
		b.WriteString(c.Path)
	}
	switch {
	case c.MaxAge > 0:
		var n [20]byte
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(n[:0], int64(c.MaxAge), 10))
	case c.MaxAge < 0:
		b.WriteString("; Max-Age=0")
	}
	if c.HttpOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	b.WriteString("; SameSite=Lax")
	return b.String()
}

// plainCookie reports whether s is written as it is: the characters of tokens and JWTs
// (letters, digits, - _ .) and, in a path, /. A name must not be empty.
func plainCookie(s string, path bool) bool {
	if s == "" {
		return path
	}
	allowed := uint8(cookieTokenChar)
	if path {
		allowed |= cookiePathChar
	}
	for i := 0; i < len(s); i++ {
		if cookieChars[s[i]]&allowed == 0 {
			return false
		}
	}
	return true
}

const (
	cookieTokenChar = 1 << iota
	cookiePathChar
)

var cookieChars = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
			t[c] = cookieTokenChar
		case c == '/':
			t[c] = cookiePathChar
		}
	}
	return t
}()

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
