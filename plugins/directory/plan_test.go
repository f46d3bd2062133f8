package directory

import (
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/testkit"
)

// queryPlan returns SQLite's EXPLAIN QUERY PLAN details of a query (its parameters bound),
// joined by "; ".
func queryPlan(t *testing.T, app *tests.TestApp, sql string, params ...dbx.Params) string {
	t.Helper()
	var rows []struct {
		Detail string `db:"detail"`
	}
	q := app.DB().NewQuery("EXPLAIN QUERY PLAN " + sql)
	for _, p := range params {
		q.Bind(p)
	}
	if err := q.All(&rows); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Detail)
	}
	return strings.Join(out, "; ")
}

// TestListsUseIndexes: every ordering and filter of the directory lists is read through an
// index (the final id tie-break may sort the rows of one key: "RIGHT PART OF ORDER BY"), never
// a full sort of the table.
func TestListsUseIndexes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	unquote := strings.NewReplacer("[[", "", "]]", "")
	// check: the query reads through wantIndex; sorted=true also requires the order to come
	// from an index (no full sort).
	check := func(sql string, wantIndex string, sorted ...bool) {
		t.Helper()
		sql = unquote.Replace(sql)
		plan := queryPlan(t, app, sql)
		if (len(sorted) > 0 && strings.Contains(plan, "USE TEMP B-TREE FOR ORDER BY")) || !strings.Contains(plan, wantIndex) {
			t.Errorf("%s\n  plan: %s (want %s)", sql, plan, wantIndex)
		}
	}
	for field, col := range userOrdering {
		for _, dir := range []string{"ASC", "DESC"} {
			check("SELECT users.* FROM users ORDER BY "+col+" "+dir+", users.id ASC LIMIT 50 OFFSET 5000", "USING INDEX", true)
			_ = field
		}
	}
	// Filters of §5.3.3: status, is_active, the system scope (EXISTS over system,user).
	check("SELECT users.* FROM users WHERE users.status = 'Approved' ORDER BY users.created DESC, users.id LIMIT 50", "INDEX")
	check("SELECT users.* FROM users WHERE users.is_active = 1 ORDER BY users.created DESC, users.id LIMIT 50", "INDEX")
	check("SELECT users.* FROM users WHERE EXISTS (SELECT 1 FROM user_system_roles a WHERE a.user = users.id AND a.system IN ('x','y')) ORDER BY users.email COLLATE NOCASE, users.id LIMIT 50", "idx_user_system_roles_")
	// systems and roles hold tens of rows: their orderings sort in memory.
	for _, col := range invitationOrdering {
		check("SELECT invitations.* FROM invitations ORDER BY "+col+" DESC, invitations.id LIMIT 50", "INDEX", true)
	}
	check("SELECT invitations.* FROM invitations WHERE invitations.system IN ('x') ORDER BY invitations.created DESC, invitations.id LIMIT 50", "idx_invitations_system_created")
	check("SELECT COUNT(*) FROM invitations WHERE invited_by = 'x' AND created >= '2026'", "idx_invitations_invited_by_created")
	for _, col := range assignmentOrdering {
		check("SELECT a.id FROM user_system_roles a JOIN users u ON u.id = a.user JOIN systems s ON s.id = a.system WHERE a.system = 'x' ORDER BY "+col+", a.id LIMIT 50", "idx_user_system_roles_system")
	}
	check("SELECT a.id FROM user_system_roles a WHERE a.user = 'x' ORDER BY a.assigned_at, a.id", "idx_user_system_roles_user")
	// assignment counts read the assignments alone (countAssignments): an index, no join
	for _, where := range []string{"a.system IN (SELECT id FROM systems WHERE slug = 'hdts')", "a.user = 'x'", "a.system IN ('x') AND a.is_active = 1"} {
		check("SELECT COUNT(*) FROM user_system_roles a WHERE "+where, "USING COVERING INDEX idx_user_system_roles_")
	}
}

// planOf is the query plan of a built dbx query (its parameters bound).
func planOf(t *testing.T, app *tests.TestApp, q *dbx.SelectQuery) (string, string) {
	t.Helper()
	built := q.Build()
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + built.SQL()).Bind(built.Params()).All(&rows); err != nil {
		t.Fatalf("%s: %v", built.SQL(), err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Detail)
	}
	return strings.Join(out, "; "), built.SQL()
}

