package directory_test

import (
	"sync"
	"testing"
	"time"
)

// TestUserListCountAfterWrites: the user lists' counts are cached under the write epoch, so
// every write shows at once: a new user, a renamed user (search count), a deleted user, a
// new assignment (count of ?system=), each read right after the write, with a read before it
// that filled the cache.
func TestUserListCountAfterWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.token(f.staff(true))
	count := func(path string) float64 {
		t.Helper()
		rep := f.do(admin, "GET", path, nil)
		if rep.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, rep.Status, rep.Body)
		}
		n, _ := rep.JSON["count"].(float64)
		return n
	}
	const all, search, inSystem = "/api/v1/users/", "/api/v1/users/?search=zebrafinch", "/api/v1/users/?system=hdts"
	before, found, held := count(all), count(search), count(inSystem)
	if found != 0 {
		t.Fatalf("search count %v before any match", found)
	}
	u := f.staff(false)
	if got := count(all); got != before+1 {
		t.Errorf("count after a new user: %v, want %v", got, before+1)
	}
	u.Set("last_name", "Zebrafinch")
	if err := f.app.Save(u); err != nil {
		t.Fatal(err)
	}
	if got := count(search); got != 1 {
		t.Errorf("search count after a rename: %v, want 1", got)
	}
	f.assign(u, "hdts/Admin", true)
	if got := count(inSystem); got != held+1 {
		t.Errorf("system count after an assignment: %v, want %v", got, held+1)
	}
	if err := f.app.Delete(u); err != nil {
		t.Fatal(err)
	}
	if got, got2 := count(all), count(search); got != before || got2 != 0 {
		t.Errorf("counts after the delete: %v and %v, want %v and 0", got, got2, before)
	}
}

// TestUserListsReleaseTheirTurn: the user lists queue their database work (listConcurrency at
// a time); a list that fails in it (a page past the last, 404) gives its turn back, so more
// failed lists than there are turns leave the next list and 16 concurrent ones answering.
func TestUserListsReleaseTheirTurn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.token(f.staff(true))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if rep := f.do(admin, "GET", "/api/v1/users/?page=999", nil); rep.Status != 404 || rep.JSON["detail"] != "Invalid page." {
				t.Errorf("page 999: %d %s", rep.Status, rep.Body)
			}
		}
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if rep := f.do(admin, "GET", "/api/v1/users/?search=adm&ordering=-date_joined", nil); rep.Status != 200 {
					t.Errorf("list: %d %s", rep.Status, rep.Body)
				}
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("user lists still waiting after 30 s: a failed list kept its turn")
	}
}
