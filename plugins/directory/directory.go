// Package directory serves the directory and access-control endpoints of spec/API.md: staff
// user management (§5.3.3–§5.3.7, §5.4), invitations (§5.5, §5.11.1, §5.15.5), systems (§5.9),
// roles (§5.10) and system-role assignments (§5.11).
//
// Every check goes through the permission model of plugins/permissions (one cached reader of
// assignments, read again after any write), in the order of §1.3: level (403) → lookup and
// scope (404) → object permission (403) → body (400) → state (409).
package directory

import (
	"errors"
	"runtime"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
)

// Deps are the services the endpoints use.
type Deps struct {
	Kit    *apikit.Kit
	Tokens *tokens.Service
	Pool   *passwords.Pool // the app's one bcrypt pool (admin creation, invitation acceptance)
	Mailer *mailer.Mailer  // access_granted, invitation, email_changed
	// Flows is the staff realm of the sign-in flows: the current-password check of an own
	// email change (§5.3.6 case A).
	Flows *signin.Flows
}

type plugin struct {
	app    core.App
	kit    *apikit.Kit
	cfg    *config.Config
	pool   *passwords.Pool
	mailer *mailer.Mailer
	flows  *signin.Flows
	invite *inviteLimiter
	// lists admits the database work of the user lists (count, page ids, page build), in
	// arrival order, listConcurrency at a time.
	lists chan struct{}
}

// listConcurrency is how many user-list requests run their SQLite work at once: one per
// processor. The SQLite of PocketBase's driver (modernc.org/sqlite, C compiled to Go) takes
// process-wide locks for its allocator and page cache on every page it reads, so list queries
// running side by side partly wait for each other; queued in a channel they are served in
// arrival order instead, and no more run than the processors can carry. At 100,000 users, 8
// connections, 2 cores (bench/README.md): while a search page cost 3–5 ms of SQLite, one at a
// time did best (no gate → one per processor → one at a time, search p99 about 200 → 100 → 75
// ms); since pages cost ~1.5 ms (catalog, rowid order), one per processor does (search +38–77 %
// req/s, page 1000 +27–197 %, p99 of page 1000 ≤ 25 ms against 28–55).
func listConcurrency() int { return max(1, runtime.NumCPU()) }

var errDeps = errors.New("directory: Deps.Kit, Pool, Mailer and the staff Flows are required")

// Register mounts the plugin's routes; call it from OnServe.
func Register(se *core.ServeEvent, deps Deps) error {
	if deps.Kit == nil || deps.Pool == nil || deps.Mailer == nil || deps.Flows == nil {
		return errDeps
	}
	p := &plugin{app: se.App, kit: deps.Kit, cfg: deps.Kit.Config(), pool: deps.Pool,
		mailer: deps.Mailer, flows: deps.Flows, invite: newInviteLimiter(), lists: make(chan struct{}, listConcurrency())}
	table, err := apikit.WithDocs(p.routes(), docs)
	if err != nil {
		return err
	}
	se.App.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		closeCounts(e.App)
		return e.Next()
	})
	return deps.Kit.Mount(se.Router, table)
}
