package tts

import (
	"encoding/json"
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/prepared"
	"gatehouse/plugins/profiles"
)

// Messages of §5.13.3, §5.13.8 and §5.13.9.
const (
	msgUserInactive       = "User is inactive."
	msgRoleNotTTS         = "Role does not belong to the TTS system."
	msgAlreadyAssigned    = "User is already assigned to this role in TTS."
	msgAssigned           = "User successfully assigned to TTS role."
	msgAssignmentNotFound = "Assignment not found"
	msgCannotRemoveAdmin  = "Cannot remove Admin role assignments"
	msgAssignmentUpdated  = "Assignment updated successfully"
)

func invalidPK(v string) string { return `Invalid pk "` + v + `" - object does not exist.` }

// The page files of the HTML variants (§1.11), built by the pages issue.
const (
	pageAssignAgent = "tts/assign-agent-to-role/index.html"
	pageAssignRole  = "tts/assign-role/index.html"
	pageCreateRole  = "tts/create-role/index.html"
)

const ttsAssignmentsQuery = "SELECT a.id AS id, a.is_active AS is_active, a.settings AS settings, a.assigned_at AS assigned_at, " +
	"u.id AS user_id, u.email AS email, u.first_name AS first_name, u.last_name AS last_name, u.is_active AS user_is_active, " +
	"r.id AS role_id, r.name AS role_name " +
	"FROM user_system_roles a JOIN systems s ON s.id = a.system JOIN users u ON u.id = a.user JOIN roles r ON r.id = a.role " +
	"WHERE s.slug = 'tts' "

// GET /api/v1/tts/assign-agent-to-role/ (§5.13.2).
func (p *plugin) listAgents(e *core.RequestEvent) error {
	if apikit.WantsHTML(e) {
		return p.kit.ServePage(e, pageAssignAgent)
	}
	rows, err := prepared.Rows(e.App, ttsAssignmentsQuery+"ORDER BY u.last_name, u.first_name, r.name, a.id", nil)
	if err != nil {
		return err
	}
	roles, err := ttsRoles(e.App)
	if err != nil {
		return err
	}
	type userRow struct {
		UserID             string `json:"user_id"`
		FirstName          string `json:"first_name"`
		LastName           string `json:"last_name"`
		Email              string `json:"email"`
		RoleID             string `json:"role_id"`
		RoleName           string `json:"role_name"`
		IsActive           bool   `json:"is_active"`
		AssignmentID       string `json:"assignment_id"`
		AssignmentIsActive bool   `json:"assignment_is_active"`
	}
	users := make([]userRow, 0, len(rows))
	for _, r := range rows {
		users = append(users, userRow{UserID: r["user_id"].String, FirstName: r["first_name"].String, LastName: r["last_name"].String,
			Email: r["email"].String, RoleID: r["role_id"].String, RoleName: r["role_name"].String,
			IsActive: truthy(r["user_is_active"].String), AssignmentID: r["id"].String, AssignmentIsActive: truthy(r["is_active"].String)})
	}
	return apikit.WriteJSON(e, http.StatusOK, struct {
		Count  int         `json:"count"`
		System string      `json:"system"`
		Users  []userRow   `json:"users"`
		Roles  []roleBrief `json:"roles"`
	}{len(users), SystemSlug, users, briefs(roles)})
}

// listAssignments is GET /api/v1/tts/assign-role/ and GET /assign-role/ (§5.13.4, §5.14.4).
func (p *plugin) listAssignments(e *core.RequestEvent) error {
	if apikit.WantsHTML(e) {
		return p.kit.ServePage(e, pageAssignRole)
	}
	rows, err := prepared.Rows(e.App, ttsAssignmentsQuery+"ORDER BY u.email, r.name, a.id", nil)
	if err != nil {
		return err
	}
	roles, err := ttsRoles(e.App)
	if err != nil {
		return err
	}
	type assignmentRow struct {
		ID            string `json:"id"`
		UserID        string `json:"user_id"`
		UserFirstName string `json:"user_first_name"`
		UserLastName  string `json:"user_last_name"`
		UserEmail     string `json:"user_email"`
		RoleID        string `json:"role_id"`
		RoleName      string `json:"role_name"`
		IsActive      bool   `json:"is_active"`
		IsDeployed    bool   `json:"is_deployed"`
		CreatedAt     string `json:"created_at"`
	}
	out := make([]assignmentRow, 0, len(rows))
	for _, r := range rows {
		var settings map[string]any
		_ = json.Unmarshal([]byte(r["settings"].String), &settings)
		at, _ := types.ParseDateTime(r["assigned_at"].String)
		out = append(out, assignmentRow{ID: r["id"].String, UserID: r["user_id"].String, UserFirstName: r["first_name"].String,
			UserLastName: r["last_name"].String, UserEmail: r["email"].String, RoleID: r["role_id"].String,
			RoleName: r["role_name"].String, IsActive: truthy(r["is_active"].String), IsDeployed: permissions.Deployed(settings),
			CreatedAt: profiles.Timestamp(at)})
	}
	return apikit.WriteJSON(e, http.StatusOK, struct {
		Assignments []assignmentRow `json:"assignments"`
		Roles       []roleBrief     `json:"roles"`
	}{out, briefs(roles)})
}

