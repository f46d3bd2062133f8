package directory

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// routes is the plugin's path table: every path of §5.3.3–§5.5, §5.9–§5.11 and §5.15.5.
// Static segments win over {id} for every method (apikit mounts a 405 for each undefined
// method of a known path, and net/http prefers the more specific pattern).
func (p *plugin) routes() []apikit.Route {
	var (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		anyAdmin                   = apikit.AnyAdmin
		staff                      = apikit.Staff
		multipart                  = apikit.BodyMultipart
		forms                      = apikit.BodyForm | apikit.BodyMultipart
	)
	var table []apikit.Route
	// §5.3.3–§5.3.7 and their §5.4 aliases.
	for _, base := range []string{"/api/v1/users/", "/api/v1/users/management/"} {
		table = append(table,
			apikit.Route{Method: get, Path: base, Access: anyAdmin, Handler: p.listUsers},
			apikit.Route{Method: post, Path: base, Access: anyAdmin, Handler: p.createUser},
			apikit.Route{Method: get, Path: base + "{id}/", Access: anyAdmin, Handler: p.getUser},
			apikit.Route{Method: put, Path: base + "{id}/", Access: anyAdmin, Accepts: multipart, Handler: p.updateUser(true)},
			apikit.Route{Method: patch, Path: base + "{id}/", Access: anyAdmin, Accepts: multipart, Handler: p.updateUser(false)},
			apikit.Route{Method: del, Path: base + "{id}/", Access: anyAdmin, Handler: p.deleteUser},
		)
	}
	table = append(table,
		apikit.Route{Method: get, Path: "/api/v1/users/list/", Access: anyAdmin, Handler: p.listUsers},
		apikit.Route{Method: get, Path: "/api/v1/users/agents/", Access: anyAdmin, Handler: p.listAgents},
	)
	// §5.5
	for _, path := range []string{"/api/v1/users/invite-agent/", "/api/v1/users/management/invite_agent/"} {
		table = append(table,
			apikit.Route{Method: get, Path: path, Access: anyAdmin, Page: true, Handler: p.invitePage},
			apikit.Route{Method: post, Path: path, Access: anyAdmin, Handler: p.inviteAgent},
		)
	}
	// §5.9
	table = append(table,
		apikit.Route{Method: get, Path: "/api/v1/systems/", Access: anyAdmin, Handler: p.listSystems},
		apikit.Route{Method: post, Path: "/api/v1/systems/", Access: anyAdmin, Handler: p.createSystem},
		apikit.Route{Method: get, Path: "/api/v1/systems/public/", Handler: p.publicSystems},
		apikit.Route{Method: get, Path: "/api/v1/systems/{id}/", Access: anyAdmin, Handler: p.getSystem},
		apikit.Route{Method: put, Path: "/api/v1/systems/{id}/", Access: anyAdmin, Handler: p.updateSystem(true)},
		apikit.Route{Method: patch, Path: "/api/v1/systems/{id}/", Access: anyAdmin, Handler: p.updateSystem(false)},
		apikit.Route{Method: del, Path: "/api/v1/systems/{id}/", Access: anyAdmin, Handler: p.deleteSystem},
	)
	// §5.10
	table = append(table,
		apikit.Route{Method: get, Path: "/api/v1/roles/", Access: anyAdmin, Handler: p.listRoles},
		apikit.Route{Method: post, Path: "/api/v1/roles/", Access: anyAdmin, Handler: p.createRole},
		apikit.Route{Method: post, Path: "/api/v1/roles/register/", Access: anyAdmin, Handler: p.createRole},
		apikit.Route{Method: get, Path: "/api/v1/roles/{id}/", Access: anyAdmin, Handler: p.getRole},
		apikit.Route{Method: put, Path: "/api/v1/roles/{id}/", Access: anyAdmin, Handler: p.updateRole(true)},
		apikit.Route{Method: patch, Path: "/api/v1/roles/{id}/", Access: anyAdmin, Handler: p.updateRole(false)},
		apikit.Route{Method: del, Path: "/api/v1/roles/{id}/", Access: anyAdmin, Handler: p.deleteRole},
	)
	// §5.11
	const usr = "/api/v1/system-roles/user-system-roles/"
	table = append(table,
		apikit.Route{Method: post, Path: "/api/v1/system-roles/invite/", Access: anyAdmin, Accepts: forms, Handler: p.systemRolesInvite},
		apikit.Route{Method: get, Path: "/api/v1/system-roles/systems/{system_slug}/users/", Access: anyAdmin, Handler: p.systemUsers},
		apikit.Route{Method: get, Path: usr, Access: staff, Handler: p.listAssignments},
		apikit.Route{Method: post, Path: usr, Access: anyAdmin, Handler: p.createAssignment},
		apikit.Route{Method: get, Path: usr + "{id}/", Access: staff, Handler: p.getAssignment},
		apikit.Route{Method: put, Path: usr + "{id}/", Access: staff, Handler: p.updateAssignment(true)},
		apikit.Route{Method: patch, Path: usr + "{id}/", Access: staff, Handler: p.updateAssignment(false)},
		apikit.Route{Method: del, Path: usr + "{id}/", Access: staff, Handler: p.deleteAssignment},
		apikit.Route{Method: post, Path: usr + "edit-settings/", Access: anyAdmin, Handler: p.editSettings},
		apikit.Route{Method: get, Path: usr + "system/{system_slug}/roles/", Access: anyAdmin, Handler: p.systemRoles},
	)
	// §5.15.5
	table = append(table,
		apikit.Route{Method: get, Path: "/api/v1/invitations/", Access: anyAdmin, Handler: p.listInvitations},
		apikit.Route{Method: del, Path: "/api/v1/invitations/{id}/", Access: anyAdmin, Handler: p.revokeInvitation},
		apikit.Route{Method: get, Path: "/api/v1/invitations/accept/", Page: true, SecretQuery: true, Handler: p.checkInvitation},
		apikit.Route{Method: post, Path: "/api/v1/invitations/accept/", SecretQuery: true, Handler: p.acceptInvitation},
	)
	return table
}
