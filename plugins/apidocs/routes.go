// Package apidocs serves the discovery documents of spec/API.md §5.12.1, §5.13.1, §5.14.1 and
// §5.14.3, and the OpenAPI document with its docs page (§5.15.7).
package apidocs

import (
	_ "embed"
	"net/http"
	"strconv"
	"sync"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

//go:embed docs.html
var docsPage []byte

// Register mounts the discovery routes, the OpenAPI document and the docs page.
func Register(se *core.ServeEvent, kit *apikit.Kit) error {
	discoveryDoc := func(summary string, keys map[string]apikit.Schema) *apikit.Doc {
		return &apikit.Doc{Tag: "Discovery", Summary: summary,
			Description: "Absolute URLs built from APP_URL; only endpoints that are served are listed.",
			Responses:   []apikit.Response{apikit.OK("The links.", apikit.Obj(keys))}}
	}
	links := func(ls []link) map[string]apikit.Schema {
		m := map[string]apikit.Schema{}
		for _, l := range ls {
			m[l.key] = apikit.Schema{"type": "string", "format": "uri"}
		}
		return m
	}
	return kit.Mount(se.Router, []apikit.Route{
		{Method: http.MethodGet, Path: "/api/", Access: apikit.Principal, Handler: discovery(kit, rootLinks),
			Doc: discoveryDoc("The root discovery document (§5.14.1)", links(rootLinks))},
		{Method: http.MethodGet, Path: "/api/v1/", Access: apikit.Principal, Handler: discovery(kit, v1Links),
			Doc: discoveryDoc("The v1 discovery document (§5.14.3)", links(v1Links))},
		{Method: http.MethodGet, Path: "/api/v1/hdts/", Access: apikit.Principal, Handler: discovery(kit, hdtsLinks),
			Doc: discoveryDoc("The HDTS discovery document (§5.12.1)", links(hdtsLinks))},
		{Method: http.MethodGet, Path: "/api/v1/tts/", Access: apikit.Principal, Handler: discovery(kit, ttsLinks),
			Doc: discoveryDoc("The TTS discovery document (§5.13.1)", links(ttsLinks))},
		{Method: http.MethodGet, Path: "/api/v1/openapi.json", Handler: openAPI(kit),
			Doc: &apikit.Doc{Tag: "Discovery", Summary: "This OpenAPI 3.1 document (§5.15.7)",
				Description: "Every endpoint of the service; `Cache-Control: public, max-age=300`.",
				Responses:   []apikit.Response{apikit.OK("The document.", apikit.Schema{"type": "object"})}}},
		{Method: http.MethodGet, Path: "/api/v1/docs/", Handler: func(e *core.RequestEvent) error { return apikit.WritePage(e, docsPage) },
			Doc: &apikit.Doc{Tag: "Pages", Summary: "The API documentation page (§5.15.7)",
				Description: "Renders this document in the browser; loads nothing from outside the service.",
				Responses:   []apikit.Response{{Status: http.StatusOK, Description: "The page.", HTML: true}}}},
	})
}

// openAPI answers the document, built from the routes mounted by then (every plugin mounts its
// routes in OnServe, before the first request), and built again only when the application URL
// it names as its server changed (the dashboard's Application URL setting, §1.1).
func openAPI(kit *apikit.Kit) func(e *core.RequestEvent) error {
	var (
		mu       sync.Mutex
		builtFor string
		built    []byte
	)
	return func(e *core.RequestEvent) error {
		mu.Lock()
		if url := kit.AppURL(); built == nil || builtFor != url {
			doc, problems := Build(kit)
			for _, p := range problems {
				e.App.Logger().Warn("openapi document", "problem", p.Error())
			}
			built, builtFor = mustJSON(doc), url
		}
		body := built
		mu.Unlock()
		h := e.Response.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		e.Response.WriteHeader(http.StatusOK)
		if e.Request.Method == http.MethodHead {
			return nil
		}
		_, werr := e.Response.Write(body)
		return werr
	}
}
