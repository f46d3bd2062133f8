package tokens

import (
	"slices"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/prepared"
	"gatehouse/plugins/realm"
)

// DetailRefreshInProgress is the 409 of the grace window (§3.4).
const DetailRefreshInProgress = "Refresh already in progress."

// Refresh rotates a refresh token (§3.4). allowed lists the user types the calling path accepts;
// a token of another type is refused before any session lookup, so it never rotates, revokes or
// triggers reuse detection. Errors are *apikit.Error: 401 token_not_valid or 409 conflict.
//
// The common case is one statement: a compare-and-swap UPDATE that rotates only a
// live session of the token's principal whose current hash is the presented token's (every
// check of the session in its WHERE). When it changes no row, the session is read and the
// answer worked out from it: 401, the 409 of the grace window, or reuse detection.
func (s *Service) Refresh(e *core.RequestEvent, raw string, allowed ...string) (*Issued, error) {
	c, err := s.parseRefresh(raw)
	if err != nil || c.TokenType != TypeRefresh || c.SessionID == "" || !slices.Contains(allowed, c.UserType) {
		return nil, apikit.TokenNotValid()
	}
	app := e.App
	now := time.Now().UTC()
	presented := hashJTI(c.ID)

	if absolute, ok := s.absolutes.get(c.SessionID); ok && now.Before(absolute) {
		issued, rotated, err := s.rotate(e, c, presented, absolute, true, now)
		if rotated || err != nil {
			return issued, err
		}
	}

	sess, err := findSession(app, c.SessionID)
	if err != nil || !sessionBelongs(sess, c.UserType, c.Subject) || !sess.GetDateTime("revoked_at").IsZero() {
		return nil, apikit.TokenNotValid()
	}
	absolute := sess.GetDateTime("absolute_expires_at").Time()
	if !now.Before(absolute) || !now.Before(sess.GetDateTime("expires_at").Time()) {
		// past its absolute lifetime, or its current refresh token's expiry (the token's exp
		// says the same, unless the row was edited: §1.15 moves time by editing expires_at)
		return nil, apikit.TokenNotValid()
	}
	s.absolutes.put(sess.Id, absolute)

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

	issued, rotated, err := s.rotate(e, c, presented, absolute, false, now)
	if err == nil && !rotated {
		// No row changed since the read above. Of two concurrent refreshes with one token, one
		// rotates and the other finds the hash moved: the grace case (409). A session revoked
		// or expired meanwhile (a logout, a password change) is a 401 like any dead session.
		if fresh, err := findSession(app, c.SessionID); err == nil && fresh.GetDateTime("revoked_at").IsZero() &&
			fresh.GetString("previous_jti_hash") == presented {
			return nil, apikit.Conflict(DetailRefreshInProgress)
		}
		return nil, apikit.TokenNotValid()
	}
	return issued, err
}

// rotate checks the principal and mints the next pair, then swaps the session's current hash
// for the next token's when the presented token is the current one of a live session of its
// principal (one statement). The pair is minted before the swap: a failure to mint (a failed
// read, no signing key) leaves the session as it was — never rotated without an answer that
// carries the new tokens, which would make the client's retry a reuse. rotated is false, with
// no error, when no row matched (the minted pair is dropped). pinned: absolute comes from the
// absolutes cache, and the swap also requires the stored absolute expiry to be that one, so
// that one edited since (dashboard) fails it and Refresh reads the session.
func (s *Service) rotate(e *core.RequestEvent, c *Claims, presented string, absolute time.Time, pinned bool, now time.Time) (issued *Issued, rotated bool, err error) {
	app := e.App
	next := s.baseClaims(c.UserType, c.Subject, TypeRefresh, now, sessionExpiry(now, s.cfg.RefreshTokenTTL, absolute))
	next.SessionID = c.SessionID
	principal, err := s.principalShared(app, c.UserType, c.Subject)
	if err != nil {
		// deactivated (or rejected) since the session began: the session ends here (§1.5)
		reason := ReasonUserDeactivated
		if c.UserType == realm.TypeEmployee {
			reason = ReasonEmployeeRejected
		}
		_, _ = RevokeSession(app, c.SessionID, reason)
		return nil, true, apikit.TokenNotValid()
	}
	if issued, err = s.mintPair(app, c.UserType, principal, next, now); err != nil {
		return nil, false, err
	}
	params := dbx.Params{
		"next": hashJTI(next.ID), "presented": presented, "now": now.Format(dtLayout),
		"exp": time.Unix(next.ExpiresAt, 0).UTC().Format(dtLayout), "id": c.SessionID, "sub": c.Subject,
	}
	query := rotateSQL[c.UserType]
	if pinned {
		query = rotatePinnedSQL[c.UserType]
		params["absolute"] = absolute.UTC().Format(dtLayout)
	}
	// Concurrent rotations share one transaction (prepared.Batcher): the statements still run
	// one after the other, so the compare-and-swap holds between them.
	changed, err := s.rotations.Exec(app, prepared.Statement{Query: query, Params: params})
	if err != nil {
		return nil, false, err
	}
	if changed != 1 {
		return nil, false, nil
	}
	s.auditRefresh(e, c, now)
	return issued, true, nil
}

