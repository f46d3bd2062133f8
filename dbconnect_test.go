package main

import (
	"path/filepath"
	"testing"
)

// dbConnect keeps PocketBase's connection settings and only shrinks the page cache.
func TestDBConnectPragmas(t *testing.T) {
	db, err := dbConnect(filepath.Join(t.TempDir(), "data.db"))
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
