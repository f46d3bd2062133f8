package prepared

import (
	"testing"

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
		if got := tableOfWrite(sql); got != want {
			t.Errorf("tableOfWrite(%q) = %q, want %q", sql, got, want)
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
		{"session Exec", func() error {
			_, err := Exec(app, "UPDATE sessions SET refresh_jti_hash = {:h} WHERE refresh_jti_hash = 'h1'", map[string]any{"h": "h2"})
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
	if n := testing.AllocsPerRun(100, func() { _ = tableOfWrite(q) }); n != 0 {
		t.Fatalf("tableOfWrite allocates %v times per call", n)
	}
}
