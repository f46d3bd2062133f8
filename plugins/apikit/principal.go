package apikit

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// PrincipalKind is a bit set of the caller kinds of §1.7.
type PrincipalKind uint8

const (
	KindStaff    PrincipalKind = 1 << iota // a valid staff access token (users)
	KindEmployee                           // a valid employee access token (employees)
	KindService                            // a valid API key (api_keys)
)

// Access is an endpoint's Auth line (§1.7): who may authenticate (Kinds, Scope) and the
// permission level a token caller must then meet (Level). Levels whose system S is named by
// the request (ADMIN(S), MEMBER(S) of a path, query or body system) are checked by the handler
// once S is resolved (plugins/permissions); the route then declares ANY_ADMIN or STAFF.
type Access struct {
	Kinds PrincipalKind // accepted token principals; 0 with Scope "" means PUBLIC
	Scope string        // API-key scope accepted as SERVICE(scope); "" = X-API-Key is ignored
	Level Level         // checked after authentication, for token callers only (an API key with Scope is SERVICE(scope))
	// Systems: the fixed S of LevelAdmin / LevelMember, a slug or several joined by ","
	// (any of them: "MEMBER(tts) or MEMBER(hdts)").
	Systems string
	Denied  string // the 403 text when Level is not met ("" = the default text)
}

// Level is the part of a permission level of §1.7 that needs the database.
type Level uint8

const (
	LevelNone      Level = iota // authentication only: STAFF, EMPLOYEE, PRINCIPAL, SERVICE(scope)
	LevelSuperuser              // SUPERUSER
	LevelAnyAdmin               // ANY_ADMIN
	LevelAdmin                  // ADMIN(S) for the route's fixed Systems (TTS_ADMIN, HDTS_ADMIN)
	LevelMember                 // MEMBER(S) for any of the route's fixed Systems
)

// The common levels of §1.7.
var (
	Public    = Access{}
	Staff     = Access{Kinds: KindStaff}
	Employee  = Access{Kinds: KindEmployee}
	Principal = Access{Kinds: KindStaff | KindEmployee}
	Superuser = Access{Kinds: KindStaff, Level: LevelSuperuser}
	AnyAdmin  = Access{Kinds: KindStaff, Level: LevelAnyAdmin}
)

// AdminOf is ADMIN(S) for a system fixed by the endpoint (TTS_ADMIN = AdminOf("tts")).
func AdminOf(slug string) Access { return Access{Kinds: KindStaff, Level: LevelAdmin, Systems: slug} }

// MemberOf is MEMBER(S) for any of the systems fixed by the endpoint.
func MemberOf(slugs ...string) Access {
	return Access{Kinds: KindStaff, Level: LevelMember, Systems: strings.Join(slugs, ",")}
}

// ServiceOr accepts an API key with scope, or a token of the given kinds.
func ServiceOr(scope string, kinds PrincipalKind) Access { return Access{Kinds: kinds, Scope: scope} }

// OrService is a, or an API key holding scope (SERVICE(scope) or a).
func (a Access) OrService(scope string) Access { a.Scope = scope; return a }

// WithDenied is a with the endpoint's own 403 text for a caller that fails its Level.
func (a Access) WithDenied(detail string) Access { a.Denied = detail; return a }

// levelValid: a Level applies to staff tokens (every level above authentication is a
// STAFF level), and ADMIN(S)/MEMBER(S) of a route name their systems.
func (a Access) levelValid() bool {
	switch a.Level {
	case LevelNone:
		return a.Systems == ""
	case LevelSuperuser, LevelAnyAdmin:
		return a.Kinds == KindStaff && a.Systems == ""
	case LevelAdmin, LevelMember:
		return a.Kinds == KindStaff && a.Systems != ""
	}
	return false
}

// LevelChecker decides the Level of an Access for an authenticated token caller: nil, or the
// error to answer (403 permission_denied). plugins/permissions provides it, installed once at
// wiring (server.Register); until then every Level above LevelNone is refused (fail closed).
type LevelChecker interface {
	CheckLevel(e *core.RequestEvent, access Access) error
}

