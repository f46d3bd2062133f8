package directory

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
)

// Messages of §5.11.
const (
	msgAccessDeniedSystem    = "Access denied to this system"
	msgAssignmentNotFound    = "User system role not found or access denied"
	msgModifyDenied          = "Access denied to modify this system's role assignments"
	msgNoRemoveAdmin         = "Cannot remove Admin role assignments"
	msgDuplicateAssignment   = "This user already has this role in this system."
	msgSystemRequiredSeveral = "This field is required when you administer several systems."
	msgRoleIDRequired        = "The user holds several roles in this system; role_id is required."
)

// assignmentRow is an assignment joined with its user, system and role (§4.7).
type assignmentRow struct {
	ID           string         `db:"id" json:"id"`
	User         string         `db:"user" json:"user"`
	Email        string         `db:"email" json:"email"`
	Username     string         `db:"username" json:"username"`
	FirstName    string         `db:"first_name" json:"first_name"`
	LastName     string         `db:"last_name" json:"last_name"`
	UserIsActive bool           `db:"user_is_active" json:"user_is_active"`
	System       string         `db:"system" json:"system"`
	SystemSlug   string         `db:"system_slug" json:"system_slug"`
	SystemName   string         `db:"system_name" json:"system_name"`
	Role         string         `db:"role" json:"role"`
	RoleName     string         `db:"role_name" json:"role_name"`
	IsActive     bool           `db:"is_active" json:"is_active"`
	Settings     types.JSONRaw  `db:"settings" json:"settings"`
	AssignedAtDT types.DateTime `db:"assigned_at" json:"-"`
	LastLoggedDT types.DateTime `db:"last_logged_on" json:"-"`
	AssignedAt   string         `db:"-" json:"assigned_at"`
	LastLoggedOn *string        `db:"-" json:"last_logged_on"`
}

func (a *assignmentRow) finish() {
	a.AssignedAt = profiles.Timestamp(a.AssignedAtDT)
	a.LastLoggedOn = profiles.NullTimestamp(a.LastLoggedDT)
	if len(a.Settings) == 0 || string(a.Settings) == "null" {
		a.Settings = types.JSONRaw("{}")
	}
}

// assignmentWithRoles is the create/update answer: Assignment + available_roles (§4.7).
type assignmentWithRoles struct {
	assignmentRow
	AvailableRoles []roleBrief `json:"available_roles"`
}

const assignmentSelect = "a.id AS id, a.user AS user, u.email AS email, u.username AS username, " +
	"u.first_name AS first_name, u.last_name AS last_name, u.is_active AS user_is_active, " +
	"a.system AS system, s.slug AS system_slug, s.name AS system_name, a.role AS role, r.name AS role_name, " +
	"a.is_active AS is_active, a.settings AS settings, a.assigned_at AS assigned_at, a.last_logged_on AS last_logged_on"

func (p *plugin) assignmentQuery() *dbx.SelectQuery { return assignmentQueryIn(p.app) }

// assignmentQueryIn is the Assignment query on app (a write transaction reads its own writes).
func assignmentQueryIn(app core.App) *dbx.SelectQuery {
	return app.DB().Select(strings.Split(assignmentSelect, ", ")...).From(colAssignments+" a").
		InnerJoin("users u", dbx.NewExp("u.id = a.user")).
		InnerJoin("systems s", dbx.NewExp("s.id = a.system")).
		InnerJoin("roles r", dbx.NewExp("r.id = a.role"))
}

// countAssignments counts the assignments matching where, a condition on `a` (the assignment)
// alone unless joined (then also on `u`, the user). The page query's inner joins to the user,
// system and role never drop a row (the three relations are required and cascade on delete), so
// the count reads only the assignments' indexes: at 300,000 assignments the four-table join
// counted in about a second, this in milliseconds.
func countAssignments(app core.App, where dbx.Expression, joined bool) (int, error) {
	q := app.DB().Select().From(colAssignments + " a")
	if joined {
		q = q.InnerJoin("users u", dbx.NewExp("u.id = a.user"))
	}
	return countRows(q.Where(where))
}

// loadAssignment reads one assignment with its joins ((nil, nil) for a malformed or unknown id).
func (p *plugin) loadAssignment(id string) (*assignmentRow, error) {
	return loadAssignmentIn(p.app, id)
}

