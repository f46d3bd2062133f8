package apikit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Route is one row of a plugin's path table.
type Route struct {
	Method  string    // GET, POST, PUT, PATCH or DELETE (HEAD follows GET by itself)
	Path    string    // slash form, as spec/API.md writes it: "/api/v1/users/{id}/"
	Access  Access    // who may call it (§1.7); the zero value is PUBLIC
	Accepts BodyKinds // body formats besides JSON (§1.2)
	// Page: a page endpoint of §1.11. Every answer carries Vary: Accept, and a GET whose Accept
	// asks for text/html reaches the handler without authentication (the static shell needs
	// none): its handler serves the page first when WantsHTML.
	Page bool
	// SkipSuccessLog keeps successful answers out of PocketBase's request log (failures are
	// still logged): for hot token-check routes, where a log row per request costs more than
	// the check itself.
	SkipSuccessLog bool
	// SecretQuery: the query string carries a secret (a one-time token, §1.11). It is taken off
	// the request URL before anything runs (rate limiter, body checks, the handler) and logged,
	// so PocketBase's request log never holds it; handlers read it with Query(e).
	SecretQuery bool
	// Fast serves the route's successful answers through the fast lane (fastlane.go) as well:
	// only for a GET route with credentials whose handler is a read without side effects. Its
	// caller's Record may be shared with other requests (SharedAuthenticator): read it only.
	Fast    bool
	Handler func(e *core.RequestEvent) error
	// Doc describes the route in the OpenAPI document (plugins/apidocs); every mounted route
	// needs one (apidocs' completeness test). Tables usually attach them with WithDocs.
	Doc *Doc
}

// Priorities of our route-level middlewares relative to PocketBase's globals: the error
// writer wraps the rate limiter (-1000) so that its 429 gets our envelope (§7.2), and the
// credential resolver runs before the limiter so that the limiter sees the right audience.
const (
	errorWriterPriority = apis.DefaultRateLimitMiddlewarePriority - 5
	resolverPriority    = apis.DefaultRateLimitMiddlewarePriority - 3
)

// mountedMethods are the methods for which every table path answers (405 when undefined).
var mountedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Mount binds a path table to the router: each path in both slash forms (no redirect, §1.1),
// each undefined method of a known path as a 405 with Allow, so a wrong method never falls
// through to a parameterised route of another method or to PocketBase's catch-all.
func (k *Kit) Mount(r *router.Router[*core.RequestEvent], table []Route) error {
	byPath := map[string][]Route{}
	var order []string
	for _, rt := range table {
		if !strings.HasPrefix(rt.Path, "/") || rt.Handler == nil || !slices.Contains(mountedMethods, rt.Method) || rt.Method == http.MethodHead ||
			!rt.Access.levelValid() ||
			rt.Fast && (rt.Method != http.MethodGet || rt.Access.IsPublic() || rt.SecretQuery || rt.Page) {
			return fmt.Errorf("apikit: bad route %s %q", rt.Method, rt.Path)
		}
		key := slashForm(rt.Path)
		if _, ok := byPath[key]; !ok {
			order = append(order, key)
		}
		for _, other := range byPath[key] {
			if other.Method == rt.Method {
				return fmt.Errorf("apikit: duplicate route %s %s", rt.Method, key)
			}
		}
		byPath[key] = append(byPath[key], rt)
	}

	for _, path := range order {
		routes := byPath[path]
		var allow []string
		for _, rt := range routes {
			allow = append(allow, rt.Method)
		}
		for _, method := range mountedMethods {
			idx := slices.IndexFunc(routes, func(rt Route) bool { return rt.Method == method })
			if method == http.MethodHead {
				// net/http serves HEAD with the GET pattern (the route's GET, or its GET 405)
				// and drops the body. A HEAD pattern of its own would conflict with a GET of a
				// more specific path (HEAD /x/{id} against GET /x/accept).
				continue
			}
			var rt Route
			if idx >= 0 {
				rt = routes[idx]
				k.markMounted(method, path)
				k.recordRoute(rt)
				if rt.Fast {
					k.markFast(rt)
				}
			} else {
				m := method
				rt = Route{Method: m, Path: path, Page: slices.ContainsFunc(routes, func(r Route) bool { return r.Page }),
					SecretQuery: slices.ContainsFunc(routes, func(r Route) bool { return r.SecretQuery }),
					Handler:     func(e *core.RequestEvent) error { return MethodNotAllowed(e.Request.Method, allow) }}
			}
			for _, pattern := range patterns(path) {
				k.bind(r.Route(method, pattern, rt.Handler), rt, idx < 0)
			}
		}
	}
	return nil
}

