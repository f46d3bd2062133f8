package pb_migrations

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The trigram index's rowids in date order, so that a search page in date order
// (`?search=son&ordering=-date_joined`, §1.8, §5.3.3) reads the index's matches newest (or
// oldest) first and stops when the page is full (issue 13: p99 ≤ 50 ms at 100,000 users).
//
// FTS5 returns its matches in rowid order and, with ORDER BY rowid, steps each trigram's list
// only as far as it must: a term that 750 users match answers its first page after ~50 of
// them instead of decoding every list and sorting (4–6 ms → ~1 ms at 100,000 users). Until
// now a rowid (`n` of the id map) was given in insert order, unrelated to `created`.
//
// From here on a user's `n` is (created in ms since 1970) << 20 plus a slot: the first free
// one of that millisecond's 2^20 (users created in the same millisecond in any slot order; the
// page sorts each millisecond's matches by `created`, id itself). That order is `created`'s
// text order — the lists' ORDER BY — only for `created` in PocketBase's form
// ("2006-01-02 15:04:05.000Z", a real date, 1970 ≤ year < 2200); a user whose `created` is not
// (a direct SQL write can put anything there), or whose millisecond is full, gets the next
// rowid after all others instead, and `_users_search_state.unordered` counts such rows: while it
// is not 0 the lists do not use the rowid order at all (plugins/directory, planRowidOrder).
// The triggers keep `n`, the count and the index in step for every insert, update of `created`
// or a searched value, and delete, whoever writes.
//
// The migration renumbers the existing rows and rebuilds the trigram index with the new
// rowids (about 14 s at 100,000 users).
const usersSearchSlotBits = "20"

// usersSearchWellFormed: the `created` value x is in PocketBase's form and range (see above).
func usersSearchWellFormed(x string) string {
	return "(" + x + " IS strftime('%Y-%m-%d %H:%M:%fZ', " + x + ") AND " + x + " >= '1970-01-01' AND " + x + " < '2200-01-01')"
}

// usersSearchMs: x in ms since 1970.
func usersSearchMs(x string) string {
	return "CAST(round(unixepoch(" + x + ", 'subsec') * 1000) AS INTEGER)"
}

// usersSearchInOrder: 1 when a map row's n is in the millisecond of its created, else 0.
func usersSearchInOrder(n, created string) string {
	return "(CASE WHEN " + usersSearchWellFormed(created) + " AND (" + n + " >> " + usersSearchSlotBits + ") = " +
		usersSearchMs(created) + " THEN 1 ELSE 0 END)"
}

// usersSearchNewN: the n of a user created at x: the first free slot of x's millisecond, or
// the next rowid after all others when x is not well formed or its millisecond is full.
func usersSearchNewN(x string) string {
	b := "(" + usersSearchMs(x) + " << " + usersSearchSlotBits + ")"
	last := b + " + ((1 << " + usersSearchSlotBits + ") - 1)"
	return "coalesce(CASE WHEN " + usersSearchWellFormed(x) + " THEN (SELECT CASE WHEN max(n) IS NULL THEN " + b +
		" WHEN max(n) < " + last + " THEN max(n) + 1 END FROM `_users_search_ids` WHERE n BETWEEN " + b + " AND " + last + ") END, " +
		"(SELECT coalesce(max(n), 0) + 1 FROM `_users_search_ids`))"
}

// usersSearchCount adds (sign "+") or removes ("-") the map row of user id from the count of
// rows out of order.
func usersSearchCount(sign, id string) string {
	return "UPDATE `_users_search_state` SET unordered = unordered " + sign + " coalesce((SELECT 1 - " +
		usersSearchInOrder("m.n", "m.created") + " FROM `_users_search_ids` m WHERE m.id = " + id + "), 0) WHERE id = 1; "
}

var usersSearchRowidInsertTrigger = "CREATE TRIGGER `_users_search_insert` AFTER INSERT ON users BEGIN " +
	"INSERT INTO `_users_search_ids` (n, id, created, hay) VALUES (" + usersSearchNewN("new.created") + ", new.id, new.created, " +
	usersSearchHayNew + "); " +
	usersSearchCount("+", "new.id") +
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
	"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " + usersSearchNew + "); END"

