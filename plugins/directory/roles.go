package directory

import (
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
)

// Messages of §5.10.
const (
	msgRoleNotFoundOrDenied = "Role not found or access denied"
	msgRoleCreateDenied     = "Access denied to create roles for this system"
	msgDefaultRoleNoModify  = "Cannot modify system default roles"
	msgDefaultRoleName      = "The name of a default role cannot be changed."
	msgNoDeleteAdminRole    = "Cannot delete system Admin role"
	msgNoDeleteDefaultRoles = "Cannot delete system default roles"
	msgFieldCannotBeChanged = "This field cannot be changed."
)

type roleJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	IsCustom    bool    `json:"is_custom"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	System      string  `json:"system"`
	SystemSlug  string  `json:"system_slug"`
	SystemName  string  `json:"system_name"`
}

type roleBrief struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	IsCustom    bool    `json:"is_custom"`
	CreatedAt   string  `json:"created_at"`
}

func toRole(r, sys *core.Record) roleJSON {
	return roleJSON{ID: r.Id, Name: r.GetString("name"), Description: profiles.NullString(r.GetString("description")),
		IsCustom: r.GetBool("is_custom"), CreatedAt: profiles.Timestamp(r.GetDateTime("created")),
		UpdatedAt: profiles.Timestamp(r.GetDateTime("updated")), System: sys.Id,
		SystemSlug: sys.GetString("slug"), SystemName: sys.GetString("name")}
}

func toRoleBrief(r *core.Record) roleBrief {
	return roleBrief{ID: r.Id, Name: r.GetString("name"), Description: profiles.NullString(r.GetString("description")),
		IsCustom: r.GetBool("is_custom"), CreatedAt: profiles.Timestamp(r.GetDateTime("created"))}
}

// rolesOfSystem lists every role of a system sorted by name (byte order), then id.
func rolesOfSystem(app core.App, systemID string) ([]*core.Record, error) {
	var recs []*core.Record
	err := app.RecordQuery(colRoles).Where(dbx.HashExp{"system": systemID}).
		OrderBy("[[name]] ASC", "[[id]] ASC").All(&recs)
	return recs, err
}

var roleOrdering = map[string]string{"name": "[[roles.name]]", "created_at": "[[roles.created]]", "system_slug": "s.slug"}

func joinRoleSystem(q *dbx.SelectQuery) *dbx.SelectQuery {
	return q.InnerJoin("systems s", dbx.NewExp("s.id = [[roles.system]]"))
}

// listRoles serves GET /api/v1/roles/ (§5.10.1).
func (p *plugin) listRoles(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	errs := apikit.FieldErrors{}
	isCustom, hasCustom := apikit.QueryBool(q, "is_custom", errs)
	pq, err := apikit.ParsePageQuery(q, keys(roleOrdering))
	if err != nil {
		if ae, ok := err.(*apikit.Error); ok {
			for k, v := range ae.Fields {
				errs[k] = v
			}
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	_, ids, all, err := adminScope(e)
	if err != nil {
		return err
	}
	where := dbx.And()
	if !all {
		where = dbx.And(where, dbx.In("[[roles.system]]", idList(ids)...))
	}
	slug := q.Get("system")
	if slug == "" {
		slug = q.Get("system__slug")
	}
	if slug != "" {
		where = dbx.And(where, dbx.HashExp{"s.slug": slug})
	}
	if hasCustom {
		where = dbx.And(where, dbx.HashExp{"roles.is_custom": isCustom})
	}
	if pq.Search != "" {
		where = dbx.And(where, searchExp(pq.Search, "[[roles.name]]", "[[roles.description]]"))
	}
	order := orderBy(pq, roleOrdering, []apikit.OrderField{{Field: "system_slug"}, {Field: "name"}}, "[[roles.id]]")
	recs, count, err := p.pageRecords(colRoles, where, pq, order, joinRoleSystem)
	if err != nil {
		return err
	}
	systems := map[string]*core.Record{}
	out := make([]roleJSON, 0, len(recs))
	for _, r := range recs {
		sid := r.GetString("system")
		sys, ok := systems[sid]
		if !ok {
			if sys, err = p.app.FindRecordById(colSystems, sid); err != nil {
				return err
			}
			systems[sid] = sys
		}
		out = append(out, toRole(r, sys))
	}
	return p.writePage(e, pq, count, out)
}

// roleInScope loads the role of the path: unknown or outside the admin scope → 404.
func (p *plugin) roleInScope(e *core.RequestEvent) (*core.Record, *core.Record, error) {
	role, err := findByID(p.app, colRoles, e.Request.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	s, err := permissions.For(e)
	if err != nil {
		return nil, nil, err
	}
	if role == nil || !s.IsAdmin(role.GetString("system")) {
		return nil, nil, apikit.NotFound(msgRoleNotFoundOrDenied)
	}
	sys, err := p.app.FindRecordById(colSystems, role.GetString("system"))
	if err != nil {
		return nil, nil, err
	}
	return role, sys, nil
}

// getRole serves GET /api/v1/roles/{id}/ (§5.10.4).
func (p *plugin) getRole(e *core.RequestEvent) error {
	role, sys, err := p.roleInScope(e)
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusOK, toRole(role, sys))
}

// roleExists reports whether the system has a role of that name, case-insensitively, other
// than exceptID.
func roleExists(app core.App, systemID, name, exceptID string) bool {
	q := app.DB().Select("COUNT(*) AS n").From(colRoles).
		Where(dbx.NewExp("[[system]] = {:s} AND [[name]] = {:n} COLLATE NOCASE", dbx.Params{"s": systemID, "n": name}))
	if exceptID != "" {
		q = q.AndWhere(dbx.Not(dbx.HashExp{"id": exceptID}))
	}
	var n struct {
		N int `db:"n"`
	}
	return q.One(&n) == nil && n.N > 0
}

func duplicateRole(name, slug string) error {
	return apikit.Conflict("Role '" + name + "' already exists in " + strings.ToUpper(slug) + " system")
}

// createRole serves POST /api/v1/roles/ and /api/v1/roles/register/ (§5.10.2): is_custom is
// always true, whatever the body says.
func (p *plugin) createRole(e *core.RequestEvent) error {
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	systemID, _ := body.String("system", apikit.Str{Required: true})
	var sys *core.Record
	if !body.Errors.Has("system") {
		if sys, err = findByID(p.app, colSystems, systemID); err != nil {
			return err
		}
		if sys == nil {
			body.Errors.Add("system", pkMessage(systemID))
		}
	}
	name, _ := body.String("name", apikit.Str{Required: true, Max: 150})
	description, _ := body.String("description", apikit.Str{Nullable: true, Max: 1000})
	if sys == nil {
		return body.Err() // an unknown system is the body's 400, with its other rules (§1.3)
	}
	if err := permissions.RequireAdmin(e, sys.Id, msgRoleCreateDenied); err != nil {
		return err
	}
	if err := body.Err(); err != nil {
		return err
	}
	col, err := p.app.FindCachedCollectionByNameOrId(colRoles)
	if err != nil {
		return err
	}
	role := core.NewRecord(col)
	role.Set("system", sys.Id)
	role.Set("name", name)
	role.Set("description", description)
	role.Set("is_custom", true)
	// The case-insensitive duplicate check runs in the write transaction: the unique index is
	// exact-case (§2.5), so two concurrent requests for Agent and AGENT could both pass a check
	// made before it.
	err = p.app.RunInTransaction(func(tx core.App) error {
		if roleExists(tx, sys.Id, name, "") {
			return duplicateRole(name, sys.GetString("slug"))
		}
		if err := tx.Save(role); err != nil {
			return err
		}
		return audit.Log(tx, actorEntry(e, "role.created", "role", role.Id, sys.GetString("slug")))
	})
	if err != nil {
		if roleExists(p.app, sys.Id, name, "") {
			return duplicateRole(name, sys.GetString("slug"))
		}
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, toRole(role, sys))
}

// updateRole serves PUT and PATCH /api/v1/roles/{id}/ (§5.10.5).
func (p *plugin) updateRole(put bool) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		role, sys, err := p.roleInScope(e)
		if err != nil {
			return err
		}
		s, err := permissions.For(e)
		if err != nil {
			return err
		}
		isDefault := !role.GetBool("is_custom")
		if isDefault && !s.IsSuperuser() {
			return apikit.PermissionDenied(msgDefaultRoleNoModify)
		}
		body, err := apikit.ReadBody(e, 0)
		if err != nil {
			return err
		}
		name, hasName := body.String("name", apikit.Str{Required: put, Max: 150})
		description, hasDesc := body.String("description", apikit.Str{Nullable: true, Max: 1000})
		if v, present := body.String("system", apikit.Str{Nullable: true}); present && !body.Errors.Has("system") && v != role.GetString("system") {
			body.Errors.Add("system", msgFieldCannotBeChanged)
		}
		if isDefault && hasName && !body.Errors.Has("name") && name != role.GetString("name") {
			body.Errors.Add("name", msgDefaultRoleName)
		}
		if err := body.Err(); err != nil {
			return err
		}
		saved, err := p.updateAudited(colRoles, role.Id, apikit.NotFound(msgRoleNotFoundOrDenied), func(tx core.App, rec *core.Record) (audit.Entry, error) {
			if hasName && roleExists(tx, sys.Id, name, role.Id) { // in the transaction, as in createRole
				return audit.Entry{}, duplicateRole(name, sys.GetString("slug"))
			}
			if hasName {
				rec.Set("name", name)
			}
			if hasDesc {
				rec.Set("description", description)
			}
			return actorEntry(e, "role.updated", "role", rec.Id, sys.GetString("slug")), nil
		})
		if err == nil {
			role = saved
		} else {
			if hasName && roleExists(p.app, sys.Id, name, role.Id) {
				return duplicateRole(name, sys.GetString("slug"))
			}
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, toRole(role, sys))
	}
}

// deleteRole serves DELETE /api/v1/roles/{id}/ (§5.10.6): default roles never go, by anyone.
func (p *plugin) deleteRole(e *core.RequestEvent) error {
	role, sys, err := p.roleInScope(e)
	if err != nil {
		return err
	}
	if !role.GetBool("is_custom") {
		if role.GetString("name") == permissions.AdminRole {
			return apikit.PermissionDenied(msgNoDeleteAdminRole)
		}
		return apikit.PermissionDenied(msgNoDeleteDefaultRoles)
	}
	// (a role deleted since — a concurrent DELETE, its system's cascade — is a 404)
	err = p.deleteAudited(colRoles, role.Id, apikit.NotFound(msgRoleNotFoundOrDenied), nil, func(*core.Record) audit.Entry {
		return actorEntry(e, "role.deleted", "role", role.Id, sys.GetString("slug"))
	})
	if err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
