// Package accounts serves the staff account endpoints of spec/API.md §5.1–§5.3, §5.14.2 and
// §5.15.2/§5.15.6: the staff realm of the shared sign-in flows (plugins/signin) mounted at the
// staff paths, and what only staff have: registration, the profile, /api/me/, sessions, the
// CAPTCHA endpoints.
package accounts

import (
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
	Pool   *passwords.Pool // the app's one bcrypt pool
	Mailer *mailer.Mailer
	// Flows is the staff realm of the sign-in flows (signin.New with signin.Staff).
	Flows *signin.Flows
}

type plugin struct {
	app    core.App
	kit    *apikit.Kit
	cfg    *config.Config
	tokens *tokens.Service
	pool   *passwords.Pool
	mailer *mailer.Mailer
	flows  *signin.Flows
}

// Register mounts the plugin's routes; call it from OnServe.
func Register(se *core.ServeEvent, deps Deps) error {
	if deps.Kit == nil || deps.Pool == nil || deps.Mailer == nil || deps.Flows == nil || deps.Flows.Realm() != signin.Staff.Realm {
		return errDeps
	}
	p := &plugin{app: se.App, kit: deps.Kit, cfg: deps.Kit.Config(), tokens: deps.Tokens,
		pool: deps.Pool, mailer: deps.Mailer, flows: deps.Flows}
	var table []apikit.Route
	for _, part := range [][]apikit.Route{p.tokenRoutes(), p.profileRoutes(), p.secondFactorRoutes(), p.passwordRoutes()} {
		table = append(table, part...)
	}
	table, err := apikit.WithDocs(table, docs)
	if err != nil {
		return err
	}
	return deps.Kit.Mount(se.Router, table)
}
