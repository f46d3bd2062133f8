package apikit

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pocketbase/pocketbase/core"
)

// SetPublic gives the kit the embedded pb_public folder, whose pages are the HTML variants of
// the page endpoints (§1.11) and the static pages of §5.15.8.
func (k *Kit) SetPublic(fsys fs.FS) { k.public = fsys }

// Public is the pb_public folder (nil when the app has none, e.g. in most unit tests).
func (k *Kit) Public() fs.FS { return k.public }

// ErrNoPublic is the (500) error of a page endpoint on an app without pb_public.
var ErrNoPublic = errors.New("apikit: pb_public is not available")

// ServePage answers 200 text/html with a page of pb_public (e.g. "reset-password/index.html")
// and the headers every HTML response carries (§1.11). HEAD gets the headers only.
func (k *Kit) ServePage(e *core.RequestEvent, name string) error {
	if k.public == nil {
		return ErrNoPublic
	}
	page, err := fs.ReadFile(k.public, name)
	if err != nil {
		return err
	}
	return WritePage(e, page)
}

// WritePage answers 200 text/html with page and the headers of §1.11 (HEAD: headers only).
func WritePage(e *core.RequestEvent, page []byte) error {
	SetPageHeaders(e)
	h := e.Response.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	e.Response.WriteHeader(http.StatusOK)
	if e.Request.Method == http.MethodHead {
		return nil
	}
	_, err := e.Response.Write(page)
	return err
}

// StaticPageRoutes returns a GET route for every top-level folder of pb_public that holds an
// index.html (/login/, /reset-password/, …), so each page is served at both slash forms with
// no redirect (§5.15.8); PocketBase's static handler would answer /login with a 301.
func (k *Kit) StaticPageRoutes() []Route {
	if k.public == nil {
		return nil
	}
	entries, err := fs.ReadDir(k.public, ".")
	if err != nil {
		return nil
	}
	var routes []Route
	for _, entry := range entries {
		page := entry.Name() + "/index.html"
		if !entry.IsDir() || entry.Name() == "assets" {
			continue
		}
		if _, err := fs.Stat(k.public, page); err != nil {
			continue
		}
		summary := staticPageSummaries[entry.Name()]
		if summary == "" {
			summary = "The " + entry.Name() + " page"
		}
		routes = append(routes, Route{Method: http.MethodGet, Path: "/" + entry.Name() + "/", Page: true,
			Handler: func(e *core.RequestEvent) error { return k.ServePage(e, page) },
			Doc: &Doc{Tag: "Pages", Summary: summary,
				Description: "An HTML page embedded in the binary (§5.15.8); it calls the JSON endpoints with the browser's cookies.",
				Responses:   []Response{{Status: http.StatusOK, Description: "The page.", HTML: true}}}})
	}
	return routes
}

// staticPageSummaries name the pages of pb_public in the OpenAPI document.
var staticPageSummaries = map[string]string{
	"login":             "The sign-in page: password, CAPTCHA when needed, second factor (§5.15.8)",
	"reset-password":    "The password reset page: a new password from an emailed link, or a link by email (§5.15.8)",
	"two-factor":        "The two-step verification setup page (QR code, confirmation, recovery codes)",
	"accept-invitation": "The invitation acceptance page (§5.15.8)",
}

const savedQueryKey = "gatehouse.query"

// Query returns the request's query parameters, also on a SecretQuery route (where they were
// taken off the request URL before anything could log them).
func Query(e *core.RequestEvent) url.Values {
	if q, ok := e.Get(savedQueryKey).(url.Values); ok {
		return q
	}
	return e.Request.URL.Query()
}

// hideQuery moves the query string off the request URL (both the parsed URL that PocketBase's
// activity logger reads and the raw request URI) into the request store.
func hideQuery(e *core.RequestEvent) {
	e.Set(savedQueryKey, e.Request.URL.Query())
	e.Request.URL.RawQuery = ""
	e.Request.URL.ForceQuery = false
	if e.Request.RequestURI != "" {
		e.Request.RequestURI = e.Request.URL.RequestURI()
	}
}

// QueryParam is r.URL.Query().Get(name) without parsing (and allocating) an empty query.
func QueryParam(r *http.Request, name string) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get(name)
}
