package profiles

import (
	"slices"
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/prepared"
)

// assignmentRow is one assignment of a user joined with its system and role.
type assignmentRow struct {
	ID           string         `db:"id"`
	SystemID     string         `db:"system_id"`
	SystemName   string         `db:"system_name"`
	SystemSlug   string         `db:"system_slug"`
	SystemURL    string         `db:"system_url"`
	RoleID       string         `db:"role_id"`
	RoleName     string         `db:"role_name"`
	AssignedAt   types.DateTime `db:"assigned_at"`
	LastLoggedOn types.DateTime `db:"last_logged_on"`
	IsActive     bool           `db:"is_active"`
}

// assignmentFilter narrows loadAssignments.
type assignmentFilter struct {
	systemSlug string // "" = every system
	activeOnly bool
}

// loadAssignments reads a user's assignments with their system and role in one prepared query
// (it runs on every profile read), sorted by system slug, then role name (byte order, as
// SQLite's BINARY collation), then assignment id.
func loadAssignments(app core.App, userID string, f assignmentFilter) ([]assignmentRow, error) {
	cache := assignmentsCache(app)
	key := userID + "/" + f.systemSlug + "/" + strconv.FormatBool(f.activeOnly)
	if rows, ok := cache.Get(app, key); ok {
		return slices.Clone(rows), nil
	}
	before := prepared.Epoch(app)
	rows, err := queryAssignments(app, userID, f)
	if err != nil {
		return nil, err
	}
	cache.Put(app, key, before, slices.Clone(rows))
	return rows, nil
}

// assignmentsCache keeps each user's assignment rows under the write epoch (plugins/prepared):
// every profile read and token validation needs them, and they change only with a write.
func assignmentsCache(app core.App) *prepared.SnapshotCache[[]assignmentRow] {
	return app.Store().GetOrSet("gatehouse.profiles.assignments", func() any {
		return &prepared.SnapshotCache[[]assignmentRow]{}
	}).(*prepared.SnapshotCache[[]assignmentRow])
}

func queryAssignments(app core.App, userID string, f assignmentFilter) ([]assignmentRow, error) {
	where := "a.user = {:user}"
	params := dbx.Params{"user": userID}
	if f.systemSlug != "" {
		where += " AND s.slug = {:slug}"
		params["slug"] = f.systemSlug
	}
	if f.activeOnly {
		where += " AND a.is_active = 1"
	}
	rows, err := prepared.Rows(app,
		"SELECT a.id AS id, s.id AS system_id, s.name AS system_name, s.slug AS system_slug, "+
			"COALESCE(s.url, '') AS system_url, r.id AS role_id, r.name AS role_name, "+
			"a.assigned_at AS assigned_at, COALESCE(a.last_logged_on, '') AS last_logged_on, "+
			"a.is_active AS is_active "+
			"FROM user_system_roles a JOIN systems s ON s.id = a.system JOIN roles r ON r.id = a.role "+
			"WHERE "+where+" ORDER BY s.slug, r.name, a.id", params)
	if err != nil {
		return nil, err
	}
	out := make([]assignmentRow, 0, len(rows))
	for _, r := range rows {
		row := assignmentRow{
			ID: r["id"].String, SystemID: r["system_id"].String, SystemName: r["system_name"].String,
			SystemSlug: r["system_slug"].String, SystemURL: r["system_url"].String, RoleID: r["role_id"].String,
			RoleName: r["role_name"].String, IsActive: r["is_active"].String == "1" || r["is_active"].String == "true",
		}
		row.AssignedAt, _ = types.ParseDateTime(r["assigned_at"].String)
		row.LastLoggedOn, _ = types.ParseDateTime(r["last_logged_on"].String)
		out = append(out, row)
	}
	return out, nil
}
