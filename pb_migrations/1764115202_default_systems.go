package pb_migrations

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The two systems the built-in endpoints depend on (§2.20); `seed` adds the others.

var migrationDefaultSystemSlugs = []string{"hdts", "tts"}

func init() {
	m.Register(func(app core.App) error {
		_, err := EnsureDefaultSystems(app, migrationDefaultSystemSlugs...)
		return err
	}, func(app core.App) error {
		systems, err := app.FindCollectionByNameOrId("systems")
		if err != nil {
			return nil // collection already gone
		}
		slugs := make([]any, len(migrationDefaultSystemSlugs))
		for i, s := range migrationDefaultSystemSlugs {
			slugs[i] = s
		}
		records, err := app.FindAllRecords(systems, dbx.In("slug", slugs...))
		if err != nil {
			return err
		}
		for _, r := range records {
			if err := app.Delete(r); err != nil { // cascades to roles, assignments, ...
				return err
			}
		}
		return nil
	})
}
