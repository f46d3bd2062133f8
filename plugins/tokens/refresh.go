package tokens

import (
	"net/http"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/prepared"
)

// DetailRefreshInProgress is the 409 of the grace window (§3.4).
const DetailRefreshInProgress = "Refresh already in progress."

// Refresh rotates a refresh token (§3.4). allowed lists the user types the calling path accepts;
// a token of another type is refused before any session lookup, so it never rotates, revokes or
// triggers reuse detection. Errors are *apikit.Error: 401 token_not_valid or 409 conflict.
func (s *Service) Refresh(e *core.RequestEvent, raw string, allowed ...string) (*Issued, error) {
	c, err := s.Parse(raw)
	if err != nil || c.TokenType != TypeRefresh || c.SessionID == "" || !slices.Contains(allowed, c.UserType) {
		return nil, apikit.TokenNotValid()
	}
	app := e.App
	sess, err := findSession(app, c.SessionID)
	if err != nil || !sessionBelongs(sess, c.UserType, c.Subject) || !sess.GetDateTime("revoked_at").IsZero() {
		return nil, apikit.TokenNotValid()
	}
	now := time.Now().UTC()
	if !now.Before(sess.GetDateTime("absolute_expires_at").Time()) {
		return nil, apikit.TokenNotValid()
	}

	presented := hashJTI(c.ID)
	switch presented {
	case sess.GetString("refresh_jti_hash"):
		// the current token: rotate below
	case sess.GetString("previous_jti_hash"):
		if now.Sub(sess.GetDateTime("rotated_at").Time()) <= s.cfg.RefreshGrace {
			return nil, apikit.Conflict(DetailRefreshInProgress)
		}
		return nil, s.reuseDetected(e, sess, c)
	default:
		return nil, s.reuseDetected(e, sess, c)
	}

	principal, err := s.principalFor(app, c.UserType, c.Subject)
	if err != nil {
		reason := ReasonUserDeactivated
		if c.UserType == UserTypeEmployee {
			reason = ReasonEmployeeRejected
		}
		_, _ = RevokeSession(app, sess.Id, reason)
		return nil, apikit.TokenNotValid()
	}

	absolute := sess.GetDateTime("absolute_expires_at").Time()
	next := s.baseClaims(c.UserType, c.Subject, TypeRefresh, now, sessionExpiry(now, s.cfg.RefreshTokenTTL, absolute))
	next.SessionID = sess.Id

	// Compare-and-swap on the current jti hash: of two concurrent refreshes with one token, one
	// rotates and the other finds the hash moved (then it is the grace case: 409).
	n, err := prepared.Exec(app, rotateSQL, dbx.Params{
		"next": hashJTI(next.ID), "presented": presented, "now": now.Format(dtLayout),
		"exp": time.Unix(next.ExpiresAt, 0).UTC().Format(dtLayout), "id": sess.Id,
	})
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, apikit.Conflict(DetailRefreshInProgress)
	}

	issued, err := s.mintPair(app, c.UserType, principal, next, now)
	if err != nil {
		return nil, err
	}
	s.auditRefresh(e, sess, c)
	return issued, nil
}

const rotateSQL = "UPDATE sessions SET refresh_jti_hash = {:next}, previous_jti_hash = {:presented}, " +
	"rotated_at = {:now}, generation = generation + 1, last_used_at = {:now}, expires_at = {:exp}, updated = {:now} " +
	"WHERE id = {:id} AND refresh_jti_hash = {:presented} AND revoked_at = ''"

// findSession reads a session row (prepared: every refresh does it).
func findSession(app core.App, sid string) (*core.Record, error) {
	col, err := app.FindCachedCollectionByNameOrId(sessionsTable)
	if err != nil {
		return nil, err
	}
	recs, err := prepared.Records(app, col, "SELECT * FROM sessions WHERE id = {:id} LIMIT 1", dbx.Params{"id": sid})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errBadToken
	}
	return recs[0], nil
}

// dtLayout is PocketBase's stored DateTime format.
const dtLayout = "2006-01-02 15:04:05.000Z"

func (s *Service) reuseDetected(e *core.RequestEvent, sess *core.Record, c *Claims) error {
	if revoked, _ := RevokeSession(e.App, sess.Id, ReasonReuseDetected); revoked {
		entry := audit.FromRequest(e, "token.reuse_detected", false)
		entry.ActorType, entry.ActorID = c.UserType, c.Subject
		entry.TargetType, entry.TargetID = "session", sess.Id
		_ = audit.Log(e.App, entry)
	}
	return apikit.TokenNotValid()
}

// auditRefresh writes token.refresh at most once per session per minute (§7.1 sampling).
func (s *Service) auditRefresh(e *core.RequestEvent, sess *core.Record, c *Claims) {
	last := sess.GetDateTime("last_used_at").Time()
	if !sess.GetDateTime("rotated_at").IsZero() && time.Since(last) < s.cfg.RefreshAuditSampling {
		return
	}
	entry := audit.FromRequest(e, "token.refresh", true)
	entry.ActorType, entry.ActorID = c.UserType, c.Subject
	entry.TargetType, entry.TargetID = "session", sess.Id
	_ = audit.Log(e.App, entry)
}

// RefreshCookieName is the cookie of §3.6 that carries the refresh token.
const RefreshCookieName = "refresh_token"

// SetCookies sets both auth cookies of §3.6 for an issued pair.
func (s *Service) SetCookies(e *core.RequestEvent, issued *Issued) {
	secure := s.cookieSecure()
	e.SetCookie(&http.Cookie{Name: apikit.AccessCookieName, Value: issued.Access, Path: "/",
		MaxAge: int(s.cfg.AccessTokenTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: secure, Domain: s.cfg.CookieDomain})
	maxAge := int(time.Until(issued.RefreshExp).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	e.SetCookie(&http.Cookie{Name: RefreshCookieName, Value: issued.Refresh, Path: "/api/v1/",
		MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
}

// ClearCookies clears both auth cookies (same name, Path and Domain, empty, Max-Age=0).
func (s *Service) ClearCookies(e *core.RequestEvent) {
	secure := s.cookieSecure()
	e.SetCookie(&http.Cookie{Name: apikit.AccessCookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure, Domain: s.cfg.CookieDomain})
	e.SetCookie(&http.Cookie{Name: RefreshCookieName, Value: "", Path: "/api/v1/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
}

func (s *Service) cookieSecure() bool {
	return s.cfg.CookieSecure || len(s.kit.AppURL()) >= 8 && s.kit.AppURL()[:8] == "https://"
}
