package writeepoch

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"modernc.org/sqlite"
)

// Package writeepoch holds the write epoch and the caches that depend on it.
//
// The write epoch lets hot paths cache what they read (the caller's record, its live session,
// its assignments) without ever serving stale data after a change: every write to the data
// database bumps the epoch, and a cached value is used only while the epoch is unchanged.
//
// The epoch has one counter per class of table (see classOf): writes to sessions (one per
// token refresh) bump only the sessions counter, so they do not throw away what depends only
// on the other tables (principals, assignments); writes to the append-only log tables no cache
// reads bump nothing. A write whose table is not known for sure bumps the main counter.
//
// Bumps come from SQLite itself: a pre-update hook on every connection of the data database
// reports each row an INSERT, UPDATE or DELETE changes, with its table, however the statement
// was sent (dbx Execute, One or All, a raw *sql.DB, RETURNING, a CTE, a trigger, ...), when the
// row changes, before the commit. dbx's ExecLogFunc adds a bump for statements that change no
// row but may change what a read returns (schema statements); PocketBase's model after-success
// hooks bump once more after commit. A value may be stored only when the epoch did not move
// during its read and the write connection was idle when the read began.
//
// Why the idle check: a write inside a transaction bumps the epoch when it executes, not
// when the transaction commits. A reader that took its epoch after that bump but read before
// the commit would store the old value under the new epoch. Every write of the data database
// must go through PocketBase's single write connection (NonconcurrentDB, one connection, held
// by a transaction until it ends), so "no connection in use" when the epoch is taken means
// every write bumped so far has committed or rolled back; any later write bumps the epoch again.
//
// That assumption is checked, not trusted: at start-up the write pool must allow exactly one
// connection, and a row change seen while the write connection is idle (so on another
// connection: a read-pool connection, e.g. a "WITH ... UPDATE" that PocketBase's app.DB()
// routes to the read pool, or another *sql.DB) switches caching off for good with a warning
// (Disabled says why). The README has the rule ("Writing to the database").
type epochState struct {
	main, sessions atomic.Uint64
	writes         atomic.Uint64          // every write statement, log tables included (checkpointLoop)
	watching       atomic.Bool            // WatchWrites installed: without it nothing may be cached
	disabled       atomic.Pointer[string] // why caching was switched off for good (fail closed)
	app            core.App
}

// Stamp is the write epoch at one moment.
type Stamp struct {
	main, sessions uint64
	writerIdle     bool // no write statement or transaction was in progress
}

const epochKey = "gatehouse.prepared.epoch"

type tableClass uint8

const (
	classMain     tableClass = iota // anything a cache may depend on (and unknown tables)
	classSessions                   // sessions: only caches marked Sessions depend on it
	classLog                        // append-only logs and counters that no cache reads
)

// logTables are never read by a cached value (keep it so: a cache that reads one of them
// would miss its writes). The round-robin tables are written by every pick (§5.15.4): were
// they main tables, a stream of picks would empty every hot cache (callers, assignments).
var logTables = map[string]bool{"audit_log": true, "email_outbox": true, "auth_failures": true,
	"tts_round_robin_state": true, "tts_round_robin_picks": true}

func classOf(table string) tableClass {
	switch {
	case table == "sessions":
		return classSessions
	case logTables[table]:
		return classLog
	}
	return classMain
}

// TableOfWrite is the table an INSERT/UPDATE/DELETE/REPLACE statement writes, or "" when the
// statement is anything else or not understood (the caller then bumps the main counter).
func TableOfWrite(sql string) string {
	// the first words, without allocating (it runs on every write)
	var words [6]string
	n, rest := 0, sql
	for n < len(words) {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" {
			break
		}
		end := strings.IndexAny(rest, " \t\r\n")
		if end < 0 {
			end = len(rest)
		}
		words[n], rest = rest[:end], rest[end:]
		n++
	}
	if n < 3 {
		return ""
	}
	i := 0
	switch {
	case strings.EqualFold(words[0], "UPDATE"):
		i = 1
		if strings.EqualFold(words[1], "OR") { // UPDATE OR REPLACE t
			i = 3
		}
	case strings.EqualFold(words[0], "DELETE"):
		if !strings.EqualFold(words[1], "FROM") {
			return ""
		}
		i = 2
	case strings.EqualFold(words[0], "INSERT"), strings.EqualFold(words[0], "REPLACE"):
		for i = 1; i < n && !strings.EqualFold(words[i], "INTO"); i++ {
		}
		i++
	default:
		return ""
	}
	if i >= n {
		return ""
	}
	name := strings.Trim(words[i], "`\"[]")
	if j := strings.IndexAny(name, "(`\"[]"); j >= 0 {
		name = name[:j]
	}
	if name == "" || strings.Contains(name, ".") {
		return ""
	}
	return strings.ToLower(name) // (no allocation when it is lower case already)
}

