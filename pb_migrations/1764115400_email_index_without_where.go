package pb_migrations

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The email unique index of users and employees was partial (only non-empty emails, PocketBase's
// default shape). SQLite cannot use a partial index for `email = ? COLLATE NOCASE`, so every
// login scanned the whole table (EXPLAIN QUERY PLAN: SCAN users). Emails are required on both
// collections, so the index does not need the WHERE clause.
func init() {
	m.Register(func(app core.App) error {
		return setEmailIndex(app, "")
	}, func(app core.App) error {
		return setEmailIndex(app, " WHERE `email` != ''")
	})
}

func setEmailIndex(app core.App, where string) error {
	for _, name := range []string{"users", "employees"} {
		col, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		indexName := "idx_email_" + col.Id
		kept := col.Indexes[:0]
		for _, idx := range col.Indexes {
			if !strings.Contains(idx, "`"+indexName+"`") {
				kept = append(kept, idx)
			}
		}
		col.Indexes = append(kept, fmt.Sprintf("CREATE UNIQUE INDEX `%s` ON `%s` (`email` COLLATE NOCASE)%s", indexName, name, where))
		if err := app.Save(col); err != nil {
			return err
		}
	}
	return nil
}
