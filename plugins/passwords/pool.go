package passwords

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
)

// RetryAfterSeconds is the Retry-After of the 429 answered when no bcrypt slot frees up in time
// (§7.1, §7.2).
const RetryAfterSeconds = 5

// BcryptMaxBytes is the longest password a bcrypt hash can stand for (§1.13 rule 3, §5.1.2):
// bcrypt keys are at most 72 bytes including the NUL it appends, so a longer password would be
// cut and P + "\x00…" would verify as P. Verify never matches a longer password.
const BcryptMaxBytes = 71

// ErrNoPasswordField is returned for a record whose collection has no "password" field.
var ErrNoPasswordField = errors.New("passwords: collection has no password field")

// Pool runs bcrypt operations with bounded concurrency: at most Config.HashConcurrency at once,
// a caller waiting at most Config.HashWait for a slot (§7.2). A caller that times out does no
// bcrypt work and gets apikit.TooManyRequests(5). One Pool must be shared by every endpoint of
// an app (server.Register builds it and passes it to the plugins), or the bound does not hold.
type Pool struct {
	slots    chan struct{}
	wait     time.Duration
	pacer    pacer
	pacedFor time.Duration // PacedLatency

	mu      sync.Mutex
	dummies map[int]*dummyHash    // by bcrypt cost
	took    map[int]time.Duration // by bcrypt cost: recent duration of one comparison (average)

	legacy legacyLimit // memory bound of imported (Django) hash verifications
}

type dummyHash struct {
	once sync.Once
	hash []byte
	err  error
}

// NewPool returns a pool configured by cfg (config.Default() when nil).
func NewPool(cfg *config.Config) *Pool {
	if cfg == nil {
		cfg = config.Default()
	}
	n := cfg.HashConcurrency
	if n < 1 {
		n = 1
	}
	wait := cfg.HashWait
	if wait < 0 {
		wait = 0
	}
	return &Pool{
		slots:    make(chan struct{}, n),
		wait:     wait,
		pacer:    pacer{rate: HashShareUnderLoad * float64(config.Processors())},
		pacedFor: PacedLatency,
		dummies:  map[int]*dummyHash{},
		took:     map[int]time.Duration{},
		legacy:   newLegacyLimit(LegacyMemoryBudgetKiB),
	}
}

// PacedLatency bounds how long pacing may stretch a request: a comparison is paced only while
// its request, counted from when it began waiting for a slot, is younger than this; past it the
// comparison runs at full speed. With the 5 s slot wait every answer then comes within about
// PacedLatency + one comparison (~8 s on 2 cores under a storm), inside §8.4's 10 s. Without
// it, a login admitted near the end of its wait could be paced past 10 s when the OS also
// slows the paced chunks down (seen once in a 250-connection storm: one client timeout).
const PacedLatency = 7 * time.Second

// HashShareUnderLoad is the share of the CPUs that password comparisons may use together while
// authenticated requests contend for the CPUs (Pool.YieldTo); otherwise they use every CPU. A
// login storm then cannot starve token validation: on 2 cores, hashing gets half a core and
// the rest of the logins wait for a slot (and get the 429 of §7.2 after 5 s).
const HashShareUnderLoad = 0.25

// YieldTo makes the pool's comparisons yield the CPU while busy() reports true (the server
// passes "authenticated requests are contending for the CPUs"): then all of them together use
// at most HashShareUnderLoad of the CPUs, paced every ~0.3 ms of work.
func (p *Pool) YieldTo(busy func() bool) { p.pacer.busy.Store(&busy) }

// pacer spreads the pool's hashing over time while busy() holds: every chunk of work takes a
// slot of spent/rate on one timeline shared by all comparisons, and its caller sleeps until its
// slot has passed.
type pacer struct {
	busy atomic.Pointer[func() bool]
	rate float64 // CPU-seconds of hashing per second while busy

	mu   sync.Mutex
	next time.Time // end of the timeline's last slot
}

// paceSince returns the pacing callback of one comparison whose request began waiting for a
// slot at began (PacedLatency).
func (p *Pool) paceSince(began time.Time) func(time.Duration) {
	until := began.Add(p.pacedFor)
	return func(spent time.Duration) { p.pacer.pace(spent, until) }
}

