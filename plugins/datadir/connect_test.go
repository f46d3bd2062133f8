package datadir

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// Connect keeps PocketBase's connection settings, shrinks the page cache, and begins write
// transactions with BEGIN IMMEDIATE.
func TestConnectPragmas(t *testing.T) {
	t.Parallel()
	db, err := Connect(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.DB().SetMaxOpenConns(1)
	for pragma, want := range map[string]string{
		"cache_size": "-2000", "journal_mode": "wal", "busy_timeout": "10000", "synchronous": "1",
		"foreign_keys": "1", "temp_store": "2", "journal_size_limit": "200000000",
	} {
		var got string
		if err := db.NewQuery("PRAGMA " + pragma).Row(&got); err != nil {
			t.Fatal(pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

// A write transaction that reads before it writes, while another connection wants to write:
// it holds the write lock from its BEGIN, so its write cannot fail with "database is locked"
// (under a deferred BEGIN the other connection takes the lock between the read and the write,
// and SQLite does not wait there); the other connection waits for it under busy_timeout.
func TestWriteTransactionsTakeTheLockAtBegin(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data.db")
	db, err := Connect(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.NewQuery("CREATE TABLE t (n INTEGER)").Execute(); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	tx, err := db.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	otherDone := make(chan error, 1)
	go func() {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			otherDone <- err
			return
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
			otherDone <- err
			return
		}
		_, err := conn.ExecContext(ctx, "COMMIT")
		otherDone <- err
	}()
	time.Sleep(100 * time.Millisecond) // the other connection is waiting for the lock by now
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("the write after a read: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-otherDone; err != nil {
		t.Fatalf("the other connection: %v", err)
	}
	if err := db.NewQuery("SELECT COUNT(*) FROM t").Row(&n); err != nil || n != 2 {
		t.Fatalf("rows: %d (%v), want 2", n, err)
	}
}