// loadAssignmentIn is loadAssignment on app.
func loadAssignmentIn(app core.App, id string) (*assignmentRow, error) {
	if !idRe.MatchString(id) {
		return nil, nil
	}
	var rows []assignmentRow
	if err := assignmentQueryIn(app).Where(dbx.HashExp{"a.id": id}).All(&rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	rows[0].finish()
	return &rows[0], nil
}

// writtenAssignment is the create/update answer (Assignment + available_roles) of the
// assignment id, read in the write transaction tx that wrote it: the answer is what was
// committed. Read after the commit, a delete committed in between (of the assignment, its user
// or its system) left nothing to answer with, and the answer dereferenced nil (a 500).
func writtenAssignment(tx core.App, id string) (*assignmentWithRoles, error) {
	row, err := loadAssignmentIn(tx, id)
	if err != nil {
		return nil, err
	}
	if row == nil { // its user, system or role is gone: the save would have failed
		return nil, fmt.Errorf("directory: assignment %q not readable in the transaction that wrote it", id)
	}
	roles, err := rolesOfSystem(tx, row.System)
	if err != nil {
		return nil, err
	}
	out := &assignmentWithRoles{assignmentRow: *row, AvailableRoles: make([]roleBrief, 0, len(roles))}
	for _, r := range roles {
		out.AvailableRoles = append(out.AvailableRoles, toRoleBrief(r))
	}
	return out, nil
}

var assignmentOrdering = map[string]string{"assigned_at": "a.assigned_at", "system_slug": "s.slug", "email": "u.email"}

// listAssignments serves GET /api/v1/system-roles/user-system-roles/ (§5.11.3).
func (p *plugin) listAssignments(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	errs := apikit.FieldErrors{}
	scopeParam, _ := apikit.QueryChoice(q, "scope", []string{"mine", "managed"}, errs)
	isActive, hasActive := apikit.QueryBool(q, "is_active", errs)
	q.Del("search") // not documented here (§5.11.3): ignored like any unknown parameter (§1.8)
	pq, perr := apikit.ParsePageQuery(q, keys(assignmentOrdering))
	if scopeParam == "managed" {
		if err := permissions.RequireAnyAdmin(e); err != nil {
			return err
		}
	}
	mergeErr(errs, perr)
	if err := errs.Err(); err != nil {
		return err
	}
	s, ids, all, err := adminScope(e)
	if err != nil {
		return err
	}
	where := dbx.And()
	if scopeParam == "managed" {
		if !all {
			where = dbx.And(where, dbx.In("a.system", idList(ids)...))
		}
	} else {
		where = dbx.And(where, dbx.HashExp{"a.user": s.UserID()})
	}
	if v := q.Get("system"); v != "" {
		where = dbx.And(where, dbx.NewExp("a.system IN (SELECT id FROM systems WHERE slug = {:slug})", dbx.Params{"slug": v}))
	}
	if v := q.Get("user"); v != "" {
		where = dbx.And(where, dbx.HashExp{"a.user": v})
	}
	if v := q.Get("role"); v != "" {
		where = dbx.And(where, dbx.HashExp{"a.role": v})
	}
	if hasActive {
		where = dbx.And(where, dbx.HashExp{"a.is_active": isActive})
	}
	count, err := countAssignments(p.app, where, false)
	if err != nil {
		return err
	}
	if err := apikit.CheckPageInRange(pq, count); err != nil {
		return err
	}
	rows := []assignmentRow{}
	if count > 0 {
		order := orderBy(pq, assignmentOrdering, []apikit.OrderField{{Field: "assigned_at"}}, "a.id")
		if err := p.assignmentQuery().Where(where).OrderBy(order...).Limit(int64(pq.Size)).Offset(int64(pq.Offset())).All(&rows); err != nil {
			return err
		}
	}
	for i := range rows {
		rows[i].finish()
	}
	return p.writePage(e, pq, count, rows)
}

// mergeErr adds the field errors of a 400 to errs (other errors are impossible here).
func mergeErr(errs apikit.FieldErrors, err error) {
	if ae, ok := err.(*apikit.Error); ok {
		for k, v := range ae.Fields {
			errs[k] = append(errs[k], v...)
		}
	}
}

// roleSystemMessage is §5.11.4's message for a role of another system.
func roleSystemMessage(role, sys, other *core.Record) string {
	return "The selected role '" + role.GetString("name") + "' does not belong to the system '" +
		sys.GetString("name") + "'. This role belongs to '" + other.GetString("name") + "' system."
}

// createAssignment serves POST /api/v1/system-roles/user-system-roles/ (§5.11.4).
func (p *plugin) createAssignment(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	ref := func(field, collection string) *core.Record {
		v, _ := body.String(field, apikit.Str{Required: true})
		if body.Errors.Has(field) {
			return nil
		}
		rec, ferr := findByID(p.app, collection, v)
		if ferr != nil {
			err = ferr
		}
		if rec == nil && ferr == nil {
			body.Errors.Add(field, pkMessage(v))
		}
		return rec
	}
	sys := ref("system", colSystems)
	user := ref("user", colUsers)
	role := ref("role", colRoles)
	if err != nil {
		return err
	}
	isActive, hasActive := body.Bool("is_active", false)
	_, settings, _ := permissions.ReadSettings(body, false)
	if sys == nil {
		return body.Err()
	}
	if err := permissions.RequireAdmin(e, sys.Id, msgAccessDeniedSystem); err != nil {
		return err
	}
	if role != nil && role.GetString("system") != sys.Id {
		other, _ := p.app.FindRecordById(colSystems, role.GetString("system"))
		if other != nil {
			body.Errors.Add("role", roleSystemMessage(role, sys, other))
		}
	}
	if err := body.Err(); err != nil {
		return err
	}
	if !hasActive {
		isActive = true
	}
	if p.tripleExists(user.Id, sys.Id, role.Id, "") {
		return apikit.Conflict(msgDuplicateAssignment)
	}
	col, err := p.app.FindCachedCollectionByNameOrId(colAssignments)
	if err != nil {
		return err
	}
	rec := core.NewRecord(col)
	rec.Set("user", user.Id)
	rec.Set("system", sys.Id)
	rec.Set("role", role.Id)
	rec.Set("is_active", isActive)
	if settings != nil {
		rec.Set("settings", settings)
	}
	var out *assignmentWithRoles
	err = p.app.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(rec); err != nil {
			return err
		}
		if err := audit.Log(tx, actorEntry(e, "assignment.created", "assignment", rec.Id, sys.GetString("slug"))); err != nil {
			return err
		}
		out, err = writtenAssignment(tx, rec.Id)
		return err
	})
	if err != nil {
		if p.tripleExists(user.Id, sys.Id, role.Id, "") {
			return apikit.Conflict(msgDuplicateAssignment)
		}
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, out)
}

