package prepared

import (
	"database/sql"
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

// ExecReturningBatch runs writes with RETURNING clauses, in order, in one transaction on the
// write connection (prepared statements), and returns each one's rows. One commit for many
// small writes: PocketBase has a single write connection, and under concurrent load the time
// each autocommit write holds it (its commit, and waiting for a processor while holding it)
// serializes every writer. On any error nothing of the batch is kept.
func ExecReturningBatch(app core.App, stmts []Statement) ([][]dbx.NullStringMap, error) {
	items := make([]*batchItem, len(stmts))
	for i, s := range stmts {
		items[i] = &batchItem{stmt: s, returning: true}
	}
	if err := runBatch(app, items); err != nil {
		return nil, err
	}
	out := make([][]dbx.NullStringMap, len(items))
	for i, it := range items {
		out[i] = it.rows
	}
	return out, nil
}

// runBatch runs the items' statements in order in one transaction (ExecReturningBatch): the
// rows of those that return rows, the changed-row count of the others.
func runBatch(app core.App, items []*batchItem) error {
	if app.IsTransactional() {
		return errors.New("prepared: batch inside a transaction")
	}
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return errors.New("prepared: unexpected database builder")
	}
	sqlDB := db.DB()
	prepared := make([]*statement, len(items))
	args := make([][]any, len(items))
	for i, it := range items {
		st, err := writeCacheOf(app).stmt(sqlDB, it.stmt.Query)
		if err != nil {
			return err
		}
		if args[i], err = st.args(it.stmt.Params); err != nil {
			return err
		}
		prepared[i] = st
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		return err
	}
	for i, st := range prepared {
		it := items[i]
		writeepoch.Bump(app, writeepoch.TableOfWrite(it.stmt.Query)) // at exec time, as dbx's ExecLogFunc does
		if it.returning {
			var rows *sql.Rows
			if rows, err = tx.Stmt(st.stmt).Query(args[i]...); err == nil {
				it.rows, err = scanRows(rows)
			}
		} else {
			var res sql.Result
			if res, err = tx.Stmt(st.stmt).Exec(args[i]...); err == nil {
				it.affected, err = res.RowsAffected()
			}
		}
		if err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	err = tx.Commit()
	for _, it := range items {
		writeepoch.Bump(app, writeepoch.TableOfWrite(it.stmt.Query))
	}
	return err
}

// Batcher groups concurrent writes into transactions (ExecReturningBatch): a caller's write is
// queued, and one goroutine runs whatever is queued as one batch, then the next, until the
// queue is empty. No write waits for a batch to fill: a batch is what arrived while the
// previous one ran. A failed batch is retried statement by statement, so one caller's error is
// never another's. Exec is for writes whose changed-row count is enough: a RETURNING clause
// makes SQLite open a temporary b-tree (pager, page cache, allocations) for each execution.
type Batcher struct {
	mu      sync.Mutex
	pending []*batchItem
	active  bool
}

type batchItem struct {
	stmt      Statement
	returning bool                // rows wanted (ExecReturning), else the changed-row count
	rows      []dbx.NullStringMap // returning
	affected  int64               // not returning
	err       error
	done      chan struct{}
}

// maxBatch bounds one transaction.
const maxBatch = 64

// ExecReturning runs stmt in the next batch and returns its rows (inside a transaction app: at
// once, in that transaction).
func (b *Batcher) ExecReturning(app core.App, stmt Statement) ([]dbx.NullStringMap, error) {
	if app.IsTransactional() {
		return ExecReturning(app, stmt.Query, stmt.Params)
	}
	it := b.enqueue(app, &batchItem{stmt: stmt, returning: true})
	return it.rows, it.err
}

// Exec runs stmt (no RETURNING clause) in the next batch and returns the number of rows it
// changed (inside a transaction app: at once, in that transaction).
func (b *Batcher) Exec(app core.App, stmt Statement) (int64, error) {
	if app.IsTransactional() {
		return Exec(app, stmt.Query, stmt.Params)
	}
	it := b.enqueue(app, &batchItem{stmt: stmt})
	return it.affected, it.err
}

// enqueue queues it and returns it once its batch has run.
func (b *Batcher) enqueue(app core.App, it *batchItem) *batchItem {
	it.done = make(chan struct{})
	b.mu.Lock()
	b.pending = append(b.pending, it)
	if !b.active {
		b.active = true
		go b.run(app)
	}
	b.mu.Unlock()
	<-it.done
	return it
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
	if len(batch) > 1 && runBatch(app, batch) == nil {
		return
	}
	for _, it := range batch {
		it.rows, it.affected = nil, 0
		if it.returning {
			it.rows, it.err = ExecReturning(app, it.stmt.Query, it.stmt.Params)
		} else {
			it.affected, it.err = Exec(app, it.stmt.Query, it.stmt.Params)
		}
	}
}
