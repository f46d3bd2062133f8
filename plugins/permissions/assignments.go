package permissions

import (
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/prepared"
	"gatehouse/plugins/writeepoch"
)

// AdminRole is the role whose active assignment makes a user ADMIN(S) of its system (§1.7),
// compared case-sensitively: a role named "admin" or "ADMIN" grants nothing.
const AdminRole = "Admin"

// Assignment is one assignment (user_system_roles, §2.6) of a staff user, joined with its
// system and role.
type Assignment struct {
	ID           string
	SystemID     string
	SystemName   string
	SystemSlug   string
	SystemURL    string // "" when the system has none
	RoleID       string
	RoleName     string
	AssignedAt   types.DateTime
	LastLoggedOn types.DateTime
	IsActive     bool
}

// GrantsAdmin reports whether the assignment makes its user ADMIN of its system: active, of
// the role named exactly "Admin".
func (a *Assignment) GrantsAdmin() bool { return a.IsActive && a.RoleName == AdminRole }

// Assignments returns every assignment of a staff user, active and inactive, sorted by system
// slug, then role name (byte order, SQLite's BINARY collation), then assignment id.
//
// It is the one reader of assignments behind the permission levels, UserProfile
// (plugins/profiles) and the roles claim (plugins/tokens): one prepared query, whose answer is
// kept under the write epoch (plugins/writeepoch), so it is read again after any write to the
// main tables (an assignment, a role rename, a system change) and never served stale.
//
// The returned slice is shared with other callers: read it, never modify it (Active and
// InSystem return new slices).
func Assignments(app core.App, userID string) ([]Assignment, error) {
	cache := assignmentsCache(app)
	if rows, ok := cache.Get(app, userID); ok {
		return rows, nil
	}
	before := writeepoch.Epoch(app)
	rows, err := queryAssignments(app, userID)
	if err != nil {
		return nil, err
	}
	cache.Put(app, userID, before, rows)
	return rows, nil
}

// Active returns the active assignments of rows, in their order.
func Active(rows []Assignment) []Assignment {
	out := make([]Assignment, 0, len(rows))
	for _, r := range rows {
		if r.IsActive {
			out = append(out, r)
		}
	}
	return out
}

// InSystem returns the assignments of rows in the system with that slug, in their order.
func InSystem(rows []Assignment, slug string) []Assignment {
	out := make([]Assignment, 0, len(rows))
	for _, r := range rows {
		if r.SystemSlug == slug {
			out = append(out, r)
		}
	}
	return out
}

// assignmentsCache is app's cache, kept in its store. The last app's is also remembered here,
// so that the hot paths (every refresh reads the roles) do not take the store's lock.
func assignmentsCache(app core.App) *writeepoch.SnapshotCache[[]Assignment] {
	if last := lastCache.Load(); last != nil && last.app == app {
		return last.cache
	}
	cache := app.Store().GetOrSet("gatehouse.permissions.assignments", func() any {
		return &writeepoch.SnapshotCache[[]Assignment]{}
	}).(*writeepoch.SnapshotCache[[]Assignment])
	if !app.IsTransactional() { // (a transaction's app is short-lived)
		lastCache.Store(&appCache{app: app, cache: cache})
	}
	return cache
}

type appCache struct {
	app   core.App
	cache *writeepoch.SnapshotCache[[]Assignment]
}

var lastCache atomic.Pointer[appCache]

const assignmentsQuery = "SELECT a.id AS id, s.id AS system_id, s.name AS system_name, s.slug AS system_slug, " +
	"COALESCE(s.url, '') AS system_url, r.id AS role_id, r.name AS role_name, " +
	"a.assigned_at AS assigned_at, COALESCE(a.last_logged_on, '') AS last_logged_on, " +
	"a.is_active AS is_active " +
	"FROM user_system_roles a JOIN systems s ON s.id = a.system JOIN roles r ON r.id = a.role " +
	"WHERE a.user = {:user} ORDER BY s.slug, r.name, a.id"

func queryAssignments(app core.App, userID string) ([]Assignment, error) {
	rows, err := prepared.Rows(app, assignmentsQuery, dbx.Params{"user": userID})
	if err != nil {
		return nil, err
	}
	out := make([]Assignment, 0, len(rows))
	for _, r := range rows {
		a := Assignment{
			ID: r["id"].String, SystemID: r["system_id"].String, SystemName: r["system_name"].String,
			SystemSlug: r["system_slug"].String, SystemURL: r["system_url"].String, RoleID: r["role_id"].String,
			RoleName: r["role_name"].String, IsActive: r["is_active"].String == "1" || r["is_active"].String == "true",
		}
		a.AssignedAt, _ = types.ParseDateTime(r["assigned_at"].String)
		a.LastLoggedOn, _ = types.ParseDateTime(r["last_logged_on"].String)
		out = append(out, a)
	}
	return out, nil
}