func (p *plugin) tripleExists(user, system, role, exceptID string) bool {
	q := p.app.DB().Select("COUNT(*) AS n").From(colAssignments).
		Where(dbx.HashExp{"user": user, "system": system, "role": role})
	if exceptID != "" {
		q = q.AndWhere(dbx.Not(dbx.HashExp{"id": exceptID}))
	}
	var n struct {
		N int `db:"n"`
	}
	return q.One(&n) == nil && n.N > 0
}

// visibleAssignment loads the assignment of the path if the caller may see it (its own, or in
// its admin scope), else 404 (§5.11.5).
func (p *plugin) visibleAssignment(e *core.RequestEvent) (*assignmentRow, *permissions.Scope, error) {
	row, err := p.loadAssignment(e.Request.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	s, err := permissions.For(e)
	if err != nil {
		return nil, nil, err
	}
	if row == nil || (row.User != s.UserID() && !s.IsAdmin(row.System)) {
		return nil, nil, apikit.NotFound(msgAssignmentNotFound)
	}
	return row, s, nil
}

// getAssignment serves GET /api/v1/system-roles/user-system-roles/{id}/ (§5.11.5).
func (p *plugin) getAssignment(e *core.RequestEvent) error {
	row, _, err := p.visibleAssignment(e)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, row)
}

