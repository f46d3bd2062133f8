// Package prepared runs the hot read queries as prepared statements. PocketBase's query
// builder hands SQLite new SQL text for every call, and on a token check SQLite spends about
// half of the CPU parsing it; a prepared statement is parsed once per connection.
//
// Queries are plain SQLite SQL with dbx-style {:name} parameters. Outside a transaction they run
// as prepared statements on PocketBase's concurrent (read) pool; inside one (a transaction app)
// they run through the transaction's builder, so they see its writes.
package prepared

import (
	"database/sql"
	"errors"
	"fmt"
	"gatehouse/plugins/writeepoch"
	"regexp"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

type cache struct {
	mu    sync.Mutex
	db    *sql.DB
	stmts map[string]*statement
}

// statement is a prepared query and the parameter names of its ? placeholders, in order.
type statement struct {
	stmt  *sql.Stmt
	names []string
}

var placeholder = regexp.MustCompile(`\{:(\w+)\}`)

const storeKey = "gatehouse.prepared"

func cacheOf(app core.App) *cache {
	return app.Store().GetOrSet(storeKey, func() any { return &cache{} }).(*cache)
}

// stmt returns the prepared statement of query on db, preparing it on first use. A new *sql.DB
// (PocketBase reopens its pools after a backup restore) empties the cache.
func (c *cache) stmt(db *sql.DB, query string) (*statement, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != db {
		for _, s := range c.stmts {
			_ = s.stmt.Close()
		}
		c.db, c.stmts = db, map[string]*statement{}
	}
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	st := &statement{}
	positional := placeholder.ReplaceAllStringFunc(query, func(m string) string {
		st.names = append(st.names, placeholder.FindStringSubmatch(m)[1])
		return "?"
	})
	var err error
	if st.stmt, err = db.Prepare(positional); err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

// Rows runs a SELECT and returns every row as column → value (NULL = invalid NullString).
func Rows(app core.App, query string, params dbx.Params) ([]dbx.NullStringMap, error) {
	if app.IsTransactional() {
		var out []dbx.NullStringMap
		err := app.DB().NewQuery(query).Bind(params).All(&out)
		return out, err
	}
	st, args, err := bound(app.ConcurrentDB(), cacheOf(app), query, params)
	if err != nil {
		return nil, err
	}
	rows, err := st.stmt.Query(args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rows)
}

// bound returns the prepared statement of query on the pool behind builder (from cache) and
// its arguments in placeholder order.
func bound(builder dbx.Builder, c *cache, query string, params dbx.Params) (*statement, []any, error) {
	db, ok := builder.(*dbx.DB)
	if !ok {
		return nil, nil, errors.New("prepared: unexpected database builder")
	}
	st, err := c.stmt(db.DB(), query)
	if err != nil {
		return nil, nil, err
	}
	args, err := st.args(params)
	if err != nil {
		return nil, nil, err
	}
	return st, args, nil
}

func scanRows(rows *sql.Rows) ([]dbx.NullStringMap, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []dbx.NullStringMap
	values := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range values {
		ptrs[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(dbx.NullStringMap, len(cols))
		for i, c := range cols {
			row[c] = values[i]
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// Records runs a SELECT of whole rows of collection (e.g. "SELECT users.* FROM users ...") and
// loads them as records, exactly as PocketBase's own scan does (each field's PrepareValue).
func Records(app core.App, collection *core.Collection, query string, params dbx.Params) ([]*core.Record, error) {
	rows, err := Rows(app, query, params)
	if err != nil {
		return nil, err
	}
	out := make([]*core.Record, 0, len(rows))
	for _, row := range rows {
		r, err := RecordFrom(collection, row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RecordFrom loads one row (column → value) as a record of collection; columns that are not
// fields of the collection are ignored.
func RecordFrom(collection *core.Collection, data dbx.NullStringMap) (*core.Record, error) {
	r := core.NewRecord(collection)
	for _, field := range collection.Fields {
		name := field.GetName()
		var raw any
		if ns, ok := data[name]; ok && ns.Valid {
			raw = ns.String
		}
		v, err := field.PrepareValue(r, raw)
		if err != nil {
			return nil, err
		}
		r.SetRaw(name, v)
	}
	r.Id = r.GetString(core.FieldNameId)
	if err := r.PostScan(); err != nil { // marks it as loaded (not new) and snapshots the original
		return nil, err
	}
	return r, nil
}

// Exec runs a write (UPDATE/INSERT/DELETE) and returns the number of rows it changed. Outside a
// transaction it runs as a prepared statement on PocketBase's single write connection.
func Exec(app core.App, query string, params dbx.Params) (int64, error) {
	if app.IsTransactional() {
		res, err := app.DB().NewQuery(query).Bind(params).Execute()
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	st, args, err := bound(app.NonconcurrentDB(), writeCacheOf(app), query, params)
	if err != nil {
		return 0, err
	}
	res, err := st.stmt.Exec(args...)
	writeepoch.Bump(app, writeepoch.TableOfWrite(query)) // autocommit: the write is committed now
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const writeStoreKey = "gatehouse.prepared.write"

func writeCacheOf(app core.App) *cache {
	return app.Store().GetOrSet(writeStoreKey, func() any { return &cache{} }).(*cache)
}

func (st *statement) args(params dbx.Params) ([]any, error) {
	args := make([]any, len(st.names))
	for i, n := range st.names {
		v, ok := params[n]
		if !ok {
			return nil, fmt.Errorf("prepared: missing parameter %q", n)
		}
		args[i] = v
	}
	return args, nil
}
