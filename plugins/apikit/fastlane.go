package apikit

import (
	"fmt"
	"log"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// The fast lane serves the hottest read routes (token validation, the own profile, /api/me/)
// without PocketBase's router: no ServeMux match, no per-request chain of a dozen middleware
// closures, no request-body wrappers. It answers only what it can answer exactly as the full
// chain would, and hands every other request to the full chain untouched:
//
//   - GET on the exact path of a route marked Fast (either slash form, no escaped slash), no
//     body, no Origin header (CORS answers stay with the full chain), a Host not beginning
//     with "www." (PocketBase's www redirect stays with the full chain);
//   - a credential that resolves to a principal the route accepts (§1.5), checked by the same
//     resolve/authorize code as the full chain;
//   - PocketBase's rate limiter (the very middleware of the router, with the same client IP and
//     audience) lets the request through;
//   - the handler returns no error.
//
// Anything else — no or a bad credential, a 429, a handler error — goes to the full chain,
// which answers it and logs it in the request log as usual (successful answers of these routes
// are kept out of the log by SkipSuccessLog in both lanes). Nothing has been written to the
// response when that happens. A Fast handler must therefore be a read without side effects:
// the full chain may run it again.
//
// The answer carries the same headers as the full chain's: PocketBase's security headers,
// Vary: Origin, and the handler's own.
type fastLane struct {
	kit  *Kit
	next http.Handler
	// PocketBase's rate limiter, as bound on the router (run when rate limits are on).
	limit *hook.Hook[*core.RequestEvent]
	// headers are the headers every answer of the full chain gets before its handler runs
	// (PocketBase's security headers, CORS's Vary), captured once by running those
	// middlewares; set per request with shared values (nothing appends to them).
	headers http.Header
}

type fastRoute struct {
	path    string
	access  Access
	handler func(e *core.RequestEvent) error
	// skipLog: successes stay out of the request log in the full chain too (SkipSuccessLog)
	skipLog bool
}

// The lane fails closed. It reproduces the full chain of a Fast route by hand, so it may run
// only while that chain is made of middlewares it knows: fastLaneGlobals (by id) at the router
// level, and exactly the middlewares Mount bound at the route level. Any other middleware — a
// request id, an audit trail, an IP block added later — switches the whole lane off at
// start-up with a warning, and every request then takes the full chain.
var fastLaneGlobals = map[string]string{
	apis.DefaultWWWRedirectMiddlewareId:           "a Host beginning with www. takes the full chain (apis.Serve binds it for such hosts)",
	apis.DefaultActivityLoggerMiddlewareId:        "successes of Fast routes are kept out of the log in both lanes; failures take the full chain",
	apis.DefaultPanicRecoverMiddlewareId:          "a panic hands the request to the full chain",
	apis.DefaultRateLimitMiddlewareId:             "run by the lane (the same hook)",
	apis.DefaultLoadAuthTokenMiddlewareId:         "unbound on our routes (Mount)",
	apis.DefaultSuperuserIPsWhitelistMiddlewareId: "acts only on PocketBase superuser auth, which our routes never load",
	apis.DefaultSecurityHeadersMiddlewareId:       "its headers are captured and set by the lane",
	apis.DefaultBodyLimitMiddlewareId:             "unbound on our routes (Mount); the lane takes no body",
	ProxyGuardId:                                  "run by the lane (stripForwardingHeaders)",
	CORSId:                                        "the lane takes no Origin request and adds Vary: Origin",
	ClosedAuthRoutesId:                            "acts only on /api/collections/...",
	"gatehouseSuperuserSignIn":                    "plugins/superusers: acts only on PocketBase's superuser sign-in routes",
}

// fastMount is a route-level binding of a Fast route and the middlewares Mount gave it.
type fastMount struct {
	path  string
	route *router.Route[*core.RequestEvent]
	known []*hook.Handler[*core.RequestEvent]
}

// noteFastRoute records the middlewares Mount bound to a Fast route (called at the end of bind).
func (k *Kit) noteFastRoute(path string, route *router.Route[*core.RequestEvent]) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fastMounts = append(k.fastMounts, fastMount{path: path, route: route, known: slices.Clone(route.Middlewares)})
}

