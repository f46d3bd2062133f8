// Package checkpoint runs SQLite's WAL checkpoints of the data database in a background
// goroutine instead of inside a writer's commit (see InBackground).
package checkpoint

import (
	"context"
	"gatehouse/plugins/writeepoch"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"modernc.org/sqlite"
)

// WAL checkpoints off the write path.
//
// SQLite's default is that the connection whose commit brings the WAL past 1000 pages copies
// the WAL back into the database file, with an fsync of each, before its commit returns. In
// PocketBase every write goes through one connection, so every writer waits behind those
// fsyncs: under a refresh load (a rotation per request) that was a checkpoint every ~170 ms and
// ~16 % of the throughput (issue 6; bench/README.md). Here the data database's connections
// checkpoint only past writerAutocheckpoint pages (a safety net should the background
// checkpointer fall behind or stop), and a goroutine runs a PASSIVE checkpoint on a read
// connection every Every while there were writes. Durability is unchanged: in WAL
// mode with synchronous=NORMAL (PocketBase's setting) commits never fsync, checkpoints do, the
// same ones as before, only in another goroutine. On a small database a pass takes under a
// millisecond, ends caught up with the WAL, and the next write restarts the WAL: it stays about
// one interval of writes long.
//
// Known limit (bench/README.md, "What stalls refresh on the grown data dir"): on a large
// database under sustained random writes (1.3 GB, refresh rotations moving entries of the
// unique refresh_jti_hash index) a pass takes 20–50 ms, writes land during it, so it never
// ends caught up and the WAL never restarts; it grows to writerAutocheckpoint pages and the
// committing connection checkpoints after all (a 50–100 ms commit about twice a second there).
// A catch-up pass on the write connection instead only cut those stalls smaller and more
// frequent (same total, same throughput), and no autocheckpoint lets the WAL grow without
// bound; so this stays as it is.

// Every is how often the background checkpointer runs while the database is written.
const Every = 200 * time.Millisecond

// writerAutocheckpoint is the WAL length (pages, ~40 MB) past which a committing connection
// checkpoints by itself after all.
const writerAutocheckpoint = 10000

// loopDoneKey is the app-store key of a channel closed when the app's checkpoint loop has
// ended (tests read it).
const loopDoneKey = "gatehouse.checkpoint.loopDone"

// InBackground moves app's data-database checkpoints to a background goroutine (every data.db
// connection of the process leaves them to it from the start: the hook of init); call it before
// the app serves. The goroutine runs from OnServe until the app terminates, and OnTerminate's
// later handlers run only once it has ended.
func InBackground(app core.App) {
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "gatehouseCheckpoints",
		Func: func(se *core.ServeEvent) error {
			stop, done := make(chan struct{}), make(chan struct{})
			var once sync.Once
			// The loop must have ended before the rest of OnTerminate runs: PocketBase's own
			// handler (ResetBootstrapState) closes the databases and clears the fields the loop
			// reads (a data race under -race, and a checkpoint on a closing pool otherwise).
			se.App.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
				once.Do(func() {
					close(stop)
					<-done
				})
				return e.Next()
			})
			se.App.Store().Set(loopDoneKey, (<-chan struct{})(done))
			go func() {
				defer close(done)
				checkpointLoop(se.App, Every, stop)
			}()
			return se.Next()
		},
	})
}

// init makes every data.db connection of the process checkpoint only past writerAutocheckpoint
// pages (modernc.org/sqlite runs the hook on each new connection). It is registered when the
// package initialises, before any goroutine can open a connection: modernc.org/sqlite appends
// hooks to a slice that every new connection reads without a lock, so registering it later
// races with connections being opened (go test -race, parallel tests). The binary registered it
// before any connection anyway (server.Register runs for every command): same setting, same
// moments.
func init() {
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, dsn string) error {
		if !isDataDB(dsn) {
			return nil
		}
		_, err := conn.ExecContext(context.Background(), "PRAGMA wal_autocheckpoint = "+strconv.Itoa(writerAutocheckpoint), nil)
		return err
	})
}

// isDataDB reports whether a connection string opens PocketBase's data.db (not auxiliary.db).
func isDataDB(dsn string) bool {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	return filepath.Base(path) == "data.db"
}

// checkpointLoop checkpoints app's data database every `every` when something was written since
// the last round, until stop closes.
func checkpointLoop(app core.App, every time.Duration, stop <-chan struct{}) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	// From zero, not from the count when this goroutine first runs: writes made between the
	// loop's start (OnServe) and that moment would otherwise never be checkpointed by the loop
	// (seen flaky in TestTerminateEndsTheLoopFirst: 300 writes done before the goroutine ran).
	var seen uint64
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		if w := writeepoch.Writes(app); w != seen {
			seen = w
			if err := checkpointOnce(app); err != nil {
				app.Logger().Warn("WAL checkpoint failed", "error", err)
			}
		}
	}
}

// checkpointOnce runs one PASSIVE checkpoint on a read connection. It goes to database/sql
// directly, not through dbx: dbx's ExecLogFunc would count it as a write of an unknown table,
// which bumps the write epoch (every write-epoch cache thrown away) and the write counter (so
// the next round checkpoints again, and so on every round for ever). A checkpoint changes no
// row, so no cache can depend on it.
func checkpointOnce(app core.App) error {
	db, ok := app.ConcurrentDB().(*dbx.DB)
	if !ok {
		return nil
	}
	_, err := db.DB().Exec("PRAGMA wal_checkpoint(PASSIVE)")
	return err
}
