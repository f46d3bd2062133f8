package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// usersEmailOrderIndexes let the default ordering of the user lists (email, either direction,
// id as the final tie-break) read a page's ids from the index alone, as 1764115600's order
// indexes do for the other orderings: PocketBase's unique email index holds the rowid, not the
// id, so a deep page (page 1000 × 50) read each skipped row's id from the table (3 ms of
// SQLite at 100,000 users; 0.7 ms through the covering index).
var usersEmailOrderIndexes = [][2]string{
	{"idx_users_email_id", "`email` COLLATE NOCASE, `id`"},
	{"idx_users_email_desc_id", "`email` COLLATE NOCASE DESC, `id`"},
}

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		for _, idx := range usersEmailOrderIndexes {
			users.AddIndex(idx[0], false, idx[1], "")
		}
		return app.Save(users)
	}, func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		for _, idx := range usersEmailOrderIndexes {
			users.RemoveIndex(idx[0])
		}
		return app.Save(users)
	})
}
