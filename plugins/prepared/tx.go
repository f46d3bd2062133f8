package prepared

import (
	"database/sql"
	"errors"
	"gatehouse/plugins/writeepoch"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Tx is a write transaction on PocketBase's single write connection whose statements run as
// prepared statements (parsed once per connection). SQLite spent about a third of a short
// transaction's time parsing its SQL, and the write connection is held for all of it.
type Tx struct {
	app    core.App
	tx     *sql.Tx
	stmts  map[string]*statement
	tables []string // written so far (bumped again after commit)
}

// RunTx runs fn in one write transaction of prepared statements: committed when fn returns
// nil, rolled back otherwise. queries are every statement fn may run: they are prepared
// before the transaction takes the write connection (the pool has only that one), and any
// other query is an error. Writes bump the write epoch when they execute and again after
// the commit, as dbx's writes do. Reads that do not need the transaction's own writes may keep
// using the read pool meanwhile: no other write can commit while the transaction holds the
// write connection.
func RunTx(app core.App, queries []string, fn func(*Tx) error) error {
	if app.IsTransactional() {
		return errors.New("prepared: RunTx inside a transaction")
	}
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return errors.New("prepared: unexpected database builder")
	}
	sqlDB := db.DB()
	t := &Tx{app: app, stmts: make(map[string]*statement, len(queries))}
	for _, q := range queries {
		st, err := writeCacheOf(app).stmt(sqlDB, q)
		if err != nil {
			return err
		}
		t.stmts[q] = st
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		return err
	}
	t.tx = tx
	defer func() {
		if rec := recover(); rec != nil { // never keep the write connection
			_ = tx.Rollback()
			t.bumpWritten()
			panic(rec)
		}
	}()
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		t.bumpWritten()
		return err
	}
	err = tx.Commit()
	t.bumpWritten()
	return err
}

func (t *Tx) bumpWritten() {
	for _, table := range t.tables {
		writeepoch.Bump(t.app, table)
	}
}

func (t *Tx) stmt(query string, params dbx.Params) (*sql.Stmt, []any, error) {
	st, ok := t.stmts[query]
	if !ok {
		return nil, nil, errors.New("prepared: query not declared to RunTx")
	}
	args, err := st.args(params)
	if err != nil {
		return nil, nil, err
	}
	return t.tx.Stmt(st.stmt), args, nil
}

// Rows runs a SELECT (or a write with RETURNING) in the transaction.
func (t *Tx) Rows(query string, params dbx.Params) ([]dbx.NullStringMap, error) {
	st, args, err := t.stmt(query, params)
	if err != nil {
		return nil, err
	}
	if table := writeepoch.TableOfWrite(query); table != "" {
		t.wrote(table)
	}
	rows, err := st.Query(args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rows)
}

// Exec runs a write in the transaction and returns the number of rows it changed.
func (t *Tx) Exec(query string, params dbx.Params) (int64, error) {
	st, args, err := t.stmt(query, params)
	if err != nil {
		return 0, err
	}
	t.wrote(writeepoch.TableOfWrite(query))
	res, err := st.Exec(args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// wrote bumps the epoch at exec time (as dbx's ExecLogFunc does) and remembers the table for
// the bump after commit.
func (t *Tx) wrote(table string) {
	writeepoch.Bump(t.app, table)
	for _, seen := range t.tables {
		if seen == table {
			return
		}
	}
	t.tables = append(t.tables, table)
}