// rotateSQL is the compare-and-swap of a rotation, per user type: the session must belong to
// the token's principal, be unrevoked, within its absolute lifetime and its current token's
// expiry, and hold the presented hash as its current one. No RETURNING clause: SQLite would build a temporary b-tree for its
// rows on every rotation (rotate reads the changed-row count instead).
var rotateSQL = map[string]string{
	realm.TypeStaff: "UPDATE sessions SET refresh_jti_hash = {:next}, previous_jti_hash = {:presented}, " +
		"rotated_at = {:now}, generation = generation + 1, last_used_at = {:now}, " +
		"expires_at = MIN({:exp}, absolute_expires_at), updated = {:now} " +
		"WHERE id = {:id} AND refresh_jti_hash = {:presented} AND revoked_at = '' AND user_type = 'staff' " +
		"AND user = {:sub} AND absolute_expires_at > {:now} AND expires_at > {:now}",
	realm.TypeEmployee: "UPDATE sessions SET refresh_jti_hash = {:next}, previous_jti_hash = {:presented}, " +
		"rotated_at = {:now}, generation = generation + 1, last_used_at = {:now}, " +
		"expires_at = MIN({:exp}, absolute_expires_at), updated = {:now} " +
		"WHERE id = {:id} AND refresh_jti_hash = {:presented} AND revoked_at = '' AND user_type = 'employee' " +
		"AND employee = {:sub} AND absolute_expires_at > {:now} AND expires_at > {:now}",
}

// rotatePinnedSQL is rotateSQL with rotate's extra condition for an absolute expiry taken
// from the cache (built once: the statement text is the prepared-statement cache's key).
var rotatePinnedSQL = func() map[string]string {
	m := make(map[string]string, len(rotateSQL))
	for userType, q := range rotateSQL {
		m[userType] = q + " AND absolute_expires_at = {:absolute}"
	}
	return m
}()

// absoluteExpiries remembers each session's absolute expiry (fixed at login), so that a
// rotation needs no read of the session before its compare-and-swap. Bounded: it starts over
// past maxAbsolutes entries (a miss only costs the read).
type absoluteExpiries struct {
	mu sync.RWMutex
	m  map[string]time.Time
}

const maxAbsolutes = 50000

func (a *absoluteExpiries) get(sid string) (time.Time, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	t, ok := a.m[sid]
	return t, ok
}

func (a *absoluteExpiries) put(sid string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= maxAbsolutes {
		a.m = make(map[string]time.Time, 1024)
	}
	a.m[sid] = t
}

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
	// the revocation and its audit row commit together
	err := e.App.RunInTransaction(func(tx core.App) error {
		revoked, err := RevokeSession(tx, sess.Id, ReasonReuseDetected)
		if err != nil || !revoked {
			return err
		}
		entry := audit.FromRequest(e, "token.reuse_detected", false)
		entry.ActorType, entry.ActorID = c.UserType, c.Subject
		entry.TargetType, entry.TargetID = "session", sess.Id
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return apikit.TokenNotValid()
}

// auditRefresh writes token.refresh at most once per session per minute (§7.1 sampling).
func (s *Service) auditRefresh(e *core.RequestEvent, c *Claims, now time.Time) {
	if !s.refreshAudits.due(c.SessionID, now, s.cfg.RefreshAuditSampling) {
		return
	}
	entry := audit.FromRequest(e, "token.refresh", true)
	entry.ActorType, entry.ActorID = c.UserType, c.Subject
	entry.TargetType, entry.TargetID = "session", c.SessionID
	_ = audit.Log(e.App, entry)
}

// auditSampler remembers when each session's refresh was last audited.
type auditSampler struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether sid's refresh is to be audited now (and records it when so).
func (a *auditSampler) due(sid string, now time.Time, every time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.last[sid]; ok && now.Sub(t) < every {
		return false
	}
	if a.last == nil || len(a.last) >= maxAbsolutes {
		a.last = make(map[string]time.Time, 1024)
	}
	a.last[sid] = now
	return true
}
