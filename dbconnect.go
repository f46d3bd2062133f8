package main

import (
	"strconv"

	"github.com/pocketbase/dbx"
)

// sqliteCacheKiB is each SQLite connection's page cache, in KiB: SQLite's own default. PocketBase
// opens its connections with 32,000 KiB each; with a read pool that keeps its 32 connections,
// the writer and the auxiliary (logs) database, those caches took the peak RSS of a full
// bench/run.sh to 189 MB (goal ≤ 150) and to 301 MB after a few count queries over the logs,
// while the pages they hold are in the OS page cache anyway. With 2,000 KiB: 116 MB and 116 MB,
// and no measurable change of throughput (bench/README.md, "SQLite page cache").
const sqliteCacheKiB = 2000

// dbConnect opens a database as PocketBase's DefaultDBConnect does (the same pragmas,
// busy_timeout first) but with a page cache of sqliteCacheKiB per connection.
func dbConnect(dbPath string) (*dbx.DB, error) {
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)" +
		"&_pragma=cache_size(-" + strconv.Itoa(sqliteCacheKiB) + ")"
	return dbx.Open("sqlite", dbPath+pragmas)
}
