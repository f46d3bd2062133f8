package tts

import (
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/prepared"
	"gatehouse/plugins/profiles"
)

// Limits and messages of §5.13.5 and §5.13.6.
const (
	maxRoleName        = 150
	maxRoleDescription = 1000
	msgRoleNameMissing = "Role name is required"
)

// roleSystem resolves S of create-role: ?system (a slug, default tts); unknown → 404, then
// ADMIN(S) with the endpoint's text (the route checked ANY_ADMIN, §1.3).
func roleSystem(e *core.RequestEvent, deniedVerb string) (*system, error) {
	slug := strings.TrimSpace(apikit.Query(e).Get("system"))
	if slug == "" {
		slug = SystemSlug
	}
	sys, err := findSystem(e.App, slug)
	if err != nil {
		return nil, err
	}
	if sys == nil {
		return nil, apikit.NotFound(upperSlug(slug) + " system not found")
	}
	denied := "You don't have permission to " + deniedVerb + " roles in " + upperSlug(sys.Slug) + " system"
	if err := permissions.RequireAdmin(e, sys.ID, denied); err != nil {
		return nil, err
	}
	return sys, nil
}

// roleBriefJSON is RoleBrief (§4.6).
type roleBriefJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	IsCustom    bool    `json:"is_custom"`
	CreatedAt   string  `json:"created_at"`
}

const systemRolesQuery = "SELECT id, name, description, is_custom, created FROM roles WHERE system = {:system} ORDER BY name, id"

// GET /api/v1/tts/create-role/ (§5.13.5).
func (p *plugin) listRoles(e *core.RequestEvent) error {
	if apikit.WantsHTML(e) {
		return p.kit.ServePage(e, pageCreateRole)
	}
	sys, err := roleSystem(e, "view")
	if err != nil {
		return err
	}
	rows, err := prepared.Rows(e.App, systemRolesQuery, dbx.Params{"system": sys.ID})
	if err != nil {
		return err
	}
	roles := make([]roleBriefJSON, 0, len(rows))
	for _, r := range rows {
		created, _ := types.ParseDateTime(r["created"].String)
		roles = append(roles, roleBriefJSON{ID: r["id"].String, Name: r["name"].String, Description: nullable(r["description"].String),
			IsCustom: truthy(r["is_custom"].String), CreatedAt: profiles.Timestamp(created)})
	}
	return apikit.WriteJSON(e, http.StatusOK, struct {
		System string          `json:"system"`
		Roles  []roleBriefJSON `json:"roles"`
	}{sys.Slug, roles})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// POST /api/v1/tts/create-role/ (§5.13.6).
func (p *plugin) createRole(e *core.RequestEvent) error {
	sys, err := roleSystem(e, "create")
	if err != nil {
		return err
	}
	body, err := apikit.ReadBody(e, 0)
	if err != nil {
		return err
	}
	name, _ := body.String("name", apikit.Str{Required: true, Max: maxRoleName, RequiredMsg: msgRoleNameMissing, BlankMsg: msgRoleNameMissing})
	description, _ := body.String("description", apikit.Str{Nullable: true, Max: maxRoleDescription})
	if err := body.Err(); err != nil {
		return err
	}

	var created *core.Record
	err = e.App.RunInTransaction(func(tx core.App) error {
		// the case-insensitive duplicate check and the insert share the write transaction, so
		// two concurrent requests cannot both pass it
		var names []struct {
			Name string `db:"name"`
		}
		if err := tx.DB().Select("name").From("roles").Where(dbx.HashExp{"system": sys.ID}).All(&names); err != nil {
			return err
		}
		for _, n := range names {
			if strings.EqualFold(n.Name, name) {
				return apikit.Conflict("Role '" + name + "' already exists in " + upperSlug(sys.Slug) + " system")
			}
		}
		col, err := tx.FindCachedCollectionByNameOrId("roles")
		if err != nil {
			return err
		}
		created = core.NewRecord(col)
		created.Set("name", name)
		created.Set("system", sys.ID)
		created.Set("description", description)
		created.Set("is_custom", true)
		if err := tx.Save(created); err != nil {
			return err
		}
		entry := audit.FromRequest(e, "role.created", true)
		actor(e, &entry)
		entry.TargetType, entry.TargetID, entry.System = "role", created.Id, sys.Slug
		entry.Details = map[string]any{"name": name}
		return audit.Log(tx, entry)
	})
	if err != nil {
		return err
	}
	return apikit.WriteJSON(e, http.StatusCreated, struct {
		Message string `json:"message"`
		Role    struct {
			ID          string  `json:"id"`
			Name        string  `json:"name"`
			Description *string `json:"description"`
		} `json:"role"`
	}{Message: "Role '" + name + "' created successfully", Role: struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Description *string `json:"description"`
	}{created.Id, name, nullable(description)}})
}
