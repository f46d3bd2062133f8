// Package accounts serves the staff account endpoints of spec/API.md §5.1–§5.3, §5.14.2 and
// §5.15.2/§5.15.6: registration, login, token endpoints, logout, profile, /api/me/, sessions.
package accounts

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/config"
	"gatehouse/plugins/tokens"
)

// Deps are the foundation services the endpoints use.
type Deps struct {
	Kit    *apikit.Kit
	Tokens *tokens.Service
	// Attempts admits password comparisons under the CAPTCHA and lockout counters; one per
	// app, shared by every endpoint that compares a password.
	Attempts *captcha.Attempts
}

type plugin struct {
	app      core.App
	kit      *apikit.Kit
	cfg      *config.Config
	tokens   *tokens.Service
	attempts *captcha.Attempts
	// afterAnswer runs the per-account work of forgot-password after its answer.
	afterAnswer *afterAnswer
}

// Register mounts the plugin's routes; call it from OnServe.
func Register(se *core.ServeEvent, deps Deps) error {
	if deps.Kit == nil || deps.Attempts == nil {
		return errors.New("accounts: Deps.Kit and Deps.Attempts are required")
	}
	p := &plugin{app: se.App, kit: deps.Kit, cfg: deps.Kit.Config(), tokens: deps.Tokens, attempts: deps.Attempts,
		afterAnswer: newAfterAnswer(se.App, 256)}
	var table []apikit.Route
	for _, part := range [][]apikit.Route{p.tokenRoutes(), p.profileRoutes(), p.secondFactorRoutes(), p.passwordRoutes()} {
		table = append(table, part...)
	}
	return deps.Kit.Mount(se.Router, table)
}
