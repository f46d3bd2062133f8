package writeepoch

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/testkit"
)

func TestTableOfWrite(t *testing.T) {
	t.Parallel()
	for sql, want := range map[string]string{
		"UPDATE sessions SET a = 1 WHERE id = 'x'":              "sessions",
		"UPDATE `sessions` SET `a`=1":                           "sessions",
		"update \"Users\" set a = 1":                            "users",
		"UPDATE OR REPLACE sessions SET a = 1":                  "sessions",
		"INSERT INTO `audit_log` (`id`) VALUES ('x')":           "audit_log",
		"INSERT OR IGNORE INTO auth_failures(id) VALUES (1)":    "auth_failures",
		"REPLACE INTO [roles] (id) VALUES (1)":                  "roles",
		"DELETE FROM `sessions` WHERE 1":                        "sessions",
		"DELETE sessions":                                       "",
		"SAVEPOINT a":                                           "",
		"UPDATE main.sessions SET a = 1":                        "",
		"WITH x AS (SELECT 1) UPDATE sessions SET a = 1":        "",
		"CREATE TABLE sessions (id TEXT)":                       "",
		"INSERT INTO":                                           "",
		"   INSERT    INTO    email_outbox   (id) VALUES (1)  ": "email_outbox",
	} {
		if got := TableOfWrite(sql); got != want {
			t.Errorf("TableOfWrite(%q) = %q, want %q", sql, got, want)
		}
	}
}