// updateAssignment serves PUT and PATCH /api/v1/system-roles/user-system-roles/{id}/ (§5.11.6).
func (p *plugin) updateAssignment(put bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		row, s, err := p.visibleAssignment(e)
		if err != nil {
			return err
		}
		if !s.IsAdmin(row.System) {
			return apikit.PermissionDenied(msgModifyDenied)
		}
		body, err := apikit.ReadBody(e, 0)
		if err != nil {
			return err
		}
		roleID, hasRole := body.String("role", apikit.Str{Required: put})
		var role *core.Record
		if hasRole && !body.Errors.Has("role") {
			if role, err = findByID(p.app, colRoles, roleID); err != nil {
				return err
			}
			switch {
			case role == nil:
				body.Errors.Add("role", pkMessage(roleID))
			case role.GetString("system") != row.System:
				sys, _ := p.app.FindRecordById(colSystems, row.System)
				other, _ := p.app.FindRecordById(colSystems, role.GetString("system"))
				if sys != nil && other != nil {
					body.Errors.Add("role", roleSystemMessage(role, sys, other))
				}
			}
		}
		isActive, hasActive := body.Bool("is_active", put)
		_, settings, hasSettings := permissions.ReadSettings(body, false)
		for _, f := range [][2]string{{"user", row.User}, {"system", row.System}} {
			if v, present := body.String(f[0], apikit.Str{Nullable: true}); present && !body.Errors.Has(f[0]) && v != f[1] {
				body.Errors.Add(f[0], msgFieldCannotBeChanged)
			}
		}
		if err := body.Err(); err != nil {
			return err
		}
		roleChanged := role != nil && role.Id != row.Role
		if row.RoleName == permissions.AdminRole && !s.IsSuperuser() && (roleChanged || (hasActive && !isActive && row.IsActive)) {
			return apikit.PermissionDenied(msgNoRemoveAdmin)
		}
		if roleChanged && p.tripleExists(row.User, row.System, role.Id, row.ID) {
			return apikit.Conflict(msgDuplicateAssignment)
		}
		var out *assignmentWithRoles
		err = p.app.RunInTransaction(func(tx core.App) error {
			rec, err := tx.FindRecordById(colAssignments, row.ID)
			if err != nil {
				return apikit.NotFound(msgAssignmentNotFound) // deleted since it was read
			}
			// again on the row as it is now: given the Admin role since it was read
			if !s.IsSuperuser() && (roleChanged || (hasActive && !isActive && rec.GetBool("is_active"))) {
				if err := refuseRemovingAnAdmin(tx, rec); err != nil {
					return err
				}
			}
			if roleChanged {
				rec.Set("role", role.Id)
			}
			if hasActive {
				rec.Set("is_active", isActive)
			}
			if hasSettings {
				rec.Set("settings", settings)
			}
			if err := tx.Save(rec); err != nil {
				return err
			}
			if err := audit.Log(tx, actorEntry(e, "assignment.updated", "assignment", rec.Id, row.SystemSlug)); err != nil {
				return err
			}
			out, err = writtenAssignment(tx, rec.Id)
			return err
		})
		if err != nil {
			if roleChanged && p.tripleExists(row.User, row.System, role.Id, row.ID) {
				return apikit.Conflict(msgDuplicateAssignment)
			}
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, out)
	}
}

// deleteAssignment serves DELETE /api/v1/system-roles/user-system-roles/{id}/ (§5.11.7): the
// round-robin state of that (role, user) goes with it.
func (p *plugin) deleteAssignment(e *core.RequestEvent) error {
	row, s, err := p.visibleAssignment(e)
	if err != nil {
		return err
	}
	if !s.IsAdmin(row.System) {
		return apikit.PermissionDenied(msgModifyDenied)
	}
	if row.RoleName == permissions.AdminRole && !s.IsSuperuser() {
		return apikit.PermissionDenied(msgNoRemoveAdmin)
	}
	var check func(tx core.App, rec *core.Record) error
	if !s.IsSuperuser() {
		check = refuseRemovingAnAdmin // given the Admin role since it was read
	}
	// hooks.dropRoundRobinState deletes the (role, user) round-robin state with it.
	err = p.deleteAudited(colAssignments, row.ID, apikit.NotFound(msgAssignmentNotFound), check, func(*core.Record) audit.Entry {
		return actorEntry(e, "assignment.deleted", "assignment", row.ID, row.SystemSlug)
	})
	if err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}

