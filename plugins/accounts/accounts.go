// Package accounts serves the staff account endpoints of spec/API.md §5.1–§5.3, §5.14.2 and
// §5.15.2/§5.15.6: registration, login, token endpoints, logout, profile, /api/me/, sessions.
package accounts

import (
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/plugins/tokens"
)

// Deps are the foundation services the endpoints use.
type Deps struct {
	Kit    *apikit.Kit
	Tokens *tokens.Service
}

type plugin struct {
	app    core.App
	kit    *apikit.Kit
	cfg    *config.Config
	tokens *tokens.Service
}

// Register mounts the plugin's routes; call it from OnServe.
func Register(se *core.ServeEvent, deps Deps) error {
	p := &plugin{app: se.App, kit: deps.Kit, cfg: deps.Kit.Config(), tokens: deps.Tokens}
	var table []apikit.Route
	for _, part := range [][]apikit.Route{p.tokenRoutes(), p.profileRoutes(), p.secondFactorRoutes(), p.passwordRoutes()} {
		table = append(table, part...)
	}
	return deps.Kit.Mount(se.Router, table)
}
