package directory

import (
	"os"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/testkit"
)

// TestScaleProbe times the parts of a search page per term on a seeded data dir
// (BENCH_SCALE_DIR, see bench/scale_test.go); a tool, skipped without it.
func TestScaleProbe(t *testing.T) {
	dir := os.Getenv("BENCH_SCALE_DIR")
	if dir == "" {
		t.Skip("set BENCH_SCALE_DIR")
	}
	app, err := tests.NewTestApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	p := &plugin{app: app, kit: apikit.New(app, testkit.Config())}
	terms := []string{"son", "mar", "ana", "ria", "john", "garc", "rey", "santos", "lee", "chr", "ela", "tan", "ong",
		"cruz", "Dela", "MARIA", "example.org", "corp.", "@mail", "jose", "müller", "peña",
		"9171", "0012", "MA0", "MA12345", "an.", "kris", "jen", "xyz", "qqq", "bautista", "wats", "wil",
		"ram", "torres", "ver", "ine", "ick"}
	best := func(fn func()) time.Duration {
		var b time.Duration
		for i := range 4 {
			t0 := time.Now()
			fn()
			if d := time.Since(t0); i == 0 || d < b {
				b = d
			}
		}
		return b
	}
	for _, term := range terms {
		phrase, _ := trigramPhrase(term)
		var n, total int
		dCount := best(func() { n, _ = countRows(app.DB().Select().From("_users_search").Where(matchExp(phrase))) })
		dTotal := best(func() { total, _ = countRows(app.DB().Select().From(colUsers)) })
		pq := apikit.PageQuery{Page: 1, Size: 50, Search: term, Ordering: []apikit.OrderField{{Field: "date_joined", Desc: true}}}
		plan := searchPlan(searchCounts{n: n, all: n, total: total, ordered: true}, pq, false)
		f := &userListFilter{pq: pq, where: dbx.And()}
		var ids []string
		dPage := best(func() { ids, _, _ = p.userPage(f) })
		dProf := best(func() { _, _ = p.pageProfiles(ids, nil) })
		alt := ""
		for _, pl := range searchPlans(pq, false, true) {
			f := &userListFilter{pq: pq, where: dbx.And(), forcePlan: pl + 1}
			alt += " " + best(func() { _, _, _ = p.userPage(f) }).Round(10*time.Microsecond).String()
		}
		t.Logf("%-12s n=%6d plan=%d count=%v total=%v userPage=%v (plans:%s) profiles=%v", term, n, plan,
			dCount.Round(10*time.Microsecond), dTotal.Round(10*time.Microsecond), dPage.Round(10*time.Microsecond), alt, dProf.Round(10*time.Microsecond))
	}
}
