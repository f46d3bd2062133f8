package passwords

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

const testPassword = "Zq7#kLm9-correct"

// slowHash is bcrypt(testPassword) at cost 14 (about 1 s per comparison), precomputed.
const slowHash = "$2a$14$tho0w99Has/STvCxUFywsekPt7Hgxgp7zJc01oGMGfgvIsdUTBsh2"

func usersCollection(t *testing.T, app *tests.TestApp) *core.Collection {
	t.Helper()
	col, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	return col
}

func newUser(t *testing.T, col *core.Collection, n string) *core.Record {
	t.Helper()
	r := core.NewRecord(col)
	r.SetEmail("user" + n + "@example.com")
	r.Set("username", "user"+n)
	r.Set("company_id", "C-"+n)
	return r
}

func poolConfig(concurrency int, wait time.Duration) *config.Config {
	cfg := config.Default()
	cfg.HashConcurrency = concurrency
	cfg.HashWait = wait
	return cfg
}

func TestSetPasswordAndVerify(t *testing.T) {
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	if c := CollectionCost(col); c != testkit.TestPasswordCost {
		t.Fatalf("users cost = %d, want %d", c, testkit.TestPasswordCost)
	}
	pool := NewPool(config.Default())
	ctx := context.Background()

	rec := newUser(t, col, "1")
	if err := pool.SetPassword(ctx, rec, testPassword); err != nil {
		t.Fatal(err)
	}
	hash := rec.GetString(core.FieldNamePassword + ":hash")
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != testkit.TestPasswordCost {
		t.Fatalf("hash %q: cost %d, err %v", hash, cost, err)
	}
	if !rec.ValidatePassword(testPassword) {
		t.Fatal("PocketBase does not accept the hash")
	}
	if err := app.Save(rec); err != nil {
		t.Fatal(err)
	}

	// Reload: the stored hash is compared.
	stored, err := app.FindRecordById("users", rec.Id)
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := pool.Verify(ctx, stored, testPassword)
	if err != nil || !ok || rehash {
		t.Errorf("right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	ok, rehash, err = pool.Verify(ctx, stored, testPassword[:len(testPassword)-1])
	if err != nil || ok || rehash {
		t.Errorf("wrong password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	ok, _, err = pool.Verify(ctx, stored, "")
	if err != nil || ok {
		t.Errorf("empty password: ok=%v err=%v", ok, err)
	}
}

func TestSeventyOneBytesAreAllSignificant(t *testing.T) {
	app := testkit.NewApp(t)
	pool := NewPool(config.Default())
	ctx := context.Background()
	pw := "Zq7#kLm9" + strings.Repeat("é", 30) + "abc" // 8 + 60 + 3 bytes
	if len(pw) != 71 {
		t.Fatalf("fixture is %d bytes", len(pw))
	}
	rec := newUser(t, usersCollection(t, app), "1")
	if err := pool.SetPassword(ctx, rec, pw); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := pool.Verify(ctx, rec, pw); !ok {
		t.Error("71-byte password rejected")
	}
	if ok, _, _ := pool.Verify(ctx, rec, pw[:70]); ok {
		t.Error("first 70 bytes of a 71-byte password accepted")
	}
	// bcrypt cuts keys at 72 bytes with its NUL: without the length check these would match.
	for _, longer := range []string{pw + "\x00", pw + "\x00anything", pw + "x"} {
		if ok, rehash, err := pool.Verify(ctx, rec, longer); ok || rehash || err != nil {
			t.Errorf("Verify(%q...) = %v, %v, %v; want a wrong password", longer[60:], ok, rehash, err)
		}
	}
}

func TestSetPasswordTooLongForBcrypt(t *testing.T) {
	app := testkit.NewApp(t)
	rec := newUser(t, usersCollection(t, app), "1")
	err := NewPool(config.Default()).SetPassword(context.Background(), rec, string(make([]byte, 73)))
	if !errors.Is(err, bcrypt.ErrPasswordTooLong) {
		t.Errorf("err = %v, want ErrPasswordTooLong", err)
	}
}

func TestNeedsRehashWhenCostDiffers(t *testing.T) {
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	pool := NewPool(config.Default())
	ctx := context.Background()

	rec := newUser(t, col, "1")
	old, err := bcrypt.GenerateFromPassword([]byte(testPassword), testkit.TestPasswordCost+1)
	if err != nil {
		t.Fatal(err)
	}
	rec.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: string(old)}) // stored at another cost
	if err := app.Save(rec); err != nil {
		t.Fatal(err)
	}
	stored, err := app.FindRecordById("users", rec.Id)
	if err != nil {
		t.Fatal(err)
	}

	ok, rehash, err := pool.Verify(ctx, stored, testPassword)
	if err != nil || !ok || !rehash {
		t.Fatalf("old-cost hash: ok=%v rehash=%v err=%v, want ok and rehash", ok, rehash, err)
	}
	// A wrong password never asks for a re-hash.
	if ok, rehash, _ := pool.Verify(ctx, stored, "nope-nope-nope"); ok || rehash {
		t.Errorf("wrong password: ok=%v rehash=%v", ok, rehash)
	}

	// The caller re-hashes after the successful login.
	if err := pool.SetPassword(ctx, stored, testPassword); err != nil {
		t.Fatal(err)
	}
	if err := app.Save(stored); err != nil {
		t.Fatal(err)
	}
	again, _ := app.FindRecordById("users", rec.Id)
	ok, rehash, err = pool.Verify(ctx, again, testPassword)
	if err != nil || !ok || rehash {
		t.Errorf("after re-hash: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
}

func TestVerifyWithoutHash(t *testing.T) {
	app := testkit.NewApp(t)
	rec := newUser(t, usersCollection(t, app), "1")
	ok, rehash, err := NewPool(config.Default()).Verify(context.Background(), rec, testPassword)
	if err != nil || ok || rehash {
		t.Errorf("no hash: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
}

func TestNoPasswordField(t *testing.T) {
	col := core.NewBaseCollection("things")
	pool := NewPool(config.Default())
	if err := pool.SetPassword(context.Background(), core.NewRecord(col), testPassword); !errors.Is(err, ErrNoPasswordField) {
		t.Errorf("SetPassword err = %v", err)
	}
	if err := pool.VerifyDummy(context.Background(), col, testPassword); !errors.Is(err, ErrNoPasswordField) {
		t.Errorf("VerifyDummy err = %v", err)
	}
}

func assertTooManyRequests(t *testing.T, err error) {
	t.Helper()
	var apiErr *apikit.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *apikit.Error", err)
	}
	if apiErr.Status != http.StatusTooManyRequests || apiErr.Code != apikit.CodeTooManyRequests ||
		apiErr.Detail != "Too many requests. Try again in 5 seconds." ||
		apiErr.Header.Get("Retry-After") != "5" {
		t.Errorf("got %d %s %q Retry-After=%q", apiErr.Status, apiErr.Code, apiErr.Detail, apiErr.Header.Get("Retry-After"))
	}
}

// TestPoolBusyAnswers429: with one slot and a 200 ms wait, an operation that cannot start while
// a slow one holds the slot gets the 429 after about 200 ms; the slow one succeeds.
func TestPoolBusyAnswers429(t *testing.T) {
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	pool := NewPool(poolConfig(1, 200*time.Millisecond))
	ctx := context.Background()

	// A hash of a high cost keeps the first comparison busy well beyond 200 ms (~1 s).
	slow := newUser(t, col, "slow")
	slow.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: slowHash})

	type result struct {
		ok, rehash bool
		err        error
		done       time.Time
	}
	first := make(chan result, 1)
	go func() {
		ok, rehash, err := pool.Verify(ctx, slow, testPassword)
		first <- result{ok, rehash, err, time.Now()}
	}()
	// Wait until the first operation holds the slot.
	for deadline := time.Now().Add(5 * time.Second); len(pool.slots) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("first operation never took the slot")
		}
		time.Sleep(time.Millisecond)
	}

	// Three operations of each kind start together while the slot is held: all are refused
	// after about 200 ms.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	ends := make([]time.Time, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs[0] = pool.VerifyDummy(ctx, col, "whatever-password")
		ends[0] = time.Now()
	}()
	go func() {
		defer wg.Done()
		errs[1] = pool.SetPassword(ctx, newUser(t, col, "2"), testPassword)
		ends[1] = time.Now()
	}()
	go func() {
		defer wg.Done()
		_, _, errs[2] = pool.Verify(ctx, newUser(t, col, "3"), testPassword)
		ends[2] = time.Now()
	}()
	wg.Wait()
	var refused time.Time
	for i, err := range errs {
		assertTooManyRequests(t, err)
		if d := ends[i].Sub(start); d < 190*time.Millisecond || d > 2*time.Second {
			t.Errorf("operation %d refused after %v, want about 200ms", i, d)
		}
		if ends[i].After(refused) {
			refused = ends[i]
		}
	}

	r := <-first
	if r.err != nil || !r.ok || !r.rehash {
		t.Errorf("first operation: ok=%v rehash=%v err=%v", r.ok, r.rehash, r.err)
	}
	if !r.done.After(refused) {
		t.Error("the first operation ended before the others were refused; the test proves nothing")
	}

	// The slot is free again.
	if err := pool.VerifyDummy(ctx, col, "whatever-password"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestPoolCancelledContext(t *testing.T) {
	pool := NewPool(poolConfig(1, 5*time.Second))
	release, err := pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = pool.VerifyDummyCost(ctx, bcrypt.MinCost, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v after the context ended", d)
	}
}

func TestPoolWaitsForASlot(t *testing.T) {
	// Many operations, two slots, a long wait: all succeed, at most two at once.
	pool := NewPool(poolConfig(2, 10*time.Second))
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	stop := make(chan struct{})
	maxSeen := 0
	var mu sync.Mutex
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			maxSeen = max(maxSeen, len(pool.slots))
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pool.VerifyDummyCost(ctx, 8, "x")
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if maxSeen > 2 {
		t.Errorf("%d operations at once, want <= 2", maxSeen)
	}
}

func TestVerifyDummyUsesTheCollectionCost(t *testing.T) {
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	pool := NewPool(config.Default())
	if err := pool.VerifyDummy(context.Background(), col, testPassword); err != nil {
		t.Fatal(err)
	}
	d := pool.dummies[testkit.TestPasswordCost]
	if d == nil {
		t.Fatalf("no dummy hash cached for cost %d: %v", testkit.TestPasswordCost, pool.dummies)
	}
	if cost, err := bcrypt.Cost(d.hash); err != nil || cost != testkit.TestPasswordCost {
		t.Errorf("dummy hash cost %d, err %v", cost, err)
	}
	// Cached: the same hash the next time.
	first := string(d.hash)
	_ = pool.VerifyDummy(context.Background(), col, "other")
	if string(pool.dummies[testkit.TestPasswordCost].hash) != first {
		t.Error("dummy hash regenerated")
	}
	if err := pool.VerifyDummyCost(context.Background(), 99, "x"); err == nil {
		t.Error("cost 99 accepted")
	}
}

// TestVerifyDummyTakesAsLongAsVerify compares median timings at a cost where bcrypt dominates.
func TestVerifyDummyTakesAsLongAsVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	app := testkit.NewApp(t)
	col := usersCollection(t, app) // a fresh copy: changing its cost touches no other test
	col.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField).Cost = 9
	pool := NewPool(config.Default())
	ctx := context.Background()

	rec := newUser(t, col, "1")
	if err := pool.SetPassword(ctx, rec, testPassword); err != nil {
		t.Fatal(err)
	}
	_ = pool.VerifyDummy(ctx, col, "warm-up") // generates the cached dummy hash

	// Interleaved, so that a change of load on the machine hits both series alike.
	const n = 9
	var reals, dummies []time.Duration
	for range n {
		start := time.Now()
		if ok, _, err := pool.Verify(ctx, rec, "wrong-password"); ok || err != nil {
			t.Errorf("ok=%v err=%v", ok, err)
		}
		reals = append(reals, time.Since(start))
		start = time.Now()
		if err := pool.VerifyDummy(ctx, col, "wrong-password"); err != nil {
			t.Error(err)
		}
		dummies = append(dummies, time.Since(start))
	}
	median := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[n/2]
	}
	real, dummy := median(reals), median(dummies)
	t.Logf("median Verify %v, VerifyDummy %v", real, dummy)
	if dummy < real/2 || dummy > real*2 {
		t.Errorf("VerifyDummy %v vs Verify %v: not comparable", dummy, real)
	}
}

// A request that already waited (captcha.Attempts) before asking for a slot gets only the rest
// of the pool's wait: the 429 comes HashWait after it began waiting, not after it reached the
// pool; a free slot is still taken at once however long it waited.
func TestPoolWaitCountsFromWaitingSince(t *testing.T) {
	pool := NewPool(poolConfig(1, time.Second))
	release, err := pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := WaitingSince(context.Background(), time.Now().Add(-800*time.Millisecond))
	start := time.Now()
	err = pool.VerifyDummyCost(ctx, bcrypt.MinCost, "x")
	assertTooManyRequests(t, err)
	if d := time.Since(start); d < 150*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("refused after %v, want about 200ms (1 s budget, 800 ms of it spent before)", d)
	}
	release()

	spent := WaitingSince(context.Background(), time.Now().Add(-time.Hour))
	if err := pool.VerifyDummyCost(spent, bcrypt.MinCost, "x"); err != nil {
		t.Errorf("a free slot after the budget is spent: %v", err)
	}
}
