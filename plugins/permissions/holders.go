package permissions

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/prepared"
	"gatehouse/plugins/writeepoch"
)

// Holder is one assignment of a role with its staff user: the same rows as Assignments, seen
// from the role (the agents of a TTS role, §5.13.7). Like Assignment it has no settings: a
// caller that needs them (round-robin eligibility) reads them in its own transaction.
type Holder struct {
	AssignmentID string
	UserID       string
	Email        string
	FirstName    string
	LastName     string
	UserIsActive bool // the user's is_active
	IsActive     bool // the assignment's is_active
}

// RoleHolders returns every assignment of a role, active and inactive, with its user, sorted by
// user id, then assignment id.
//
// It is the role view of the one assignments reader (Assignments): one prepared query whose
// answer is kept under the write epoch, so any write to the main tables (an assignment, a user,
// a role) makes the next call read again. Inside a transaction a fresh cached answer is the
// committed state (the transaction holds the only write connection, and every committed write
// has moved the epoch); a miss reads through the transaction and is not kept.
//
// The returned slice is shared with other callers: read it, never modify it.
func RoleHolders(app core.App, roleID string) ([]Holder, error) {
	cache := holdersCache(app)
	if rows, ok := cache.Get(app, roleID); ok {
		return rows, nil
	}
	before := writeepoch.Epoch(app)
	rows, err := queryHolders(app, roleID)
	if err != nil {
		return nil, err
	}
	cache.Put(app, roleID, before, rows)
	return rows, nil
}

func holdersCache(app core.App) *writeepoch.SnapshotCache[[]Holder] {
	return app.Store().GetOrSet("gatehouse.permissions.holders", func() any {
		return &writeepoch.SnapshotCache[[]Holder]{}
	}).(*writeepoch.SnapshotCache[[]Holder])
}

const holdersQuery = "SELECT a.id AS id, u.id AS user_id, u.email AS email, u.first_name AS first_name, " +
	"u.last_name AS last_name, u.is_active AS user_is_active, a.is_active AS is_active " +
	"FROM user_system_roles a JOIN users u ON u.id = a.user " +
	"WHERE a.role = {:role} ORDER BY u.id, a.id"

func queryHolders(app core.App, roleID string) ([]Holder, error) {
	rows, err := prepared.Rows(app, holdersQuery, dbx.Params{"role": roleID})
	if err != nil {
		return nil, err
	}
	out := make([]Holder, 0, len(rows))
	for _, r := range rows {
		out = append(out, Holder{
			AssignmentID: r["id"].String, UserID: r["user_id"].String, Email: r["email"].String,
			FirstName: r["first_name"].String, LastName: r["last_name"].String,
			UserIsActive: truthy(r["user_is_active"].String), IsActive: truthy(r["is_active"].String),
		})
	}
	return out, nil
}

func truthy(s string) bool { return s == "1" || s == "true" }
