package passwords

import (
	"context"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"golang.org/x/crypto/bcrypt"
)

// While busy() holds, the pool's comparisons are spread out to the pacer's rate; otherwise
// they run flat out. The answer is the same either way.
func TestPoolPacesHashingWhileBusy(t *testing.T) {
	pool := NewPool(poolConfig(2, time.Second))
	pool.pacer.rate = 0.1 // 10 % of one CPU while busy
	busy := false
	pool.YieldTo(func() bool { return busy })

	col := core.NewBaseCollection("accounts")
	col.Fields.Add(&core.PasswordField{Name: core.FieldNamePassword, Cost: 8})
	rec := core.NewRecord(col)
	hash, err := bcrypt.GenerateFromPassword([]byte("violet-harbor-42"), 8)
	if err != nil {
		t.Fatal(err)
	}
	rec.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: string(hash)})

	verify := func() time.Duration {
		t.Helper()
		start := time.Now()
		ok, _, err := pool.Verify(context.Background(), rec, "violet-harbor-42")
		if err != nil || !ok {
			t.Fatalf("verify: %v %v", ok, err)
		}
		return time.Since(start)
	}
	// An unpaced comparison is measured as the fastest of three: on a shared machine a single
	// run can be stretched by other work, which would make the paced one look unpaced.
	fastest := func() time.Duration {
		t.Helper()
		best := verify()
		for range 2 {
			best = min(best, verify())
		}
		return best
	}
	free := fastest()
	busy = true
	paced := verify()
	if paced < 4*free {
		t.Fatalf("paced comparison took %v, unpaced %v: not spread out", paced, free)
	}
	busy = false
	if again := fastest(); again > paced/2 {
		t.Fatalf("after the load: %v (paced %v)", again, paced)
	}

	// Pacing never stretches a request past PacedLatency (counted from when it began waiting
	// for a slot): here the bound is already used up by the wait, so the comparison runs flat
	// out although busy() holds.
	busy = true
	pool.pacedFor = 150 * time.Millisecond
	release, err := pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release2, err := pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(200 * time.Millisecond); release(); release2() }()
	waited := verify() // waits ~200 ms for a slot, then runs unpaced
	if waited > 200*time.Millisecond+paced/2 {
		t.Fatalf("comparison past its pacing bound took %v (paced %v, unpaced %v)", waited, paced, free)
	}
	pool.pacedFor = PacedLatency
	if again := verify(); again < 4*free {
		t.Fatalf("within the bound: %v, not paced (unpaced %v)", again, free)
	}
}
