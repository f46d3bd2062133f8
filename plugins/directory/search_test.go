package directory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/testkit"
)

// searchPieces build the generated names: ASCII in both cases, LIKE's metacharacters and the
// escape, FTS5's quote, letters LIKE does not fold (É/é, Ü/ü, the Kelvin sign K next to K),
// combining marks, 4-byte characters, spaces and the id map's column separator (char(31)).
var searchPieces = []string{"an", "An", "AN", "son", "SON", "%", "_", `\`, `"`, "é", "É", "ü", "Ü", "K", "K", "k",
	"e\u0301", "ß", "SS", "😀", "中文", " ", "-", ".", "o'", "Ma", "ria", "0", "12", "+63", "\x1f"}

// userSearchExp is the indexed search as an expression on `users` (the id set of the trigram
// index's matches; LIKE for terms without a trigram), as userPage uses it.
func userSearchExp(term string) dbx.Expression {
	phrase, ok := trigramPhrase(term)
	if !ok {
		return searchExp(term, userSearchColumns...)
	}
	return dbx.NewExp("[[users.id]] IN (SELECT m.id FROM _users_search s CROSS JOIN _users_search_ids m ON m.n = s.rowid "+
		"WHERE _users_search MATCH {:phrase})", dbx.Params{"phrase": phrase})
}

func randomText(r *rand.Rand, parts int) string {
	var b strings.Builder
	for range parts {
		b.WriteString(searchPieces[r.IntN(len(searchPieces))])
	}
	return b.String()
}

