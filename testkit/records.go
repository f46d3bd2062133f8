package testkit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

var principalSeq atomic.Int64

// NewPrincipal saves a users or employees record with a unique email <prefix><n>@example.com,
// username, company_id and the password "correct horse battery" (no record hooks needed).
func NewPrincipal(tb testing.TB, app core.App, collection, prefix string) *core.Record {
	tb.Helper()
	col, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		tb.Fatal(err)
	}
	n := principalSeq.Add(1)
	r := core.NewRecord(col)
	r.Set("email", fmt.Sprintf("%s%d@example.com", prefix, n))
	r.Set("username", fmt.Sprintf("%s%d", prefix, n))
	r.Set("password", "correct horse battery")
	r.Set("company_id", fmt.Sprintf("T%06d", n))
	if err := app.Save(r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// Reload reads r again from the database.
func Reload(tb testing.TB, app core.App, r *core.Record) *core.Record {
	tb.Helper()
	fresh, err := app.FindRecordById(r.Collection().Name, r.Id)
	if err != nil {
		tb.Fatal(err)
	}
	return fresh
}

// SetField saves one field of a record through app.Save.
func SetField(tb testing.TB, app core.App, r *core.Record, field string, value any) {
	tb.Helper()
	fresh := Reload(tb, app, r)
	fresh.Set(field, value)
	if err := app.Save(fresh); err != nil {
		tb.Fatal(err)
	}
}

// ShiftDates moves a date field of every matching row by d, through app.Save.
func ShiftDates(tb testing.TB, app core.App, collection, field string, d time.Duration, where dbx.Expression) {
	tb.Helper()
	rows, err := app.FindAllRecords(collection, where)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rows {
		v := r.GetDateTime(field)
		if v.IsZero() {
			continue
		}
		r.Set(field, v.Add(d))
		if err := app.Save(r); err != nil {
			tb.Fatal(err)
		}
	}
}

// Concurrently runs fn n times at once and returns how many calls returned true.
func Concurrently(tb testing.TB, n int, fn func() (bool, error)) int {
	tb.Helper()
	var wg sync.WaitGroup
	var wins atomic.Int64
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := fn()
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Errorf("concurrent call: %v", err)
	}
	return int(wins.Load())
}

// ChangeDuring saves change to one record in a write transaction that stays open for hold while
// during runs in another goroutine, then commits, and returns once during has returned. A
// request in during reads the state before the change and its own write transaction waits for
// this one: the window in which a check made before a write transaction goes stale. Compute
// during's credentials before (a token starts a session, a write that would wait too).
func ChangeDuring(tb testing.TB, app core.App, collection, id string, change func(*core.Record), hold time.Duration, during func()) {
	tb.Helper()
	committed := HoldChange(tb, app, collection, id, change, hold)
	during()
	committed()
}

// HoldChange is ChangeDuring for a request that runs after it returns (a tests.ApiScenario's
// BeforeTestFunc): the change is saved in a write transaction that commits hold later, in the
// background. committed waits for the commit (it is also waited for at the test's end).
func HoldChange(tb testing.TB, app core.App, collection, id string, change func(*core.Record), hold time.Duration) (committed func()) {
	tb.Helper()
	return holdWrite(tb, app, collection, id, func(tx core.App, rec *core.Record) error {
		change(rec)
		return tx.Save(rec)
	}, hold)
}

// HoldDelete is HoldChange for a delete: the record is deleted in a write transaction that
// commits hold later (a request made meanwhile read the record before, and its own write
// transaction finds it gone).
func HoldDelete(tb testing.TB, app core.App, collection, id string, hold time.Duration) (committed func()) {
	tb.Helper()
	return holdWrite(tb, app, collection, id, func(tx core.App, rec *core.Record) error { return tx.Delete(rec) }, hold)
}

func holdWrite(tb testing.TB, app core.App, collection, id string, write func(tx core.App, rec *core.Record) error, hold time.Duration) (committed func()) {
	tb.Helper()
	saved, done := make(chan error, 1), make(chan struct{})
	var txErr error
	go func() {
		defer close(done)
		txErr = app.RunInTransaction(func(tx core.App) error {
			rec, err := tx.FindRecordById(collection, id)
			if err == nil {
				err = write(tx, rec)
			}
			saved <- err
			if err != nil {
				return err
			}
			time.Sleep(hold)
			return nil
		})
	}()
	if err := <-saved; err != nil {
		<-done
		tb.Fatal(err)
	}
	committed = func() {
		<-done
		if txErr != nil {
			tb.Errorf("held change: %v", txErr)
		}
	}
	tb.Cleanup(func() { <-done })
	return committed
}

// NewCustomRole saves a custom role (is_custom) named name in the system systemID.
func NewCustomRole(tb testing.TB, app core.App, systemID, name string) *core.Record {
	tb.Helper()
	col, err := app.FindCollectionByNameOrId("roles")
	if err != nil {
		tb.Fatal(err)
	}
	r := core.NewRecord(col)
	r.Set("name", name)
	r.Set("system", systemID)
	r.Set("is_custom", true)
	if err := app.Save(r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// Assign saves an assignment of role (in the role's system) to the users record u.
func Assign(tb testing.TB, app core.App, u, role *core.Record, active bool) *core.Record {
	tb.Helper()
	col, err := app.FindCollectionByNameOrId("user_system_roles")
	if err != nil {
		tb.Fatal(err)
	}
	a := core.NewRecord(col)
	a.Set("user", u.Id)
	a.Set("system", role.GetString("system"))
	a.Set("role", role.Id)
	a.Set("is_active", active)
	if err := app.Save(a); err != nil {
		tb.Fatal(err)
	}
	return a
}
