package captcha

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

var principalSeq atomic.Int64

func setup(t *testing.T) (*tests.TestApp, *config.Config) {
	t.Helper()
	return testkit.NewApp(t), testkit.Config()
}

func newPrincipal(t *testing.T, app core.App, collection string) *core.Record {
	t.Helper()
	col, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	n := principalSeq.Add(1)
	r := core.NewRecord(col)
	r.Set("email", fmt.Sprintf("member%d@example.com", n))
	r.Set("username", fmt.Sprintf("member%d", n))
	r.Set("password", "correct horse battery")
	r.Set("company_id", fmt.Sprintf("T%06d", n))
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func reload(t *testing.T, app core.App, r *core.Record) *core.Record {
	t.Helper()
	fresh, err := app.FindRecordById(r.Collection().Name, r.Id)
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

// setField saves one field of a record through app.Save.
func setField(t *testing.T, app core.App, r *core.Record, field string, value any) {
	t.Helper()
	fresh := reload(t, app, r)
	fresh.Set(field, value)
	if err := app.Save(fresh); err != nil {
		t.Fatal(err)
	}
}

// shiftDates moves a date field of every matching row by d, through app.Save.
func shiftDates(t *testing.T, app core.App, collection, field string, d time.Duration, where dbx.Expression) {
	t.Helper()
	rows, err := app.FindAllRecords(collection, where)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		v := r.GetDateTime(field)
		if v.IsZero() {
			continue
		}
		r.Set(field, v.Add(d))
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
}

// concurrently runs fn n times at once and returns how many calls returned true.
func concurrently(t *testing.T, n int, fn func() (bool, error)) int {
	t.Helper()
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
		t.Errorf("concurrent call: %v", err)
	}
	return int(wins.Load())
}
