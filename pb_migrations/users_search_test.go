package pb_migrations

import (
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// searchIDs returns the ids of the users whose searched columns the trigram index matches.
func searchIDs(t *testing.T, app core.App, term string) []string {
	t.Helper()
	var ids []string
	err := app.DB().NewQuery("SELECT m.id FROM `_users_search` s JOIN `_users_search_ids` m ON m.n = s.rowid " +
		"WHERE `_users_search` MATCH lower({:q}) ORDER BY m.id").Bind(dbx.Params{"q": `"` + term + `"`}).Column(&ids)
	if err != nil {
		t.Fatalf("search %q: %v", term, err)
	}
	return ids
}

// checkSearchMap: the id map holds one row per user with its `created` and its `hay` (the six
// searched columns lower-cased, joined by char(31)), as 1764115800's triggers keep them.
func checkSearchMap(t *testing.T, app core.App) {
	t.Helper()
	var users, rows, wrong int
	hay := strings.ReplaceAll(usersSearchHayNew, "new.", "u.")
	err := app.DB().NewQuery("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM `_users_search_ids`), "+
		"(SELECT COUNT(*) FROM users u JOIN `_users_search_ids` m ON m.id = u.id WHERE m.created IS NOT u.created OR m.hay IS NOT "+hay+")").
		Row(&users, &rows, &wrong)
	if err != nil || users != rows || wrong != 0 {
		t.Errorf("search map: %d users, %d map rows, %d rows with a stale created or hay (%v)", users, rows, wrong, err)
	}
	// 1764115900: the count of rows out of date order is exact, and every other row's n is in
	// the millisecond of its created
	var counted, outOfOrder int
	err = app.DB().NewQuery("SELECT (SELECT unordered FROM `_users_search_state`), "+
		"(SELECT COUNT(*) FROM `_users_search_ids` m WHERE "+usersSearchInOrder("m.n", "m.created")+" = 0)").Row(&counted, &outOfOrder)
	if err != nil || counted != outOfOrder {
		t.Errorf("rows out of date order: counted %d, there are %d (%v)", counted, outOfOrder, err)
	}
}

// unordered is `_users_search_state.unordered`.
func unordered(t *testing.T, app core.App) int {
	t.Helper()
	var n int
	if err := app.DB().NewQuery("SELECT unordered FROM `_users_search_state`").Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mapRow returns a user's `created` and `hay` in the id map.
func mapRow(t *testing.T, app core.App, id string) (created, hay string) {
	t.Helper()
	if err := app.DB().NewQuery("SELECT created, hay FROM `_users_search_ids` WHERE id = {:id}").Bind(dbx.Params{"id": id}).Row(&created, &hay); err != nil {
		t.Fatalf("map row of %s: %v", id, err)
	}
	return created, hay
}

func saveUser(t *testing.T, app core.App, email, first, last, phone string) *core.Record {
	t.Helper()
	col, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(col)
	r.SetEmail(email)
	r.SetRandomPassword()
	r.Set("username", email[:4])
	r.Set("first_name", first)
	r.Set("last_name", last)
	r.Set("phone_number", phone)
	r.Set("company_id", "MA"+email[:4])
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestUsersSearchIndexFollowsWrites: inserts, updates and deletes (records API and direct SQL)
// are in the trigram index at once, and the index survives VACUUM (its key is no implicit rowid).
func TestUsersSearchIndexFollowsWrites(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	a := saveUser(t, app, "anna@example.com", "Anna", "Johnson", "+639171234567")
	b := saveUser(t, app, "bert@example.com", "Bért", "Müller", "")
	want := func(term string, ids ...string) {
		t.Helper()
		slices.Sort(ids)
		if got := searchIDs(t, app, term); !slices.Equal(got, ids) && !(len(got) == 0 && len(ids) == 0) {
			t.Errorf("search %q = %v, want %v", term, got, ids)
		}
	}
	want("johns", a.Id)
	want("JOHNS", a.Id)
	want("müll", b.Id)
	want("MÜLL") // ASCII letters only fold, as in LIKE
	want("MüLL", b.Id)
	want("1234", a.Id)
	want("example", a.Id, b.Id)
	want("MAann", a.Id) // company_id
	if created, hay := mapRow(t, app, a.Id); created != a.GetDateTime("created").String() ||
		hay != "anna@example.com\x1fanna\x1fanna\x1fjohnson\x1fmaanna\x1f+639171234567" {
		t.Errorf("map row of a: created %q (user %q), hay %q", created, a.GetDateTime("created").String(), hay)
	}
	checkSearchMap(t, app)

	a.Set("last_name", "Smith")
	if err := app.Save(a); err != nil {
		t.Fatal(err)
	}
	want("johns")
	want("smith", a.Id)
	if _, err := app.DB().NewQuery("UPDATE users SET first_name = 'Zelda' WHERE id = {:id}").Bind(dbx.Params{"id": b.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	want("zeld", b.Id)
	want("bért")
	want("müll", b.Id) // untouched columns stay indexed
	if _, err := app.DB().NewQuery("UPDATE users SET created = '2020-02-02 02:02:02.000Z' WHERE id = {:id}").Bind(dbx.Params{"id": b.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if created, hay := mapRow(t, app, b.Id); created != "2020-02-02 02:02:02.000Z" || !strings.HasPrefix(hay, "bert@example.com\x1fbert\x1fzelda\x1f") {
		t.Errorf("after a change of created alone: map row %q, %q", created, hay)
	}
	want("zeld", b.Id)
	checkSearchMap(t, app)

	// 1764115900: a created out of PocketBase's form (direct SQL) is counted out of order, and
	// no longer once it is fixed; users of the same millisecond take slots of it.
	setCreated := func(id, created string) {
		t.Helper()
		if _, err := app.DB().NewQuery("UPDATE users SET created = {:c} WHERE id = {:id}").Bind(dbx.Params{"c": created, "id": id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"2020-02-30 00:00:00.000Z", "yesterday", "1969-12-31 23:59:59.999Z", "2020-02-02T02:02:02.000Z", ""} {
		setCreated(b.Id, bad)
		if got := unordered(t, app); got != 1 {
			t.Errorf("created %q: %d rows counted out of order, want 1", bad, got)
		}
		want("zeld", b.Id)
		checkSearchMap(t, app)
	}
	setCreated(b.Id, "2020-02-02 02:02:02.000Z")
	setCreated(a.Id, "2020-02-02 02:02:02.000Z")
	var na, nb int64
	if err := app.DB().NewQuery("SELECT (SELECT n FROM `_users_search_ids` WHERE id = {:a}), (SELECT n FROM `_users_search_ids` WHERE id = {:b})").
		Bind(dbx.Params{"a": a.Id, "b": b.Id}).Row(&na, &nb); err != nil {
		t.Fatal(err)
	}
	if got := unordered(t, app); got != 0 || na == nb || na>>20 != nb>>20 || na>>20 != 1580608922000 {
		t.Errorf("same millisecond: unordered %d, n %d and %d (ms %d, %d)", got, na, nb, na>>20, nb>>20)
	}
	want("smith", a.Id)
	want("zeld", b.Id)
	checkSearchMap(t, app)

	// A save naming every column but changing no searched value leaves the index alone (the
	// writer connection counts the rows each statement changed, triggers included).
	writer := app.NonconcurrentDB()
	changes := func(sql string) int {
		t.Helper()
		var before, after int
		if err := writer.NewQuery("SELECT total_changes()").Row(&before); err != nil {
			t.Fatal(err)
		}
		if _, err := writer.NewQuery(sql).Bind(dbx.Params{"id": b.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
		if err := writer.NewQuery("SELECT total_changes()").Row(&after); err != nil {
			t.Fatal(err)
		}
		return after - before
	}
	if n := changes("UPDATE users SET last_login = '2026-01-01 00:00:00.000Z', email = email, first_name = first_name WHERE id = {:id}"); n != 1 {
		t.Errorf("a save without a searched change changed %d rows, want 1 (the user)", n)
	}
	if n := changes("UPDATE users SET last_name = 'Mueller' WHERE id = {:id}"); n < 3 {
		t.Errorf("a searched change changed %d rows, want the user, the index row out and in, the id map", n)
	}
	want("muell", b.Id)
	want("müll")
	checkSearchMap(t, app)

	if err := app.Delete(a); err != nil {
		t.Fatal(err)
	}
	want("smith")
	want("example", b.Id)
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM `_users_search_ids`").Row(&n); err != nil || n != 1 {
		t.Errorf("map rows = %d (%v), want 1", n, err)
	}

	c := saveUser(t, app, "carl@example.com", "Carl", "Sagan", "")
	if _, err := app.DB().NewQuery("VACUUM").Execute(); err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(c); err != nil {
		t.Fatal(err)
	}
	want("sagan")
	want("example", b.Id)
}

// TestUsersSearchBackfill: users that exist when the migration runs are indexed by it.
func TestUsersSearchBackfill(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	runner := core.NewMigrationsRunner(app, core.AppMigrations)
	a := saveUser(t, app, "dora@example.com", "Dora", "Explorer", "")
	// users search and every migration after it (users email order, users search order, rowid order, ...)
	since := 0
	for _, item := range core.AppMigrations.Items() {
		if item.File >= "1764115600_users_search.go" {
			since++
		}
	}
	if _, err := runner.Down(since); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '\\_users\\_search%' ESCAPE '\\'").Row(&tables); err != nil || tables != 0 {
		t.Fatalf("after down: %d search tables/triggers left (%v)", tables, err)
	}
	b := saveUser(t, app, "emil@example.com", "Emil", "Explorer", "")
	if _, err := runner.Up(); err != nil {
		t.Fatal(err)
	}
	got := searchIDs(t, app, "explor")
	want := []string{a.Id, b.Id}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after backfill: %v, want %v", got, want)
	}
	checkSearchMap(t, app)
}