// editSettings serves POST /api/v1/system-roles/user-system-roles/edit-settings/ (§5.11.8).
func (p *plugin) editSettings(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	s, err := permissions.For(e)
	if err != nil {
		return err
	}
	slug, hasSystem := body.String("system", apikit.Str{})
	var sys *core.Record
	switch {
	case body.Errors.Has("system"):
	case hasSystem:
		if sys, err = findSystemBySlug(p.app, slug); err != nil {
			return err
		}
		if sys == nil {
			return apikit.NotFound(msgSystemNotFound)
		}
		if err := permissions.RequireAdmin(e, sys.Id, msgAccessDeniedSystem); err != nil {
			return err
		}
	default:
		var own []permissions.System
		for _, a := range s.Assignments() {
			if a.GrantsAdmin() && (len(own) == 0 || own[len(own)-1].ID != a.SystemID) {
				own = append(own, permissions.System{ID: a.SystemID, Slug: a.SystemSlug})
			}
		}
		if len(own) == 1 {
			if sys, err = p.app.FindRecordById(colSystems, own[0].ID); err != nil {
				return err
			}
		} else {
			body.Errors.Add("system", msgSystemRequiredSeveral)
		}
	}
	userID, _ := body.String("user_id", apikit.Str{Required: true})
	_, settings, _ := permissions.ReadSettings(body, true)
	roleID, hasRoleID := body.String("role_id", apikit.Str{Nullable: true})
	if body.Errors.Has("system") || body.Errors.Has("user_id") || body.Errors.Has("settings") || body.Errors.Has("role_id") {
		return body.Err()
	}
	where := dbx.HashExp{"user": userID, "system": sys.Id}
	if hasRoleID && roleID != "" {
		where["role"] = roleID
	}
	recs, err := p.app.FindAllRecords(colAssignments, where)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return apikit.NotFound(msgAssignmentNotFound)
	}
	if len(recs) > 1 {
		return apikit.InvalidField("role_id", msgRoleIDRequired)
	}
	// The row is read again inside the write transaction and only settings changes: a save of the
	// copy read above would write back every column as it was then (PocketBase saves them all),
	// undoing a deactivation or role change committed in between (§3.5).
	var rec, role *core.Record
	err = p.app.RunInTransaction(func(tx core.App) error {
		var err error
		if rec, err = findByID(tx, colAssignments, recs[0].Id); err != nil || rec == nil {
			if err == nil {
				err = apikit.NotFound(msgAssignmentNotFound) // deleted in between
			}
			return err
		}
		rec.Set("settings", settings)
		if err := tx.Save(rec); err != nil {
			return err
		}
		// the answer's role, read with what was written (a role deleted after the commit must
		// not turn a saved change into a 500)
		if role, err = tx.FindRecordById(colRoles, rec.GetString("role")); err != nil {
			return err
		}
		return audit.Log(tx, actorEntry(e, "assignment.updated", "assignment", rec.Id, sys.GetString("slug")))
	})
	if err != nil {
		return err
	}
	out := apikit.NewOrderedObject(5)
	out.Set("id", rec.Id)
	out.Set("user_id", userID)
	out.Set("system", sys.GetString("slug"))
	out.Set("role", role.GetString("name"))
	out.Set("settings", settings)
	return apikit.WriteJSON(e, http.StatusOK, out)
}

// slugSystemForAdmin resolves {system_slug} of an ADMIN(S) path: unknown → 404 "System not
// found."; not an admin of it → 403 "Access denied to this system".
func (p *plugin) slugSystemForAdmin(e *core.RequestEvent) (*core.Record, error) {
	sys, err := findSystemBySlug(p.app, e.Request.PathValue("system_slug"))
	if err != nil {
		return nil, err
	}
	if sys == nil {
		return nil, apikit.NotFound(msgSystemNotFound)
	}
	if err := permissions.RequireAdmin(e, sys.Id, msgAccessDeniedSystem); err != nil {
		return nil, err
	}
	return sys, nil
}

