package pb_migrations

import (
	"fmt"

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
		if len(records) == 0 {
			return nil
		}
		refs, err := app.FindCachedCollectionReferences(systems)
		if err != nil {
			return err
		}
		// The rows themselves without the record hooks: hooks/ refuses to delete a built-in
		// system (§5.9), and the binary registers the hooks before the migrate command runs.
		// Without hooks there is no cascade either, so what PocketBase's cascade would do
		// follows, through the hooks (the parent is gone first, as in PocketBase's own order,
		// so hooks/ lets the default roles go): every relation to systems is a single-value
		// cascade (roles, user_system_roles, invitations, api_keys).
		ids := make([]any, len(records))
		noHooks := app.UnsafeWithoutHooks()
		for i, r := range records {
			ids[i] = r.Id
			if err := noHooks.Delete(r); err != nil {
				return err
			}
		}
		for col, fields := range refs {
			for _, f := range fields {
				rel, ok := f.(*core.RelationField)
				if !ok || !rel.CascadeDelete || rel.IsMultiple() {
					return fmt.Errorf("default systems down: %s.%s is not a single-value cascade", col.Name, f.GetName())
				}
				children, err := app.FindAllRecords(col, dbx.In(f.GetName(), ids...))
				if err != nil {
					return err
				}
				for _, c := range children {
					if err := app.Delete(c); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}