// IsPublic reports whether the endpoint evaluates no credential at all.
func (a Access) IsPublic() bool { return a.Kinds == 0 && a.Scope == "" }

// Caller is an authenticated principal of a request.
type Caller struct {
	Kind      PrincipalKind
	Record    *core.Record // users, employees or api_keys record, read from the database for this request
	SessionID string       // sid of the access token (empty for API keys)
	Scopes    []string     // API-key scopes
	Claims    any          // the verified token claims, for the tokens plugin
}

// HasScope reports whether an API-key caller holds scope.
func (c *Caller) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Authenticator validates credentials. The tokens plugin provides it; until it is registered
// every presented credential is refused (401 token_not_valid), never accepted.
type Authenticator interface {
	// AccessToken checks an access JWT (every rule of §1.5) and returns its principal, or an
	// *Error (401 token_not_valid).
	AccessToken(e *core.RequestEvent, raw string) (*Caller, error)
	// APIKey checks an X-API-Key value (§1.5) and returns its principal, or an *Error
	// (401 token_not_valid "Invalid API key.").
	APIKey(e *core.RequestEvent, raw string) (*Caller, error)
}

// SharedAuthenticator is an optional extension of Authenticator for read-only handlers (the
// routes marked Fast): the Caller's Record may be shared with concurrent requests (a cached
// record, no per-request copy), so the handler must not modify it.
type SharedAuthenticator interface {
	AccessTokenShared(e *core.RequestEvent, raw string) (*Caller, error)
}

type credentialSource uint8

const (
	sourceNone credentialSource = iota
	sourceAPIKey
	sourceHeader
	sourceCookie
)

// AccessCookieName is the cookie of §3.6 that carries the access token.
const AccessCookieName = "access_token"

type resolution struct {
	source credentialSource
	caller *Caller
	err    error
}

const resolutionKey = "gatehouse.resolution"

// resolve reads the credential of §1.5 in precedence order and validates it without answering:
// it runs before PocketBase's rate limiter so the limiter sees the audience (@auth for a valid
// credential). authorize() answers later, in the order of §1.3.
//
// shared (routes marked Fast) accepts a principal record shared with other requests.
func (k *Kit) resolve(e *core.RequestEvent, access Access, shared bool) {
	// PocketBase may have authenticated a superuser token on this request; on the contract's
	// paths only our own tokens and keys count (§2.1).
	e.Auth = nil
	res := &resolution{}
	auth := k.authenticator()
	checkAccess := func(raw string) (*Caller, error) {
		if sa, ok := auth.(SharedAuthenticator); ok && shared {
			return sa.AccessTokenShared(e, raw)
		}
		return auth.AccessToken(e, raw)
	}

	switch {
	case access.Scope != "" && e.Request.Header.Get("X-API-Key") != "":
		res.source = sourceAPIKey
		if auth == nil {
			res.err = InvalidAPIKey()
		} else {
			res.caller, res.err = auth.APIKey(e, e.Request.Header.Get("X-API-Key"))
		}
	case e.Request.Header.Get("Authorization") != "":
		res.source = sourceHeader
		scheme, token, _ := strings.Cut(strings.TrimSpace(e.Request.Header.Get("Authorization")), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" || auth == nil {
			res.err = TokenNotValid()
		} else {
			res.caller, res.err = checkAccess(token)
		}
	default:
		if c, err := e.Request.Cookie(AccessCookieName); err == nil && c.Value != "" {
			res.source = sourceCookie
			if auth == nil {
				res.err = TokenNotValid()
			} else {
				res.caller, res.err = checkAccess(c.Value)
			}
		}
	}
	if res.err != nil {
		res.caller = nil
	}
	if res.caller != nil && res.caller.Kind&access.kindsWithService() != 0 {
		e.Auth = res.caller.Record
	}
	e.Set(resolutionKey, res)
}

func (a Access) kindsWithService() PrincipalKind {
	if a.Scope != "" {
		return a.Kinds | KindService
	}
	return a.Kinds
}

