package directory_test

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

const appURL = "https://auth.example.com"

// fixture is a full Gatehouse app (server.Register) on a test server, with real tokens.
type fixture struct {
	t        *testing.T
	app      *tests.TestApp
	services *server.Services
	client   testkit.Client
	systems  map[string]*core.Record // by slug
	roles    map[string]*core.Record // "hdts/Admin"
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, systems: map[string]*core.Record{}, roles: map[string]*core.Record{}}
	f.app = testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = appURL
		f.services = server.Register(app, cfg, server.Options{Public: os.DirFS("../../pb_public")})
	})
	srv := testkit.Serve(t, f.app)
	f.client = testkit.Client{TB: t, URL: srv.URL}
	systems, err := f.app.FindAllRecords("systems")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range systems {
		f.systems[s.GetString("slug")] = s
		roles, err := f.app.FindAllRecords("roles", dbx.HashExp{"system": s.Id})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range roles {
			f.roles[s.GetString("slug")+"/"+r.GetString("name")] = r
		}
	}
	return f
}

var seq atomic.Int64

func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// staff creates an active, verified staff user holding the given roles ("tts/Admin"; a "-"
// prefix makes the assignment inactive).
func (f *fixture) staff(superuser bool, roles ...string) *core.Record {
	f.t.Helper()
	u := testkit.NewPrincipal(f.t, f.app, "users", "dir")
	u.Set("is_active", true)
	u.Set("is_superuser", superuser)
	u.SetVerified(true)
	if err := f.app.Save(u); err != nil {
		f.t.Fatal(err)
	}
	for _, r := range roles {
		f.assign(u, strings.TrimPrefix(r, "-"), !strings.HasPrefix(r, "-"))
	}
	return u
}

func (f *fixture) assign(u *core.Record, role string, active bool) *core.Record {
	f.t.Helper()
	r, ok := f.roles[role]
	if !ok {
		f.t.Fatalf("no role %s", role)
	}
	return testkit.Assign(f.t, f.app, u, r, active)
}

func (f *fixture) customRole(slug, name string) *core.Record {
	f.t.Helper()
	return testkit.NewCustomRole(f.t, f.app, f.systems[slug].Id, name)
}

func (f *fixture) token(rec *core.Record) string {
	f.t.Helper()
	userType := realm.TypeStaff
	if rec.Collection().Name == "employees" {
		userType = realm.TypeEmployee
	}
	issued, err := f.services.Tokens.StartSession(f.app, userType, rec, tokens.MethodPassword, "127.0.0.1", "directory-test")
	if err != nil {
		f.t.Fatal(err)
	}
	return issued.Access
}

func (f *fixture) employee() *core.Record {
	f.t.Helper()
	e := testkit.NewPrincipal(f.t, f.app, "employees", "emp")
	e.Set("status", "Approved")
	if err := f.app.Save(e); err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) apiKey() string {
	f.t.Helper()
	prefix := fmt.Sprintf("k%07d", seq.Add(1))
	key := "ak_" + prefix + "_" + strings.Repeat("Ab3", 10) + "xy"
	col, _ := f.app.FindCollectionByNameOrId("api_keys")
	r := core.NewRecord(col)
	r.Set("name", "test")
	r.Set("key_prefix", prefix)
	r.Set("key_hash", tokens.HashAPIKey(key))
	r.Set("scopes", []string{"users:read", "round_robin:read", "round_robin:write"})
	r.Set("is_active", true)
	if err := f.app.Save(r); err != nil {
		f.t.Fatal(err)
	}
	return key
}

// do sends a request as a caller: a bearer token, "key:<api key>" or "" (anonymous).
func (f *fixture) do(caller, method, path string, body any) testkit.Reply {
	f.t.Helper()
	switch {
	case caller == "":
		return f.client.Do(method, path, body)
	case strings.HasPrefix(caller, "key:"):
		return f.client.Do(method, path, body, "X-API-Key", strings.TrimPrefix(caller, "key:"))
	}
	return f.client.Do(method, path, body, "Authorization", "Bearer "+caller)
}

func (f *fixture) count(collection string, where dbx.Expression) int {
	f.t.Helper()
	var recs []*core.Record
	recs, err := f.app.FindAllRecords(collection, where)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(recs)
}