func briefs(roles []role) []roleBrief {
	out := make([]roleBrief, 0, len(roles))
	for _, r := range roles {
		out = append(out, roleBrief(r))
	}
	return out
}

func truthy(s string) bool { return s == "1" || s == "true" }

// POST /api/v1/tts/assign-agent-to-role/ (§5.13.3).
func (p *plugin) assignAgent(e *core.RequestEvent) error {
	tts, err := ttsSystem(e.App)
	if err != nil {
		return err
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	userID, _ := body.String("userID", apikit.Str{Required: true})
	roleID, _ := body.String("role", apikit.Str{Required: true})
	// the compact bytes as sent (§2.6's size is theirs): a map re-encoded would escape <, > and &
	// (6 bytes each, past the field's 16 KB) and round large integers through float64
	_, settings, hasSettings := permissions.ReadSettings(body, false)
	var user, roleRec *core.Record
	if userID != "" {
		if user, _ = e.App.FindRecordById("users", userID); user == nil {
			body.Errors.Add("userID", invalidPK(userID))
		} else if !user.GetBool("is_active") {
			body.Errors.Add("userID", msgUserInactive)
		}
	}
	if roleID != "" {
		if roleRec, _ = e.App.FindRecordById("roles", roleID); roleRec == nil {
			body.Errors.Add("role", invalidPK(roleID))
		} else if roleRec.GetString("system") != tts.ID {
			body.Errors.Add("role", msgRoleNotTTS)
		}
	}
	if err := body.Err(); err != nil {
		return err
	}
	if !hasSettings || settings == nil {
		settings = types.JSONRaw(`{"is_deployed":true}`)
	}

	var created *core.Record
	err = e.App.RunInTransaction(func(tx core.App) error {
		// the user is read again here: one deactivated since the check above is refused too
		if fresh, err := tx.FindRecordById("users", user.Id); err != nil {
			return apikit.InvalidField("userID", invalidPK(user.Id))
		} else if !fresh.GetBool("is_active") {
			return apikit.InvalidField("userID", msgUserInactive)
		}
		if existing, _ := tx.FindFirstRecordByFilter("user_system_roles", "user = {:u} && system = {:s} && role = {:r}",
			dbx.Params{"u": user.Id, "s": tts.ID, "r": roleRec.Id}); existing != nil {
			return apikit.Conflict(msgAlreadyAssigned)
		}
		col, err := tx.FindCachedCollectionByNameOrId("user_system_roles")
		if err != nil {
			return err
		}
		created = core.NewRecord(col)
		created.Set("user", user.Id)
		created.Set("system", tts.ID)
		created.Set("role", roleRec.Id)
		created.Set("is_active", true)
		created.Set("settings", settings)
		if err := tx.Save(created); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "assignment.created", true)
		actor(e, &entry)
		entry.TargetType, entry.TargetID, entry.System = "assignment", created.Id, tts.Slug
		entry.Details = map[string]any{"user_id": user.Id, "role_id": roleRec.Id, "role_name": roleRec.GetString("name")}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, struct {
		Message      string        `json:"message"`
		UserID       string        `json:"userID"`
		Role         string        `json:"role"`
		System       string        `json:"system"`
		Settings     types.JSONRaw `json:"settings"`
		AssignmentID string        `json:"assignment_id"`
	}{msgAssigned, user.Id, roleRec.GetString("name"), SystemSlug, settings, created.Id})
}

// ttsAssignment looks up the path's assignment in system tts (404 otherwise) and applies the
// object permission of §5.13.8/§5.13.9 when removing is true: a non-superuser may not remove an
// Admin assignment.
func ttsAssignment(e *core.RequestEvent) (*core.Record, *core.Record, error) {
	tts, err := ttsSystem(e.App)
	if err != nil {
		return nil, nil, err
	}
	a, _ := e.App.FindRecordById("user_system_roles", e.Request.PathValue("assignment_id"))
	if a == nil || a.GetString("system") != tts.ID {
		return nil, nil, apikit.NotFound(msgAssignmentNotFound)
	}
	roleRec, err := e.App.FindRecordById("roles", a.GetString("role"))
	if err != nil {
		return nil, nil, err
	}
	return a, roleRec, nil
}

// mayRemoveAdminNow is mayRemoveAdmin on the assignment as read in the write transaction tx: its
// role may have changed to Admin since the request first read it.
func mayRemoveAdminNow(e *core.RequestEvent, tx core.App, asg *core.Record) error {
	roleRec, err := tx.FindRecordById("roles", asg.GetString("role"))
	if err != nil {
		return err
	}
	return mayRemoveAdmin(e, roleRec)
}

// mayRemoveAdmin: only superusers remove (deactivate or delete) an Admin assignment.
func mayRemoveAdmin(e *core.RequestEvent, roleRec *core.Record) error {
	if roleRec.GetString("name") != permissions.AdminRole {
		return nil
	}
	s, err := permissions.For(e)
	if err != nil {
		return err
	}
	if !s.IsSuperuser() {
		return apikit.PermissionDenied(msgCannotRemoveAdmin)
	}
	return nil
}

// PUT /api/v1/tts/update-assignment/{assignment_id}/ (§5.13.8).
func (p *plugin) updateAssignment(e *core.RequestEvent) error {
	a, roleRec, err := ttsAssignment(e)
	if err != nil {
		return err
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	active, _ := body.Bool("is_active", true)
	_, settings, hasSettings := permissions.ReadSettings(body, false) // the bytes as sent (as in assignAgentToRole)
	if !body.Errors.Has("is_active") && !active {
		if err := mayRemoveAdmin(e, roleRec); err != nil {
			return err
		}
	}
	if err := body.Err(); err != nil {
		return err
	}
	err = e.App.RunInTransaction(func(tx core.App) error {
		fresh, err := tx.FindRecordById("user_system_roles", a.Id)
		if err != nil {
			return apikit.NotFound(msgAssignmentNotFound)
		}
		if !active {
			if err := mayRemoveAdminNow(e, tx, fresh); err != nil { // given the Admin role since?
				return err
			}
		}
		before := map[string]any{"is_active": fresh.GetBool("is_active")}
		fresh.Set("is_active", active)
		if hasSettings {
			fresh.Set("settings", settings)
		}
		if err := tx.Save(fresh); err != nil {
			return err
		}
		a = fresh
		entry := audit.FromRequest(e, "assignment.updated", true)
		actor(e, &entry)
		if entry.System, err = slugOf(tx, fresh.GetString("system")); err != nil {
			return err
		}
		entry.TargetType, entry.TargetID = "assignment", fresh.Id
		entry.Details = map[string]any{"before": before, "is_active": active, "settings_changed": hasSettings}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	stored, _ := a.GetRaw("settings").(types.JSONRaw)
	if len(stored) == 0 || string(stored) == "null" {
		stored = types.JSONRaw(`{}`)
	}
	return apikit.WriteJSON(e, http.StatusOK, struct {
		Message  string        `json:"message"`
		ID       string        `json:"id"`
		IsActive bool          `json:"is_active"`
		Settings types.JSONRaw `json:"settings"`
	}{msgAssignmentUpdated, a.Id, a.GetBool("is_active"), stored})
}

// DELETE /api/v1/tts/update-assignment/{assignment_id}/ (§5.13.9): the assignment and the
// round-robin state of its (role, user), in one transaction.
func (p *plugin) deleteAssignment(e *core.RequestEvent) error {
	a, roleRec, err := ttsAssignment(e)
	if err != nil {
		return err
	}
	if err := mayRemoveAdmin(e, roleRec); err != nil {
		return err
	}
	err = e.App.RunInTransaction(func(tx core.App) error {
		fresh, err := tx.FindRecordById("user_system_roles", a.Id)
		if err != nil {
			return apikit.NotFound(msgAssignmentNotFound)
		}
		if err := mayRemoveAdminNow(e, tx, fresh); err != nil { // given the Admin role since?
			return err
		}
		if err := tx.Delete(fresh); err != nil {
			return err
		}
		// hooks.dropRoundRobinState deletes the (role, user) round-robin state with it.
		entry := audit.FromRequest(e, "assignment.deleted", true)
		actor(e, &entry)
		if entry.System, err = slugOf(tx, fresh.GetString("system")); err != nil {
			return err
		}
		entry.TargetType, entry.TargetID = "assignment", fresh.Id
		entry.Details = map[string]any{"user_id": fresh.GetString("user"), "role_id": roleRec.Id, "role_name": roleRec.GetString("name")}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