// TestUserSearchMatchesLike: on a generated directory, the indexed search of the user lists
// (userSearchExp) answers exactly what the plain LIKE test over the six columns answers, for
// substrings of stored values in other cases, LIKE metacharacters taken literally, unicode,
// terms of 1–2 characters (LIKE only) and terms matching nothing.
func TestUserSearchMatchesLike(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	r := rand.New(rand.NewPCG(13, 17))
	var values []string
	err := app.RunInTransaction(func(tx core.App) error {
		for i := range 400 {
			row := dbx.Params{
				"id": fmt.Sprintf("srch%011d", i), "tokenKey": fmt.Sprintf("tk%d", i), "email": strings.ToLower(fmt.Sprintf("u%d.%s@example.com", i, randomText(r, 2))),
				"username": fmt.Sprintf("user_%d%s", i, randomText(r, 1)), "first_name": randomText(r, 1+r.IntN(3)),
				"last_name": randomText(r, 1+r.IntN(3)), "company_id": fmt.Sprintf("MA%04d", i), "phone_number": "",
			}
			if i%3 == 0 {
				row["phone_number"] = fmt.Sprintf("+6391712%05d", i)
			}
			row["created"] = fmt.Sprintf("2026-01-%02d 00:00:00.000Z", 1+r.IntN(20)) // ties: the id tie-break counts
			row["status"] = []string{"Approved", "Pending"}[r.IntN(2)]
			if _, err := tx.DB().Insert("users", row).Execute(); err != nil {
				return err
			}
			for _, k := range []string{"email", "username", "first_name", "last_name", "company_id", "phone_number"} {
				values = append(values, row[k].(string))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	terms := []string{"a", "%", "_", `\`, `"`, "an", "AN", "%_", "son", "SON", "sOn", "é", "É", "éé", "ÉÉÉ", "Kan", "kan", "Kan",
		"ss", "SSS", "ßan", "😀😀😀", "中文中", "e\u0301e", "+63", "917", "MA00", "ma01", "@example", "EXAMPLE.COM", "zzz",
		`"%"`, `\%_`, "o'M", " an", "user_1", "USER_", "a_b", "%%%", "___",
		"com\x1fuser", ".COM\x1fUSER_1"} // the id map's column separator: a map plan would match across columns
	for range 500 { // substrings of stored values, case changed at random
		v := []rune(values[r.IntN(len(values))])
		if len(v) == 0 {
			continue
		}
		lo := r.IntN(len(v))
		hi := min(len(v), lo+1+r.IntN(9))
		term := string(v[lo:hi])
		switch r.IntN(3) {
		case 0:
			term = strings.ToUpper(term)
		case 1:
			term = strings.ToLower(term)
		}
		terms = append(terms, term)
	}
	ids := func(where dbx.Expression, order ...string) []string {
		var out []string
		if err := app.DB().Select("users.id").From("users").Where(where).OrderBy(order...).Column(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	p := &plugin{app: app}
	var unordered int
	if err := app.DB().NewQuery("SELECT unordered FROM _users_search_state").Row(&unordered); err != nil || unordered != 0 {
		t.Fatalf("rows out of date order: %d (%v): the rowid plan would not be tested", unordered, err)
	}
	approved := dbx.HashExp{"users.status": "Approved"}
	orderings := [][]apikit.OrderField{{{Field: "date_joined", Desc: true}}, {{Field: "first_name"}}, nil, {{Field: "date_joined"}}}
	indexed, nonEmpty := 0, 0
	for i, term := range terms {
		want := ids(searchExp(term, userSearchColumns...), "users.id")
		if got := ids(userSearchExp(term), "users.id"); !slices.Equal(got, want) {
			t.Errorf("search %q: indexed %d rows %v, LIKE %d rows %v", term, len(got), got, len(want), want)
		}
		if _, ok := trigramPhrase(term); ok {
			indexed++
			if len(want) > 0 {
				nonEmpty++
			}
		}
		if i%5 != 0 {
			continue
		}
		// The pages of the list (both plans of userPage: sizes 7 and 50 on 400 users), with
		// and without another filter, in an ordering with ties.
		ordering := orderings[i/5%len(orderings)]
		for _, filtered := range []bool{false, true} {
			where := dbx.Expression(dbx.And())
			if filtered {
				where = approved
			}
			order := orderBy(apikit.PageQuery{Ordering: ordering}, userOrdering, []apikit.OrderField{{Field: "email"}}, "[[users.id]]")
			wantAll := ids(dbx.And(where, searchExp(term, userSearchColumns...)), order...)
			for _, size := range []int{7, 50} {
				var gotAll []string
				plans := searchPlans(apikit.PageQuery{Search: term, Ordering: ordering}, filtered, true)
				plan := 1 + plans[(i/5+size)%len(plans)] // every plan of userPage in turn
				for page := 1; ; page++ {
					f := &userListFilter{pq: apikit.PageQuery{Page: page, Size: size, Search: term, Ordering: ordering},
						where: where, filtered: filtered, forcePlan: plan}
					recs, count, err := p.userPage(f)
					if err != nil {
						t.Fatalf("search %q page %d: %v", term, page, err)
					}
					if count != len(wantAll) {
						t.Errorf("search %q (filtered %v): count %d, LIKE %d", term, filtered, count, len(wantAll))
					}
					gotAll = append(gotAll, recs...)
					if len(recs) < size {
						break
					}
					if page*size >= count {
						break
					}
				}
				if !slices.Equal(gotAll, wantAll) {
					t.Errorf("search %q (filtered %v, size %d, order %v, plan %d): pages %v, LIKE %v", term, filtered, size, order, plan-1, gotAll, wantAll)
				}
			}
		}
	}
	if indexed < 200 || nonEmpty < 150 {
		t.Errorf("only %d terms went through the index (%d with results): the test proves little", indexed, nonEmpty)
	}
}

// TestSearchPlan: the plan choices at 100,000 users, first page of 50 (counts of bench/seed's
// data). In email order (the default) a frequent term walks the order index with LIKE, a
// middling one with the match set, a rare one sorts its matches; a deep page of a frequent term
// walks with the set when the order index holds the ids, else sorts. In date_joined order the
// id map serves: a frequent or middling term walks its date index, a rare one (or a deep page)
// sorts the map rows of its matches unless the term has many trigrams to match; a filtered list
// walks the map unless the filter leaves few of the matches.
func TestSearchPlan(t *testing.T) {
	t.Parallel()
	first := apikit.PageQuery{Page: 1, Size: 50}
	byUsername := apikit.PageQuery{Page: 1, Size: 50, Ordering: []apikit.OrderField{{Field: "username"}}}
	newest := apikit.PageQuery{Page: 1, Size: 50, Search: "son", Ordering: []apikit.OrderField{{Field: "date_joined", Desc: true}}}
	oldest := apikit.PageQuery{Page: 1, Size: 50, Search: "son", Ordering: []apikit.OrderField{{Field: "date_joined"}}}
	deep := newest
	deep.Page = 100
	twoKeys := newest
	twoKeys.Ordering = append(twoKeys.Ordering, apikit.OrderField{Field: "email"})
	delimited := newest
	delimited.Search = "a\x1fb"
	long := newest
	long.Search = "bautista" // six trigrams to match
	for _, c := range []struct {
		n, all   int
		pq       apikit.PageQuery
		filtered bool
		want     int
		ordered  bool
	}{
		{8244, 8244, first, false, planWalkLike, false},          // "son"
		{100001, 100001, byUsername, false, planWalkLike, false}, // "example"
		{2183, 2183, first, false, planWalkSet, false},           // "ana"
		{770, 770, first, false, planWalkSet, false},             // "müller"
		{2183, 2183, byUsername, false, planWalkSet, false},
		{1, 1, first, false, planSortMatches, false}, // "MA12345"
		{30, 30, byUsername, false, planSortMatches, false},
		{8244, 8244, apikit.PageQuery{Page: 100, Size: 50}, false, planWalkSet, false},
		{8244, 8244, apikit.PageQuery{Page: 100, Size: 50, Ordering: byUsername.Ordering}, false, planSortMatches, false},
		{8244, 8244, newest, false, planWalkMap, false},
		{2183, 2183, oldest, false, planWalkMap, false},
		{300, 300, newest, false, planSortMap, false},
		{748, 748, long, false, planWalkMap, false},
		{27, 27, oldest, false, planSortMap, false}, // "9171"
		{8244, 8244, deep, false, planSortMap, false},
		{8244, 8244, twoKeys, false, planWalkLike, false},   // the map holds one key
		{8244, 8244, delimited, false, planWalkLike, false}, // the hay cannot test the term
		{4000, 8244, newest, true, planWalkMap, false},      // half of the matches pass the filter
		{30, 8244, newest, true, planSortMatches, false},    // few do: sort them
		// the index's rowids in date order (no row out of order): a middling term reads its
		// matches in rowid order, and so does a deep page; a frequent one still walks the date
		// index, a rare one (or one of many trigrams to match) still sorts, a filtered list never
		// reads the rowid order
		{748, 748, long, false, planRowidOrder, true},
		{2183, 2183, oldest, false, planRowidOrder, true},
		{8244, 8244, deep, false, planRowidOrder, true},
		{8244, 8244, newest, false, planWalkMap, true},
		{27, 27, oldest, false, planSortMap, true},
		{4000, 8244, newest, true, planWalkMap, true},
	} {
		got := searchPlan(searchCounts{n: c.n, all: c.all, total: 100001, ordered: c.ordered}, c.pq, c.filtered)
		if got != c.want {
			t.Errorf("searchPlan(%d of %d, page %d, ordering %v, filtered %v) = %d, want %d", c.n, c.all, c.pq.Page, c.pq.Ordering, c.filtered, got, c.want)
		}
		if !slices.Contains(searchPlans(c.pq, c.filtered, c.ordered), got) {
			t.Errorf("searchPlan chose %d, not among the plans of %v", got, c.pq.Ordering)
		}
	}
}

func TestTrigramPhrase(t *testing.T) {
	t.Parallel()
	for term, want := range map[string]string{"abc": `"abc"`, `a"b`: `"a""b"`, "中文中": `"中文中"`, "ab": "", "é": "",
		"a\x00bc": "", "ab\xff": "", `"""`: `""""""""`} {
		got, ok := trigramPhrase(term)
		if got != want || ok != (want != "") {
			t.Errorf("trigramPhrase(%q) = %q, %v; want %q", term, got, ok, want)
		}
	}
}
