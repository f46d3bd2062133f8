package passwords

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"gatehouse/plugins/apikit"
)

// LegacyMemoryBudgetKiB bounds the memory of the imported-hash verifications running at once
// (argon2's m, in KiB): 100 MiB, so at most one verification of Django's default argon2
// (m = 102400 KiB) runs at a time, and e.g. 200 of the old m = 512 KiB ones (the bcrypt pool
// bounds those further). A hash asking for more than the budget runs alone. With the service's
// own ~40 MB this keeps a burst of first logins of argon2 accounts under ~150 MB of RSS: one
// 100 MiB block is allocated, collected and returned to the OS before the next verification starts.
const LegacyMemoryBudgetKiB = 100 * 1024

// legacyLimit is a weighted semaphore over LegacyMemoryBudgetKiB (FIFO: a big hash is not
// starved by small ones).
type legacyLimit struct {
	sem    *semaphore.Weighted
	budget int64
	inUse  atomic.Int64 // verifications holding memory
	held   atomic.Int64 // KiB held by those verifications
	peak   atomic.Int64 // most verifications that held memory at once (tests)
}

// Releasing a verification's block (see releaseBlock): blocks from releaseWaitKiB up are checked
// to have left the heap, with at most releaseTries collections a millisecond apart.
const (
	releaseWaitKiB = 16 * 1024
	releaseTries   = 100
)

// releaseBlock collects a verification's argon2 block (kib KiB) and returns its pages to the OS
// before the next verification may allocate. A forced GC alone is not enough: small allocations
// made meanwhile can take the first pages of the freed range, the next block is then placed
// elsewhere, and the old pages stay resident (seen: 210 MB of RSS under CPU contention), hence
// FreeOSMemory. And one collection is not always enough either: x/crypto's argon2 signals each
// pass done from its p worker goroutines before they return, and a worker that has not returned
// yet still reaches the block, so a collection at that moment keeps it; the next block then comes
// on top (247 MB in CI; 3 in 30 rounds of Django's m = 100 MiB, p = 8 with four busy goroutines
// on two cores). So for a big block the collection is repeated, a millisecond apart, until the
// heap marked live is smaller than all the blocks still held (this one included): with the
// service's own heap smaller than the block, that means the block is gone. Each collection costs
// a few ms against ~300 ms of argon2.
func (l *legacyLimit) releaseBlock(kib int64) {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for try := 1; ; try++ {
		debug.FreeOSMemory()
		if kib < releaseWaitKiB || try == releaseTries {
			return
		}
		metrics.Read(live)
		if live[0].Value.Uint64() < uint64(l.held.Load())*1024 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func newLegacyLimit(budgetKiB int64) legacyLimit {
	return legacyLimit{sem: semaphore.NewWeighted(budgetKiB), budget: budgetKiB}
}

// verifyLegacy checks plain against an imported Django hash inside the pool's bounds: first the
// memory budget (argon2 only), then a bcrypt slot, the two waits together at most the pool's
// wait (then the 429 of §7.2, like any login). An unusable or unsupported hash costs one dummy
// bcrypt comparison and fails. When the check took less than a bcrypt comparison of the
// collection's cost usually takes, the answer is delayed by the difference, so an imported
// account that has not logged in yet is not told apart from an unknown email by a faster
// failure (argon2 at Django's defaults takes about as long as bcrypt 12 here; pbkdf2 and the
// bcrypt kinds are padded up).
func (p *Pool) verifyLegacy(ctx context.Context, cost int, encoded, plain string) (ok, needsRehash bool, err error) {
	h, perr := ParseDjangoHash(encoded)
	if perr != nil {
		return false, false, p.verifyDummyCost(ctx, cost, plain)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	began := waitingSince(ctx, time.Now())
	deadline := began.Add(p.wait)

	var weight int64
	if mem := int64(h.MemoryKiB()); mem > 0 {
		weight = min(mem, p.legacy.budget)
		wctx, cancel := context.WithDeadline(ctx, deadline)
		err := p.legacy.sem.Acquire(wctx, weight)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return false, false, ctx.Err()
			}
			return false, false, apikit.TooManyRequests(RetryAfterSeconds)
		}
		p.legacy.held.Add(weight)
		n := p.legacy.inUse.Add(1)
		for old := p.legacy.peak.Load(); n > old && !p.legacy.peak.CompareAndSwap(old, n); old = p.legacy.peak.Load() {
		}
	}
	releaseMem := func() {
		if weight == 0 {
			return
		}
		p.legacy.releaseBlock(int64(h.MemoryKiB()))
		p.legacy.held.Add(-weight)
		p.legacy.inUse.Add(-1)
		p.legacy.sem.Release(weight)
	}

	release, err := p.acquireWithin(ctx, time.Until(deadline))
	if err != nil {
		releaseMem()
		return false, false, err
	}
	start := time.Now()
	ok = h.Verify(plain, p.paceSince(began))
	release()
	releaseMem()
	took := time.Since(start) // with the release: the padding below covers it too

	if pad := p.bcryptTook(cost) - took; pad > 0 {
		t := time.NewTimer(pad)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	// A password bcrypt cannot hold (over 71 bytes: Django has no such limit) keeps its
	// Django hash: re-hashing it would fail the login.
	return ok, ok && len(plain) <= BcryptMaxBytes, nil
}

// noteBcrypt records how long one bcrypt comparison at cost took (a moving average).
func (p *Pool) noteBcrypt(cost int, d time.Duration) {
	p.mu.Lock()
	if old, ok := p.took[cost]; ok {
		d = (old*3 + d) / 4
	}
	p.took[cost] = d
	p.mu.Unlock()
}

// bcryptTook is the recent duration of one bcrypt comparison at cost (0 before the first one).
func (p *Pool) bcryptTook(cost int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.took[cost]
}
