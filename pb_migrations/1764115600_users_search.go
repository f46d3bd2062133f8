package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Substring search of the staff directory (§1.8, §5.3.3, §5.4) through an index (issue 13): an
// FTS5 trigram index of the six searched `users` columns, so `?search=son` reads the few
// thousand candidate rows instead of testing 100,000. The list still applies its LIKE test to
// the candidates (the index only narrows), so results are exactly the LIKE semantics.
//
//   - `_users_search` is a contentless FTS5 table (it stores no copy of the text, only the
//     trigram index; contentless_delete lets a row be removed by rowid). Its rowid is the `n` of
//     `_users_search_ids`, an INTEGER PRIMARY KEY mapped to the user id: unlike the implicit
//     rowid of `users` (a table with a TEXT primary key), `n` survives VACUUM.
//   - Triggers on `users` keep both in sync for every write, the records API, the dashboard,
//     the importer and direct SQL alike. PocketBase alters the `users` table in place (ALTER
//     TABLE ADD/RENAME/DROP COLUMN), which keeps the triggers; a searched column cannot be
//     dropped while they exist (the down migration removes them).
//   - Names start with `_`, which PocketBase forbids for user-created collections: no clash.
//
// Terms shorter than 3 characters have no trigram: the list then tests every row (LIKE only).
const usersSearchColumns = "email, username, first_name, last_name, company_id, phone_number"

var usersSearchUp = []string{
	"CREATE TABLE `_users_search_ids` (`n` INTEGER PRIMARY KEY, `id` TEXT NOT NULL UNIQUE)",
	"CREATE VIRTUAL TABLE `_users_search` USING fts5(" + usersSearchColumns +
		", content='', contentless_delete=1, tokenize='trigram case_sensitive 0 remove_diacritics 0')",
	"INSERT INTO `_users_search_ids` (id) SELECT id FROM users ORDER BY created, id",
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") SELECT m.n, " +
		"u.email, u.username, u.first_name, u.last_name, u.company_id, u.phone_number " +
		"FROM `_users_search_ids` m JOIN users u ON u.id = m.id",
	"CREATE TRIGGER `_users_search_insert` AFTER INSERT ON users BEGIN " +
		"INSERT INTO `_users_search_ids` (id) VALUES (new.id); " +
		"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
		"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " +
		"new.email, new.username, new.first_name, new.last_name, new.company_id, new.phone_number); END",
	"CREATE TRIGGER `_users_search_update` AFTER UPDATE OF id, " + usersSearchColumns + " ON users BEGIN " +
		"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
		"UPDATE `_users_search_ids` SET id = new.id WHERE id = old.id; " +
		"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
		"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " +
		"new.email, new.username, new.first_name, new.last_name, new.company_id, new.phone_number); END",
	"CREATE TRIGGER `_users_search_delete` AFTER DELETE ON users BEGIN " +
		"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
		"DELETE FROM `_users_search_ids` WHERE id = old.id; END",
}

var usersSearchDown = []string{
	"DROP TRIGGER IF EXISTS `_users_search_insert`",
	"DROP TRIGGER IF EXISTS `_users_search_update`",
	"DROP TRIGGER IF EXISTS `_users_search_delete`",
	"DROP TABLE IF EXISTS `_users_search`",
	"DROP TABLE IF EXISTS `_users_search_ids`",
}

func init() {
	m.Register(func(app core.App) error {
		return execAll(app, usersSearchUp)
	}, func(app core.App) error {
		return execAll(app, usersSearchDown)
	})
}

// execAll runs the statements in order (the migration runner wraps them in its transaction).
func execAll(app core.App, statements []string) error {
	for _, q := range statements {
		if _, err := app.DB().NewQuery(q).Execute(); err != nil {
			return err
		}
	}
	return nil
}
