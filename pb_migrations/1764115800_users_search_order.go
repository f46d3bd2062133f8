package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// A search page of the user lists in date order (`?search=son&ordering=-date_joined`, §1.8,
// §5.3.3) without reading `users` rows (issue 13: p99 ≤ 50 ms at 100,000 users).
//
// The id map of 1764115600 (`_users_search_ids`, one row per user) gains each user's `created`
// and `hay`: the six searched columns lower-cased as the trigram index holds them, joined by
// char(31) (the ASCII unit separator). `instr(hay, lower(term)) > 0` is then exactly "some
// column LIKE '%term%'" for a term without char(31) (plugins/directory, TestUserSearchMatchesLike),
// and the two indexes below hold (created, id, hay) in both date orders: a search page walks
// one of them from its start and tests each entry's hay in the index itself, stopping when the
// page is full: about 600 entries for a term that 8 % of users match, against 600 `users` rows
// read and tested with LIKE on six columns before (0.2 ms against 3 ms of SQLite). A rare term
// still comes from the trigram index; its matches are now sorted by the map's `created`, again
// without a `users` row.
//
// The triggers of 1764115600 are replaced by ones that also keep `created` and `hay` (a change
// of `created` alone, as an import may make, rewrites the map row; a save that changes no
// searched value and not `created` still writes nothing here).
const usersSearchHayNew = "coalesce(lower(new.email), '') || char(31) || coalesce(lower(new.username), '') || char(31) || " +
	"coalesce(lower(new.first_name), '') || char(31) || coalesce(lower(new.last_name), '') || char(31) || " +
	"coalesce(lower(new.company_id), '') || char(31) || coalesce(lower(new.phone_number), '')"

var usersSearchOrderUp = []string{
	"DROP TRIGGER `_users_search_insert`",
	"DROP TRIGGER `_users_search_update`",
	"ALTER TABLE `_users_search_ids` ADD COLUMN `created` TEXT NOT NULL DEFAULT ''",
	"ALTER TABLE `_users_search_ids` ADD COLUMN `hay` TEXT NOT NULL DEFAULT ''",
	"UPDATE `_users_search_ids` AS m SET created = new.created, hay = " + usersSearchHayNew +
		" FROM users AS new WHERE new.id = m.id",
	"CREATE INDEX `_users_search_created` ON `_users_search_ids` (`created`, `id`, `hay`)",
	"CREATE INDEX `_users_search_created_desc` ON `_users_search_ids` (`created` DESC, `id`, `hay`)",
	usersSearchOrderInsertTrigger,
	usersSearchOrderUpdateTrigger,
}

// The triggers of this migration that 1764115900 replaces (its down migration puts them back).
const usersSearchOrderInsertTrigger = "CREATE TRIGGER `_users_search_insert` AFTER INSERT ON users BEGIN " +
	"INSERT INTO `_users_search_ids` (id, created, hay) VALUES (new.id, new.created, " + usersSearchHayNew + "); " +
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
	"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " +
	usersSearchNew + "); END"

// The WHEN clause of the update triggers from here on: a change of id, created or a searched
// value.
const usersSearchOrderChanged = "old.id IS NOT new.id OR old.created IS NOT new.created OR old.email IS NOT new.email " +
	"OR old.username IS NOT new.username OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name " +
	"OR old.company_id IS NOT new.company_id OR old.phone_number IS NOT new.phone_number"

const usersSearchOrderUpdateTrigger = "CREATE TRIGGER `_users_search_update` AFTER UPDATE OF id, created, " + usersSearchColumns + " ON users " +
	"WHEN " + usersSearchOrderChanged + " BEGIN " +
	"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
	"UPDATE `_users_search_ids` SET id = new.id, created = new.created, hay = " + usersSearchHayNew + " WHERE id = old.id; " +
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
	"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " +
	usersSearchNew + "); END"

var usersSearchOrderDown = []string{
	"DROP TRIGGER `_users_search_insert`",
	"DROP TRIGGER `_users_search_update`",
	"DROP INDEX `_users_search_created`",
	"DROP INDEX `_users_search_created_desc`",
	"ALTER TABLE `_users_search_ids` DROP COLUMN `hay`",
	"ALTER TABLE `_users_search_ids` DROP COLUMN `created`",
	usersSearchInsertTrigger,
	usersSearchUpdateTrigger,
}

func init() {
	m.Register(func(app core.App) error {
		return execAll(app, usersSearchOrderUp)
	}, func(app core.App) error {
		return execAll(app, usersSearchOrderDown)
	})
}
