package prepared

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// The write epoch lets hot paths cache what they read (the caller's record, its live session,
// its assignments) without ever serving stale data after a change: every write to the data
// database bumps the epoch, and a cached value is used only while the epoch is unchanged.
//
// Bumps come from dbx's ExecLogFunc (every builder and model write, at exec time), from Exec
// here, and after commit from PocketBase's model after-success hooks (deferred until the
// surrounding transaction commits). A value may be stored only when the epoch did not move
// during its read and no write happened in the quiet period before it, so a reader racing a
// transaction between its last statement and its commit does not store what it saw.
type epochState struct {
	n         atomic.Uint64
	lastWrite atomic.Int64 // unix nanoseconds of the latest bump
	watching  atomic.Bool  // WatchWrites installed: without it nothing may be cached
}

const epochKey = "gatehouse.prepared.epoch"

// quietPeriod: a read is cacheable only when no write happened this long before it.
const quietPeriod = time.Second

func epochOf(app core.App) *epochState {
	return app.Store().GetOrSet(epochKey, func() any { return &epochState{} }).(*epochState)
}

func bump(app core.App) {
	e := epochOf(app)
	e.n.Add(1)
	e.lastWrite.Store(time.Now().UnixNano())
}

// Epoch is the current write epoch, to read before a cacheable read.
func Epoch(app core.App) uint64 { return epochOf(app).n.Load() }

// Cacheable reports whether a value read since epoch `before` may be stored: the epoch did not
// move and no write happened in the quiet period before the read.
func Cacheable(app core.App, before uint64) bool {
	e := epochOf(app)
	return e.watching.Load() && e.n.Load() == before && time.Since(time.Unix(0, e.lastWrite.Load())) > quietPeriod
}

// WatchWrites installs the bumps on app, before or after bootstrap; further calls do nothing.
func WatchWrites(app core.App) {
	if !epochOf(app).watching.CompareAndSwap(false, true) {
		return
	}
	install := func() {
		for _, b := range []dbx.Builder{app.NonconcurrentDB(), app.ConcurrentDB()} {
			db, ok := b.(*dbx.DB)
			if !ok {
				continue
			}
			prev := db.ExecLogFunc
			db.ExecLogFunc = func(ctx context.Context, t time.Duration, q string, res sql.Result, err error) {
				bump(app)
				if prev != nil {
					prev(ctx, t, q, res, err)
				}
			}
		}
	}
	if app.IsBootstrapped() {
		install()
		bump(app)
	}
	// (re)install whenever the databases are (re)opened, e.g. after a backup restore
	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{Id: "gatehouseWriteEpoch", Func: func(e *core.BootstrapEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		install()
		bump(app)
		return nil
	}})
	after := func(e *core.ModelEvent) error {
		bump(app)
		return e.Next()
	}
	app.OnModelAfterCreateSuccess().BindFunc(after)
	app.OnModelAfterUpdateSuccess().BindFunc(after)
	app.OnModelAfterDeleteSuccess().BindFunc(after)
}

// Snapshot is a value cached under the write epoch.
type Snapshot[T any] struct {
	Value  T
	epoch  uint64
	stored time.Time
}

// maxAge bounds how long a snapshot is trusted even with no write seen by this process (a
// write by another process, e.g. a CLI command, does not bump this process's epoch).
const maxAge = 5 * time.Second

// NewSnapshot wraps a value read after epoch `before`; ok is false when it must not be stored.
func NewSnapshot[T any](app core.App, before uint64, v T) (*Snapshot[T], bool) {
	if !Cacheable(app, before) {
		return nil, false
	}
	return &Snapshot[T]{Value: v, epoch: before, stored: time.Now()}, true
}

// Fresh reports whether the snapshot may still be used.
func (s *Snapshot[T]) Fresh(app core.App) bool {
	return s != nil && s.epoch == Epoch(app) && time.Since(s.stored) < maxAge
}

// SnapshotCache is a concurrent, size-bounded map of snapshots: a value is returned only while
// its snapshot is fresh. It starts over when it grows past maxSnapshots entries.
type SnapshotCache[T any] struct {
	mu sync.RWMutex
	m  map[string]*Snapshot[T]
}

const maxSnapshots = 20000

// Get returns the value stored under key if its snapshot is still fresh.
func (c *SnapshotCache[T]) Get(app core.App, key string) (T, bool) {
	c.mu.RLock()
	s := c.m[key]
	c.mu.RUnlock()
	if s.Fresh(app) {
		return s.Value, true
	}
	var zero T
	return zero, false
}

// Put stores v, read after epoch `before`, when it may be cached (see Cacheable); never inside
// a transaction (a transaction's reads may include its own uncommitted writes).
func (c *SnapshotCache[T]) Put(app core.App, key string, before uint64, v T) {
	if app.IsTransactional() {
		return
	}
	s, ok := NewSnapshot(app, before, v)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxSnapshots {
		c.m = make(map[string]*Snapshot[T], 1024)
	}
	c.m[key] = s
}