var usersSearchRowidUpdateTrigger = "CREATE TRIGGER `_users_search_update` AFTER UPDATE OF id, created, " + usersSearchColumns + " ON users " +
	"WHEN " + usersSearchOrderChanged + " BEGIN " +
	usersSearchCount("-", "old.id") +
	"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
	"UPDATE `_users_search_ids` SET n = CASE WHEN old.created IS new.created THEN n ELSE " + usersSearchNewN("new.created") + " END, " +
	"id = new.id, created = new.created, hay = " + usersSearchHayNew + " WHERE id = old.id; " +
	usersSearchCount("+", "new.id") +
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") VALUES (" +
	"(SELECT n FROM `_users_search_ids` WHERE id = new.id), " + usersSearchNew + "); END"

var usersSearchRowidDeleteTrigger = "CREATE TRIGGER `_users_search_delete` AFTER DELETE ON users BEGIN " +
	usersSearchCount("-", "old.id") +
	"DELETE FROM `_users_search` WHERE rowid = (SELECT n FROM `_users_search_ids` WHERE id = old.id); " +
	"DELETE FROM `_users_search_ids` WHERE id = old.id; END"

var usersSearchRowidUp = []string{
	"DROP TRIGGER `_users_search_insert`",
	"DROP TRIGGER `_users_search_update`",
	"DROP TRIGGER `_users_search_delete`",
	"CREATE TABLE `_users_search_state` (`id` INTEGER PRIMARY KEY CHECK (`id` = 1), `unordered` INTEGER NOT NULL)",
	"CREATE TABLE `_users_search_ids_new` (`n` INTEGER PRIMARY KEY, `id` TEXT NOT NULL UNIQUE, " +
		"`created` TEXT NOT NULL DEFAULT '', `hay` TEXT NOT NULL DEFAULT '')",
	"INSERT INTO `_users_search_ids_new` (n, id, created, hay) SELECT (" + usersSearchMs("created") + " << " + usersSearchSlotBits +
		") + slot - 1, id, created, hay FROM (SELECT id, created, hay, row_number() OVER (PARTITION BY created ORDER BY id) AS slot " +
		"FROM `_users_search_ids` WHERE " + usersSearchWellFormed("created") + ") WHERE slot <= (1 << " + usersSearchSlotBits + ")",
	"INSERT INTO `_users_search_ids_new` (id, created, hay) SELECT id, created, hay FROM `_users_search_ids` " +
		"WHERE id NOT IN (SELECT id FROM `_users_search_ids_new`) ORDER BY created, id",
	"DROP TABLE `_users_search_ids`",
	"ALTER TABLE `_users_search_ids_new` RENAME TO `_users_search_ids`",
	"CREATE INDEX `_users_search_created` ON `_users_search_ids` (`created`, `id`, `hay`)",
	"CREATE INDEX `_users_search_created_desc` ON `_users_search_ids` (`created` DESC, `id`, `hay`)",
	"INSERT INTO `_users_search_state` (id, unordered) SELECT 1, count(*) FROM `_users_search_ids` m WHERE " +
		usersSearchInOrder("m.n", "m.created") + " = 0",
	"DROP TABLE `_users_search`",
	"CREATE VIRTUAL TABLE `_users_search` USING fts5(" + usersSearchColumns +
		", content='', contentless_delete=1, tokenize='trigram case_sensitive 1')",
	"INSERT INTO `_users_search` (rowid, " + usersSearchColumns + ") SELECT m.n, " +
		strings.ReplaceAll(usersSearchNew, "new.", "u.") + " FROM `_users_search_ids` m JOIN users u ON u.id = m.id",
	usersSearchRowidInsertTrigger,
	usersSearchRowidUpdateTrigger,
	usersSearchRowidDeleteTrigger,
}

var usersSearchRowidDown = []string{
	"DROP TRIGGER `_users_search_insert`",
	"DROP TRIGGER `_users_search_update`",
	"DROP TRIGGER `_users_search_delete`",
	"DROP TABLE `_users_search_state`",
	usersSearchOrderInsertTrigger,
	usersSearchOrderUpdateTrigger,
	usersSearchDeleteTrigger,
}

func init() {
	m.Register(func(app core.App) error {
		return execAll(app, usersSearchRowidUp)
	}, func(app core.App) error {
		return execAll(app, usersSearchRowidDown)
	})
}
