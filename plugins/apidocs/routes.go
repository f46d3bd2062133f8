// Package apidocs serves the discovery documents of spec/API.md §5.12.1, §5.13.1, §5.14.1 and
// §5.14.3 (and, later, the OpenAPI document).
package apidocs

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

// Register mounts the discovery routes.
func Register(se *core.ServeEvent, kit *apikit.Kit) error {
	return kit.Mount(se.Router, []apikit.Route{
		{Method: http.MethodGet, Path: "/api/", Access: apikit.Principal, Handler: discovery(kit, rootLinks)},
		{Method: http.MethodGet, Path: "/api/v1/", Access: apikit.Principal, Handler: discovery(kit, v1Links)},
		{Method: http.MethodGet, Path: "/api/v1/hdts/", Access: apikit.Principal, Handler: discovery(kit, hdtsLinks)},
		{Method: http.MethodGet, Path: "/api/v1/tts/", Access: apikit.Principal, Handler: discovery(kit, ttsLinks)},
	})
}