func epochOf(app core.App) *epochState {
	return app.Store().GetOrSet(epochKey, func() any { return &epochState{} }).(*epochState)
}

// Bump counts a write to table (the class of table decides which counters move).
func Bump(app core.App, table string) { epochOf(app).count(table) }

// count moves the write counter and the counter of table's class.
func (e *epochState) count(table string) {
	e.writes.Add(1)
	switch classOf(table) {
	case classLog:
	case classSessions:
		e.sessions.Add(1)
	default:
		e.main.Add(1)
	}
}

// Writes is the number of write statements seen so far, log tables included (the background
// checkpointer runs only when it moved).
func Writes(app core.App) uint64 { return epochOf(app).writes.Load() }

// bumpAll is a write whose table is unknown.
func bumpAll(app core.App) { Bump(app, "") }

// Epoch is the current write epoch, to read before a cacheable read.
func Epoch(app core.App) Stamp {
	e := epochOf(app)
	st := Stamp{main: e.main.Load(), sessions: e.sessions.Load()}
	st.writerIdle = writerIdle(app)
	return st
}

// writerIdle reports whether PocketBase's write connection is free (no statement or
// transaction holds it).
func writerIdle(app core.App) bool {
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return false // a transaction's builder
	}
	return db.DB().Stats().InUse == 0
}

// Cacheable reports whether a value read since `before` may be stored: the write connection
// was idle at `before` and the epoch did not move (the sessions counter too when the value
// depends on sessions).
func Cacheable(app core.App, before Stamp, sessions bool) bool {
	e := epochOf(app)
	if !e.watching.Load() || e.disabled.Load() != nil || !before.writerIdle || e.main.Load() != before.main {
		return false
	}
	return !sessions || e.sessions.Load() == before.sessions
}

// Disabled is why the write-epoch caches were switched off for good ("" while they work): the
// single-write-connection assumption did not hold.
func Disabled(app core.App) string {
	if p := epochOf(app).disabled.Load(); p != nil {
		return *p
	}
	return ""
}

// disable switches caching off for good (the first reason is kept and printed once).
func (e *epochState) disable(reason string) {
	if e.disabled.CompareAndSwap(nil, &reason) {
		e.main.Add(1)
		e.sessions.Add(1)
		msg := "write-epoch caches are off (every read goes to the database): " + reason
		log.Println("WARNING: " + msg)
		if e.app != nil {
			e.app.Logger().Warn(msg)
		}
	}
}

// rowChanged is SQLite's pre-update hook of the data database's connections.
func (e *epochState) rowChanged(table string) {
	e.count(table)
	if e.app != nil && e.app.IsBootstrapped() && writerIdle(e.app) {
		e.disable(fmt.Sprintf("a row of %q was written on a connection other than PocketBase's write connection", table))
	}
}

// watchedDBs maps the path of each watched data.db to its epoch (the connection hook is
// process-wide: it finds the app of a new connection by its file).
var (
	watchedDBs    sync.Map // cleaned data.db path → *epochState
	rowHookFailed atomic.Bool
)

func dataDBPath(dataDir string) string { return filepath.Clean(filepath.Join(dataDir, "data.db")) }

func dsnPath(dsn string) string {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	return filepath.Clean(path)
}

// installRowHook installs the pre-update hook on one driver connection (false: the driver
// does not offer it).
func installRowHook(driverConn any, e *epochState) bool {
	hr, ok := driverConn.(sqlite.HookRegisterer)
	if !ok {
		return false
	}
	hr.RegisterPreUpdateHook(func(d sqlite.SQLitePreUpdateData) {
		if d.DatabaseName == "main" {
			e.rowChanged(d.TableName)
		} else {
			e.rowChanged("") // temp or attached tables: unknown, bump everything
		}
	})
	return true
}

// init registers the hook that installs the row hook on each new connection of a watched
// data.db, when the package initialises, before any goroutine can open a connection:
// modernc.org/sqlite appends hooks to a slice that every new connection reads without a lock,
// so registering it later raced with connections other apps were opening (go test -race,
// parallel tests). It only acts on the files of watchedDBs.
func init() {
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, dsn string) error {
		if v, ok := watchedDBs.Load(dsnPath(dsn)); ok && !installRowHook(conn, v.(*epochState)) {
			rowHookFailed.Store(true)
		}
		return nil
	})
}

