// Package tokens issues and verifies Gatehouse's JWTs (EdDSA, golang-jwt/v5), keeps the signing
// keys (encrypted at rest, rotated, published as JWKS), and owns the refresh sessions: rotation
// with reuse detection and revocation (spec/API.md §3).
package tokens

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/prepared"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/writeepoch"
)

// Service is the per-app token service. It implements apikit.Authenticator.
type Service struct {
	app core.App
	cfg *config.Config
	kit *apikit.Kit

	keys     atomic.Pointer[keyring]
	keyState keyState
	parsed   parseCache
	// issuedRefresh: refresh tokens signed by this process, until presented (parsecache.go)
	issuedRefresh issuedTokens
	live          writeepoch.SnapshotCache[liveSession]

	principals    writeepoch.SnapshotCache[*core.Record] // by user type and id: refresh's principal
	absolutes     absoluteExpiries
	rotations     prepared.Batcher
	refreshAudits auditSampler
}

// New creates the service and installs it as the kit's authenticator (Schedule adds its jobs).
// It touches no data until the server starts (EnsureActiveKey runs in OnServe).
func New(app core.App, kit *apikit.Kit) *Service {
	s := &Service{app: app, cfg: kit.Config(), kit: kit}
	s.issuedRefresh.m.Max = maxIssued
	s.live.Sessions = true // a live session is a row of sessions
	kit.SetAuthenticator(s)
	writeepoch.WatchWrites(app) // invalidation of the hot-path caches

	// Any write to signing_keys (our rotation, the dashboard) refreshes the in-memory keyring.
	reload := func(e *core.RecordEvent) error {
		err := e.Next()
		if rerr := s.reloadKeys(); rerr != nil {
			e.App.Logger().Error("reloading signing keys failed", "error", rerr)
		}
		return err
	}
	app.OnRecordAfterCreateSuccess(keysTable).BindFunc(reload)
	app.OnRecordAfterUpdateSuccess(keysTable).BindFunc(reload)
	app.OnRecordAfterDeleteSuccess(keysTable).BindFunc(reload)

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "gatehouseSigningKey", Func: func(se *core.ServeEvent) error {
		if err := s.EnsureActiveKey(); err != nil {
			return err
		}
		return se.Next()
	}})
	return s
}

// Schedule adds the key jobs to sched: every minute, pick up keys written by another process
// (`keys rotate`); hourly, rotate when due.
func (s *Service) Schedule(sched *jobs.Scheduler) {
	sched.AddLogged("tokens.reloadKeys", "30 * * * * *", s.reloadKeys)
	sched.AddLogged("tokens.rotateKeys", "0 5 * * * *", s.RotateIfDue)
}

// Issued is the result of a login or a refresh.
type Issued struct {
	Access      string
	AccessHS256 string // compatibility mode only
	Refresh     string
	AccessExp   time.Time
	RefreshExp  time.Time
	SessionID   string
	UserType    string
}

// accessClaims computes the access-token claims of a principal from the database (§3.2).
func (s *Service) accessClaims(app core.App, userType string, principal *core.Record, sid string, now time.Time) (*Claims, error) {
	c := s.baseClaims(userType, principal.Id, TypeAccess, now, now.Add(s.cfg.AccessTokenTTL))
	c.SessionID = sid
	p := &ProfileClaims{Email: principal.Email(), Username: principal.GetString("username")}
	if userType == realm.TypeEmployee {
		p.FullName = joinNonEmpty(principal.GetString("first_name"), principal.GetString("middle_name"), principal.GetString("last_name"))
		p.Roles = []RoleClaim{{System: "hdts", Role: "Employee"}}
		c.Audience = []string{Audience, "hdts"}
	} else {
		p.FullName = strings.TrimSpace(principal.GetString("first_name") + " " + principal.GetString("last_name"))
		roles, err := s.activeRoles(app, principal.Id)
		if err != nil {
			return nil, err
		}
		p.Roles = roles
		c.Audience = []string{Audience}
		for i, r := range roles {
			if i == 0 || roles[i-1].System != r.System {
				c.Audience = append(c.Audience, r.System)
			}
		}
	}
	c.Profile = p
	return c, nil
}

// activeRoles are a staff user's active assignments as role claims, sorted by system slug then
// role name (§3.2 note 4), from the shared assignments reader (permissions.Assignments, cached
// under the write epoch).
func (s *Service) activeRoles(app core.App, userID string) ([]RoleClaim, error) {
	rows, err := permissions.Assignments(app, userID)
	if err != nil {
		return nil, err
	}
	roles := make([]RoleClaim, 0, len(rows))
	for _, r := range rows {
		if r.IsActive {
			roles = append(roles, RoleClaim{System: r.SystemSlug, Role: r.RoleName})
		}
	}
	return roles, nil
}

