package apidocs

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

// link is one entry of a discovery document: the key, the path it points to (whose route must
// be mounted for the entry to be listed, so a document never lists a URL that would 404), and
// the route's method.
type link struct {
	key, path string
	method    string
}

// The documents of §5.14.1, §5.14.3, §5.12.1 and §5.13.1, in the contract's key order.
var (
	rootLinks = []link{
		{key: "api_v1", path: "/api/v1/"},
		{key: "token_obtain", path: "/api/v1/token/obtain/", method: http.MethodPost},
		{key: "token_refresh", path: "/api/v1/token/refresh/", method: http.MethodPost},
		{key: "logout", path: "/api/v1/users/logout/", method: http.MethodPost},
		{key: "me", path: "/api/me/"},
		{key: "jwks", path: "/.well-known/jwks.json"},
		{key: "openapi", path: "/api/v1/openapi.json"},
	}
	v1Links = []link{
		{key: "users", path: "/api/v1/users/"},
		{key: "roles", path: "/api/v1/roles/"},
		{key: "systems", path: "/api/v1/systems/"},
		{key: "system-roles", path: "/api/v1/system-roles/user-system-roles/"},
		{key: "token", path: "/api/v1/token/obtain/", method: http.MethodPost},
		{key: "tts", path: "/api/v1/tts/"},
		{key: "hdts", path: "/api/v1/hdts/"},
		{key: "employees", path: "/api/v1/hdts/employees/"},
		{key: "invitations", path: "/api/v1/invitations/"},
		{key: "sessions", path: "/api/v1/users/sessions/"},
		{key: "openapi", path: "/api/v1/openapi.json"},
	}
	hdtsLinks = []link{
		{key: "register", path: "/api/v1/hdts/employees/api/register/", method: http.MethodPost},
		{key: "login", path: "/api/v1/hdts/employees/api/login/", method: http.MethodPost},
		{key: "employees", path: "/api/v1/hdts/employees/"},
		{key: "pending_users_api", path: "/api/v1/hdts/user-management/pending/api/"},
		{key: "all_users_api", path: "/api/v1/hdts/user-management/users/api/"},
		{key: "update_user_status", path: "/api/v1/hdts/user-management/update-status/{id}/", method: http.MethodPost},
	}
	ttsLinks = []link{
		{key: "round-robin", path: "/api/v1/tts/round-robin/"},
		{key: "user-info", path: "/api/v1/tts/user-info/{user_id}/"},
		{key: "users-info", path: "/api/v1/tts/users-info/", method: http.MethodPost},
		{key: "assign-agent-to-role", path: "/api/v1/tts/assign-agent-to-role/"},
		{key: "assign-role", path: "/api/v1/tts/assign-role/"},
		{key: "create-role", path: "/api/v1/tts/create-role/"},
		{key: "update-assignment", path: "/api/v1/tts/update-assignment/{assignment_id}/", method: http.MethodPut},
	}
)

// discovery answers a document of absolute URLs built from APP_URL (never from Host, §1.1),
// in the contract's key order.
func discovery(kit *apikit.Kit, links []link) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		doc := apikit.NewOrderedObject(len(links))
		base := kit.AppURL()
		for _, l := range links {
			method := l.method
			if method == "" {
				method = http.MethodGet
			}
			if kit.HasRoute(method, l.path) {
				doc.Set(l.key, base+l.path)
			}
		}
		return apikit.WriteJSON(e, http.StatusOK, doc)
	}
}
