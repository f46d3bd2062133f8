package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Substring search and deep pages of the staff directory (§1.8, §5.3.3, §5.4) at 100,000 users
// (issue 13).
//
// Search: an FTS5 trigram index of the six searched `users` columns, so `?search=son` finds its
// few thousand rows (and counts them) without testing 100,000. The index holds lower(column)
// with case_sensitive 1, and the lists look up the term lower-cased the same way: SQLite's
// lower() folds ASCII letters only, exactly as its LIKE does, so a phrase match is exactly
// `column LIKE '%term%'` (any character literal, `%` and `_` included) for terms of 3 or more
// characters (the lists use LIKE for shorter ones).
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
// Order: every ordering of the user lists ends with `id` ascending (§1.8). The indexes of
// 1764115500 on one column leave SQLite a sort of each run of equal values, which on a deep
// page (OFFSET 50,000) reads every skipped row; (column, id) and (column DESC, id) give both
// directions in index order, covering the id-only first pass of a page. Usernames are unique
// (case-insensitively, so also byte-wise): their order index becomes UNIQUE, which orders
// both directions without the id.
const usersSearchColumns = "email, username, first_name, last_name, company_id, phone_number"

const usersSearchNew = "lower(new.email), lower(new.username), lower(new.first_name), lower(new.last_name), " +
	"lower(new.company_id), lower(new.phone_number)"

var usersSearchUp = []string{
	"CREATE TABLE `_users_search_ids` (`n` INTEGER PRIMARY KEY, `id` TEXT NOT NULL UNIQUE)",
	"CREATE VIRTUAL TABLE `_users_search` USING fts5(" + usersSearchColumns +
		", content='', contentless_delete=1, tokenize='trigram case_sensitive 1')",
	"INSERT INTO `_users_search_ids` (id) SELECT id FROM users ORDER BY created, id",
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") SELECT m.n, " +
		"lower(u.email), lower(u.username), lower(u.first_name), lower(u.last_name), lower(u.company_id), lower(u.phone_number) " +
		"FROM `_users_search_ids` m JOIN users u ON u.id = m.id",
	usersSearchInsertTrigger,
	usersSearchUpdateTrigger,
	usersSearchDeleteTrigger,
}

// The delete trigger of this migration, which 1764115900 replaces (and its down puts back).
const usersSearchDeleteTrigger = "CREATE TRIGGER `_users_search_delete` AFTER DELETE ON users BEGIN " +
	"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
	"DELETE FROM `_users_search_ids` WHERE id = old.id; END"

// The triggers of this migration that 1764115800 replaces (its down migration puts them back).
const usersSearchInsertTrigger = "CREATE TRIGGER `_users_search_insert` AFTER INSERT ON users BEGIN " +
	"INSERT INTO `_users_search_ids` (id) VALUES (new.id); " +
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
	"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " +
	usersSearchNew + "); END"

// PocketBase's record update names every column in its SET clause: the WHEN clause keeps a
// login (last_login) or any other save off the index unless a searched value changed.
const usersSearchUpdateTrigger = "CREATE TRIGGER `_users_search_update` AFTER UPDATE OF id, " + usersSearchColumns + " ON users " +
	"WHEN old.id IS NOT new.id OR old.email IS NOT new.email OR old.username IS NOT new.username " +
	"OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name " +
	"OR old.company_id IS NOT new.company_id OR old.phone_number IS NOT new.phone_number BEGIN " +
	"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
	"UPDATE `_users_search_ids` SET id = new.id WHERE id = old.id; " +
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
	"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " +
	usersSearchNew + "); END"

var usersSearchDown = []string{
	"DROP TRIGGER IF EXISTS `_users_search_insert`",
	"DROP TRIGGER IF EXISTS `_users_search_update`",
	"DROP TRIGGER IF EXISTS `_users_search_delete`",
	"DROP TABLE IF EXISTS `_users_search`",
	"DROP TABLE IF EXISTS `_users_search_ids`",
}

// usersOrderIndexes replace the one-column order indexes of 1764115500 (name → columns).
var usersOrderIndexes = [][2]string{
	{"idx_users_created_id", "`created`, `id`"}, {"idx_users_created_desc_id", "`created` DESC, `id`"},
	{"idx_users_last_login_id", "`last_login`, `id`"}, {"idx_users_last_login_desc_id", "`last_login` DESC, `id`"},
	{"idx_users_first_name_id", "`first_name`, `id`"}, {"idx_users_first_name_desc_id", "`first_name` DESC, `id`"},
	{"idx_users_last_name_id", "`last_name`, `id`"}, {"idx_users_last_name_desc_id", "`last_name` DESC, `id`"},
}

var usersOldOrderIndexes = [][2]string{
	{"idx_users_created", "`created`"}, {"idx_users_last_login", "`last_login`"},
	{"idx_users_first_name", "`first_name`"}, {"idx_users_last_name", "`last_name`"},
}

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		for _, idx := range usersOldOrderIndexes {
			users.RemoveIndex(idx[0])
		}
		for _, idx := range usersOrderIndexes {
			users.AddIndex(idx[0], false, idx[1], "")
		}
		users.RemoveIndex("idx_users_username_order")
		users.AddIndex("idx_users_username_order", true, "`username`", "")
		if err := app.Save(users); err != nil {
			return err
		}
		return execAll(app, usersSearchUp)
	}, func(app core.App) error {
		if err := execAll(app, usersSearchDown); err != nil {
			return err
		}
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		for _, idx := range usersOrderIndexes {
			users.RemoveIndex(idx[0])
		}
		for _, idx := range usersOldOrderIndexes {
			users.AddIndex(idx[0], false, idx[1], "")
		}
		users.RemoveIndex("idx_users_username_order")
		users.AddIndex("idx_users_username_order", false, "`username`", "")
		return app.Save(users)
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
