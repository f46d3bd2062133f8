package directory

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// TestCountRefreshedInTheBackground: a cached count older than refreshAfter is still served
// (it is fresh: nothing this process saw was written) and read again in the background, unless
// maxCountReads such reads run already; the next requests get the new value. The change comes from another process (a connection through
// another path to data.db, which this process's write watch does not see), the case MaxAge and
// the refresh exist for.
func TestCountRefreshedInTheBackground(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	writeepoch.WatchWrites(app)
	cache := &countCache{refreshAfter: 50 * time.Millisecond}
	app.Store().Set(countCacheKey, cache)
	count := func() int {
		t.Helper()
		n, err := cachedCount(app, app.DB().Select().From(colUsers))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	// no background read may start until the other process's write is in place
	cache.running.Store(maxCountReads)

	link := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(app.DataDir(), link); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", filepath.Join(link, "data.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("INSERT INTO users (id, tokenKey, email, username, company_id) VALUES " +
		"('otherprocess001', 'tk-other', 'other@example.com', 'other', 'MA7777')"); err != nil {
		t.Fatal(err)
	}

	if got := count(); got != before {
		t.Fatalf("count right after the other process's insert: %d, want the cached %d", got, before)
	}
	time.Sleep(60 * time.Millisecond)
	// with maxCountReads background reads running, no other starts (the count is served as is)
	for range 3 {
		if got := count(); got != before {
			t.Fatalf("count with the background reads full: %d, want the cached %d", got, before)
		}
		time.Sleep(30 * time.Millisecond)
	}
	cache.running.Store(0)
	if got := count(); got != before { // served, and read again in the background
		t.Fatalf("count past refreshAfter: %d, want the cached %d served", got, before)
	}
	deadline := time.Now().Add(3 * time.Second)
	for count() != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the background read never stored %d", before+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if why := writeepoch.Disabled(app); why != "" {
		t.Fatalf("caching switched off: %s", why)
	}
	// a write this process sees still ends the cached count at once
	if _, err := app.DB().Delete(colUsers, dbx.HashExp{"id": "otherprocess001"}).Execute(); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != before {
		t.Fatalf("count after a delete: %d, want %d", got, before)
	}
}

// Once the app terminates (closeCounts, bound to OnTerminate) the running background count
// reads have ended and no new one starts: none of them uses the read pool PocketBase closes
// next.
func TestCloseCountsWaitsForBackgroundReads(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	writeepoch.WatchWrites(app)
	cache := newCountCache()
	app.Store().Set(countCacheKey, cache)

	// a read that takes a while (a few hundred ms here)
	const slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT COUNT(*) FROM c"
	cache.refresh(app, "slow", slow, nil)
	if n := cache.running.Load(); n != 1 {
		t.Fatalf("%d background reads running, want the one just started", n)
	}
	closeCounts(app)
	if n := cache.running.Load(); n != 0 {
		t.Fatalf("%d background reads still running after closeCounts", n)
	}
	if n, _, ok := cache.counts.GetAge(app, "slow"); !ok || n != 300000 {
		t.Fatalf("the read that was running stored %d (%v), want 300000", n, ok)
	}

	cache.refresh(app, "after", "SELECT 1", nil)
	if n := cache.running.Load(); n != 0 {
		t.Fatalf("a background read started after closeCounts (%d running)", n)
	}
	if _, reading := cache.reading.Load("after"); reading {
		t.Fatal("a refused background read left its key marked as reading")
	}
	if _, _, ok := cache.counts.GetAge(app, "after"); ok {
		t.Fatal("a background read after closeCounts stored a count")
	}
}