// TestUserPageQueriesUseIndexes: the queries of userPage at 100,000 users. The id pass of a
// page reads every ordering, both directions, in index order with no sort at all (a deep page
// skips index entries); a search is counted in the trigram index and its page either walks the
// order index (many matches) or reads the matches through the index and the primary key.
func TestUserPageQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	db := app.DB()
	want := func(q *dbx.SelectQuery, parts ...string) {
		t.Helper()
		plan, sql := planOf(t, app, q)
		for _, p := range parts {
			if strings.HasPrefix(p, "!") {
				if strings.Contains(plan, p[1:]) {
					t.Errorf("%s\n  plan: %s (must not contain %s)", sql, plan, p[1:])
				}
			} else if !strings.Contains(plan, p) {
				t.Errorf("%s\n  plan: %s (want %s)", sql, plan, p)
			}
		}
	}
	for field := range userOrdering {
		for _, desc := range []bool{false, true} {
			order := orderBy(apikit.PageQuery{Ordering: []apikit.OrderField{{Field: field, Desc: desc}}}, userOrdering, nil, "[[users.id]]")
			want(db.Select("[[users.id]]").From(colUsers).Where(dbx.And()).OrderBy(order...).Limit(50).Offset(50000),
				"SCAN users USING", "INDEX", "!TEMP B-TREE")
			// filtered lists keep their filter index or the order index
			want(db.Select("[[users.id]]").From(colUsers).Where(dbx.HashExp{"users.status": "Approved"}).OrderBy(order...).Limit(50),
				"INDEX")
		}
	}
	phrase, _ := trigramPhrase("Son")
	date := orderBy(apikit.PageQuery{Ordering: []apikit.OrderField{{Field: "date_joined", Desc: true}}}, userOrdering, nil, "[[users.id]]")
	want(db.Select().From("_users_search").Where(matchExp(phrase)), "SCAN _users_search VIRTUAL TABLE INDEX 0:M")
	want(matchedUsers(db, "[[users.id]]").Where(dbx.And(matchExp(phrase), dbx.And())).OrderBy(date...).Limit(50),
		"SCAN s VIRTUAL TABLE INDEX 0:M", "SEARCH m USING INTEGER PRIMARY KEY", "SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)")
	want(matchedUsers(db, "[[users.id]]").Where(dbx.And(matchExp(phrase), dbx.HashExp{"users.status": "Approved"})).OrderBy(date...).Limit(50),
		"SCAN s VIRTUAL TABLE INDEX 0:M", "SEARCH m USING INTEGER PRIMARY KEY", "SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)")
	want(db.Select("[[users.id]]").From(colUsers).Where(dbx.And(dbx.And(), searchExp("son", userSearchColumns...))).OrderBy(date...).Limit(50),
		"SCAN users USING INDEX idx_users_created_desc_id", "!TEMP B-TREE")
	want(db.Select("[[users.id]]").From(colUsers).Where(dbx.And(dbx.And(), matchSetExp(phrase))).OrderBy(date...).Limit(50),
		"SCAN users USING COVERING INDEX idx_users_created_desc_id", "LIST SUBQUERY", "VIRTUAL TABLE INDEX 0:M", "!TEMP B-TREE")
	want(db.Select("[[users.id]]").From(colUsers).Where(userSearchExp("son")), "VIRTUAL TABLE INDEX 0:M")
	// the id map's plans (date_joined only): walk its date index in either direction, testing
	// the hay in the index entry (a filtered list reads the users row of each match), or sort
	// the trigram matches' map rows; neither reads a users row unfiltered nor sorts on a walk.
	for _, desc := range []bool{true, false} {
		pq := apikit.PageQuery{Search: "Son", Ordering: []apikit.OrderField{{Field: "date_joined", Desc: desc}}}
		index := "_users_search_created"
		if desc {
			index += "_desc"
		}
		want(mapWalk(db, pq, dbx.And(), false).Limit(50).Offset(5000),
			"SCAN m USING COVERING INDEX "+index, "!SEARCH users", "!SCAN users", "!TEMP B-TREE")
		want(mapWalk(db, pq, dbx.HashExp{"users.status": "Approved"}, true).Limit(50),
			"SCAN m USING COVERING INDEX "+index, "SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)", "!TEMP B-TREE")
		want(mapSort(db, pq, phrase).Limit(50),
			"SCAN s VIRTUAL TABLE INDEX 0:M", "SEARCH m USING INTEGER PRIMARY KEY", "!SEARCH users", "!SCAN users")
	}

	// the rowid order (rowidOrderPage): the trigram index in rowid order, each match's map row
	// by its key; the page build (pageProfiles): each user and each user's assignments through
	// an index, no systems or roles read (they come from permissions.Catalogue). None sorts.
	pageIDs := dbx.Params{"ids": `["a","b"]`}
	for _, c := range []struct {
		sql    string
		params dbx.Params
		parts  []string
	}{
		{rowidOrderSQL(true), dbx.Params{"phrase": phrase}, []string{"SCAN s VIRTUAL TABLE INDEX", "SEARCH m USING INTEGER PRIMARY KEY"}},
		{rowidOrderSQL(false), dbx.Params{"phrase": phrase}, []string{"SCAN s VIRTUAL TABLE INDEX", "SEARCH m USING INTEGER PRIMARY KEY"}},
		{pageUsersQuery, pageIDs, []string{"SEARCH u USING INDEX sqlite_autoindex_users_1 (id=?)", "!SCAN u"}},
		{pageAssignmentsQuery, pageIDs, []string{"SEARCH a USING INDEX idx_user_system_roles_user", "!SCAN a",
			"!sqlite_autoindex_systems", "!sqlite_autoindex_roles"}},
	} {
		got := queryPlan(t, app, c.sql, c.params)
		for _, p := range append(c.parts, "!TEMP B-TREE") {
			if strings.Contains(got, strings.TrimPrefix(p, "!")) == strings.HasPrefix(p, "!") {
				t.Errorf("%s\n  plan: %s (%s)", c.sql, got, p)
			}
		}
	}
}
