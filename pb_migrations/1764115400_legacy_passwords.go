package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Fields for accounts brought over from the original service (`gatehouse import original`),
// on users and employees, both hidden:
//   - legacy_password_hash: the account's Django password hash, kept as it was until its first
//     successful login, which verifies it, re-hashes the password to bcrypt and clears this
//     field (plugins/passwords). Any new password clears it too (hooks).
//   - imported_from: where the record came from ("original:users_user:12"), so a second
//     import recognises what it already brought over.
//
// The names are repeated here because migrations import no plugin.

var legacyFieldNames = []string{"legacy_password_hash", "imported_from"}

func init() {
	m.Register(addLegacyFields, func(app core.App) error {
		for _, name := range []string{"users", "employees"} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				continue // already gone
			}
			for _, f := range legacyFieldNames {
				c.Fields.RemoveByName(f)
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}

func addLegacyFields(app core.App) error {
	for _, name := range []string{"users", "employees"} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		c.Fields.Add(
			&core.TextField{Name: "legacy_password_hash", Hidden: true, Max: 1024},
			&core.TextField{Name: "imported_from", Hidden: true, Max: 100},
		)
		ensureTimestampsLast(c)
		if err := app.Save(c); err != nil {
			return err
		}
	}
	return nil
}
