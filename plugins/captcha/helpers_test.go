package captcha

import (
	"testing"

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
