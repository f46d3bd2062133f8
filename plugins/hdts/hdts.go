// Package hdts serves the HDTS employee portal of spec/API.md §5.12 and §5.15.3: the employee
// realm of the shared sign-in flows (plugins/signin) mounted at the employee paths, and what
// only HDTS has: employee registration, the employee profile, approval and the HDTS user
// management of staff and employees.
package hdts

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/signin"
)

// Deps are the services the endpoints use.
type Deps struct {
	Kit    *apikit.Kit
	Pool   *passwords.Pool // the app's one bcrypt pool
	Mailer *mailer.Mailer
	// Flows is the employee realm of the sign-in flows (signin.New with signin.Employee),
	// built with the same token service and captcha.Attempts as the staff realm's.
	Flows *signin.Flows
}

type plugin struct {
	app    core.App
	kit    *apikit.Kit
	cfg    *config.Config
	pool   *passwords.Pool
	mailer *mailer.Mailer
	flows  *signin.Flows
}

var errDeps = errors.New("hdts: Deps.Kit, Pool, Mailer and the employee Deps.Flows are required")

// Register mounts the plugin's routes; call it from OnServe.
func Register(se *core.ServeEvent, deps Deps) error {
	if deps.Kit == nil || deps.Pool == nil || deps.Mailer == nil || deps.Flows == nil || deps.Flows.Realm() != signin.Employee.Realm {
		return errDeps
	}
	p := &plugin{app: se.App, kit: deps.Kit, cfg: deps.Kit.Config(), pool: deps.Pool, mailer: deps.Mailer, flows: deps.Flows}
	table, err := apikit.WithDocs(p.routes(), docs)
	if err != nil {
		return err
	}
	return deps.Kit.Mount(se.Router, table)
}

func (p *plugin) passwordPolicy() *passwords.Policy { return passwords.NewPolicy(p.cfg) }
