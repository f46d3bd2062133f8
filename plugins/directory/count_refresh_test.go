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
