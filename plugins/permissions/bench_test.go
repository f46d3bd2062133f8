package permissions_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/hooks"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// benchApp: a staff user holding the Admin roles of tts and hdts (as bench/run.sh's reader).
func benchApp(b *testing.B) (*tests.TestApp, *core.Record) {
	app := testkit.NewApp(b, func(app *tests.TestApp) { hooks.Register(app); writeepoch.WatchWrites(app) })
	u := testkit.NewPrincipal(b, app, "users", "bench")
	u.Set("is_active", true)
	if err := app.Save(u); err != nil {
		b.Fatal(err)
	}
	col, err := app.FindCollectionByNameOrId("user_system_roles")
	if err != nil {
		b.Fatal(err)
	}
	for _, slug := range []string{"tts", "hdts"} {
		sys, err := app.FindFirstRecordByData("systems", "slug", slug)
		if err != nil {
			b.Fatal(err)
		}
		role, err := app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", map[string]any{"s": sys.Id})
		if err != nil {
			b.Fatal(err)
		}
		a := core.NewRecord(col)
		a.Set("user", u.Id)
		a.Set("system", sys.Id)
		a.Set("role", role.Id)
		a.Set("is_active", true)
		if err := app.Save(a); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	return app, u
}

// BenchmarkResolveLevel: what a route level costs a staff caller with two assignments (the
// assignments cached): Resolve, then ANY_ADMIN and ADMIN(S).
//
//	go test ./plugins/permissions/ -run XXX -bench ResolveLevel -cpu 1
func BenchmarkResolveLevel(b *testing.B) {
	app, u := benchApp(b)
	caller := &apikit.Caller{Kind: apikit.KindStaff, Record: u}
	_, _ = permissions.Assignments(app, u.Id)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := permissions.Resolve(app, caller)
		if err != nil || !s.AnyAdmin() || !s.IsAdminSlug("tts") {
			b.Fatal("bad")
		}
	}
}
