package datadir

import (
	"strconv"

	"github.com/pocketbase/dbx"
)

// SQLiteCacheKiB is each SQLite connection's page cache, in KiB: SQLite's own default. PocketBase
// opens its connections with 32,000 KiB each; with a read pool that keeps its 32 connections,
// the writer and the auxiliary (logs) database, those caches took the peak RSS of a full
// bench/run.sh to 189 MB (goal ≤ 150) and to 301 MB after a few count queries over the logs,
// while the pages they hold are in the OS page cache anyway. With 2,000 KiB: 116 MB and 116 MB,
// and no measurable change of throughput (bench/README.md, "SQLite page cache").
const SQLiteCacheKiB = 2000

// Connect opens a database as PocketBase's DefaultDBConnect does (the same pragmas,
// busy_timeout first) but with a page cache of SQLiteCacheKiB per connection, and with write
// transactions that take SQLite's write lock when they begin (`BEGIN IMMEDIATE`, modernc's
// `_txlock`). PocketBase begins transactions only on its write connection. A deferred
// transaction (plain `BEGIN`) that reads first takes the write lock at its first write, and
// there SQLite does not wait (busy_timeout is not used for a read transaction that wants to
// write): a reader that briefly holds the write lock to re-read a torn WAL-index header makes it
// fail at once with "database is locked" (seen: 5 and 2 of 60 concurrent round-robin picks in
// two CI runs). `BEGIN IMMEDIATE` waits for the lock under busy_timeout instead. Test apps use
// it too (testkit), so tests run on the production connection settings.
func Connect(dbPath string) (*dbx.DB, error) {
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)" +
		"&_pragma=cache_size(-" + strconv.Itoa(SQLiteCacheKiB) + ")&_txlock=immediate"
	return dbx.Open("sqlite", dbPath+pragmas)
}
