package directory

import (
	"net/http"
	"slices"

	"gatehouse/plugins/apikit"
)

// docs describes the plugin's routes in the OpenAPI document (§5.15.7), keyed "METHOD path".
// apikit.WithDocs refuses a key that names no route; apidocs' completeness test refuses a route
// without a doc, and TestDocumentedStatusesOccurInTests a documented status no test produced.
// The shapes are the handlers' (systemJSON, roleJSON, assignmentRow, invitationJSON, …).
var docs = func() map[string]*apikit.Doc {
	str, integer, boolean, obj, ref, ok, fail := apikit.Text, apikit.Integer, apikit.Boolean, apikit.Obj, apikit.Ref, apikit.OK, apikit.Fail
	type S = apikit.Schema
	type R = apikit.Response
	type P = apikit.Param
	nullable := func(desc string) S { return S{"type": []string{"string", "null"}, "description": desc} }
	ts := S{"type": "string", "format": "date-time"}
	nts := S{"type": []string{"string", "null"}, "format": "date-time"}
	plain := S{"type": "string"}
	// closed: every key is always present in an answer (§4).
	closed := func(props map[string]S) S {
		req := make([]string, 0, len(props))
		for k := range props {
			req = append(req, k)
		}
		slices.Sort(req)
		return obj(props, req...)
	}
	enum := func(desc string, values ...string) S { return S{"type": "string", "enum": values, "description": desc} }
	created := func(desc string, schema S) R { return R{Status: http.StatusCreated, Description: desc, Schema: schema} }
	noContent := func(desc string) R { return R{Status: http.StatusNoContent, Description: desc} }

	// Shared objects of §4.
	system := closed(map[string]S{"id": plain, "name": plain, "slug": plain, "url": nullable(""), "created_at": ts, "updated_at": ts})
	systemBrief := closed(map[string]S{"id": plain, "name": plain, "slug": plain})
	role := closed(map[string]S{"id": plain, "name": plain, "description": nullable(""), "is_custom": boolean(""),
		"created_at": ts, "updated_at": ts, "system": str("System id."), "system_slug": plain, "system_name": plain})
	roleBrief := closed(map[string]S{"id": plain, "name": plain, "description": nullable(""), "is_custom": boolean(""), "created_at": ts})
	assignmentProps := map[string]S{"id": str("Assignment id."), "user": str("User id."), "email": plain, "username": plain,
		"first_name": plain, "last_name": plain, "user_is_active": boolean("The user's is_active."),
		"system": str("System id."), "system_slug": plain, "system_name": plain, "role": str("Role id."), "role_name": plain,
		"is_active": boolean("The assignment flag."), "settings": S{"type": "object", "description": "§2.6."},
		"assigned_at": ts, "last_logged_on": nts}
	assignment := closed(assignmentProps)
	withRoles := map[string]S{"available_roles": {"type": "array", "items": roleBrief, "description": "Every role of the assignment's system, by name."}}
	for k, v := range assignmentProps {
		withRoles[k] = v
	}
	assignmentWithRoles := closed(withRoles)
	invitation := closed(map[string]S{"id": plain, "email": plain, "system": str("System id."), "system_slug": plain,
		"system_name": plain, "role": str("Role id."), "role_name": plain, "invited_by": nullable("Inviter's user id."),
		"invited_by_email": nullable(""), "status": enum("Derived from the dates.", "pending", "accepted", "revoked", "expired"),
		"expires_at": ts, "accepted_at": nts, "revoked_at": nts, "created_at": ts})
	user := ref("UserProfile")
	pageWith := func(items S, extra map[string]S) S {
		page := apikit.PageOf(items)
		props := page["properties"].(map[string]S)
		req := page["required"].([]string)
		for k, v := range extra {
			props[k] = v
			req = append(req, k)
		}
		page["required"] = req
		return page
	}

	// §1.8 query parameters.
	pageParams := []P{{Name: "page", Description: "Page number, from 1.", Schema: integer("")},
		{Name: "page_size", Description: "Items per page (default 50, at most 200).", Schema: integer("")}}
	search := func(fields string) P {
		return P{Name: "search", Description: "Case-insensitive substring over " + fields + " (≤ 100 characters)."}
	}
	ordering := func(fields string) P {
		return P{Name: "ordering", Description: "Comma-separated fields, `-` for descending: " + fields + "."}
	}
	boolParam := func(name, desc string) P {
		return P{Name: name, Description: desc, Schema: S{"type": "string", "enum": []string{"true", "false"}}}
	}
	query := func(ps ...P) []P { return append(ps, pageParams...) }
	badQuery := fail(http.StatusBadRequest, "A bad query parameter (`invalid`, with `errors` per parameter).")
	invalid := fail(http.StatusBadRequest, "Validation failed (`invalid`, with `errors` per field).")
	pastLast := "a page number past the last page (`Invalid page.`)"

	// §5.3.3 / §5.4.
	userQuery := query(
		P{Name: "system", Description: "A system slug in the caller's admin scope: only users with an assignment there."},
		P{Name: "status", Schema: enum("", "Pending", "Approved", "Rejected")},
		boolParam("is_active", "The user's is_active."),
		search("email, username, first_name, last_name, company_id, phone_number"),
		ordering("email (default), username, first_name, last_name, company_id, date_joined, last_login"))
	userList := func(summary string) *apikit.Doc {
		return &apikit.Doc{Tag: "Users", Summary: summary,
			Description: "Superuser: every staff user; system admin: users holding an assignment (any state) in its admin scope. " +
				"`system_roles` lists only assignments of that scope (only `system` when given).",
			Query: userQuery,
			Responses: []R{ok("A page of users.", apikit.PageOf(user)), badQuery,
				fail(http.StatusForbidden, "Not an admin (`permission_denied`), or `system` outside the admin scope (`Access denied to this system`)."),
				fail(http.StatusNotFound, "A superuser named an unknown `system` (`System not found.`), or "+pastLast+".")}}
	}
	nameFields := map[string]S{"first_name": str("≤ 100."), "middle_name": nullable("≤ 100."), "last_name": str("≤ 100."),
		"suffix": nullable("Jr., Sr., II, III, IV, V."), "department": nullable("IT Department, Asset Department, Budget Department."),
		"phone_number": nullable("E.164 or 09… (§1.16).")}
	withNames := func(extra map[string]S) map[string]S {
		m := map[string]S{}
		for k, v := range nameFields {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	createUser := func(summary string) *apikit.Doc {
		return &apikit.Doc{Tag: "Users", Summary: summary,
			Description: "The password is the admin's choice (never generated); no email is sent. A system admin must give a role of its admin scope.",
			Body: obj(withNames(map[string]S{"email": str("§1.16."), "password": str("§1.13."),
				"username": str("Derived from the email when absent."), "notified": boolean(""),
				"role_id":  nullable("A role of the admin scope: an active assignment is created. Required for system admins."),
				"status":   enum("Superusers only (ignored otherwise); default Pending.", "Pending", "Approved", "Rejected"),
				"is_staff": boolean("Superusers only (ignored otherwise).")}), "email", "password"),
			Responses: []R{created("The new user (system_roles scoped as in the list).", user), invalid,
				fail(http.StatusForbidden, "Not an admin, or `role_id` outside the admin scope (`Access denied to this system`).")}}
	}
	getUser := &apikit.Doc{Tag: "Users", Summary: "A user (§5.3.5)",
		Responses: []R{ok("The user (system_roles scoped).", user),
			fail(http.StatusNotFound, "Unknown or outside the admin scope (`User not found or access denied`).")}}
	updateBody := obj(withNames(map[string]S{
		"email":    str("Superuser (no password), or self with current_password (§5.3.2)."),
		"username": str("Superuser or self."), "notified": boolean(""),
		"profile_picture": S{"type": []string{"string", "null"}, "format": "binary",
			"description": "Multipart file (PNG, JPEG, GIF, WebP ≤ 2 MiB, ≤ 1024 px); null clears."},
		"status":                enum("Admins; sets status_by/status_at.", "Pending", "Approved", "Rejected"),
		"is_active":             boolean("Superusers: false revokes every session of the user."),
		"is_staff":              boolean("Superusers."),
		"is_superuser":          boolean("Superusers."),
		"is_locked":             boolean("Superusers; only false (unlocks)."),
		"system_role_id":        str("With system_role_is_active: an assignment of the target (in the admin scope)."),
		"system_role_is_active": boolean("With system_role_id: sets that assignment's flag."),
		"current_password":      str("Self only: required when the email changes."),
	}))
	updateUser := func(put bool) *apikit.Doc {
		summary, desc := "Update a user (§5.3.6)", "Partial update. "
		if put {
			summary, desc = "Replace a user (§5.3.6)", "Full update: PUT-required are username (self); email, username, first_name, last_name (superuser); first_name, last_name (system admin). "
		}
		return &apikit.Doc{Tag: "Users", Summary: summary,
			Description: desc + "Writable fields depend on who edits whom (self, superuser, system admin); other keys are ignored.",
			Body:        updateBody,
			Responses: []R{ok("The updated user (system_roles scoped).", user), invalid,
				fail(http.StatusForbidden, "Not an admin, or a system admin edits a superuser or a holder of an Admin assignment (`Admins cannot edit other admins' profiles`)."),
				fail(http.StatusNotFound, "Unknown or outside the admin scope (`User not found or access denied`).")}}
	}
	deleteUser := &apikit.Doc{Tag: "Users", Summary: "Delete a user (§5.3.7)",
		Description: "Hard delete; cascades to the user's assignments, sessions and codes.",
		Responses: []R{noContent("Deleted."),
			fail(http.StatusForbidden, "Not a superuser (`Only superusers can delete users`, checked before the lookup), or the target is another superuser (`Cannot delete other superusers`)."),
			fail(http.StatusNotFound, "Unknown id (`User not found or access denied`).")}}

	// §5.5.
	invitePage := &apikit.Doc{Tag: "Users", Summary: "Users to invite and the roles to offer (§5.5.1)",
		Description: "Page endpoint: with `Accept: text/html` the invite page (no authentication), else JSON.",
		Query: []P{{Name: "system", Description: "A system slug in the admin scope: users with no assignment there."},
			{Name: "search", Description: "Over email, username, first and last name (≤ 100 characters)."}},
		Responses: []R{{Status: http.StatusOK, Description: "At most 200 active non-superusers without an assignment in the system(s), and the admin scope's systems with their roles.",
			HTML: true, Schema: closed(map[string]S{
				"available_users": {"type": "array", "items": closed(map[string]S{"id": plain, "email": plain, "first_name": plain, "last_name": plain})},
				"systems": {"type": "array", "items": closed(map[string]S{"id": plain, "name": plain, "slug": plain,
					"roles": {"type": "array", "items": closed(map[string]S{"id": plain, "name": plain})}})},
			})},
			fail(http.StatusBadRequest, "`search` longer than 100 characters (`invalid`)."),
			fail(http.StatusForbidden, "Not an admin, or `system` outside the admin scope (`You are not an admin of this system`)."),
			fail(http.StatusNotFound, "A superuser named an unknown `system` (`System not found.`).")}}
	inviteAgent := &apikit.Doc{Tag: "Users", Summary: "Invite a user to a role (§5.5.2)",
		Description: "An existing user (by user_id, or by the email of a verified account) is assigned at once and gets `access_granted`; " +
			"an unknown email gets an invitation (72 h) with a link. At most 50 such emails per inviter per hour.",
		Body: obj(withNames(map[string]S{"role_id": str("An existing role."), "system_id": nullable("When given, the role's system."),
			"user_id": nullable("An existing staff user (or email)."), "email": nullable("§1.16 (or user_id).")}), "role_id"),
		Responses: []R{created("Assigned (`status` assigned, `assignment`) or invited (`status` invited, `invitation`).", closed(map[string]S{
			"status": enum("", "assigned", "invited"), "message": plain,
			"assignment": {"oneOf": []any{assignment, S{"type": "null"}}}, "invitation": {"oneOf": []any{invitation, S{"type": "null"}}}})),
			fail(http.StatusBadRequest, "Validation failed (`invalid`): fields, neither or both of user_id and email, or an inactive user (`User is inactive.`)."),
			fail(http.StatusForbidden, "Not an admin of the role's system (`You are not an admin of this system`)."),
			fail(http.StatusNotFound, "Unknown user_id (`User not found.`), system_id (`System not found.`) or role (`Role not found or does not belong to this system`)."),
			fail(http.StatusConflict, "Unverified account with that email, user already in the system, or a pending invitation exists (`conflict`); nothing created."),
			fail(http.StatusTooManyRequests, "The inviter caused 50 invitation emails in the last hour (`Retry-After: 3600`); nothing created.")}}

	// §5.9.
	updateSystem := func(put bool) *apikit.Doc {
		summary := "Update a system (§5.9.5)"
		if put {
			summary = "Replace a system (§5.9.5)"
		}
		return &apikit.Doc{Tag: "Systems", Summary: summary,
			Description: "ADMIN of the system. A different slug: superusers only, with `?force=true`, never for hdts/tts; a forced rename revokes the sessions of the system's users.",
			Query:       []P{{Name: "force", Description: "`true`: a superuser renames the slug.", Schema: S{"type": "string", "enum": []string{"true"}}}},
			Body: obj(map[string]S{"name": str("1–255, unique case-insensitively."), "slug": str("1–50, `^[a-z0-9][a-z0-9_-]*$`."),
				"url": nullable("Absolute http(s) URL.")}),
			Responses: []R{ok("The system.", system), invalid,
				fail(http.StatusNotFound, "Unknown or not administered by the caller (`System not found or access denied`).")}}
	}

	// §5.10.
	roleBody := obj(map[string]S{"system": str("System id (create: required; update: unchangeable)."), "name": str("1–150."),
		"description": nullable("≤ 1000.")})
	createRole := func(summary string) *apikit.Doc {
		return &apikit.Doc{Tag: "Roles", Summary: summary, Description: "The role is always custom (`is_custom` true).",
			Body: obj(roleBody["properties"].(map[string]S), "system", "name"),
			Responses: []R{created("The role.", role), invalid,
				fail(http.StatusForbidden, "Not an admin of the system (`Access denied to create roles for this system`)."),
				fail(http.StatusConflict, "A role of that name exists in the system (`Role '<name>' already exists in <SLUG> system`).")}}
	}
	roleNotFound := fail(http.StatusNotFound, "Unknown or outside the admin scope (`Role not found or access denied`).")
	updateRole := func(put bool) *apikit.Doc {
		summary := "Update a role (§5.10.5)"
		if put {
			summary = "Replace a role (§5.10.5)"
		}
		return &apikit.Doc{Tag: "Roles", Summary: summary,
			Description: "Default roles: only superusers, and only their description.", Body: roleBody,
			Responses: []R{ok("The role.", role), invalid,
				fail(http.StatusForbidden, "Not an admin, or a default role edited by a non-superuser (`Cannot modify system default roles`)."),
				roleNotFound,
				fail(http.StatusConflict, "Another role of that name in the system (`Role '<name>' already exists in <SLUG> system`).")}}
	}

	// §5.11.
	assignmentNotFound := fail(http.StatusNotFound, "Unknown, or neither the caller's own nor in its admin scope (`User system role not found or access denied`).")
	updateAssignment := func(put bool) *apikit.Doc {
		summary := "Update an assignment (§5.11.6)"
		if put {
			summary = "Replace an assignment (§5.11.6)"
		}
		return &apikit.Doc{Tag: "Assignments", Summary: summary,
			Description: "ADMIN of the assignment's system. PUT requires role and is_active.",
			Body: obj(map[string]S{"role": str("A role of the same system."), "is_active": boolean(""),
				"settings": S{"type": "object", "description": "Replaces the object (§2.6, ≤ 16 KB)."},
				"user":     str("Unchangeable."), "system": str("Unchangeable.")}),
			Responses: []R{ok("The assignment.", assignmentWithRoles), invalid,
				fail(http.StatusForbidden, "Visible but not an admin of its system (`Access denied to modify this system's role assignments`), or a non-superuser removes an Admin assignment (`Cannot remove Admin role assignments`)."),
				assignmentNotFound,
				fail(http.StatusConflict, "The user already has the new role in the system (`This user already has this role in this system.`).")}}
	}
	slugSystem := fail(http.StatusForbidden, "Not an admin, or not an admin of the system (`Access denied to this system`).")

	return map[string]*apikit.Doc{
		"GET /api/v1/users/":                    userList("List staff users (§5.3.3)"),
		"GET /api/v1/users/management/":         userList("List staff users, management alias (§5.4.3)"),
		"GET /api/v1/users/list/":               userList("List staff users, read-only alias (§5.4.2)"),
		"POST /api/v1/users/":                   createUser("Create a staff user (§5.3.4)"),
		"POST /api/v1/users/management/":        createUser("Create a staff user, management alias (§5.4.4)"),
		"GET /api/v1/users/{id}/":               getUser,
		"GET /api/v1/users/management/{id}/":    getUser,
		"PUT /api/v1/users/{id}/":               updateUser(true),
		"PUT /api/v1/users/management/{id}/":    updateUser(true),
		"PATCH /api/v1/users/{id}/":             updateUser(false),
		"PATCH /api/v1/users/management/{id}/":  updateUser(false),
		"DELETE /api/v1/users/{id}/":            deleteUser,
		"DELETE /api/v1/users/management/{id}/": deleteUser,
		"GET /api/v1/users/agents/": {Tag: "Users", Summary: "Active users holding active roles (§5.4.1)",
			Query: query(P{Name: "system", Description: "A system slug in the admin scope (default: the whole scope)."},
				P{Name: "role", Description: "A role name (exact)."},
				search("email, username, first_name, last_name, company_id, phone_number"),
				ordering("email (default), username, first_name, last_name, company_id, date_joined, last_login")),
			Responses: []R{ok("A page of users; system_roles restricted to the selected systems.", apikit.PageOf(user)), badQuery,
				fail(http.StatusForbidden, "Not an admin, or `system` outside the admin scope (`Access denied to this system`)."),
				fail(http.StatusNotFound, "A superuser named an unknown `system` (`System not found.`), or "+pastLast+".")}},
		"GET /api/v1/users/invite-agent/":             invitePage,
		"GET /api/v1/users/management/invite_agent/":  invitePage,
		"POST /api/v1/users/invite-agent/":            inviteAgent,
		"POST /api/v1/users/management/invite_agent/": inviteAgent,

		"GET /api/v1/systems/": {Tag: "Systems", Summary: "List systems (§5.9.1)",
			Description: "Superuser: every system; system admin: its admin scope.",
			Query:       query(P{Name: "slug", Description: "Exact slug."}, search("name, slug"), ordering("name (default), slug, created_at")),
			Responses: []R{ok("A page of systems.", apikit.PageOf(system)), badQuery,
				fail(http.StatusNotFound, "A page number past the last page (`Invalid page.`).")}},
		"POST /api/v1/systems/": {Tag: "Systems", Summary: "Create a system (§5.9.2)",
			Description: "Creates the system and its default `Admin` role; no account.",
			Body: obj(map[string]S{"name": str("1–255, unique case-insensitively."), "slug": str("1–50, `^[a-z0-9][a-z0-9_-]*$`, unique, not `auth`."),
				"url": nullable("Absolute http(s) URL.")}, "name", "slug"),
			Responses: []R{created("The system.", system), invalid,
				fail(http.StatusForbidden, "Not a superuser (`Only superusers can create new systems`).")}},
		"GET /api/v1/systems/public/": {Tag: "Systems", Summary: "Every system, briefly (§5.9.3)",
			Query: query(search("name, slug")),
			Responses: []R{ok("A page of systems by name.", apikit.PageOf(systemBrief)), badQuery,
				fail(http.StatusNotFound, "A page number past the last page (`Invalid page.`).")}},
		"GET /api/v1/systems/{id}/": {Tag: "Systems", Summary: "A system (§5.9.4)",
			Responses: []R{ok("The system.", system),
				fail(http.StatusNotFound, "Unknown or not administered by the caller (`System not found or access denied`).")}},
		"PUT /api/v1/systems/{id}/":   updateSystem(true),
		"PATCH /api/v1/systems/{id}/": updateSystem(false),
		"DELETE /api/v1/systems/{id}/": {Tag: "Systems", Summary: "Delete a system (§5.9.6)",
			Description: "Cascades to its roles, assignments, invitations, round-robin state and bound API keys.",
			Responses: []R{noContent("Deleted."),
				fail(http.StatusForbidden, "Not a superuser (`Only superusers can delete systems`)."),
				fail(http.StatusNotFound, "Unknown id (`System not found or access denied`)."),
				fail(http.StatusConflict, "A built-in system, hdts or tts (`Built-in systems cannot be deleted.`).")}},

		"GET /api/v1/roles/": {Tag: "Roles", Summary: "List roles (§5.10.1)",
			Description: "Roles of the systems in the admin scope (superuser: all).",
			Query: query(P{Name: "system", Description: "A system slug (alias `system__slug`)."},
				P{Name: "system__slug", Description: "Alias of `system`."}, boolParam("is_custom", ""),
				search("name, description"), ordering("name, created_at, system_slug; default system_slug,name")),
			Responses: []R{ok("A page of roles.", apikit.PageOf(role)), badQuery,
				fail(http.StatusNotFound, "A page number past the last page (`Invalid page.`).")}},
		"POST /api/v1/roles/":          createRole("Create a role (§5.10.2)"),
		"POST /api/v1/roles/register/": createRole("Create a role, alias (§5.10.3)"),
		"GET /api/v1/roles/{id}/": {Tag: "Roles", Summary: "A role (§5.10.4)",
			Responses: []R{ok("The role.", role), roleNotFound}},
		"PUT /api/v1/roles/{id}/":   updateRole(true),
		"PATCH /api/v1/roles/{id}/": updateRole(false),
		"DELETE /api/v1/roles/{id}/": {Tag: "Roles", Summary: "Delete a role (§5.10.6)",
			Description: "Cascades to its assignments, pending invitations and round-robin state.",
			Responses: []R{noContent("Deleted."),
				fail(http.StatusForbidden, "Not an admin, or a default role (`Cannot delete system Admin role`, `Cannot delete system default roles`)."),
				roleNotFound}},

		"POST /api/v1/system-roles/invite/": {Tag: "Assignments", Summary: "Invite an email to a role (§5.11.1)",
			Description: "A verified existing user is assigned at once; an unknown email gets an invitation. At most 50 such emails per inviter per hour.",
			Body:        obj(withNames(map[string]S{"email": str("§1.16."), "role_id": str("An existing role.")}), "email", "role_id"),
			Responses: []R{created("Assigned or invited.", closed(map[string]S{"user": str("The email."), "role": str("Role name."),
				"system": str("System slug."), "status": enum("", "assigned", "invited"),
				"assignment": {"oneOf": []any{assignment, S{"type": "null"}}}, "invitation": {"oneOf": []any{invitation, S{"type": "null"}}}})),
				fail(http.StatusBadRequest, "Validation failed (`invalid`): fields, an unknown role_id, or an inactive user (`User is inactive.`)."),
				fail(http.StatusForbidden, "Not an admin of the role's system (`Access denied to this system`)."),
				fail(http.StatusConflict, "Unverified account with that email, user already in the system, or a pending invitation exists (`conflict`); nothing created."),
				fail(http.StatusTooManyRequests, "The inviter caused 50 invitation emails in the last hour (`Retry-After: 3600`); nothing created.")}},
		"GET /api/v1/system-roles/systems/{system_slug}/users/": {Tag: "Assignments", Summary: "A system's users, one row per assignment (§5.11.2)",
			Query: query(boolParam("is_active", "The assignment flag."), search("email, first_name, last_name"),
				ordering("email (default), assigned_at, role")),
			Responses: []R{ok("A page of rows with the system.", pageWith(closed(map[string]S{"id": str("User id."), "email": plain,
				"first_name": plain, "last_name": plain, "role": str("Role name."), "role_id": plain, "assignment_id": plain,
				"is_active": boolean("The assignment flag."), "system_id": plain, "system_name": plain, "system_slug": plain, "assigned_at": ts}),
				map[string]S{"system": systemBrief})), badQuery, slugSystem,
				fail(http.StatusNotFound, "Unknown slug (`System not found.`), or "+pastLast+".")}},
		"GET /api/v1/system-roles/user-system-roles/": {Tag: "Assignments", Summary: "List assignments (§5.11.3)",
			Query: query(P{Name: "scope", Description: "`mine` (default): the caller's own; `managed`: the admin scope (admins only).",
				Schema: S{"type": "string", "enum": []string{"mine", "managed"}}},
				P{Name: "system", Description: "System slug."}, P{Name: "user", Description: "User id."}, P{Name: "role", Description: "Role id."},
				boolParam("is_active", "The assignment flag."), ordering("assigned_at (default), system_slug, email")),
			Responses: []R{ok("A page of assignments.", apikit.PageOf(assignment)), badQuery,
				fail(http.StatusForbidden, "`scope=managed` by a caller who is no admin (`permission_denied`)."),
				fail(http.StatusNotFound, "A page number past the last page (`Invalid page.`).")}},
		"POST /api/v1/system-roles/user-system-roles/": {Tag: "Assignments", Summary: "Create an assignment (§5.11.4)",
			Body: obj(map[string]S{"user": str("Staff user id."), "system": str("System id."), "role": str("A role of the system."),
				"is_active": boolean("Default true."), "settings": S{"type": "object", "description": "Default {\"is_deployed\": true} (§2.6, ≤ 16 KB)."}},
				"user", "system", "role"),
			Responses: []R{created("The assignment.", assignmentWithRoles), invalid,
				fail(http.StatusForbidden, "Not an admin of the system (`Access denied to this system`)."),
				fail(http.StatusConflict, "The triple exists (`This user already has this role in this system.`).")}},
		"GET /api/v1/system-roles/user-system-roles/{id}/": {Tag: "Assignments", Summary: "An assignment (§5.11.5)",
			Description: "The caller's own, or one in its admin scope.",
			Responses:   []R{ok("The assignment.", assignment), assignmentNotFound}},
		"PUT /api/v1/system-roles/user-system-roles/{id}/":   updateAssignment(true),
		"PATCH /api/v1/system-roles/user-system-roles/{id}/": updateAssignment(false),
		"DELETE /api/v1/system-roles/user-system-roles/{id}/": {Tag: "Assignments", Summary: "Delete an assignment (§5.11.7)",
			Description: "Its round-robin state goes with it.",
			Responses: []R{noContent("Deleted."),
				fail(http.StatusForbidden, "Visible but not an admin of its system (`Access denied to modify this system's role assignments`), or a non-superuser deletes an Admin assignment (`Cannot remove Admin role assignments`)."),
				assignmentNotFound}},
		"POST /api/v1/system-roles/user-system-roles/edit-settings/": {Tag: "Assignments", Summary: "Replace an assignment's settings (§5.11.8)",
			Body: obj(map[string]S{"user_id": str(""), "settings": S{"type": "object", "description": "§2.6, ≤ 16 KB."},
				"system":  str("Slug; optional when the caller administers exactly one system through assignments."),
				"role_id": nullable("Picks the assignment when the user holds several roles in the system.")}, "user_id", "settings"),
			Responses: []R{ok("The assignment's new settings.", closed(map[string]S{"id": str("Assignment id."), "user_id": plain,
				"system": str("Slug."), "role": str("Role name."), "settings": {"type": "object"}})),
				fail(http.StatusBadRequest, "Validation failed (`invalid`), `system` missing for a caller of several systems, or several roles and no role_id."),
				fail(http.StatusForbidden, "Not an admin, or not an admin of the system (`Access denied to this system`)."),
				fail(http.StatusNotFound, "Unknown system (`System not found.`) or no such assignment (`User system role not found or access denied`).")}},
		"GET /api/v1/system-roles/user-system-roles/system/{system_slug}/roles/": {Tag: "Assignments", Summary: "A system's roles (§5.11.9)",
			Query: pageParams,
			Responses: []R{ok("A page of roles by name, with the system.", pageWith(roleBrief, map[string]S{"system": systemBrief})), badQuery, slugSystem,
				fail(http.StatusNotFound, "Unknown slug (`System not found.`), or "+pastLast+".")}},

		"GET /api/v1/invitations/": {Tag: "Invitations", Summary: "List invitations (§5.15.5)",
			Description: "Invitations of the systems in the admin scope.",
			Query: query(P{Name: "status", Schema: enum("Default pending.", "pending", "accepted", "revoked", "expired", "all")},
				P{Name: "system", Description: "A system slug in the admin scope."}, search("email"),
				ordering("created_at, expires_at, email; default -created_at")),
			Responses: []R{ok("A page of invitations.", apikit.PageOf(invitation)), badQuery,
				fail(http.StatusForbidden, "Not an admin, or `system` outside the admin scope (`Access denied to this system`)."),
				fail(http.StatusNotFound, "A superuser named an unknown `system` (`System not found.`), or "+pastLast+".")}},
		"DELETE /api/v1/invitations/{id}/": {Tag: "Invitations", Summary: "Revoke an invitation (§5.15.5)",
			Description: "The record stays with revoked_at/revoked_by; its link stops working.",
			Responses: []R{noContent("Revoked."),
				fail(http.StatusNotFound, "Unknown or not an admin of its system (`Invitation not found or access denied`)."),
				fail(http.StatusConflict, "Not pending (`Only pending invitations can be revoked.`).")}},
		"GET /api/v1/invitations/accept/": {Tag: "Invitations", Summary: "Check an invitation token, or the acceptance page (§5.15.5)",
			Description: "With `Accept: text/html` the page; otherwise whether the POST would accept the token. Nothing is consumed.",
			Query:       []P{{Name: "token", Description: "The invitation token (JSON variant).", Required: false}},
			Responses: []R{{Status: http.StatusOK, Description: "`{\"valid\": false}`, or valid with the invitation's details; or the page.", HTML: true,
				Schema: obj(map[string]S{"valid": boolean(""), "email": str("Valid only."), "system_name": str("Valid only."),
					"role_name": str("Valid only."), "expires_at": ts}, "valid")},
				fail(http.StatusBadRequest, "No token (`invalid`).")}},
		"POST /api/v1/invitations/accept/": {Tag: "Invitations", Summary: "Accept an invitation (§5.15.5)",
			Description: "Creates the staff account (the invitation's email, verified, Approved) and its assignment in one transaction; no tokens.",
			Body: obj(withNames(map[string]S{"token": str("From the emailed link."), "password": str("§1.13."),
				"password_confirm": str("Equal to password."), "username": str("Derived from the email when absent.")}),
				"token", "password", "password_confirm"),
			Responses: []R{created("Accepted.", closed(map[string]S{"message": str("`Invitation accepted. You can now log in.`"), "user": user})),
				fail(http.StatusBadRequest, "Validation failed (`invalid`): a missing field, an invalid or expired token (`Invalid or expired invitation token.`), passwords that differ, the password policy."),
				fail(http.StatusConflict, "An account with the invitation's email exists (`conflict`).")}},
	}
}()
