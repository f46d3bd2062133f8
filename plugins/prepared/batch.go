package prepared

import (
	"errors"
	"gatehouse/plugins/writeepoch"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Statement is one write of a batch: SQL with {:name} parameters and their values.
type Statement struct {
	Query  string
	Params dbx.Params
}

// ExecReturningBatch runs writes with RETURNING clauses, in order, in one transaction on the
// write connection (prepared statements), and returns each one's rows. One commit for many
// small writes: PocketBase has a single write connection, and under concurrent load the time
// each autocommit write holds it (its commit, and waiting for a processor while holding it)
// serializes every writer. On any error nothing of the batch is kept.
func ExecReturningBatch(app core.App, stmts []Statement) ([][]dbx.NullStringMap, error) {
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
	out := make([][]dbx.NullStringMap, len(stmts))
	for i, st := range prepared {
		writeepoch.Bump(app, writeepoch.TableOfWrite(stmts[i].Query)) // at exec time, as dbx's ExecLogFunc does
		rows, err := tx.Stmt(st.stmt).Query(args[i]...)
		if err == nil {
			out[i], err = scanRows(rows)
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

// Batcher groups concurrent writes into transactions (ExecReturningBatch): a caller's write is
// queued, and one goroutine runs whatever is queued as one batch, then the next, until the
// queue is empty. No write waits for a batch to fill: a batch is what arrived while the
// previous one ran. A failed batch is retried statement by statement, so one caller's error is
// never another's.
type Batcher struct {
	mu      sync.Mutex
	pending []*batchItem
	active  bool
}

type batchItem struct {
	stmt Statement
	rows []dbx.NullStringMap
	err  error
	done chan struct{}
}

// maxBatch bounds one transaction.
const maxBatch = 64

// ExecReturning runs stmt in the next batch and returns its rows (inside a transaction app: at
// once, in that transaction).
func (b *Batcher) ExecReturning(app core.App, stmt Statement) ([]dbx.NullStringMap, error) {
	if app.IsTransactional() {
		return ExecReturning(app, stmt.Query, stmt.Params)
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
	return it.rows, it.err
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
		if out, err := ExecReturningBatch(app, stmts); err == nil {
			for i, it := range batch {
				it.rows = out[i]
			}
			return
		}
	}
	for _, it := range batch {
		it.rows, it.err = ExecReturning(app, it.stmt.Query, it.stmt.Params)
	}
}