// authorize answers the CSRF (403) and authentication (401) steps of §1.3 from the resolution.
func (k *Kit) authorize(e *core.RequestEvent, access Access) error {
	res, _ := e.Get(resolutionKey).(*resolution)
	if res == nil {
		k.resolve(e, access, false)
		res, _ = e.Get(resolutionKey).(*resolution)
	}
	if res.source == sourceCookie && isUnsafe(e.Request.Method) {
		if err := k.CheckOrigin(e); err != nil {
			return err
		}
	}
	switch {
	case res.source == sourceNone:
		return NotAuthenticated()
	case res.err != nil:
		return res.err
	case res.caller == nil:
		return TokenNotValid()
	case res.caller.Kind == KindService:
		if !res.caller.HasScope(access.Scope) {
			return PermissionDenied("")
		}
	case res.caller.Kind&access.Kinds == 0:
		// A staff token on an employee endpoint (or the reverse) is an invalid token, never a
		// 403 and never a fallback to another principal (§1.5).
		return TokenNotValid()
	case access.Level != LevelNone:
		return k.checkLevel(e, access)
	}
	return nil
}

// Authenticate runs the credential steps of §1.3 (CSRF for a cookie credential, then 401) for
// access from inside a handler mounted as PUBLIC: for an endpoint whose body chooses between a
// public and an authenticated mode (§5.12.14). Afterwards CallerOf(e) is the caller.
func (k *Kit) Authenticate(e *core.RequestEvent, access Access) error {
	if access.IsPublic() {
		return nil
	}
	k.resolve(e, access, false)
	return k.authorize(e, access)
}

// checkLevel is the permission-level step of §1.3 (403), after authentication.
func (k *Kit) checkLevel(e *core.RequestEvent, access Access) error {
	if b := k.levels.Load(); b != nil {
		return b.c.CheckLevel(e, access)
	}
	return PermissionDenied(access.Denied)
}

// CallerOf returns the authenticated principal of the request (nil on PUBLIC endpoints).
func CallerOf(e *core.RequestEvent) *Caller {
	if res, ok := e.Get(resolutionKey).(*resolution); ok && res.err == nil {
		return res.caller
	}
	return nil
}

func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// AuthenticatedBusy reports whether authenticated requests are arriving fast enough to need
// the CPUs: at least busyPerProc per processor in the last 10–20 ms (about 400 requests per
// second per processor), or as many in progress as there are processors. The password pool
// paces its hashing while it holds (passwords.Pool.YieldTo), so a login storm cannot starve
// token validation, while under light traffic logins still hash at full speed.
//
// (The in-progress count alone misses the contention it should see: the requests a hashing
// chunk delays are still waiting to be scheduled, not yet counted.)
func (k *Kit) AuthenticatedBusy() bool {
	if k.inflight.Load() >= k.procs {
		return true
	}
	now := time.Now().UnixNano() / int64(busyWindow)
	cur, prev := k.busyCount(now), k.busyCount(now-1)
	return cur+prev >= int64(k.procs)*busyPerProc
}

const (
	busyWindow  = 10 * time.Millisecond
	busyPerProc = 4
)

// busyCount is the number of authenticated requests started in window w (0 when the slot holds
// another window).
func (k *Kit) busyCount(w int64) int64 {
	slot := &k.arrivals[w&1]
	if slot.window.Load() != w {
		return 0
	}
	return slot.n.Load()
}

// track counts an authenticated request in progress until the returned func runs, and its
// arrival in the current window.
func (k *Kit) track() func() {
	k.inflight.Add(1)
	w := time.Now().UnixNano() / int64(busyWindow)
	slot := &k.arrivals[w&1]
	if old := slot.window.Load(); old != w && slot.window.CompareAndSwap(old, w) {
		slot.n.Store(0)
	}
	slot.n.Add(1)
	return func() { k.inflight.Add(-1) }
}

// arrivalSlot counts the requests of one window (two slots: the current and the previous).
type arrivalSlot struct {
	window atomic.Int64
	n      atomic.Int64
}