// A sessions write moves only the sessions counter, a log-table write nothing, any other write
// the main counter, whichever way it is written (model save, builder, Exec).
func TestWriteClasses(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	WatchWrites(app)

	type step struct {
		name  string
		write func() error
		main  bool
		sess  bool
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	u := core.NewRecord(users)
	u.SetEmail("epoch@example.com")
	u.SetPassword("Epoch-Pass-9")
	u.Set("username", "epoch")
	u.Set("company_id", "MA9999")
	sessions, _ := app.FindCollectionByNameOrId("sessions")
	steps := []step{
		{"user save", func() error { return app.Save(u) }, true, false},
		{"session save", func() error {
			s := core.NewRecord(sessions)
			s.Set("user_type", "staff")
			s.Set("user", u.Id)
			s.Set("refresh_jti_hash", "h1")
			return app.Save(s)
		}, false, true},
		{"session raw sql.DB exec", func() error { // not through dbx: seen by the row hook alone
			_, err := app.NonconcurrentDB().(*dbx.DB).DB().Exec("UPDATE sessions SET refresh_jti_hash = ? WHERE refresh_jti_hash = 'h1'", "h2")
			return err
		}, false, true},
		{"audit builder insert", func() error {
			_, err := app.DB().Insert("audit_log", map[string]any{"id": "epochaudit00001", "event": "x"}).Execute()
			return err
		}, false, false},
		{"user builder update", func() error {
			_, err := app.DB().Update("users", map[string]any{"first_name": "E"}, nil).Execute()
			return err
		}, true, false},
		{"request log (auxiliary.db)", func() error { // PocketBase's logger saves these in batches
			l := &core.Log{Level: 0, Message: "GET /api/v1/users/"}
			l.Id = "epochlog0000001"
			return app.AuxSave(l)
		}, false, false},
		{"unknown statement", func() error {
			_, err := app.DB().NewQuery("SAVEPOINT gh; RELEASE gh").Execute()
			return err
		}, true, false},
	}
	for _, s := range steps {
		before := Epoch(app)
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		after := Epoch(app)
		if (after.main != before.main) != s.main || (after.sessions != before.sessions) != s.sess {
			t.Errorf("%s: main %d→%d, sessions %d→%d; want main moved=%v sessions moved=%v",
				s.name, before.main, after.main, before.sessions, after.sessions, s.main, s.sess)
		}
	}
}

// A value read while a write transaction is open is not stored, even when the transaction's
// write was bumped before the read began (its commit may come after the read).
func TestNothingIsCachedWhileAWriteTransactionIsOpen(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	WatchWrites(app)
	var cache SnapshotCache[string]

	inTx, release, ended := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		ended <- app.RunInTransaction(func(tx core.App) error {
			if _, err := tx.DB().NewQuery("UPDATE users SET first_name = 'x'").Execute(); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	before := Epoch(app) // after the write's bump, before its commit
	cache.Put(app, "k", before, "read during the transaction")
	if _, ok := cache.Get(app, "k"); ok {
		t.Fatal("a value read during an open write transaction was cached")
	}
	close(release)
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	before = Epoch(app)
	cache.Put(app, "k", before, "read after the commit")
	if v, ok := cache.Get(app, "k"); !ok || v != "read after the commit" {
		t.Fatalf("after the commit: %q %v", v, ok)
	}
}

func TestTableOfWriteDoesNotAllocate(t *testing.T) {
	q := "UPDATE sessions SET refresh_jti_hash = 'x', previous_jti_hash = 'y' WHERE id = 'z' RETURNING absolute_expires_at"
	if n := testing.AllocsPerRun(100, func() { _ = TableOfWrite(q) }); n != 0 {
		t.Fatalf("TableOfWrite allocates %v times per call", n)
	}
}

// Writes the SQL text does not give away are seen: an UPDATE ... RETURNING read with One()
// (dbx's QueryLogFunc, not its ExecLogFunc), a trigger's write to another table.
func TestEveryRowWriteBumps(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	WatchWrites(app)
	u := core.NewRecord(mustCollection(t, app, "users"))
	u.SetEmail("rows@example.com")
	u.SetPassword("Rows-Pass-9")
	u.Set("username", "rows")
	u.Set("company_id", "MA9998")
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	before := Epoch(app)
	var out struct{ Id string }
	if err := app.DB().NewQuery("UPDATE users SET first_name = 'R' WHERE id = {:id} RETURNING id").Bind(map[string]any{"id": u.Id}).One(&out); err != nil || out.Id != u.Id {
		t.Fatalf("update returning: %v %q", err, out.Id)
	}
	if after := Epoch(app); after.main == before.main {
		t.Fatal("UPDATE ... RETURNING with One() did not bump the epoch")
	}

	if _, err := app.DB().NewQuery("CREATE TEMP TRIGGER epoch_t AFTER UPDATE OF last_name ON users BEGIN UPDATE sessions SET user_agent = 'x' WHERE 0; INSERT INTO audit_log (id, event) VALUES ('epochtrigger001', 'x'); END").Execute(); err != nil {
		t.Fatal(err)
	}
	ss := Epoch(app)
	if _, err := app.NonconcurrentDB().(*dbx.DB).DB().Exec("UPDATE users SET last_name = 'T' WHERE id = ?", u.Id); err != nil {
		t.Fatal(err)
	}
	if after := Epoch(app); after.main == ss.main {
		t.Fatal("a trigger's write was not seen")
	}
	if d := Disabled(app); d != "" {
		t.Fatalf("writes through the write connection switched caching off: %s", d)
	}
}

// A row written on another connection than PocketBase's write connection breaks the idle
// check, so caching switches off for good (fail closed) and says why.
func TestWriteOnAnotherConnectionSwitchesCachingOff(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	WatchWrites(app)
	var cache SnapshotCache[string]
	cache.Put(app, "k", Epoch(app), "v")
	if _, ok := cache.Get(app, "k"); !ok || Disabled(app) != "" {
		t.Fatalf("caching should work: %q", Disabled(app))
	}

	// a second pool on the same file (as a "WITH ... UPDATE" through app.DB() would use the read pool)
	other, err := sql.Open("sqlite", "file:"+filepath.Join(app.DataDir(), "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("INSERT INTO audit_log (id, event) VALUES ('otherconn000001', 'x')"); err != nil {
		t.Fatal(err)
	}
	if d := Disabled(app); !strings.Contains(d, `"audit_log"`) {
		t.Fatalf("Disabled = %q", d)
	}
	if _, ok := cache.Get(app, "k"); ok {
		t.Fatal("a value cached before the switch-off is still served")
	}
	cache.Put(app, "k", Epoch(app), "v2")
	if _, ok := cache.Get(app, "k"); ok {
		t.Fatal("a value was cached after the switch-off")
	}
}

func mustCollection(t *testing.T, app core.App, name string) *core.Collection {
	t.Helper()
	c, err := app.FindCollectionByNameOrId(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A key longer than maxKeyBytes is never stored: keys may carry request values (a list filter
// of any length), and the entry bound alone would not bound the cache's memory.
func TestLongKeysAreNotCached(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	WatchWrites(app)
	var cache SnapshotCache[int]
	long, short := strings.Repeat("r", maxKeyBytes+1), strings.Repeat("r", maxKeyBytes)
	for _, k := range []string{long, short} {
		cache.Put(app, k, Epoch(app), 1)
	}
	if _, ok := cache.Get(app, long); ok {
		t.Fatal("a key over the bound was stored")
	}
	if _, ok := cache.Get(app, short); !ok {
		t.Fatal("a key at the bound was not stored")
	}
}
