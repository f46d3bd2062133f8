package prepared

import (
	"errors"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// RunTx commits fn's writes, rolls them all back when fn fails, refuses undeclared queries,
// and moves the write epoch so that a value cached before it is not served after it.
func TestRunTx(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	writeepoch.WatchWrites(app)
	if _, err := app.DB().NewQuery("CREATE TABLE txt (id TEXT PRIMARY KEY, v INTEGER NOT NULL)").Execute(); err != nil {
		t.Fatal(err)
	}
	const ins, sel = "INSERT INTO txt VALUES ({:id}, {:v})", "SELECT COUNT(*) AS n FROM txt"
	count := func() string {
		rows, err := Rows(app, sel, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rows[0]["n"].String
	}

	before := writeepoch.Epoch(app)
	err := RunTx(app, []string{ins, sel}, func(tx *Tx) error {
		if _, err := tx.Exec(ins, dbx.Params{"id": "a", "v": 1}); err != nil {
			return err
		}
		rows, err := tx.Rows(sel, nil) // sees its own write
		if err != nil || rows[0]["n"].String != "1" {
			t.Errorf("inside: %v %v", rows, err)
		}
		return nil
	})
	if err != nil || count() != "1" {
		t.Fatalf("commit: %v, %s rows", err, count())
	}
	if writeepoch.Cacheable(app, before, false) {
		t.Fatal("a committed RunTx did not move the epoch")
	}

	boom := errors.New("boom")
	err = RunTx(app, []string{ins}, func(tx *Tx) error {
		if _, err := tx.Exec(ins, dbx.Params{"id": "b", "v": 2}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || count() != "1" {
		t.Fatalf("rollback: %v, %s rows", err, count())
	}
	err = RunTx(app, []string{ins}, func(tx *Tx) error {
		_, err := tx.Exec("DELETE FROM txt", nil)
		return err
	})
	if err == nil || count() != "1" {
		t.Fatalf("undeclared query: %v, %s rows", err, count())
	}
	// the write connection is free again: an ordinary write goes through
	if _, err := app.DB().NewQuery("INSERT INTO txt VALUES ('c', 3)").Execute(); err != nil || count() != "2" {
		t.Fatalf("after RunTx: %v", err)
	}
}
