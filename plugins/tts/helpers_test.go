package tts_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

// fixture is a served app with the full wiring, the systems tts and hdts, and helpers to make
// callers, roles, assignments and API keys.
type fixture struct {
	t      testing.TB
	app    *tests.TestApp
	client testkit.Client
	tokens *tokens.Service
	tts    *core.Record
	hdts   *core.Record
	admin  map[string]*core.Record // the Admin role of each system by slug
}

func newFixture(t testing.TB) *fixture { return newFixtureWith(t, server.Options{}) }

// newFixtureWith is newFixture with server options (e.g. pb_public for the pages).
func newFixtureWith(t testing.TB, opts server.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, admin: map[string]*core.Record{}}
	f.app = testkit.NewApp(t, func(app *tests.TestApp) {
		f.tokens = server.Register(app, testkit.Config(), opts).Tokens
	})
	f.app.Settings().RateLimits.Enabled = false
	f.client = testkit.Client{TB: t, URL: testkit.Serve(t, f.app).URL}
	var err error
	if f.tts, err = f.app.FindFirstRecordByData("systems", "slug", "tts"); err != nil {
		t.Fatal(err)
	}
	if f.hdts, err = f.app.FindFirstRecordByData("systems", "slug", "hdts"); err != nil {
		t.Fatal(err)
	}
	for _, sys := range []*core.Record{f.tts, f.hdts} {
		r, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", dbx.Params{"s": sys.Id})
		if err != nil {
			t.Fatal(err)
		}
		f.admin[sys.GetString("slug")] = r
	}
	return f
}

func (f *fixture) role(sys *core.Record, name string) *core.Record {
	f.t.Helper()
	return testkit.NewCustomRole(f.t, f.app, sys.Id, name)
}

// user creates an active staff user with the given names.
func (f *fixture) user(first, last string, superuser bool) *core.Record {
	f.t.Helper()
	u := testkit.NewPrincipal(f.t, f.app, "users", "tts")
	u.Set("first_name", first)
	u.Set("last_name", last)
	u.Set("is_active", true)
	u.Set("is_superuser", superuser)
	u.Set("department", "IT Department")
	if err := f.app.Save(u); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// assign gives u the role (active) and returns the assignment.
func (f *fixture) assign(u, role *core.Record) *core.Record {
	f.t.Helper()
	return testkit.Assign(f.t, f.app, u, role, true)
}

// bearer returns the Authorization header pair of a fresh session of the staff user u.
func (f *fixture) bearer(u *core.Record) []string {
	f.t.Helper()
	issued, err := f.tokens.StartSession(f.app, "staff", u, "password", "127.0.0.1", "tts-test")
	if err != nil {
		f.t.Fatal(err)
	}
	return []string{"Authorization", "Bearer " + issued.Access}
}

var keySeq atomic.Int64

// apiKey stores an API key with scopes, bound to sys when not nil, and returns its header pair.
func (f *fixture) apiKey(sys *core.Record, scopes ...string) []string {
	f.t.Helper()
	prefix := fmt.Sprintf("tk%06d", keySeq.Add(1))
	key := "ak_" + prefix + "_" + strings.Repeat("Zq7", 10) + "ab"
	col, err := f.app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		f.t.Fatal(err)
	}
	r := core.NewRecord(col)
	r.Set("name", "tts test "+prefix)
	r.Set("key_prefix", prefix)
	r.Set("key_hash", tokens.HashAPIKey(key))
	r.Set("scopes", scopes)
	r.Set("is_active", true)
	if sys != nil {
		r.Set("system", sys.Id)
	}
	if err := f.app.Save(r); err != nil {
		f.t.Fatal(err)
	}
	return []string{"X-API-Key", key}
}

// count is the number of rows of a table matching where (nil: all).
func (f *fixture) count(table string, where dbx.Expression) int {
	f.t.Helper()
	var n int
	q := f.app.DB().Select("COUNT(*)").From(table)
	if where != nil {
		q = q.Where(where)
	}
	if err := q.Row(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// expect checks a reply's status and, when body is not "", its exact body.
func expect(t *testing.T, label string, r testkit.Reply, status int, body string) {
	t.Helper()
	got := strings.TrimSpace(string(r.Body))
	if r.Status != status || (body != "" && got != body) {
		t.Errorf("%s: %d %s\n\twant %d %s", label, r.Status, got, status, body)
	}
}

func (f *fixture) pick(headers []string, body any) testkit.Reply {
	f.t.Helper()
	return f.client.Do(http.MethodPost, "/api/v1/tts/round-robin/", body, headers...)
}