// fastLaneUnknown lists what the lane does not reproduce in the chains of r's Fast routes
// (empty when it reproduces everything).
func (k *Kit) fastLaneUnknown(r *router.Router[*core.RequestEvent]) []string {
	var unknown []string
	for _, h := range r.Middlewares {
		if _, ok := fastLaneGlobals[h.Id]; !ok {
			unknown = append(unknown, fmt.Sprintf("global middleware %q", h.Id))
		}
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, m := range k.fastMounts {
		for _, h := range m.route.Middlewares {
			if !slices.Contains(m.known, h) {
				unknown = append(unknown, fmt.Sprintf("middleware %q on %s", h.Id, m.path))
			}
		}
	}
	if routes := k.fast.Load(); routes != nil {
		for path, rt := range *routes {
			if !rt.skipLog && strings.HasSuffix(path, "/") {
				unknown = append(unknown, "successes of "+path+" are logged (no SkipSuccessLog)")
			}
		}
	}
	sort.Strings(unknown)
	return slices.Compact(unknown)
}

// markFast records a Fast route under both slash forms of its path (copy on write: requests
// read the map without a lock).
func (k *Kit) markFast(rt Route) {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := map[string]*fastRoute{}
	if cur := k.fast.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	fr := &fastRoute{path: slashForm(rt.Path), access: rt.Access, handler: rt.Handler, skipLog: rt.SkipSuccessLog}
	base := slashForm(rt.Path)
	next[base] = fr
	next[base[:len(base)-1]] = fr
	k.fast.Store(&next)
}

// SetFastLane turns the fast lane on or off (on by default); tests compare both lanes.
func (k *Kit) SetFastLane(on bool) { k.fastOff.Store(!on) }

// FastLane wraps the router's handler (se.Server.Handler once PocketBase has built it) with the
// fast lane. r is the router whose global middlewares the full chain runs. When that chain has
// a middleware the lane does not reproduce, FastLane prints a warning and returns next
// unchanged: the lane is off (FastLaneDisabled says why).
func (k *Kit) FastLane(next http.Handler, r *router.Router[*core.RequestEvent]) http.Handler {
	if unknown := k.fastLaneUnknown(r); len(unknown) > 0 {
		reason := strings.Join(unknown, "; ")
		k.fastDisabled.Store(&reason)
		msg := "the fast lane is off (every request takes the full chain): it does not reproduce " + reason
		log.Println("WARNING: " + msg)
		k.app.Logger().Warn(msg)
		return next
	}
	k.fastDisabled.Store(nil)
	f := &fastLane{kit: k, next: next, limit: &hook.Hook[*core.RequestEvent]{}}
	capture := &hook.Hook[*core.RequestEvent]{}
	for _, h := range r.Middlewares {
		switch h.Id {
		case apis.DefaultRateLimitMiddlewareId:
			f.limit.Bind(h)
		case apis.DefaultSecurityHeadersMiddlewareId:
			capture.Bind(h)
		}
	}
	probe := &core.RequestEvent{}
	probe.App = k.app
	probe.Request, _ = http.NewRequest(http.MethodGet, "/", nil)
	probe.Response = headerOnly{http.Header{}}
	_ = capture.Trigger(probe)
	f.headers = probe.Response.Header().Clone()
	f.headers.Add("Vary", "Origin") // what the CORS middleware adds to every answer (§1.6)
	for key, v := range f.headers {
		f.headers[key] = slices.Clip(v)
	}
	return f
}

func (f *fastLane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// RawPath is set only for paths with escapes the plain form cannot show (e.g. %2F), which
	// ServeMux matches differently: those stay with the full chain.
	// A Host beginning with www. may be redirected by PocketBase's www redirect: full chain.
	if r.Method == http.MethodGet && r.ContentLength == 0 && r.URL.RawPath == "" && !f.kit.fastOff.Load() && !strings.HasPrefix(r.Host, "www.") {
		if routes := f.kit.fast.Load(); routes != nil {
			if rt := (*routes)[r.URL.Path]; rt != nil && r.Header.Get("Origin") == "" && f.serve(w, r, rt) {
				return
			}
		}
	}
	f.next.ServeHTTP(w, r)
}

// serve answers the request and reports true, or reports false having written nothing.
func (f *fastLane) serve(w http.ResponseWriter, r *http.Request, rt *fastRoute) (served bool) {
	k := f.kit
	k.stripForwardingHeaders(r) // what the proxy guard does first in the full chain

	e := &core.RequestEvent{}
	e.App = k.app
	e.Request = r
	rw := &router.ResponseWriter{ResponseWriter: w}
	e.Response = rw

	defer k.track()()
	k.resolve(e, rt.access, true)
	if k.authorize(e, rt.access) != nil {
		return false
	}
	defer func() {
		if rec := recover(); rec != nil {
			if rw.Written() {
				panic(rec) // net/http logs it and drops the connection, as for any handler
			}
			clearHeaders(w)
			served = false // the full chain runs the handler again and answers its 500
		}
	}()

	final := func(e *core.RequestEvent) error {
		h := e.Response.Header()
		for key, v := range f.headers {
			h[key] = v
		}
		return rt.handler(e)
	}
	var err error
	if k.app.Settings().RateLimits.Enabled {
		err = f.limit.Trigger(e, final)
	} else {
		err = final(e)
	}
	if err != nil {
		if rw.Written() {
			return true // the answer is out (e.g. the client went away mid-write)
		}
		clearHeaders(w)
		return false
	}
	k.fastServed.Add(1)
	return true
}

// headerOnly is a ResponseWriter that keeps only the headers (the probe of FastLane).
type headerOnly struct{ h http.Header }

func (w headerOnly) Header() http.Header         { return w.h }
func (w headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w headerOnly) WriteHeader(int)             {}

func clearHeaders(w http.ResponseWriter) {
	h := w.Header()
	for key := range h {
		delete(h, key)
	}
}

// fastLaneState is the part of Kit the fast lane owns.
type fastLaneState struct {
	fast       atomic.Pointer[map[string]*fastRoute] // exact request path → route
	fastOff    atomic.Bool
	fastServed atomic.Uint64
	// fastDisabled: why FastLane left the lane out (nil while it runs)
	fastDisabled atomic.Pointer[string]
	fastMounts   []fastMount // guarded by Kit.mu
}

// FastLaneDisabled is why the fast lane was left out at start-up ("" when it was not).
func (k *Kit) FastLaneDisabled() string {
	if p := k.fastDisabled.Load(); p != nil {
		return *p
	}
	return ""
}

// FastLaneServed is the number of requests the fast lane has answered (tests, bench).
func (k *Kit) FastLaneServed() uint64 { return k.fastServed.Load() }
