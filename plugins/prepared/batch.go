package prepared

import (
	"errors"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/writeepoch"
)

// Statement is one write of a batch: SQL with {:name} parameters and their values.
type Statement struct {
	Query  string
	Params dbx.Params
}

// ExecBatch runs writes, in order, in one transaction on the write connection (prepared
// statements), and returns the number of rows each one changed. One commit for many small
// writes: PocketBase has a single write connection, and under concurrent load the time each
// autocommit write holds it (its commit, and waiting for a processor while holding it)
// serializes every writer. On any error nothing of the batch is kept.
//
// No RETURNING clauses here: SQLite opens a temporary b-tree (pager, page cache, allocations)
// for the rows of every execution of one, which cost the refresh rotation a fifth of its
// throughput (bench/README.md, "Tricks: A/B").
func ExecBatch(app core.App, stmts []Statement) ([]int64, error) {
	if app.IsTransactional() {
		return nil, errors.New("prepared: batch inside a transaction")
	}
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return nil, errors.New("prepared: unexpected database builder")
	}
	sqlDB := db.DB()
	prepared := make([]*statement, len(stmts))
	args := make([][]any, len(stmts))
	for i, s := range stmts {
		st, err := writeCacheOf(app).stmt(sqlDB, s.Query)
		if err != nil {
			return nil, err
		}
		if args[i], err = st.args(s.Params); err != nil {
			return nil, err
		}
		prepared[i] = st
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(stmts))
	for i, st := range prepared {
		writeepoch.Bump(app, writeepoch.TableOfWrite(stmts[i].Query)) // at exec time, as dbx's ExecLogFunc does
		res, err := tx.Stmt(st.stmt).Exec(args[i]...)
		if err == nil {
			out[i], err = res.RowsAffected()
		}
		if err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	err = tx.Commit()
	for _, s := range stmts {
		writeepoch.Bump(app, writeepoch.TableOfWrite(s.Query))
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Batcher groups concurrent writes into transactions (ExecBatch): a caller's write is queued,
// and one goroutine runs whatever is queued as one batch, then the next, until the queue is
// empty. No write waits for a batch to fill: a batch is what arrived while the previous one
// ran. A failed batch is retried statement by statement, so one caller's error is never
// another's.
type Batcher struct {
	mu      sync.Mutex
	pending []*batchItem
	active  bool
}

type batchItem struct {
	stmt     Statement
	affected int64
	err      error
	done     chan struct{}
}

// maxBatch bounds one transaction.
const maxBatch = 64

// Exec runs stmt in the next batch and returns the number of rows it changed (inside a
// transaction app: at once, in that transaction).
func (b *Batcher) Exec(app core.App, stmt Statement) (int64, error) {
	if app.IsTransactional() {
		return Exec(app, stmt.Query, stmt.Params)
	}
	it := &batchItem{stmt: stmt, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, it)
	if !b.active {
		b.active = true
		go b.run(app)
	}
	b.mu.Unlock()
	<-it.done
	return it.affected, it.err
}

func (b *Batcher) run(app core.App) {
	for {
		b.mu.Lock()
		batch := b.pending
		if len(batch) > maxBatch {
			batch = batch[:maxBatch]
		}
		b.pending = b.pending[len(batch):]
		if len(batch) == 0 {
			b.active = false
			b.pending = nil
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.execute(app, batch)
	}
}

func (b *Batcher) execute(app core.App, batch []*batchItem) {
	defer func() {
		for _, it := range batch {
			close(it.done)
		}
	}()
	if len(batch) > 1 {
		stmts := make([]Statement, len(batch))
		for i, it := range batch {
			stmts[i] = it.stmt
		}
		if out, err := ExecBatch(app, stmts); err == nil {
			for i, it := range batch {
				it.affected = out[i]
			}
			return
		}
	}
	for _, it := range batch {
		it.affected, it.err = Exec(app, it.stmt.Query, it.stmt.Params)
	}
}
