package pb_migrations

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/pocketbase/pocketbase/core"
)

// pocketBaseOnlyApp returns a fresh app with only PocketBase's system migrations applied (the
// state our first migration starts from).
func pocketBaseOnlyApp(t *testing.T) core.App {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir()})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.ResetBootstrapState() })
	return app
}

// authTablesState is what the auth collections migration leaves behind: the schema of the users
// and employees tables and their indexes, their column list, and the stored collections (random
// auth token secrets masked).
func authTablesState(t *testing.T, app core.App) map[string]string {
	t.Helper()
	return tablesState(t, app, "users", "employees")
}

// tablesState is the schema of the given collections' tables and indexes, their column lists
// and the stored collections (random auth token secrets and timestamps masked).
func tablesState(t *testing.T, app core.App, tables ...string) map[string]string {
	t.Helper()
	state := map[string]string{}
	for _, table := range tables {
		var master []struct {
			Type string `db:"type"`
			Name string `db:"name"`
			SQL  string `db:"sql"`
		}
		err := app.DB().NewQuery("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = {:t} AND sql IS NOT NULL").
			Bind(map[string]any{"t": table}).All(&master)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range master {
			state[m.Type+" "+m.Name] = m.SQL
		}
	}
	for _, table := range tables {
		var cols []struct {
			Cid     int     `db:"cid"`
			Name    string  `db:"name"`
			Type    string  `db:"type"`
			NotNull int     `db:"notnull"`
			Default *string `db:"dflt_value"`
			PK      int     `db:"pk"`
		}
		if err := app.DB().NewQuery("SELECT cid, name, type, [[notnull]], dflt_value, pk FROM pragma_table_info({:t})").Bind(map[string]any{"t": table}).All(&cols); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(cols)
		state["columns "+table] = string(b)

		col, err := app.FindCollectionByNameOrId(table)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(col)
		s := regexp.MustCompile(`"(secret|created|updated)":"[^"]*"`).ReplaceAllString(string(b), `"$1":"-"`)
		state["collection "+table] = s
	}
	return state
}

// The users table that addColumnsBeforeSave prepares is the one PocketBase's own sync builds
// (add under a temporary name, then rename): same CREATE TABLE text, columns, indexes and stored
// collection.
func TestAddColumnsBeforeSaveKeepsTheSchema(t *testing.T) {
	t.Parallel()
	migrate := func(before func(core.App, *core.Collection) error) map[string]string {
		app := pocketBaseOnlyApp(t)
		err := app.RunInTransaction(func(tx core.App) error { return createAuthCollections(tx, before, tx.Save) })
		if err != nil {
			t.Fatal(err)
		}
		return authTablesState(t, app)
	}
	fast := migrate(addColumnsBeforeSave)
	plain := migrate(func(core.App, *core.Collection) error { return nil })

	if len(fast) != len(plain) {
		t.Errorf("%d schema entries, PocketBase's sync gives %d", len(fast), len(plain))
	}
	for k, want := range plain {
		if got := fast[k]; got != want {
			t.Errorf("%s:\n got %s\nwant %s", k, got, want)
		}
	}
	if sql := fast["table users"]; !regexp.MustCompile("`verified` BOOLEAN [^,]*, \"username\" TEXT").MatchString(sql) {
		t.Errorf("users table: %s", sql) // the added columns follow PocketBase's, in field order
	}

	// And the migrated test apps have exactly that, plus the fields of 1764115400 added the same way.
	full := pocketBaseOnlyApp(t)
	err := full.RunInTransaction(func(tx core.App) error {
		if err := createAuthCollections(tx, addColumnsBeforeSave, tx.Save); err != nil {
			return err
		}
		return addLegacyFields(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	fast = authTablesState(t, full)
	if got := authTablesState(t, newApp(t)); got["table users"] != fast["table users"] || got["columns users"] != fast["columns users"] {
		t.Errorf("migrated users table:\n got %s\nwant %s", got["table users"], fast["table users"])
	}
}

// Changes other than added fields are left to Save: nothing is done up front.
func TestAddColumnsBeforeSaveOnlyAddsFields(t *testing.T) {
	t.Parallel()
	app := pocketBaseOnlyApp(t)
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.Fields.GetByName("name").SetName("display_name") // a rename
	users.Fields.Add(&core.TextField{Name: "nickname"})
	if err := addColumnsBeforeSave(app, users); err != nil {
		t.Fatal(err)
	}
	stored, _ := app.FindCollectionByNameOrId("users")
	if stored.Fields.GetByName("nickname") != nil {
		t.Error("fields stored although a field was renamed")
	}
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := app.DB().NewQuery("SELECT count(*) FROM pragma_table_info('users') WHERE name IN ('display_name', 'nickname')").Row(&n); err != nil || n != 2 {
		t.Errorf("columns after Save: n=%d err=%v", n, err)
	}

	// A new collection: nothing to prepare.
	c := core.NewBaseCollection("fresh")
	c.Fields.Add(&core.TextField{Name: "a"})
	if err := addColumnsBeforeSave(app, c); err != nil {
		t.Fatal(err)
	}
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
}

// The auth and base collections are stored without PocketBase's collection validator (cold
// start, issue 6): the same definitions saved with validation pass it and give the same tables,
// indexes and stored collections, and the migrated collections pass validation as they are.
func TestBaseCollectionsPassValidation(t *testing.T) {
	t.Parallel()
	migrate := func(save func(app core.App) func(core.Model) error) (core.App, map[string]string) {
		app := pocketBaseOnlyApp(t)
		err := app.RunInTransaction(func(tx core.App) error {
			if err := createAuthCollections(tx, addColumnsBeforeSave, save(tx)); err != nil {
				return err
			}
			return createBaseCollections(tx, save(tx))
		})
		if err != nil {
			t.Fatal(err)
		}
		return app, tablesState(t, app, append([]string{"users", "employees"}, baseCollectionNames...)...)
	}
	app, unvalidated := migrate(func(tx core.App) func(core.Model) error { return tx.SaveNoValidate })
	_, validated := migrate(func(tx core.App) func(core.Model) error { return tx.Save })

	if len(unvalidated) != len(validated) || len(validated) < 3*len(baseCollectionNames) {
		t.Errorf("%d schema entries without validation, %d with", len(unvalidated), len(validated))
	}
	for k, want := range validated {
		if got := unvalidated[k]; got != want {
			t.Errorf("%s:\n got %s\nwant %s", k, got, want)
		}
	}
	for _, name := range append([]string{"users", "employees"}, baseCollectionNames...) {
		col, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Validate(col); err != nil {
			t.Errorf("%s does not pass PocketBase's validation: %v", name, err)
		}
	}
}