func (s *Service) baseClaims(userType, subject, tokenType string, now, exp time.Time) *Claims {
	return &Claims{
		Issuer: s.cfg.Issuer(s.app), Subject: subject, Audience: []string{Audience},
		ExpiresAt: exp.Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(),
		ID: newJTI(), TokenType: tokenType, UserType: userType,
	}
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// StartSession creates a session for a fully successful login (§3.4) and mints its first
// access and refresh tokens. Pass the transaction app when the login writes other rows too.
func (s *Service) StartSession(app core.App, userType string, principal *core.Record, loginMethod, ip, userAgent string) (*Issued, error) {
	col, err := app.FindCachedCollectionByNameOrId(sessionsTable)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	absolute := now.Add(s.cfg.SessionMaxAge)
	refreshExp := sessionExpiry(now, s.cfg.RefreshTokenTTL, absolute)

	sess := core.NewRecord(col)
	sess.Id = security.RandomStringWithAlphabet(15, "abcdefghijklmnopqrstuvwxyz0123456789")
	refresh := s.baseClaims(userType, principal.Id, TypeRefresh, now, refreshExp)
	refresh.SessionID = sess.Id

	sess.Set("user_type", userType)
	sess.Set(principalColumn(userType), principal.Id)
	sess.Set("refresh_jti_hash", hashJTI(refresh.ID))
	sess.Set("generation", 1)
	sess.Set("login_method", loginMethod)
	sess.Set("ip", ip)
	sess.Set("user_agent", truncate(userAgent, s.cfg.MaxUserAgent))
	sess.Set("last_used_at", now)
	sess.Set("expires_at", refreshExp)
	sess.Set("absolute_expires_at", absolute)
	if err := app.Save(sess); err != nil {
		return nil, err
	}
	if !app.IsTransactional() { // (inside one, the first rotation reads the row instead)
		s.absolutes.put(sess.Id, absolute.Truncate(time.Millisecond)) // stored with ms precision
	}
	return s.mintPair(app, userType, principal, refresh, now)
}

// mintPair signs a refresh token (claims given) and a fresh access token for the same session.
func (s *Service) mintPair(app core.App, userType string, principal *core.Record, refresh *Claims, now time.Time) (*Issued, error) {
	access, err := s.accessClaims(app, userType, principal, refresh.SessionID, now)
	if err != nil {
		return nil, err
	}
	out := &Issued{SessionID: refresh.SessionID, UserType: userType,
		AccessExp: time.Unix(access.ExpiresAt, 0), RefreshExp: time.Unix(refresh.ExpiresAt, 0)}
	if out.Access, err = s.sign(access); err != nil {
		return nil, err
	}
	var key *signingKey
	if out.Refresh, key, err = s.signWithKey(refresh); err != nil {
		return nil, err
	}
	s.issuedRefresh.put(out.Refresh, refresh, key)
	if len(s.cfg.HS256Secret) > 0 {
		if out.AccessHS256, err = s.signHS256(access); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MintMFAPending returns an mfa_pending token and its jti (the caller stores the challenge).
func (s *Service) MintMFAPending(userType, principalID string) (token, jti string, err error) {
	now := time.Now().UTC()
	c := s.baseClaims(userType, principalID, TypeMFAPending, now, now.Add(s.cfg.MFATokenTTL))
	token, err = s.sign(c)
	return token, c.ID, err
}

// AccessToken implements apikit.Authenticator: every rule of §1.5.
func (s *Service) AccessToken(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	return s.accessToken(e, raw, false)
}

// AccessTokenShared implements apikit.SharedAuthenticator: AccessToken whose Record is the
// cached one (no per-request copy), for read-only handlers.
func (s *Service) AccessTokenShared(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	return s.accessToken(e, raw, true)
}

func (s *Service) accessToken(e *core.RequestEvent, raw string, shared bool) (*apikit.Caller, error) {
	c, principal, err := s.verifyAccess(e.App, raw, shared)
	if err != nil {
		return nil, err
	}
	kind := apikit.KindStaff
	if c.UserType == realm.TypeEmployee {
		kind = apikit.KindEmployee
	}
	return &apikit.Caller{Kind: kind, Record: principal, SessionID: c.SessionID, Claims: c}, nil
}

// VerifyAccess checks an access token against the database: principal exists and may log in,
// session exists, belongs to it, is not revoked and is within its absolute lifetime. The
// principal and its session are checked by one joined query that returns the principal's
// record, read fresh for this request.
func (s *Service) VerifyAccess(app core.App, raw string) (*Claims, *core.Record, error) {
	return s.verifyAccess(app, raw, false)
}

func (s *Service) verifyAccess(app core.App, raw string, shared bool) (*Claims, *core.Record, error) {
	c, err := s.parseCached(raw)
	if err != nil || c.TokenType != TypeAccess || c.SessionID == "" {
		return nil, nil, apikit.TokenNotValid()
	}
	principal, err := s.principalWithLiveSession(app, c.UserType, c.Subject, c.SessionID, shared)
	if err != nil {
		return nil, nil, apikit.TokenNotValid()
	}
	return c, principal, nil
}

// principalWithLiveSession loads the principal only when it may act (is_active / Approved) and
// sid is a live session of it: one prepared query, whose answer is kept under the write epoch
// (plugins/writeepoch) so that repeated checks of one session read nothing until the next write
// to the database. The caller gets its own copy of the record, or with shared the cached
// record itself (read-only callers).
func (s *Service) principalWithLiveSession(app core.App, userType, id, sid string, shared bool) (*core.Record, error) {
	query, ok := liveSessionQueries[userType]
	if !ok {
		return nil, errBadToken
	}
	key := userType + "/" + id + "/" + sid
	now := time.Now()
	if hit, ok := s.live.Get(app, key); ok && now.Before(hit.absoluteExpiry) {
		if shared {
			return hit.record, nil
		}
		return hit.record.Clone(), nil
	}
	r, err := realm.ByType(userType)
	if err != nil {
		return nil, errBadToken
	}
	col, err := app.FindCachedCollectionByNameOrId(r.Collection)
	if err != nil {
		return nil, err
	}
	before := writeepoch.Epoch(app)
	rows, err := prepared.Rows(app, query, dbx.Params{"id": id, "sid": sid, "now": nowDT()})
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, errBadToken
	}
	rec, err := prepared.RecordFrom(col, rows[0])
	if err != nil {
		return nil, err
	}
	if abs, err := types.ParseDateTime(rows[0]["gh_absolute_expires_at"].String); err == nil {
		cached := rec
		if !shared {
			cached = rec.Clone()
		}
		s.live.Put(app, key, before, liveSession{record: cached, absoluteExpiry: abs.Time()})
	}
	return rec, nil
}

// liveSession is a cached answer of principalWithLiveSession.
type liveSession struct {
	record         *core.Record
	absoluteExpiry time.Time
}

var liveSessionQueries = map[string]string{
	realm.TypeStaff: "SELECT p.*, s.absolute_expires_at AS gh_absolute_expires_at FROM users p JOIN sessions s ON s.user = p.id " +
		"WHERE p.id = {:id} AND p.is_active = 1 AND s.id = {:sid} AND s.user_type = 'staff' " +
		"AND s.revoked_at = '' AND s.absolute_expires_at > {:now} LIMIT 1",
	realm.TypeEmployee: "SELECT p.*, s.absolute_expires_at AS gh_absolute_expires_at FROM employees p JOIN sessions s ON s.employee = p.id " +
		"WHERE p.id = {:id} AND p.status = 'Approved' AND s.id = {:sid} AND s.user_type = 'employee' " +
		"AND s.revoked_at = '' AND s.absolute_expires_at > {:now} LIMIT 1",
}

// principalShared is principalFor from a cache kept under the write epoch (main tables only:
// rotations, which write sessions, do not invalidate it). The record is shared: read only.
func (s *Service) principalShared(app core.App, userType, id string) (*core.Record, error) {
	key := userType + "/" + id
	if rec, ok := s.principals.Get(app, key); ok {
		return rec, nil
	}
	before := writeepoch.Epoch(app)
	rec, err := s.principalFor(app, userType, id)
	if err != nil {
		return nil, err
	}
	s.principals.Put(app, key, before, rec)
	return rec, nil
}

// principalFor loads the principal of a token and checks that it may still act (§1.5).
func (s *Service) principalFor(app core.App, userType, id string) (*core.Record, error) {
	r, err := realm.ByType(userType)
	if err != nil {
		return nil, errBadToken
	}
	col, err := app.FindCachedCollectionByNameOrId(r.Collection)
	if err != nil {
		return nil, errBadToken
	}
	recs, err := prepared.Records(app, col, principalQueries[userType], dbx.Params{"id": id})
	if err != nil || len(recs) != 1 {
		return nil, errBadToken
	}
	return recs[0], nil
}

var principalQueries = map[string]string{
	realm.TypeStaff:    "SELECT * FROM users WHERE id = {:id} AND is_active = 1 LIMIT 1",
	realm.TypeEmployee: "SELECT * FROM employees WHERE id = {:id} AND status = 'Approved' LIMIT 1",
}

func sessionBelongs(sess *core.Record, userType, subject string) bool {
	return sess.GetString("user_type") == userType && sess.GetString(principalColumn(userType)) == subject
}

func sessionLive(sess *core.Record, now time.Time) bool {
	return sess.GetDateTime("revoked_at").IsZero() && now.Before(sess.GetDateTime("absolute_expires_at").Time())
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// nowDT is the current time as a PocketBase DateTime string for raw updates.
func nowDT() string { return types.NowDateTime().String() }
