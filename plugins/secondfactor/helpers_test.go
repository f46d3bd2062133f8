package secondfactor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pquerna/otp/totp"

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
	r.Set("email", fmt.Sprintf("person%d@example.com", n))
	r.Set("username", fmt.Sprintf("person%d", n))
	r.Set("password", "correct horse battery")
	r.Set("company_id", fmt.Sprintf("T%06d", n))
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func newStaff(t *testing.T, app core.App) *core.Record    { return newPrincipal(t, app, "users") }
func newEmployee(t *testing.T, app core.App) *core.Record { return newPrincipal(t, app, "employees") }

func reload(t *testing.T, app core.App, r *core.Record) *core.Record {
	t.Helper()
	fresh, err := app.FindRecordById(r.Collection().Name, r.Id)
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

// codeAt is the TOTP code of secret at t, computed independently by pquerna/otp.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// waitForFreshStep sleeps until at least 8 s of the current 30-s step remain, so a test that
// uses the real clock cannot cross a step boundary by accident.
func waitForFreshStep() time.Time {
	for {
		now := time.Now()
		left := TOTPPeriod - now.Unix()%TOTPPeriod
		if left >= 8 {
			return now
		}
		time.Sleep(time.Duration(left)*time.Second + 50*time.Millisecond)
	}
}

// enableTOTP gives the principal an active TOTP secret through the public setup API.
func enableTOTP(t *testing.T, app core.App, cfg *config.Config, p *core.Record) string {
	t.Helper()
	secret, _, _, err := BeginTOTPSetup(app, cfg, p, "Gatehouse", p.GetString("email"))
	if err != nil {
		t.Fatal(err)
	}
	now := waitForFreshStep()
	ok, err := ConfirmTOTPSetup(app, cfg, p, codeAt(t, secret, now))
	if err != nil || !ok {
		t.Fatalf("confirm: ok=%v err=%v", ok, err)
	}
	return secret
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

// setField saves one field of a record through app.Save.
func setField(t *testing.T, app core.App, r *core.Record, field string, value any) {
	t.Helper()
	fresh := reload(t, app, r)
	fresh.Set(field, value)
	if err := app.Save(fresh); err != nil {
		t.Fatal(err)
	}
}