// pace is called by compareHash after each chunk of spent work; it sleeps only until the
// comparison's deadline (until) and not at all once that has passed. The chunk keeps its slot on
// the timeline either way, so other comparisons still see the work done.
func (p *pacer) pace(spent time.Duration, until time.Time) {
	busy := p.busy.Load()
	if busy == nil || !(*busy)() || p.rate <= 0 {
		return
	}
	p.mu.Lock()
	now := time.Now()
	start := now.Add(-spent) // the chunk's slot began when the chunk did, unless the timeline is further
	if p.next.After(start) {
		start = p.next
	}
	p.next = start.Add(time.Duration(float64(spent) / p.rate))
	wait := p.next.Sub(now)
	p.mu.Unlock()
	if left := until.Sub(now); wait > left {
		wait = left
	}
	if wait > 0 {
		time.Sleep(wait)
	}
}

// acquire takes a slot, waiting at most p.wait counted from when the request began waiting
// (WaitingSince; now when unset). The returned func releases it.
func (p *Pool) acquire(ctx context.Context) (func(), error) {
	return p.acquireWithin(ctx, p.wait-time.Since(waitingSince(ctx, time.Now())))
}

type waitingSinceKey struct{}

// WaitingSince marks ctx with the time its request began waiting to compare a password. A
// caller that waits before the pool — captcha.Attempts holds an attempt while others on the
// same account are in flight — passes that time, so that the whole wait before bcrypt starts
// stays within Config.HashWait (then the 429 of §7.2: "after about 5 s, never later than 10 s",
// §8.4 item 84), and pacing (PacedLatency) counts from then too.
func WaitingSince(ctx context.Context, began time.Time) context.Context {
	return context.WithValue(ctx, waitingSinceKey{}, began)
}

// waitingSince is the time WaitingSince put in ctx, or def.
func waitingSince(ctx context.Context, def time.Time) time.Time {
	if ctx != nil {
		if t, ok := ctx.Value(waitingSinceKey{}).(time.Time); ok {
			return t
		}
	}
	return def
}

// Wait is the longest a request waits before its bcrypt operation starts (Config.HashWait).
func (p *Pool) Wait() time.Duration { return p.wait }

// acquireWithin takes a slot, waiting at most wait.
func (p *Pool) acquireWithin(ctx context.Context, wait time.Duration) (func(), error) {
	if ctx == nil {
		ctx = context.Background()
	}
	release := func() { <-p.slots }

	// Fast path: a free slot, no timer.
	select {
	case p.slots <- struct{}{}:
		return release, nil
	default:
	}

	if wait < 0 {
		wait = 0
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, apikit.TooManyRequests(RetryAfterSeconds)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CollectionCost is the bcrypt cost of the collection's "password" field (bcrypt.DefaultCost when
// unset, as PocketBase hashes it); 0 when the collection has no password field.
func CollectionCost(col *core.Collection) int {
	if col == nil {
		return 0
	}
	pf, ok := col.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField)
	if !ok {
		return 0
	}
	if pf.Cost <= 0 {
		return bcrypt.DefaultCost
	}
	return pf.Cost
}

// SetPassword sets record's password inside a slot: PocketBase's record.SetPassword
// bcrypt-hashes it at once with the collection's cost. The caller saves the record. An error
// is the 429 of apikit.TooManyRequests(5), the context's error, or a hashing error (the
// password is then not set).
func (p *Pool) SetPassword(ctx context.Context, record *core.Record, plain string) error {
	if CollectionCost(record.Collection()) == 0 {
		return ErrNoPasswordField
	}
	release, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()

	record.SetPassword(plain)
	if pv, ok := record.GetRaw(core.FieldNamePassword).(*core.PasswordFieldValue); ok && pv.LastError != nil {
		return fmt.Errorf("passwords: hash: %w", pv.LastError)
	}
	if record.GetString(LegacyHashField) != "" {
		// The re-hash of an imported account: its old password may predate the policy (§1.13
		// applies when a password is set, not to hashes brought over), so PocketBase's own
		// length check of the plain text is not applied to it; only the hash is kept.
		if pv, ok := record.GetRaw(core.FieldNamePassword).(*core.PasswordFieldValue); ok {
			record.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: pv.Hash})
		}
		record.Set(LegacyHashField, "") // the hooks also clear it on save, however the hash is set
	}
	return nil
}

