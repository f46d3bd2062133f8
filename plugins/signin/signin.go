// Package signin is the sign-in of both realms (plugins/realm), the way one PocketBase handler
// serves every auth collection: login, the second factor, 2FA management, password change,
// forgot and reset, refresh, logout and token verification. A Flows value serves one realm; the
// realm's Spec supplies only what the contract makes differ between staff (§5.1–§5.7) and
// employees (§5.12): the gate after the password, the token answer, on-login side effects,
// field names and messages, the reset link. The feature plugins mount the handlers in their
// route tables (accounts: staff; hdts: employees).
package signin

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/config"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/tokens"
)

// Deps are the foundation services the flows use; one of each per app, shared by both realms.
type Deps struct {
	Kit    *apikit.Kit
	Tokens *tokens.Service
	Pool   *passwords.Pool // the app's one bcrypt pool
	Mailer *mailer.Mailer
	// Attempts admits password comparisons under the CAPTCHA and lockout counters.
	Attempts *captcha.Attempts
}

// Flows serves the sign-in endpoints of one realm.
type Flows struct {
	app      core.App
	kit      *apikit.Kit
	cfg      *config.Config
	tokens   *tokens.Service
	attempts *captcha.Attempts
	steps    *secondfactor.Steps // the realm's second-factor steps, one at a time per principal
	pool     *passwords.Pool
	mailer   *mailer.Mailer
	spec     *Spec
	realm    *realm.Realm
	// afterAnswer runs the per-account work of forgot-password after its answer.
	afterAnswer *afterAnswer
}

// New returns the flows of spec's realm on app. Call it once per realm per serve (OnServe).
func New(app core.App, deps Deps, spec *Spec) (*Flows, error) {
	if deps.Kit == nil || deps.Pool == nil || deps.Mailer == nil || deps.Attempts == nil || spec == nil || spec.Realm == nil {
		return nil, errors.New("signin: Deps.Kit, Pool, Mailer, Attempts and a Spec with its Realm are required")
	}
	return &Flows{
		app: app, kit: deps.Kit, cfg: deps.Kit.Config(), tokens: deps.Tokens, attempts: deps.Attempts,
		steps: secondfactor.NewSteps(), pool: deps.Pool, mailer: deps.Mailer, spec: spec, realm: spec.Realm,
		afterAnswer: newAfterAnswer(app, spec.Realm.Type, 256),
	}, nil
}

// Realm is the realm these flows serve.
func (p *Flows) Realm() *realm.Realm { return p.realm }

func (p *Flows) passwordPool() *passwords.Pool { return p.pool }

func (p *Flows) passwordPolicy() *passwords.Policy { return passwords.NewPolicy(p.cfg) }

// Caller returns the authenticated principal of the request when it belongs to this realm (the
// route's Access admits only this realm's tokens; anything else is an invalid token, §1.5).
func (p *Flows) Caller(e *core.RequestEvent) (*apikit.Caller, error) {
	caller := apikit.CallerOf(e)
	kind := apikit.KindStaff
	if p.realm == realm.Employee {
		kind = apikit.KindEmployee
	}
	if caller == nil || caller.Kind != kind || caller.Record == nil || !p.realm.Owns(caller.Record) {
		return nil, apikit.TokenNotValid()
	}
	return caller, nil
}
