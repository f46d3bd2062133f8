package apikit

import (
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
)

// Kit is the per-app holder of the shared HTTP conventions. main creates one and passes it to
// every plugin; tests create one per test app, so nothing here is global.
type Kit struct {
	app    core.App
	cfg    *config.Config
	auth   atomic.Pointer[authenticatorBox]
	levels atomic.Pointer[levelCheckerBox]

	mu      sync.RWMutex
	mounted map[string]bool // "METHOD /slash/form/{param}/" of every mounted route
	routes  []MountedRoute  // the same, with what the OpenAPI document needs (Routes)

	public fs.FS // pb_public (page endpoints, static pages)

	fastLaneState
	inflight atomic.Int32 // authenticated requests in progress (AuthenticatedBusy)
	arrivals [2]arrivalSlot
	procs    int32 // config.Processors()
}

type authenticatorBox struct{ a Authenticator }

type levelCheckerBox struct{ c LevelChecker }

// New returns the kit of app.
func New(app core.App, cfg *config.Config) *Kit {
	return &Kit{app: app, cfg: cfg, procs: int32(config.Processors())}
}

// Config returns the shared configuration.
func (k *Kit) Config() *config.Config { return k.cfg }

// SetAuthenticator installs the credential checker (the tokens plugin calls it once).
func (k *Kit) SetAuthenticator(a Authenticator) { k.auth.Store(&authenticatorBox{a: a}) }

// SetLevelChecker installs the permission-level checker (plugins/permissions, at wiring).
func (k *Kit) SetLevelChecker(c LevelChecker) { k.levels.Store(&levelCheckerBox{c: c}) }

func (k *Kit) authenticator() Authenticator {
	if b := k.auth.Load(); b != nil {
		return b.a
	}
	return nil
}

// AppURL is the configured application URL without a trailing slash (§1.1): APP_URL, else
// PocketBase's Application URL setting. Request headers never take part.
func (k *Kit) AppURL() string { return k.cfg.AppURL(k.app) }

// URL joins the application URL and an absolute path.
func (k *Kit) URL(path string) string { return k.AppURL() + path }

// AllowedOrigin reports whether a browser origin may make credentialed requests (§1.6):
// CORS_ALLOWED_ORIGINS, plus localhost origins in dev mode.
func (k *Kit) AllowedOrigin(origin string) bool {
	origin = strings.ToLower(strings.TrimRight(origin, "/"))
	if origin == "" || origin == "null" {
		return false
	}
	for _, o := range k.cfg.CORSAllowedOrigins {
		if o == origin {
			return true
		}
	}
	if k.app.IsDev() {
		u, err := url.Parse(origin)
		if err == nil && u.Scheme == "http" && u.Path == "" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1") {
			return true
		}
	}
	return false
}

// CheckOrigin is the CSRF check of §1.6 for a request that uses a cookie credential: Origin
// (or, when absent, the origin of Referer) must be APP_URL's origin or an allowed CORS origin.
func (k *Kit) CheckOrigin(e *core.RequestEvent) error {
	origin := e.Request.Header.Get("Origin")
	if origin == "" {
		if ref := e.Request.Header.Get("Referer"); ref != "" {
			if u, err := url.Parse(ref); err == nil && u.Scheme != "" && u.Host != "" {
				origin = u.Scheme + "://" + u.Host
			}
		}
	}
	if origin != "" && (sameOrigin(origin, k.AppURL()) || k.AllowedOrigin(origin)) {
		return nil
	}
	return PermissionDenied(DetailCSRFFailed)
}

func sameOrigin(origin, appURL string) bool {
	a, err1 := url.Parse(origin)
	b, err2 := url.Parse(appURL)
	if err1 != nil || err2 != nil || a.Scheme == "" || a.Host == "" {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(hostPort(a), hostPort(b))
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u.Host + ":443"
	case "http":
		return u.Host + ":80"
	}
	return u.Host
}

// HasRoute reports whether a route of the contract is mounted (slash form, as in the table).
func (k *Kit) HasRoute(method, path string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.mounted[method+" "+slashForm(path)]
}

func (k *Kit) markMounted(method, path string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mounted == nil {
		k.mounted = map[string]bool{}
	}
	k.mounted[method+" "+slashForm(path)] = true
}
