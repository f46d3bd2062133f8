package permissions

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/prepared"
	"gatehouse/plugins/writeepoch"
)

// Catalog is every system and role by id: what an assignment row needs to show its system and
// role without joining them (the user lists build 50 profiles with ~150 assignments a page,
// and two joined lookups per assignment were half of that page's SQLite work).
type Catalog struct {
	Systems map[string]CatalogSystem
	Roles   map[string]string // id → name
}

// CatalogSystem is what a profile shows of a system.
type CatalogSystem struct{ Name, Slug string }

// Catalogue returns the systems and roles, kept under the write epoch like Assignments: read
// again after any write to the main tables. A caller that meets an id the answer lacks (a
// system or role created after it was read) asks again with fresh = true, which reads the
// tables whatever the cache holds.
//
// The returned catalog is shared with other callers: read it, never modify it.
func Catalogue(app core.App, fresh bool) (*Catalog, error) {
	cache := app.Store().GetOrSet("gatehouse.permissions.catalog", func() any {
		return &writeepoch.SnapshotCache[*Catalog]{}
	}).(*writeepoch.SnapshotCache[*Catalog])
	if !fresh {
		if c, ok := cache.Get(app, ""); ok {
			return c, nil
		}
	}
	before := writeepoch.Epoch(app)
	systems, err := prepared.Rows(app, "SELECT id, name, slug FROM systems", dbx.Params{})
	if err != nil {
		return nil, err
	}
	roles, err := prepared.Rows(app, "SELECT id, name FROM roles", dbx.Params{})
	if err != nil {
		return nil, err
	}
	c := &Catalog{Systems: make(map[string]CatalogSystem, len(systems)), Roles: make(map[string]string, len(roles))}
	for _, r := range systems {
		c.Systems[r["id"].String] = CatalogSystem{Name: r["name"].String, Slug: r["slug"].String}
	}
	for _, r := range roles {
		c.Roles[r["id"].String] = r["name"].String
	}
	cache.Put(app, "", before, c)
	return c, nil
}
