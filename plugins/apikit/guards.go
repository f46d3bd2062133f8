package apikit

import (
	"gatehouse/plugins/realm"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Global middleware ids and priorities. The proxy guard runs below PocketBase's CORS (-1041)
// so that CORS, the activity logger and the rate limiter all see the same client IP (§1.12).
const (
	ProxyGuardId        = "gatehouseProxyGuard"
	proxyGuardPriority  = apis.DefaultCorsMiddlewarePriority - 1
	CORSId              = "gatehouseCORS"
	ClosedAuthRoutesId  = "gatehouseClosedAuthRoutes"
	closedRoutePriority = apis.DefaultLoadAuthTokenMiddlewarePriority + 1 // after PB knows superusers
)

// BindGuards binds the request-level guards every route relies on. Call it from OnServe.
func (k *Kit) BindGuards(r *router.Router[*core.RequestEvent]) {
	r.Bind(&hook.Handler[*core.RequestEvent]{Id: ProxyGuardId, Priority: proxyGuardPriority, Func: k.stripUntrustedForwarding})

	// PocketBase's CORS allows any origin ("*"); the contract's policy replaces it (§1.6).
	r.Unbind(apis.DefaultCorsMiddlewareId)
	r.Bind(&hook.Handler[*core.RequestEvent]{Id: CORSId, Priority: apis.DefaultCorsMiddlewarePriority, Func: k.cors})

	r.Bind(&hook.Handler[*core.RequestEvent]{Id: ClosedAuthRoutesId, Priority: closedRoutePriority, Func: closePocketBaseAccountRoutes})
}

// stripUntrustedForwarding deletes the headers named in PocketBase's Trusted proxy setting when
// the socket peer is not one of TRUSTED_PROXIES, so a client cannot choose its own IP.
func (k *Kit) stripUntrustedForwarding(e *core.RequestEvent) error {
	k.stripForwardingHeaders(e.Request)
	return e.Next()
}

func (k *Kit) stripForwardingHeaders(r *http.Request) {
	headers := k.app.Settings().TrustedProxy.Headers
	if len(headers) > 0 && !k.peerTrusted(r.RemoteAddr) {
		for _, h := range headers {
			r.Header.Del(h)
		}
	}
}

func (k *Kit) peerTrusted(remoteAddr string) bool {
	if len(k.cfg.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return k.cfg.IsTrustedProxy(addr)
}

var (
	corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type, X-API-Key, X-Requested-With, Accept"
)

// cors implements §1.6: exact allowed origins only, credentials allowed for them, never "*";
// every OPTIONS request is answered 204 here with an empty body.
func (k *Kit) cors(e *core.RequestEvent) error {
	h := e.Response.Header()
	h.Add("Vary", "Origin")
	origin := e.Request.Header.Get("Origin")
	allowed := origin != "" && k.AllowedOrigin(origin)
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if e.Request.Method == http.MethodOptions {
		if allowed {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(k.cfg.CORSMaxAge.Seconds())))
		}
		h.Set("X-Content-Type-Options", "nosniff")
		return e.NoContent(http.StatusNoContent)
	}
	return e.Next()
}

// closedAccountActions are PocketBase's account-recovery routes; it has no switch for them and
// confirm-verification would even replace the password of an account whose password auth is off.
var closedAccountActions = map[string]bool{
	"request-verification":   true,
	"confirm-verification":   true,
	"request-password-reset": true,
	"confirm-password-reset": true,
	"request-email-change":   true,
	"confirm-email-change":   true,
}

// closePocketBaseAccountRoutes answers PocketBase's own 404 for those routes on users and
// employees (§2.1) before anything is looked up, so the answer never depends on an email.
func closePocketBaseAccountRoutes(e *core.RequestEvent) error {
	rest, ok := strings.CutPrefix(e.Request.URL.Path, "/api/collections/")
	if !ok {
		return e.Next()
	}
	name, action, ok := strings.Cut(rest, "/")
	if !ok || !closedAccountActions[strings.TrimSuffix(action, "/")] || e.HasSuperuserAuth() {
		return e.Next()
	}
	col, err := e.App.FindCachedCollectionByNameOrId(name)
	if err != nil {
		return e.Next()
	}
	if _, err := realm.ByCollection(col.Name); err != nil {
		return e.Next()
	}
	return router.NewNotFoundError("", nil)
}

// WantsHTML reports whether a page endpoint should answer with its HTML variant (§1.11).
func WantsHTML(e *core.RequestEvent) bool {
	return strings.Contains(strings.ToLower(e.Request.Header.Get("Accept")), "text/html")
}

// PageCSP is the Content-Security-Policy of every HTML response (§1.11).
const PageCSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"

// SetPageHeaders sets the headers every HTML response of the service carries (§1.11).
func SetPageHeaders(e *core.RequestEvent) {
	h := e.Response.Header()
	h.Set("Content-Security-Policy", PageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