// WatchWrites installs the bumps on app, before or after bootstrap; further calls do nothing.
// Call it before bootstrap: connections of the read pool opened earlier are not watched (the
// write connection always is).
func WatchWrites(app core.App) {
	e := epochOf(app)
	if !e.watching.CompareAndSwap(false, true) {
		return
	}
	e.app = app
	watchedDBs.Store(dataDBPath(app.DataDir()), e)
	install := func() {
		for _, b := range []dbx.Builder{app.NonconcurrentDB(), app.ConcurrentDB()} {
			db, ok := b.(*dbx.DB)
			if !ok {
				continue
			}
			prev := db.ExecLogFunc
			db.ExecLogFunc = func(ctx context.Context, t time.Duration, q string, res sql.Result, err error) {
				Bump(app, TableOfWrite(q))
				if prev != nil {
					prev(ctx, t, q, res, err)
				}
			}
		}
		checkSingleWriter(app, e)
	}
	if app.IsBootstrapped() {
		install()
		bumpAll(app)
		Bump(app, "sessions")
	}
	// (re)install whenever the databases are (re)opened, e.g. after a backup restore
	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{Id: "gatehouseWriteEpoch", Func: func(be *core.BootstrapEvent) error {
		if err := be.Next(); err != nil {
			return err
		}
		install()
		bumpAll(app)
		Bump(app, "sessions")
		return nil
	}})
	after := func(e *core.ModelEvent) error {
		// Request logs live in auxiliary.db, which no cache reads (PocketBase's logger saves
		// them in batches of 200: counted as writes, they emptied every cache every few hundred
		// requests).
		if _, isLog := e.Model.(*core.Log); !isLog {
			Bump(app, e.Model.TableName())
		}
		return e.Next()
	}
	app.OnModelAfterCreateSuccess().BindFunc(after)
	app.OnModelAfterUpdateSuccess().BindFunc(after)
	app.OnModelAfterDeleteSuccess().BindFunc(after)
}

// checkSingleWriter checks at start-up what the idle check relies on: the write pool is one
// connection and carries the pre-update hook. Otherwise caching is switched off.
func checkSingleWriter(app core.App, e *epochState) {
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		e.disable("the write database is not a *dbx.DB")
		return
	}
	if n := db.DB().Stats().MaxOpenConnections; n != 1 {
		e.disable(fmt.Sprintf("the write pool allows %d connections, not 1", n))
		return
	}
	if rowHookFailed.Load() {
		e.disable("the SQLite driver does not offer pre-update hooks")
		return
	}
	// the write connection may have been opened before the hook was registered
	conn, err := db.DB().Conn(context.Background())
	if err != nil {
		e.disable("the write connection cannot be reached: " + err.Error())
		return
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		if !installRowHook(dc, e) {
			return fmt.Errorf("the SQLite driver does not offer pre-update hooks")
		}
		return nil
	}); err != nil {
		e.disable(err.Error())
	}
}

// Snapshot is a value cached under the write epoch.
type Snapshot[T any] struct {
	Value  T
	epoch  Stamp
	stored time.Time
}

// MaxAge bounds how long a snapshot is trusted even with no write seen by this process (a
// write by another process, e.g. a CLI command, does not bump this process's epoch).
const MaxAge = 5 * time.Second

// fresh reports whether the snapshot may still be used.
func (s *Snapshot[T]) fresh(app core.App, sessions bool) bool {
	if s == nil || time.Since(s.stored) >= MaxAge {
		return false
	}
	now := Epoch(app)
	return s.epoch.main == now.main && (!sessions || s.epoch.sessions == now.sessions)
}

// SnapshotCache is a concurrent, size-bounded map of snapshots: a value is returned only while
// its snapshot is fresh. It starts over when it grows past maxSnapshots entries, and it never
// stores under a key longer than maxKeyBytes (keys can carry request values, e.g. a list
// filter: the entry bound alone would not bound its memory).
type SnapshotCache[T any] struct {
	// Sessions: the values depend on the sessions table too (not only on the main tables).
	Sessions bool

	m HotMap[*Snapshot[T]]
}

const (
	maxSnapshots = 20000
	maxKeyBytes  = 2048
)

// Get returns the value stored under key if its snapshot is still fresh.
func (c *SnapshotCache[T]) Get(app core.App, key string) (T, bool) {
	s, _ := c.m.Get(key)
	if s.fresh(app, c.Sessions) {
		return s.Value, true
	}
	var zero T
	return zero, false
}

// GetAge is Get with the time since the value was stored.
func (c *SnapshotCache[T]) GetAge(app core.App, key string) (T, time.Duration, bool) {
	s, _ := c.m.Get(key)
	if s.fresh(app, c.Sessions) {
		return s.Value, time.Since(s.stored), true
	}
	var zero T
	return zero, 0, false
}

// Put stores v, read after epoch `before`, when it may be cached (see cacheable); never inside
// a transaction (a transaction's reads may include its own uncommitted writes).
func (c *SnapshotCache[T]) Put(app core.App, key string, before Stamp, v T) {
	if len(key) > maxKeyBytes || app.IsTransactional() || !Cacheable(app, before, c.Sessions) {
		return
	}
	c.m.Put(key, &Snapshot[T]{Value: v, epoch: before, stored: time.Now()})
}
