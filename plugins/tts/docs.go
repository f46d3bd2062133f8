package tts

import (
	"net/http"

	"gatehouse/plugins/apikit"
)

// docs describes the plugin's routes in the OpenAPI document (§5.15.7), keyed "METHOD path";
// apikit.WithDocs refuses a key that names no route. The page endpoints (§1.11) document their
// text/html variant with the JSON one.
var docs = func() map[string]*apikit.Doc {
	str, integer, boolean, obj, ok, fail := apikit.Text, apikit.Integer, apikit.Boolean, apikit.Obj, apikit.OK, apikit.Fail
	type S = apikit.Schema
	type R = apikit.Response
	nullable := func(desc string) S { return S{"type": []string{"string", "null"}, "description": desc} }
	ts := func(desc string) S { return S{"type": "string", "format": "date-time", "description": desc} }
	nts := func(desc string) S {
		return S{"type": []string{"string", "null"}, "format": "date-time", "description": desc}
	}
	array := func(items S) S { return S{"type": "array", "items": items} }
	required := func(props map[string]S) S { // every key present (§4)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		return obj(props, keys...)
	}
	invalid := fail(http.StatusBadRequest, "Validation failed (`invalid`, with `errors` per field).")
	roleBrief := required(map[string]S{"id": str(""), "name": str("")})
	roles := array(roleBrief)
	settings := S{"type": "object", "description": "Free-form (compact JSON ≤ 16 KB); `is_deployed`, when present, is a boolean (§5.11.4).",
		"properties": map[string]S{"is_deployed": boolean("")}}
	page := func(desc string, schema S) R {
		return R{Status: http.StatusOK, Description: desc + " With `Accept: text/html`: the page (no authentication).", Schema: schema, HTML: true}
	}
	assignmentsDoc := func(summary string) *apikit.Doc {
		return &apikit.Doc{Tag: "TTS", Summary: summary,
			Description: "Page endpoint (§1.11). JSON: every assignment in tts, sorted by user email then role name; every tts role, by name.",
			Responses: []R{page("The assignments and roles.", required(map[string]S{
				"assignments": array(required(map[string]S{"id": str("Assignment id."), "user_id": str(""), "user_first_name": str(""),
					"user_last_name": str(""), "user_email": str(""), "role_id": str(""), "role_name": str(""),
					"is_active": boolean("The assignment's flag."), "is_deployed": boolean("settings.is_deployed, true when absent."),
					"created_at": ts("assigned_at.")})),
				"roles": roles}))}}
	}
	roleQuery := []apikit.Param{{Name: "role_id", Description: "A tts role id (wins over role_name)."},
		{Name: "role_name", Description: "A tts role name: exact match first, else a unique case-insensitive one."}}
	roleFails := []R{fail(http.StatusBadRequest, "Neither role_id nor role_name, an ambiguous role_name, or another invalid field (`invalid`)."),
		fail(http.StatusNotFound, "No such tts role (`not_found`, `Role not found.`).")}
	systemQuery := []apikit.Param{{Name: "system", Description: "The system's slug (default `tts`)."}}
	noSystem := fail(http.StatusNotFound, "Unknown system (`not_found`, `<SLUG> system not found`).")
	adminOf := func(verb string) R {
		return fail(http.StatusForbidden, "Not an admin of any system, or not of this one (`permission_denied`, `You don't have permission to "+verb+" roles in <SLUG> system`).")
	}
	removeAdmin := func(what string) R {
		return fail(http.StatusForbidden, "Not TTS_ADMIN, or a non-superuser "+what+" an Admin assignment (`permission_denied`, `Cannot remove Admin role assignments`).")
	}
	assignmentMissing := fail(http.StatusNotFound, "No such assignment in tts (`not_found`, `Assignment not found`).")
	userInfo := required(map[string]S{"id": str("Staff user id."), "first_name": str(""), "last_name": str(""), "email": str(""),
		"department": nullable(""), "position": S{"type": "null", "description": "Always null."}, "is_active": boolean(""), "date_joined": ts("")})
	keyOrMember := "A key must be unbound or bound to tts (else 403)."
	visibility := "Superusers and unbound keys see every staff user; a bound key the users with an assignment in its system; " +
		"staff the users with an assignment in tts or hdts where the caller holds an active one."
	pick := func(desc string) S {
		return required(map[string]S{"role": roleBrief, "ticket_id": str(""), "user_id": str(""), "email": str(""), "full_name": str(""),
			"assigned_at": ts("Time of the first pick."), "created": boolean(desc)})
	}

	return map[string]*apikit.Doc{
		"GET /api/v1/tts/round-robin/": {Tag: "TTS", Summary: "The rotation of a TTS role (§5.13.7)",
			Description: "No state change. " + keyOrMember, Query: roleQuery,
			Responses: append([]R{ok("The rotation.", required(map[string]S{
				"role": roleBrief, "next_user_id": nullable("The first eligible agent."), "user_ids": array(str("Eligible agents, next first.")),
				"agents": array(required(map[string]S{"user_id": str(""), "email": str(""), "full_name": str(""),
					"last_assigned_at": nts(""), "assigned_count": integer(""), "eligible": boolean("")})),
			}))}, roleFails...)},
		"POST /api/v1/tts/round-robin/": {Tag: "TTS", Summary: "Pick the next agent for a ticket (§5.15.4)",
			Description: "Once per (role, ticket_id): a repeat answers the first pick. " + keyOrMember,
			Body: obj(map[string]S{"role_id": str("As in GET."), "role_name": str("As in GET."),
				"ticket_id": S{"type": []string{"string", "integer"}, "description": "1–100 characters; an integer is its decimal string."}}, "ticket_id"),
			Responses: append([]R{ok("The earlier pick of this ticket.", pick("false")),
				{Status: http.StatusCreated, Description: "A new pick.", Schema: pick("true")},
				fail(http.StatusConflict, "No eligible agent (`no_eligible_agent`); nothing recorded.")}, roleFails...)},

		"GET /api/v1/tts/assign-agent-to-role/": {Tag: "TTS", Summary: "TTS agents and their roles (§5.13.2)",
			Description: "Page endpoint (§1.11). JSON: one row per assignment in tts, by last name, first name, role name; every tts role, by name.",
			Responses: []R{page("The agents and roles.", required(map[string]S{
				"count": integer("Rows in users."), "system": S{"const": SystemSlug},
				"users": array(required(map[string]S{"user_id": str(""), "first_name": str(""), "last_name": str(""), "email": str(""),
					"role_id": str(""), "role_name": str(""), "is_active": boolean("The user's flag."), "assignment_id": str(""),
					"assignment_is_active": boolean("")})),
				"roles": roles}))}},
		"POST /api/v1/tts/assign-agent-to-role/": {Tag: "TTS", Summary: "Give a staff user a TTS role (§5.13.3)",
			Body: obj(map[string]S{"userID": str("An active staff user."), "role": str("A tts role."),
				"settings": S{"allOf": []any{settings}, "description": "Default `{\"is_deployed\": true}`."}}, "userID", "role"),
			Responses: []R{{Status: http.StatusCreated, Description: "Assigned (active).", Schema: required(map[string]S{
				"message": str("`" + msgAssigned + "`"), "userID": str(""), "role": str("The role's name."), "system": S{"const": SystemSlug},
				"settings": settings, "assignment_id": str("")})},
				invalid, fail(http.StatusConflict, "The user already holds this role in tts (`conflict`).")}},
		"GET /api/v1/tts/assign-role/": assignmentsDoc("TTS assignments (§5.13.4)"),
		"GET /assign-role/":            assignmentsDoc("TTS assignments, short path (§5.14.4)"),
		"PUT /api/v1/tts/update-assignment/{assignment_id}/": {Tag: "TTS", Summary: "Update a TTS assignment (§5.13.8)",
			Body: obj(map[string]S{"is_active": boolean("PUT-required."), "settings": S{"allOf": []any{settings}, "description": "Replaces the whole object."}}, "is_active"),
			Responses: []R{ok("Updated.", required(map[string]S{"message": str("`" + msgAssignmentUpdated + "`"), "id": str(""),
				"is_active": boolean(""), "settings": settings})),
				invalid, removeAdmin("deactivating"), assignmentMissing}},
		"DELETE /api/v1/tts/update-assignment/{assignment_id}/": {Tag: "TTS", Summary: "Delete a TTS assignment (§5.13.9)",
			Description: "Its round-robin state goes with it.",
			Responses:   []R{{Status: http.StatusNoContent, Description: "Deleted."}, removeAdmin("deleting"), assignmentMissing}},

		"GET /api/v1/tts/create-role/": {Tag: "TTS", Summary: "The roles of a system (§5.13.5)",
			Description: "Page endpoint (§1.11). JSON: ADMIN of the system named by `system`.", Query: systemQuery,
			Responses: []R{page("The system's roles, by name.", required(map[string]S{"system": str("The slug."),
				"roles": array(required(map[string]S{"id": str(""), "name": str(""), "description": nullable(""), "is_custom": boolean(""),
					"created_at": ts("")}))})), adminOf("view"), noSystem}},
		"POST /api/v1/tts/create-role/": {Tag: "TTS", Summary: "Create a custom role in a system (§5.13.6)",
			Description: "ADMIN of the system named by `system`.", Query: systemQuery,
			Body: obj(map[string]S{"name": str("Trimmed; 1–150 characters."), "description": nullable("≤ 1000 characters.")}, "name"),
			Responses: []R{{Status: http.StatusCreated, Description: "Created (`is_custom` true).", Schema: required(map[string]S{
				"message": str("`Role '<name>' created successfully`"),
				"role":    required(map[string]S{"id": str(""), "name": str(""), "description": nullable("")})})},
				invalid, adminOf("create"), noSystem,
				fail(http.StatusConflict, "A role of that name (case-insensitive) exists in the system (`conflict`).")}},

		"GET /api/v1/tts/user-info/{user_id}/": {Tag: "TTS", Summary: "One staff user's TTS information (§5.13.10)",
			Description: visibility,
			Responses:   []R{ok("The user.", userInfo), fail(http.StatusNotFound, "Unknown or not visible (`not_found`, `User not found.`).")}},
		"POST /api/v1/tts/users-info/": {Tag: "TTS", Summary: "Several staff users' TTS information (§5.13.11)",
			Description: visibility + " Unknown and invisible ids are left out.",
			Body:        obj(map[string]S{"employee_cookie_ids": S{"type": "array", "items": S{"type": "string"}, "minItems": 1, "maxItems": maxUsersInfo, "description": "Staff user ids."}}, "employee_cookie_ids"),
			Responses:   []R{ok("Id → TTSUserInfo.", S{"type": "object", "additionalProperties": userInfo}), invalid}},
	}
}()