// systemRoles serves GET /api/v1/system-roles/user-system-roles/system/{system_slug}/roles/
// (§5.11.9).
func (p *plugin) systemRoles(e *core.RequestEvent) error {
	sys, err := p.slugSystemForAdmin(e)
	if err != nil {
		return err
	}
	q := e.Request.URL.Query()
	q.Del("ordering")
	q.Del("search")
	pq, err := apikit.ParsePageQuery(q, nil)
	if err != nil {
		return err
	}
	recs, count, err := p.pageRecords(colRoles, dbx.HashExp{"system": sys.Id}, pq, []string{"[[name]] ASC", "[[id]] ASC"}, nil)
	if err != nil {
		return err
	}
	out := make([]roleBrief, 0, len(recs))
	for _, r := range recs {
		out = append(out, toRoleBrief(r))
	}
	return writePageOf(e, p.kit.AppURL(), pq, count, out, "system", toSystemBrief(sys))
}

// systemUserRow is a row of §5.11.2.
type systemUserRow struct {
	ID           string         `db:"user" json:"id"`
	Email        string         `db:"email" json:"email"`
	FirstName    string         `db:"first_name" json:"first_name"`
	LastName     string         `db:"last_name" json:"last_name"`
	Role         string         `db:"role_name" json:"role"`
	RoleID       string         `db:"role" json:"role_id"`
	AssignmentID string         `db:"id" json:"assignment_id"`
	IsActive     bool           `db:"is_active" json:"is_active"`
	SystemID     string         `db:"system" json:"system_id"`
	SystemName   string         `db:"system_name" json:"system_name"`
	SystemSlug   string         `db:"system_slug" json:"system_slug"`
	AssignedAtDT types.DateTime `db:"assigned_at" json:"-"`
	AssignedAt   string         `db:"-" json:"assigned_at"`
}

var systemUsersOrdering = map[string]string{"email": "u.email", "assigned_at": "a.assigned_at", "role": "r.name"}

// systemUsers serves GET /api/v1/system-roles/systems/{system_slug}/users/ (§5.11.2).
func (p *plugin) systemUsers(e *core.RequestEvent) error {
	sys, err := p.slugSystemForAdmin(e)
	if err != nil {
		return err
	}
	q := e.Request.URL.Query()
	errs := apikit.FieldErrors{}
	isActive, hasActive := apikit.QueryBool(q, "is_active", errs)
	pq, perr := apikit.ParsePageQuery(q, keys(systemUsersOrdering))
	mergeErr(errs, perr)
	if err := errs.Err(); err != nil {
		return err
	}
	where := dbx.And(dbx.HashExp{"a.system": sys.Id})
	if hasActive {
		where = dbx.And(where, dbx.HashExp{"a.is_active": isActive})
	}
	if pq.Search != "" {
		where = dbx.And(where, searchExp(pq.Search, "u.email", "u.first_name", "u.last_name"))
	}
	count, err := countAssignments(p.app, where, pq.Search != "")
	if err != nil {
		return err
	}
	if err := apikit.CheckPageInRange(pq, count); err != nil {
		return err
	}
	rows := []systemUserRow{}
	if count > 0 {
		order := orderBy(pq, systemUsersOrdering, []apikit.OrderField{{Field: "email"}}, "a.id")
		if err := p.assignmentQuery().Where(where).OrderBy(order...).Limit(int64(pq.Size)).Offset(int64(pq.Offset())).All(&rows); err != nil {
			return err
		}
	}
	for i := range rows {
		rows[i].AssignedAt = profiles.Timestamp(rows[i].AssignedAtDT)
	}
	return writePageOf(e, p.kit.AppURL(), pq, count, rows, "system", toSystemBrief(sys))
}

// refuseRemovingAnAdmin answers 403 "Cannot remove Admin role assignments" when the assignment
// asg, as read in the caller's write transaction, has its system's Admin role (§5.11.6–§5.11.7):
// only a superuser may change, deactivate or delete one.
func refuseRemovingAnAdmin(tx core.App, asg *core.Record) error {
	role, err := tx.FindRecordById(colRoles, asg.GetString("role"))
	if err != nil {
		return err
	}
	if role.GetString("name") == permissions.AdminRole {
		return apikit.PermissionDenied(msgNoRemoveAdmin)
	}
	return nil
}
