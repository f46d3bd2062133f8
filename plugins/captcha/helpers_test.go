package captcha

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

func setup(t *testing.T) (*tests.TestApp, *config.Config) {
	t.Helper()
	return testkit.NewApp(t), testkit.Config()
}

// Shared record helpers (testkit), under this package's names.
func newPrincipal(t *testing.T, app core.App, collection string) *core.Record {
	t.Helper()
	return testkit.NewPrincipal(t, app, collection, "member")
}
func reload(t *testing.T, app core.App, r *core.Record) *core.Record {
	t.Helper()
	return testkit.Reload(t, app, r)
}
func setField(t *testing.T, app core.App, r *core.Record, field string, value any) {
	t.Helper()
	testkit.SetField(t, app, r, field, value)
}
func shiftDates(t *testing.T, app core.App, collection, field string, d time.Duration, where dbx.Expression) {
	t.Helper()
	testkit.ShiftDates(t, app, collection, field, d, where)
}
func concurrently(t *testing.T, n int, fn func() (bool, error)) int {
	t.Helper()
	return testkit.Concurrently(t, n, fn)
}
