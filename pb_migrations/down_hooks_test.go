package pb_migrations_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/hooks"
	_ "gatehouse/pb_migrations"
)

// `gatehouse migrate down` runs with the record hooks registered (server.Register binds them
// before the migrate command), and the hooks refuse to delete hdts and tts: the down path of the
// default systems must not go through them. Down to the base collections (every migration from
// the default systems on) leaves the systems table without hdts and tts; down to the start drops
// everything.
func TestDownWithHooksRegistered(t *testing.T) {
	t.Parallel()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	hooks.Register(app)
	runner := core.NewMigrationsRunner(app, core.AppMigrations)

	// data hanging off tts, which the cascade must take along: a custom role and an assignment
	tts, err := app.FindFirstRecordByData("systems", "slug", "tts")
	if err != nil {
		t.Fatal(err)
	}
	rolesCol, _ := app.FindCollectionByNameOrId("roles")
	agent := core.NewRecord(rolesCol)
	agent.Set("name", "Agent")
	agent.Set("system", tts.Id)
	agent.Set("is_custom", true)
	usersCol, _ := app.FindCollectionByNameOrId("users")
	u := core.NewRecord(usersCol)
	u.SetEmail("agent@example.com")
	u.SetPassword("correct horse battery")
	assignCol, _ := app.FindCollectionByNameOrId("user_system_roles")
	a := core.NewRecord(assignCol)
	for _, err := range []error{app.Save(agent), app.Save(u)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	a.Set("user", u.Id)
	a.Set("system", tts.Id)
	a.Set("role", agent.Id)
	a.Set("is_active", true)
	if err := app.Save(a); err != nil {
		t.Fatal(err)
	}

	// down to (and with) the default systems: every migration from 1764115202 on
	const defaultSystems = "1764115202_default_systems.go"
	steps := 0
	for _, m := range core.AppMigrations.Items() {
		if m.File >= defaultSystems {
			steps++
		}
	}
	reverted, err := runner.Down(steps)
	if err != nil {
		t.Fatalf("migrate down %d with hooks: %v", steps, err)
	}
	if len(reverted) != steps || reverted[len(reverted)-1] != defaultSystems {
		t.Fatalf("reverted %v", reverted)
	}
	if n, err := app.CountRecords("systems"); err != nil || n != 0 {
		t.Fatalf("systems after the default-systems down: %d (%v)", n, err)
	}
	for _, name := range []string{"roles", "user_system_roles"} {
		if n, err := app.CountRecords(name); err != nil || n != 0 {
			t.Fatalf("%s after the default-systems down: %d (%v)", name, n, err)
		}
	}
	if n, err := app.CountRecords("users"); err != nil || n != 1 {
		t.Fatalf("users after the default-systems down: %d (%v)", n, err)
	}

	if _, err := runner.Down(2); err != nil {
		t.Fatalf("the rest down with hooks: %v", err)
	}
	if _, err := app.FindCollectionByNameOrId("systems"); err == nil {
		t.Fatal("systems still exists after down")
	}
	if _, err := runner.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	for _, slug := range []string{"hdts", "tts"} {
		if _, err := app.FindFirstRecordByData("systems", "slug", slug); err != nil {
			t.Fatalf("%s after up again: %v", slug, err)
		}
	}
}