// MountAPIFallbacks answers unknown paths under /api/ with the 404 envelope (§1.1). PocketBase's
// own /api routes are more specific patterns and keep winning. A method outside mountedMethods
// (PROPFIND, TRACE, an OPTIONS that is no CORS preflight) matches no method pattern and reaches
// the any-method catch-all, which this replaces (PocketBase adds its own only when there is
// none): on a path of a table it is that path's 405 with Allow, under /api/ the 404 envelope,
// anywhere else PocketBase's 404 as before.
func (k *Kit) MountAPIFallbacks(r *router.Router[*core.RequestEvent]) {
	notFound := Route{Handler: func(e *core.RequestEvent) error { return NotFound("") }}
	for _, method := range mountedMethods {
		if method == http.MethodHead {
			continue
		}
		k.bind(r.Route(method, "/api/{path...}", notFound.Handler), notFound, true)
	}
	otherMethod := Route{Handler: func(e *core.RequestEvent) error {
		path := e.Request.URL.Path
		if allow := k.allowedMethods(path); len(allow) > 0 {
			return MethodNotAllowed(e.Request.Method, allow)
		}
		if path == "/api" || strings.HasPrefix(path, "/api/") {
			return NotFound("")
		}
		return router.NewNotFoundError("", nil)
	}}
	k.bind(r.Route("", "/", otherMethod.Handler), otherMethod, true)
}

// allowedMethods are the methods of the mounted table path that serves path (its most specific
// pattern, as ServeMux would choose: a literal segment beats a {param} at the first segment where
// two patterns differ), nil when none does.
func (k *Kit) allowedMethods(path string) []string {
	want := strings.Split(strings.Trim(slashForm(path), "/"), "/")
	k.mu.RLock()
	defer k.mu.RUnlock()
	var best []string // the best pattern's segments
	byPattern := map[string][]string{}
	for key := range k.mounted {
		method, pattern, _ := strings.Cut(key, " ")
		segs := strings.Split(strings.Trim(pattern, "/"), "/")
		if !segmentsMatch(segs, want) {
			continue
		}
		byPattern[pattern] = append(byPattern[pattern], method)
		if best == nil || moreSpecific(segs, best) {
			best = segs
		}
	}
	if best == nil {
		return nil
	}
	allow := byPattern["/"+strings.Join(best, "/")+"/"]
	if len(best) == 1 && best[0] == "" {
		allow = byPattern["/"]
	}
	slices.SortFunc(allow, func(a, b string) int { return slices.Index(mountedMethods, a) - slices.Index(mountedMethods, b) })
	return allow
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

func segmentsMatch(pattern, path []string) bool {
	if len(pattern) != len(path) {
		return false
	}
	for i, seg := range pattern {
		if !isParam(seg) && seg != path[i] {
			return false
		}
	}
	return true
}

// moreSpecific: a has a literal segment where b has a parameter, at the first place they differ.
func moreSpecific(a, b []string) bool {
	for i := range a {
		if pa, pb := isParam(a[i]), isParam(b[i]); pa != pb {
			return pb
		}
	}
	return false
}

// patterns gives the two ServeMux patterns of a slash-form path: the exact slash form ({$} so
// that it is not a subtree match) and the exact form without the slash.
func patterns(slashPath string) []string {
	base := strings.TrimSuffix(slashPath, "/")
	if base == "" {
		return []string{"/{$}"}
	}
	return []string{base, base + "/{$}"}
}

func slashForm(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

// bind attaches the middlewares that give every route of the contract the check order of §1.3:
// 429 → 413 → 405 → 415 → CSRF → 401 → (handler: 403 → 404 → 400 → 409).
func (k *Kit) bind(route *router.Route[*core.RequestEvent], rt Route, bare bool) {
	// Our routes take credentials only from our own tokens and keys, never from PocketBase's
	// loader (§2.1), and enforce their own body limits with the contract's envelope.
	route.Unbind(apis.DefaultLoadAuthTokenMiddlewareId, apis.DefaultBodyLimitMiddlewareId)

	if rt.SkipSuccessLog {
		route.BindFunc(skipSuccessLog)
	}
	page, secretQuery := rt.Page, rt.SecretQuery
	docPath := rt.Path
	route.Bind(&hook.Handler[*core.RequestEvent]{
		Id:       "gatehouseErrors",
		Priority: errorWriterPriority,
		Func: func(e *core.RequestEvent) (err error) {
			if statusLogOn && docPath != "" {
				defer func() { recordStatus(e.Request.Method, docPath, e.Status()) }()
			}
			if secretQuery {
				hideQuery(e)
			}
			if page {
				e.Response.Header().Add("Vary", "Accept")
			}
			defer func() {
				if rec := recover(); rec != nil {
					e.App.Logger().Error("panic in handler", "panic", fmt.Sprint(rec), "path", e.Request.URL.Path)
					err = WriteError(e, ServerError())
				}
			}()
			if err := e.Next(); err != nil {
				if written(e) {
					return nil
				}
				var pbErr *router.ApiError
				if errors.As(err, &pbErr) && pbErr.Status == http.StatusTooManyRequests {
					err = TooManyRequests(rateLimitWindow(e))
				}
				return WriteError(e, err)
			}
			return nil
		},
	})

	public := rt.Access.IsPublic()
	if !bare && !public {
		access, shared := rt.Access, rt.Fast
		route.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       "gatehouseResolveCredentials",
			Priority: resolverPriority,
			Func: func(e *core.RequestEvent) error {
				k.resolve(e, access, shared)
				return e.Next()
			},
		})
	} else if !bare {
		// A PUBLIC route evaluates no credential, but the limiter still counts a caller with
		// a valid access token as @auth (§7.2); e.Auth is cleared again below, after the
		// limiter, so the handler sees what it always saw.
		route.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       "gatehouseLimiterAudience",
			Priority: resolverPriority,
			Func: func(e *core.RequestEvent) error {
				k.limiterAudience(e)
				return e.Next()
			},
		})
	}

	accepts := rt.Accepts
	route.BindFunc(func(e *core.RequestEvent) error {
		if public {
			e.Auth = nil // set for the limiter only (limiterAudience)
		}
		if err := k.limitBody(e); err != nil {
			return err
		}
		if bare {
			return e.Next()
		}
		if err := checkMediaType(e.Request, accepts); err != nil {
			return err
		}
		if page && isRead(e.Request.Method) && WantsHTML(e) {
			// The HTML variant of a page endpoint is a static shell that requires no
			// authentication (§1.11): the handler serves it before anything else.
			return e.Next()
		}
		if !rt.Access.IsPublic() {
			if err := k.authorize(e, rt.Access); err != nil {
				return err
			}
			defer k.track()()
		}
		return e.Next()
	})
	if rt.Fast && !bare {
		k.noteFastRoute(slashForm(rt.Path), route) // the lane checks its chain (fastlane.go)
	}
}

func isRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// pbSkipSuccessLogKey is the request-store key of apis.SkipSuccessActivityLog (unexported
// there; TestSkipSuccessLogKey checks it).
const pbSkipSuccessLogKey = "__skipSuccessActivityLogger"

// skipSuccessLog keeps a successful answer (status < 400) out of PocketBase's request log and
// leaves failures in it. PocketBase's own SkipSuccessActivityLog looks at the returned error
// only, and our error writer answers errors itself and returns nil: with it, a 401 of a token
// route would never be logged.
func skipSuccessLog(e *core.RequestEvent) error {
	err := e.Next()
	if status := e.Status(); err == nil && status > 0 && status < http.StatusBadRequest {
		e.Set(pbSkipSuccessLogKey, true)
	}
	return err
}

func written(e *core.RequestEvent) bool {
	if w, ok := e.Response.(router.WriteTracker); ok {
		return w.Written()
	}
	return false
}

// limitBody answers 413 for a declared Content-Length over the limit and caps the reader for
// chunked bodies (the binder maps the reader's error onto 413 too). Multipart bodies get the
// larger limit of §1.2.
func (k *Kit) limitBody(e *core.RequestEvent) error {
	limit := k.cfg.MaxJSONBody
	if mediaType(e.Request) == "multipart/form-data" {
		limit = k.cfg.MaxMultipartBody
	}
	if e.Request.ContentLength > limit {
		return PayloadTooLarge()
	}
	if e.Request.Body == nil || e.Request.Body == http.NoBody {
		return nil
	}
	if e.Request.ContentLength < 0 {
		// A body of unknown length (chunked) is read here, within the limit, so that an
		// oversized one is the 413 of §1.3's order — before authentication, and also on
		// handlers that never read a body. A body broken off keeps its error for the handler
		// that reads it (400 in its place of the order).
		data, err := io.ReadAll(io.LimitReader(e.Request.Body, limit+1))
		if int64(len(data)) > limit {
			return PayloadTooLarge()
		}
		var rest io.Reader = bytes.NewReader(data)
		if err != nil {
			rest = io.MultiReader(rest, errReader{err})
		} else {
			e.Request.ContentLength = int64(len(data))
		}
		e.Request.Body = io.NopCloser(rest)
		return nil
	}
	e.Request.Body = http.MaxBytesReader(e.Response, e.Request.Body, limit)
	return nil
}

// errReader returns err on every read.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	return mt
}

// checkMediaType is the 415 check of §1.2: a non-empty body must be in a format the route takes.
// An empty body is fine with any or no Content-Type.
func checkMediaType(r *http.Request, accepts BodyKinds) error {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	mt := mediaType(r)
	switch {
	case mt == "application/json":
		return nil
	case mt == "application/x-www-form-urlencoded" && accepts&BodyForm != 0:
		return nil
	case mt == "multipart/form-data" && accepts&BodyMultipart != 0:
		return nil
	}
	if r.ContentLength < 0 && mt == "" {
		// A chunked request that declares no type: only an empty body is acceptable; the
		// binder reports 415 if any byte arrives.
		return nil
	}
	return UnsupportedMediaType(mt)
}

// ErrNoAuthenticator is what resolving a credential yields before the tokens plugin registers.
var ErrNoAuthenticator = errors.New("apikit: no authenticator registered")
