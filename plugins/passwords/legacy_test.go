package passwords

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

// djangoArgon2 encodes an argon2id hash as Django does (for the concurrency tests; the format
// itself is checked against Django's own hashes in django_test.go).
func djangoArgon2(plain string, mKiB, t uint32, p uint8) string {
	salt := []byte("somesaltsomesalt")
	sum := argon2.IDKey([]byte(plain), salt, t, mKiB, p, 16)
	return fmt.Sprintf("argon2$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", mKiB, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

// A record with a Django hash is verified against it, never against its bcrypt field; a match
// asks for the re-hash, and SetPassword clears the Django hash.
func TestVerifyUsesTheLegacyHash(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	pool := NewPool(config.Default())
	ctx := context.Background()

	r := newUser(t, col, "legacy")
	r.SetPassword(testPassword)                             // must NOT be accepted while a legacy hash is present
	r.Set(LegacyHashField, djangoArgon2("admin", 64, 1, 1)) // the original's seed passwords break today's policy
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := pool.Verify(ctx, r, testPassword); ok || rehash || err != nil {
		t.Fatalf("bcrypt field verified while a legacy hash is set: %v %v %v", ok, rehash, err)
	}
	if ok, rehash, err := pool.Verify(ctx, r, "wrong"); ok || rehash || err != nil {
		t.Fatalf("wrong password: %v %v %v", ok, rehash, err)
	}
	ok, rehash, err := pool.Verify(ctx, r, "admin")
	if !ok || !rehash || err != nil {
		t.Fatalf("right password: %v %v %v", ok, rehash, err)
	}
	if err := pool.SetPassword(ctx, r, "admin"); err != nil {
		t.Fatal(err)
	}
	if r.GetString(LegacyHashField) != "" {
		t.Fatal("SetPassword kept the legacy hash")
	}
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	stored, _ := app.FindRecordById("users", r.Id)
	if stored.GetString(LegacyHashField) != "" || !stored.ValidatePassword("admin") {
		t.Fatal("the re-hash was not stored")
	}
	if ok, rehash, err := pool.Verify(ctx, stored, "admin"); !ok || rehash || err != nil {
		t.Fatalf("after the re-hash: %v %v %v", ok, rehash, err)
	}

	// Unusable and unsupported hashes never match, whatever the bcrypt field holds.
	for _, legacy := range []string{"!unusable", "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3"} {
		u := newUser(t, col, "u"+fmt.Sprint(len(legacy)))
		u.SetPassword(testPassword)
		u.Set(LegacyHashField, legacy)
		if ok, _, err := pool.Verify(ctx, u, testPassword); ok || err != nil {
			t.Fatalf("%s: %v %v", legacy, ok, err)
		}
	}
}

// Burst: argon2 verifications released together never hold more memory than the budget,
// whatever the bcrypt pool allows.
func TestLegacyArgon2IsBoundedByMemory(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	for _, c := range []struct {
		mKiB     uint32
		wantPeak int64
	}{{1024, 1}, {256, 4}, {4096, 1}} { // 4096 > budget: runs alone
		pool := NewPool(poolConfig(16, 30*time.Second))
		pool.legacy = newLegacyLimit(1024)
		r := newUser(t, col, fmt.Sprint(c.mKiB))
		r.Set(LegacyHashField, djangoArgon2("secret", c.mKiB, 8, 1))
		const n = 12
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				plain := "secret"
				if i%2 == 1 {
					plain = "wrong"
				}
				ok, _, err := pool.Verify(context.Background(), r, plain)
				if err == nil && ok != (i%2 == 0) {
					err = fmt.Errorf("request %d: ok = %v", i, ok)
				}
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := pool.legacy.peak.Load(); got != c.wantPeak {
			t.Errorf("m=%d KiB: %d verifications held memory at once, want %d", c.mKiB, got, c.wantPeak)
		}
		if pool.legacy.inUse.Load() != 0 {
			t.Error("memory not released")
		}
	}
}

// Sequential argon2 verifications never hold two blocks: each one's block has left the heap
// when it returns, even while argon2's worker goroutines compete for the CPU with other work
// (one collection right after the hash kept the block in about 1 round in 10 that way). Not
// parallel: the heap measured is the test binary's, so no other test may allocate meanwhile.
func TestLegacyBlockLeavesTheHeapBeforeTheNextVerification(t *testing.T) {
	const mKiB = releaseWaitKiB
	pool := NewPool(poolConfig(4, 30*time.Second))
	encoded := djangoArgon2("secret", mKiB, 1, 8) // Django's p = 8: eight worker goroutines per pass
	stop := make(chan struct{})
	var busy sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		busy.Add(1)
		go func() {
			defer busy.Done()
			for sink := 0; ; sink++ {
				select {
				case <-stop:
					return
				default:
				}
				for range 100_000 {
					sink++
				}
			}
		}()
	}
	defer busy.Wait()
	defer close(stop)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for round := range 40 {
		ok, _, err := pool.verifyLegacy(context.Background(), testkit.TestPasswordCost, encoded, "secret")
		if !ok || err != nil {
			t.Fatalf("round %d: %v %v", round, ok, err)
		}
		metrics.Read(live)
		if got := live[0].Value.Uint64(); got >= mKiB*1024 {
			t.Fatalf("round %d: %d bytes live after the verification returned: its %d KiB block was kept", round, got, mKiB)
		}
	}
	if pool.legacy.held.Load() != 0 || pool.legacy.inUse.Load() != 0 {
		t.Fatal("memory not released")
	}
}

// A caller that cannot get memory within the pool's wait gets the 429 of §7.2 and does no work.
func TestLegacyMemoryWaitAnswers429(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	pool := NewPool(poolConfig(16, 20*time.Millisecond))
	pool.legacy = newLegacyLimit(4096)
	r := newUser(t, col, "w")
	r.Set(LegacyHashField, djangoArgon2("secret", 4096, 16, 1)) // ~100 ms each
	const n = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	oks, limited := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := pool.Verify(context.Background(), r, "secret")
			mu.Lock()
			defer mu.Unlock()
			var ae *apikit.Error
			switch {
			case err == nil && ok:
				oks++
			case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
				limited++
			default:
				t.Errorf("unexpected: %v %v", ok, err)
			}
		}()
	}
	wg.Wait()
	if oks < 1 || limited < 1 || oks+limited != n {
		t.Fatalf("ok %d, 429 %d", oks, limited)
	}
}

// A legacy check faster than bcrypt at the collection's cost is padded to bcrypt's duration,
// so its failure is not faster than an unknown email's.
func TestLegacyCheckIsPaddedToBcryptTime(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	col := usersCollection(t, app)
	pool := NewPool(config.Default())
	pool.noteBcrypt(CollectionCost(col), 300*time.Millisecond)
	r := newUser(t, col, "p")
	r.Set(LegacyHashField, "pbkdf2_sha256$1$seasalt$"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	began := time.Now()
	if ok, _, err := pool.Verify(context.Background(), r, "x"); ok || err != nil {
		t.Fatal(ok, err)
	}
	if took := time.Since(began); took < 290*time.Millisecond {
		t.Fatalf("legacy failure took %v, bcrypt takes 300ms", took)
	}
}
