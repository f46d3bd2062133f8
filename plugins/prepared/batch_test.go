package prepared

import (
	"fmt"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// Concurrent writes through a Batcher: each caller gets its own statement's changed-row count;
// of many compare-and-swaps of one row exactly one wins (twice over: 0 → -1, then -1 → -2,
// callers retrying until one of them has); a failing statement fails only its caller.
func TestBatcher(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	writeepoch.WatchWrites(app)
	if _, err := app.DB().NewQuery("CREATE TABLE bt (id TEXT PRIMARY KEY, v INTEGER NOT NULL)").Execute(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 40; i++ { // r0 is raced for; r1…r40 are each written by one caller
		if _, err := app.DB().NewQuery(fmt.Sprintf("INSERT INTO bt VALUES ('r%d', 0)", i)).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	var b Batcher
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, failures, execWins := 0, 0, 0
	for i := 0; i < 40; i++ {
		wg.Add(4)
		go func() { // Exec: all race for r0's second swap, from -1 to -2 (after the first)
			defer wg.Done()
			for {
				n, err := b.Exec(app, Statement{Query: "UPDATE bt SET v = -2 WHERE id = 'r0' AND v = -1 AND {:x} = 1", Params: dbx.Params{"x": 1}})
				if err != nil {
					t.Error(err)
					return
				}
				var v int
				if err := app.DB().NewQuery("SELECT v FROM bt WHERE id = 'r0'").Row(&v); err != nil {
					t.Error(err)
					return
				}
				if n == 1 || v == -2 { // won, or another caller has
					mu.Lock()
					execWins += int(n)
					mu.Unlock()
					return
				}
			}
		}()
		go func(i int) { // its own row: v = i, and gets i back
			defer wg.Done()
			n, err := b.Exec(app, Statement{Query: "UPDATE bt SET v = {:v} WHERE id = {:id}", Params: dbx.Params{"v": i, "id": fmt.Sprintf("r%d", i)}})
			var v int
			if err == nil {
				err = app.DB().NewQuery("SELECT v FROM bt WHERE id = {:id}").Bind(dbx.Params{"id": fmt.Sprintf("r%d", i)}).Row(&v)
			}
			if err != nil || n != 1 || v != i {
				t.Errorf("row %d: %d changed, v = %d, %v", i, n, v, err)
			}
		}(i + 1)
		go func() { // all race for r0's swap from 0 to -1
			defer wg.Done()
			n, err := b.Exec(app, Statement{Query: "UPDATE bt SET v = -1 WHERE id = 'r0' AND v = 0 AND {:x} = 1", Params: dbx.Params{"x": 1}})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			wins += int(n)
			mu.Unlock()
		}()
		go func() { // a statement that fails
			defer wg.Done()
			_, err := b.Exec(app, Statement{Query: "UPDATE bt SET nope = 1 WHERE id = {:id}", Params: dbx.Params{"id": "r1"}})
			if err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 || execWins != 1 || failures != 40 {
		t.Fatalf("swaps won %d and %d (want 1 and 1), failures %d (want 40)", wins, execWins, failures)
	}
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM bt WHERE v > 0").Row(&n); err != nil || n != 40 {
		t.Fatalf("rows written: %d %v (want 40)", n, err)
	}
}
