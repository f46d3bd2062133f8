// Package testkit builds PocketBase test apps with Gatehouse's own schema (never PocketBase's
// demo fixtures): the migrations run once per test binary into a template data dir, and every
// test gets a private clone of it (tests.NewTestApp copies the dir), so tests are parallel-safe.
package testkit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/logger"

	_ "gatehouse/pb_migrations"
	"gatehouse/plugins/config"
	"gatehouse/plugins/datadir"
)

// TestSecret is the fixed server secret of test apps (tests only; never a production default).
const TestSecret = "gatehouse-test-secret-0123456789abcdef"

// TestPasswordCost is the bcrypt cost of test apps: cost 12 (the contract's) costs ~230 ms per
// hash here; cost 4 keeps the suite fast. Production keeps 12 (set by the migration).
const TestPasswordCost = 4

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// template migrates an empty data dir once and returns its path.
func template() (string, error) {
	templateOnce.Do(func() {
		empty, err := os.MkdirTemp("", "gatehouse-empty-*")
		if err != nil {
			templateErr = err
			return
		}
		defer os.RemoveAll(empty)
		app, err := newTestApp(empty)
		if err != nil {
			templateErr = fmt.Errorf("testkit: migrate template: %w", err)
			return
		}
		for _, name := range []string{"users", "employees"} {
			col, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				templateErr = err
				return
			}
			if pf, ok := col.Fields.GetByName("password").(*core.PasswordField); ok {
				pf.Cost = TestPasswordCost
			}
			if err := app.Save(col); err != nil {
				templateErr = err
				return
			}
		}
		if _, err := app.DB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
			templateErr = err
			return
		}
		templateDir = app.DataDir()
		templateErr = app.ResetBootstrapState() // close the DBs; keep the files as the template
	})
	return templateDir, templateErr
}

// newTestApp is tests.NewTestApp (a clone of dir) on the service's own database connections
// (datadir.Connect: its page cache, write transactions that lock at BEGIN).
func newTestApp(dir string) (*tests.TestApp, error) {
	return tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: dir, EncryptionEnv: "pb_test_env", DBConnect: datadir.Connect})
}

// Config returns a fresh default configuration with the test secret.
func Config() *config.Config {
	cfg := config.Default()
	secret, err := config.NewSecret([]byte(TestSecret))
	if err != nil {
		panic(err)
	}
	cfg.Secret = secret
	return cfg
}

// NewApp returns a migrated test app private to the test, cleaned up when it ends, after
// running each setup function on it (register hooks or plugins there).
func NewApp(tb testing.TB, setup ...func(*tests.TestApp)) *tests.TestApp {
	tb.Helper()
	app := NewAppNoCleanup(tb, setup...)
	tb.Cleanup(app.Cleanup)
	return app
}

// NewAppNoCleanup is NewApp for tests.ApiScenario factories: the scenario cleans up itself.
func NewAppNoCleanup(tb testing.TB, setup ...func(*tests.TestApp)) *tests.TestApp {
	tb.Helper()
	dir, err := template()
	if err != nil {
		tb.Fatal(err)
	}
	app, err := newTestApp(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, fn := range setup {
		fn(app)
	}
	return app
}

// RemoveTemplate deletes the template dir; call it from TestMain after m.Run if you like a
// clean /tmp (the dir is otherwise left behind once per test binary).
func RemoveTemplate() {
	if templateDir != "" {
		_ = os.RemoveAll(filepath.Clean(templateDir))
	}
}

// Serve runs the app's full router (PocketBase's plus everything bound in OnServe) on an
// httptest server for multi-request flows; it is closed when the test ends.
func Serve(tb testing.TB, app *tests.TestApp) *httptest.Server {
	tb.Helper()
	srv, err := TryServe(tb, app)
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// TryServe is Serve for a test of start-up itself: an error of the OnServe hooks (the server's
// start-up checks) is returned, not fatal.
func TryServe(tb testing.TB, app *tests.TestApp) (*httptest.Server, error) {
	tb.Helper()
	r, err := apis.NewRouter(app)
	if err != nil {
		return nil, err
	}
	// As apis.Serve does: the mux becomes se.Server.Handler, which OnServe hooks may wrap (the
	// fast lane of apikit does).
	se := &core.ServeEvent{App: app, Router: r, Server: &http.Server{}}
	err = app.OnServe().Trigger(se, func(e *core.ServeEvent) error {
		mux, err := e.Router.BuildMux()
		e.Server.Handler = mux
		return err
	})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(se.Server.Handler)
	tb.Cleanup(srv.Close)
	tb.Cleanup(func() { // (runs first: the app is still open)
		if tb.Failed() {
			for _, line := range ErrorLogs(tb, app) {
				tb.Logf("server error log: %s", line)
			}
		}
	})
	return srv, nil
}

// KeepErrorLogs makes app keep its log entries (PocketBase keeps none while the settings'
// Logs.MaxDays is 0, as in test apps), so that a failing test shows why it got a 500: Serve
// prints the ERROR entries of a failed test (ErrorLogs).
func KeepErrorLogs(app core.App) {
	app.Settings().Logs.MaxDays = 1
	app.Settings().Logs.MinLevel = 8 // slog.LevelError
}

// ErrorLogs returns the app's kept log entries at level ERROR and above (a 500's cause is
// logged, not answered), oldest first, after writing out the logger's pending batch.
func ErrorLogs(tb testing.TB, app core.App) []string {
	tb.Helper()
	if !app.IsBootstrapped() { // already cleaned up (tests.ApiScenario does it before tb's cleanups)
		return []string{"(the app was closed before its logs were read)"}
	}
	if h, ok := app.Logger().Handler().(*logger.BatchHandler); ok {
		_ = h.WriteAll(context.Background())
	}
	var rows []struct {
		Message string `db:"message"`
		Data    string `db:"data"`
	}
	if err := app.AuxDB().NewQuery("SELECT message, data FROM _logs WHERE level >= 8 ORDER BY created, rowid").All(&rows); err != nil {
		return []string{"(the logs could not be read: " + err.Error() + ")"}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Message + " " + r.Data
	}
	return out
}
