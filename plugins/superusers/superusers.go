// Package superusers guards the dashboard's sign-in (PocketBase's `_superusers` auth routes,
// issue 18): the hourly rate-limit rule next to PocketBase's own per-10-s rules, and an audit_log
// row for every failed sign-in.
//
// PocketBase's limiter applies the first matching rule of a request only: `_superusers:auth`
// (10 per 10 s per IP and route, seeded by pb_migrations) for auth-with-password, auth-with-otp
// and auth-with-oauth2. The rule labelled HourlyRuleLabel names no PocketBase tag; this package
// applies it to the same routes, after PocketBase's limiter, with the limiter's semantics (per
// client IP, fixed window, off when rate limiting is off, for superusers and for excluded IPs).
// Like every rule it lives in PocketBase's setting: edit or delete it in the dashboard.
package superusers

import (
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"gatehouse/plugins/audit"
)

// HourlyRuleLabel labels the slower rule of the superuser sign-in routes.
const HourlyRuleLabel = "_superusers:authPerHour"

// FailureEvent is the audit_log event of a failed superuser sign-in.
const FailureEvent = "superuser.login.failure"

const (
	middlewareId = "gatehouseSuperuserSignIn"
	// right after PocketBase's limiter: a request it refused is not counted or audited here
	middlewarePriority = apis.DefaultRateLimitMiddlewarePriority + 1

	identityKey = "gatehouse.superuserIdentity"
	recordKey   = "gatehouse.superuserRecord"

	// sweepAt is the number of tracked IPs from which expired windows are dropped on insert.
	sweepAt = 4096
)

// signInRoutes are PocketBase's sign-in route patterns (its `auth` tag) and the method each
// records in the audit row.
var signInRoutes = map[string]string{
	"POST /api/collections/{collection}/auth-with-password": "password",
	"POST /api/collections/{collection}/auth-with-otp":      "otp",
	"POST /api/collections/{collection}/auth-with-oauth2":   "oauth2",
}

// Register binds the guard: the identity hook on the app, the middleware on every served router.
func Register(app core.App) {
	g := &guard{windows: map[windowKey]*window{}}

	// The identity a password sign-in tried and the account it named, for the audit row (the
	// password is never kept).
	app.OnRecordAuthWithPasswordRequest(core.CollectionNameSuperusers).BindFunc(func(e *core.RecordAuthWithPasswordRequestEvent) error {
		e.RequestEvent.Set(identityKey, e.Identity)
		if e.Record != nil {
			e.RequestEvent.Set(recordKey, e.Record.Id)
		}
		return e.Next()
	})

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: middlewareId,
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(&hook.Handler[*core.RequestEvent]{Id: middlewareId, Priority: middlewarePriority, Func: g.signIn})
			return se.Next()
		},
	})
}

type guard struct {
	mu      sync.Mutex
	windows map[windowKey]*window
	// nextSweep is the map size at which expired windows are next dropped: twice the size left
	// by the last sweep (at least sweepAt), so that a map of live windows (many IPs within the
	// hour) is not scanned again on every new IP — the sweeps cost O(1) per insert amortised.
	nextSweep int
	sweeps    int // sweeps made (tests)
}

// windowKey is one client under one version of the rule (a changed rule starts afresh, as
// PocketBase's limiter does on a settings reload).
type windowKey struct {
	ip       string
	max      int
	duration int64
	audience string
}

type window struct {
	start time.Time
	used  int
}

func (g *guard) signIn(e *core.RequestEvent) error {
	method, ok := signInRoutes[e.Request.Pattern]
	if !ok {
		return e.Next()
	}
	col, err := e.App.FindCachedCollectionByNameOrId(e.Request.PathValue("collection"))
	if err != nil || col.Name != core.CollectionNameSuperusers {
		return e.Next()
	}
	if !g.allow(e) {
		return e.TooManyRequestsError("", errors.New("triggered rate limit rule "+HourlyRuleLabel))
	}

	err = e.Next()
	if err != nil && !errors.Is(err, apis.ErrMFA) { // ErrMFA: first factor right, second one asked
		auditFailure(e, method, err)
	}
	return err
}

// allow counts the request against the hourly rule and reports whether it is within it.
func (g *guard) allow(e *core.RequestEvent) bool {
	limits := e.App.Settings().RateLimits
	if !limits.Enabled || e.HasSuperuserAuth() {
		return true
	}
	ip := e.RealIP()
	if ip == "" || ipInList(limits.ExcludedIPs, ip) {
		return true
	}
	audience := core.RateLimitRuleAudienceGuest
	if e.Auth != nil {
		audience = core.RateLimitRuleAudienceAuth
	}
	var rule core.RateLimitRule
	found := false
	for _, r := range limits.Rules {
		if r.Label == HourlyRuleLabel && (r.Audience == core.RateLimitRuleAudienceAll || r.Audience == audience) {
			rule, found = r, true
			break
		}
	}
	if !found || rule.Duration <= 0 {
		return true
	}

	key := windowKey{ip: ip, max: rule.MaxRequests, duration: rule.Duration, audience: rule.Audience}
	return g.take(key, time.Now())
}

// take counts one attempt of key's client at now and reports whether its window allows it.
func (g *guard) take(key windowKey, now time.Time) bool {
	length := time.Duration(key.duration) * time.Second
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.windows[key]
	if w == nil {
		if len(g.windows) >= max(sweepAt, g.nextSweep) {
			for k, old := range g.windows {
				if now.Sub(old.start) >= time.Duration(k.duration)*time.Second {
					delete(g.windows, k)
				}
			}
			g.nextSweep = 2 * len(g.windows)
			g.sweeps++
		}
		w = &window{start: now}
		g.windows[key] = w
	}
	if now.Sub(w.start) >= length {
		w.start, w.used = now, 0
	}
	if w.used >= key.max {
		return false
	}
	w.used++
	return true
}

// auditFailure writes the failed sign-in with the client IP; details hold PocketBase's public
// error answer and the identity a password sign-in tried, never a password or code.
func auditFailure(e *core.RequestEvent, method string, err error) {
	status, message := http.StatusBadRequest, ""
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		status, message = apiErr.Status, apiErr.Message
	}
	entry := audit.FromRequest(e, FailureEvent, false)
	entry.TargetType = "superuser"
	details := map[string]any{"method": method, "status": status, "message": message}
	if identity, ok := e.Get(identityKey).(string); ok {
		details["identity"] = audit.TruncateRunes(identity, 254)
	}
	if id, ok := e.Get(recordKey).(string); ok {
		entry.TargetID = id
	}
	entry.Details = details
	if err := audit.Log(e.App, entry); err != nil {
		e.App.Logger().Error("superuser sign-in failure not audited", "error", err)
	}
}

// ipInList reports whether ip is one of the addresses or inside one of the subnets (the format
// of PocketBase's excluded-IPs setting).
func ipInList(list []string, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, item := range list {
		if p, err := netip.ParsePrefix(item); err == nil {
			if p.Contains(addr) {
				return true
			}
		} else if a, err := netip.ParseAddr(item); err == nil && a == addr {
			return true
		}
	}
	return false
}
