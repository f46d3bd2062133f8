package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// checkpointApp is a test app whose data.db connections were opened with the checkpoint hook (init),
// and a table to write.
func checkpointApp(t *testing.T) *tests.TestApp {
	t.Helper()
	app := testkit.NewApp(t)
	writeepoch.WatchWrites(app)
	if _, err := app.NonconcurrentDB().NewQuery("CREATE TABLE ck (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").Execute(); err != nil {
		t.Fatal(err)
	}
	// start from an empty WAL, all of it in data.db
	if _, err := app.NonconcurrentDB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		t.Fatal(err)
	}
	return app
}

func writeRows(t *testing.T, app core.App, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := app.NonconcurrentDB().Insert("ck", dbx.Params{"v": strings.Repeat("x", 1000)}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
}

// writeAndAwaitCheckpoint writes 300 rows of 1 kB and waits (≤ 5 s) until data.db holds them:
// only a checkpoint copies WAL pages into it.
func writeAndAwaitCheckpoint(t *testing.T, app core.App) {
	t.Helper()
	before := dataDBSize(t, app)
	writeRows(t, app, 300)
	deadline := time.Now().Add(5 * time.Second)
	for dataDBSize(t, app) < before+200*1000 {
		if time.Now().After(deadline) {
			t.Fatalf("data.db still %d bytes (was %d): nothing checkpointed", dataDBSize(t, app), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dataDBSize(t *testing.T, app core.App) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(app.DataDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// The data database's connections checkpoint only past writerAutocheckpoint pages: commits of
// a few hundred pages leave data.db untouched (SQLite's default would have copied them back at
// 1000 pages, inside the committing write). The auxiliary database keeps the default.
func TestWritersLeaveCheckpointsToTheBackground(t *testing.T) {
	t.Parallel()
	app := checkpointApp(t)
	var pages int
	if err := app.NonconcurrentDB().NewQuery("PRAGMA wal_autocheckpoint").Row(&pages); err != nil || pages != writerAutocheckpoint {
		t.Fatalf("write connection: wal_autocheckpoint = %d (%v), want %d", pages, err, writerAutocheckpoint)
	}
	if err := app.ConcurrentDB().NewQuery("PRAGMA wal_autocheckpoint").Row(&pages); err != nil || pages != writerAutocheckpoint {
		t.Fatalf("read connection: wal_autocheckpoint = %d (%v)", pages, err)
	}
	if err := app.AuxNonconcurrentDB().NewQuery("PRAGMA wal_autocheckpoint").Row(&pages); err != nil || pages != 1000 {
		t.Fatalf("auxiliary.db: wal_autocheckpoint = %d (%v), want SQLite's 1000", pages, err)
	}
	before := dataDBSize(t, app)
	writeRows(t, app, 1500) // ~1500 pages of WAL
	if after := dataDBSize(t, app); after != before {
		t.Fatalf("data.db grew from %d to %d bytes: a writer checkpointed", before, after)
	}
}

// The background loop copies the WAL into data.db after writes, and stops with its channel.
func TestCheckpointLoop(t *testing.T) {
	t.Parallel()
	app := checkpointApp(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { checkpointLoop(app, 20*time.Millisecond, stop); close(done) }()

	writeAndAwaitCheckpoint(t, app)
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM ck").Row(&n); err != nil || n != 300 {
		t.Fatalf("rows after the checkpoint: %d (%v)", n, err)
	}
	// Once the writes are checkpointed, the loop's own checkpoints are no writes: the write
	// epoch (every cache's key) and the write counter stay still while nothing is written.
	time.Sleep(60 * time.Millisecond)
	epoch, writes := writeepoch.Epoch(app), writeepoch.Writes(app)
	time.Sleep(200 * time.Millisecond) // ten rounds of the loop
	if now := writeepoch.Epoch(app); now != epoch || writeepoch.Writes(app) != writes {
		t.Fatalf("idle rounds moved the epoch %+v -> %+v, writes %d -> %d", epoch, now, writes, writeepoch.Writes(app))
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("the loop did not stop")
	}
}

func TestIsDataDB(t *testing.T) {
	for dsn, want := range map[string]bool{
		"/srv/pb_data/data.db?_pragma=busy_timeout(10000)":      true,
		"file:/srv/pb_data/data.db?_pragma=journal_mode(WAL)":   true,
		"/srv/pb_data/auxiliary.db?_pragma=busy_timeout(10000)": false,
		"/srv/other/mydata.db":                                  false,
	} {
		if got := isDataDB(dsn); got != want {
			t.Errorf("isDataDB(%q) = %v", dsn, got)
		}
	}
}

// Wired up: once the app serves, writes reach data.db within a few intervals without any
// writer checkpointing; the loop ends when the app terminates.
func TestCheckpointInBackgroundWhileServing(t *testing.T) {
	t.Parallel()
	app := checkpointApp(t)
	InBackground(app)
	testkit.Serve(t, app)

	writeAndAwaitCheckpoint(t, app)
}

// The loop has ended before OnTerminate's later handlers run (PocketBase's own resets the
// app's databases and the fields the loop reads): it never checkpoints a closing app.
func TestTerminateEndsTheLoopFirst(t *testing.T) {
	t.Parallel()
	app := checkpointApp(t)
	InBackground(app)
	testkit.Serve(t, app)
	writeAndAwaitCheckpoint(t, app) // the loop is running

	done, _ := app.Store().Get(loopDoneKey).(<-chan struct{})
	if done == nil {
		t.Fatal("serving started no checkpoint loop")
	}
	ended := false
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		select {
		case <-done:
			ended = true
		default:
		}
		return e.Next()
	})
	if err := app.OnTerminate().Trigger(&core.TerminateEvent{App: app}); err != nil {
		t.Fatal(err)
	}
	if !ended {
		t.Fatal("a later OnTerminate handler ran while the checkpoint loop was still running")
	}
}