// Verify compares plain with record's stored hash inside a slot. ok is false for a wrong
// password (err is then nil). needsRehash (only when ok) reports that the stored hash's cost
// differs from the collection's configured cost; the caller then re-hashes with SetPassword
// and saves (§1.13, last paragraph). A record without a usable hash is compared against the
// dummy hash, so the call costs the same, and is never ok.
//
// A record imported from the original service (LegacyHashField set) is checked against its
// Django hash instead, never against its bcrypt field (a random unusable hash until then);
// when it matches, needsRehash is true, so the caller's SetPassword + save stores bcrypt and
// clears the Django hash (see verifyLegacy).
func (p *Pool) Verify(ctx context.Context, record *core.Record, plain string) (ok bool, needsRehash bool, err error) {
	cost := CollectionCost(record.Collection())
	if cost == 0 {
		return false, false, ErrNoPasswordField
	}
	if legacy := record.GetString(LegacyHashField); legacy != "" {
		return p.verifyLegacy(ctx, cost, legacy, plain)
	}
	hash := []byte(record.GetString(core.FieldNamePassword + ":hash"))
	hashCost, costErr := bcrypt.Cost(hash)
	if costErr != nil || len(plain) > BcryptMaxBytes {
		// No (valid) hash, or a password no hash can be of (bcrypt reads at most 72 key bytes
		// including the terminating NUL, so P+"\x00…" would match P): spend the same time, fail.
		return false, false, p.verifyDummyCost(ctx, cost, plain)
	}

	began := waitingSince(ctx, time.Now())
	release, err := p.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()

	start := time.Now()
	err = compareHash(hash, []byte(plain), p.paceSince(began))
	p.noteBcrypt(hashCost, time.Since(start))
	if err != nil {
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		return false, false, fmt.Errorf("passwords: compare: %w", err)
	}
	return true, hashCost != cost, nil
}

// VerifyDummy spends the time of a real Verify for an account of col — one comparison against a
// fixed hash of the collection's cost — for unknown accounts (enumeration safety, §8.4 st. 27).
// Its error is the same as Verify's (429 when no slot frees up in time); the result is always
// "wrong password".
func (p *Pool) VerifyDummy(ctx context.Context, col *core.Collection, plain string) error {
	cost := CollectionCost(col)
	if cost == 0 {
		return ErrNoPasswordField
	}
	return p.verifyDummyCost(ctx, cost, plain)
}

// VerifyDummyCost is VerifyDummy for an explicit bcrypt cost.
func (p *Pool) VerifyDummyCost(ctx context.Context, cost int, plain string) error {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return fmt.Errorf("passwords: invalid bcrypt cost %d", cost)
	}
	return p.verifyDummyCost(ctx, cost, plain)
}

func (p *Pool) verifyDummyCost(ctx context.Context, cost int, plain string) error {
	began := waitingSince(ctx, time.Now())
	release, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()

	hash, err := p.dummyHash(cost)
	if err != nil {
		return err
	}
	// The result is irrelevant (a random secret never matches); only the work counts.
	start := time.Now()
	_ = compareHash(hash, []byte(plain), p.paceSince(began))
	p.noteBcrypt(cost, time.Since(start))
	return nil
}

// dummyHash returns the cached hash of a random secret at cost, generating it on first use
// (the caller holds a slot, so that one-off bcrypt run is bounded too).
func (p *Pool) dummyHash(cost int) ([]byte, error) {
	p.mu.Lock()
	d, ok := p.dummies[cost]
	if !ok {
		d = &dummyHash{}
		p.dummies[cost] = d
	}
	p.mu.Unlock()

	d.once.Do(func() {
		secret := make([]byte, 24)
		if _, err := rand.Read(secret); err != nil {
			d.err = err
			return
		}
		d.hash, d.err = bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(secret)), cost)
	})
	if d.err != nil {
		return nil, fmt.Errorf("passwords: dummy hash: %w", d.err)
	}
	return d.hash, nil
}
