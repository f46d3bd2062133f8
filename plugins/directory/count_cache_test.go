package directory_test

import (
	"testing"
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
