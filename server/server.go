// Package server wires Gatehouse onto a PocketBase app: configuration, the server secret,
// invariant hooks, request guards and every plugin's routes. main.go calls Register on the real
// app; the full-app tests call it on a test app, so both run the same wiring.
package server

import (
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/hooks"
	"gatehouse/plugins/accounts"
	"gatehouse/plugins/apidocs"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/audit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/checkpoint"
	"gatehouse/plugins/config"
	"gatehouse/plugins/datadir"
	"gatehouse/plugins/directory"
	"gatehouse/plugins/hdts"
	"gatehouse/plugins/jobs"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/superusers"
	"gatehouse/plugins/tokens"
	"gatehouse/plugins/tts"
)

// Options are the parts of the wiring that differ between the binary and tests.
type Options struct {
	Public fs.FS // the embedded pb_public folder (nil: no static files)
	// Lookup reads environment variables (os.LookupEnv when nil).
	Lookup func(string) (string, bool)
}

// Services are the app-wide foundation services Register builds once and passes to every
// plugin that needs them (never looked up in app.Store()).
type Services struct {
	Kit      *apikit.Kit
	Tokens   *tokens.Service
	Pool     *passwords.Pool   // the one bcrypt pool of §7.2
	Mailer   *mailer.Mailer    // email_outbox + delivery
	Attempts *captcha.Attempts // password attempts under the CAPTCHA and lockout counters
	Jobs     *jobs.Scheduler   // the scheduled work; tests run a job with Jobs.Run(name)
}

// Register binds everything to app and returns the shared services. It touches no data: the
// server secret is loaded in OnBootstrap, routes are bound in OnServe.
func Register(app core.App, cfg *config.Config, opts Options) *Services {
	if opts.Lookup == nil {
		opts.Lookup = os.LookupEnv
	}
	kit := apikit.New(app, cfg)
	kit.SetPublic(opts.Public)

	// The data directory and its files private to the service's user, backups included.
	datadir.Register(app)
	// The dashboard's sign-in: the hourly rate-limit rule and failed sign-ins in audit_log.
	superusers.Register(app)

	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{
		Id: "gatehouseSecret",
		Func: func(e *core.BootstrapEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			if cfg.Secret != nil {
				return nil // set by the caller (tests)
			}
			secret, fromFile, err := config.LoadSecret(opts.Lookup, e.App.DataDir())
			if err != nil {
				return err
			}
			cfg.Secret = secret
			if fromFile {
				e.App.Store().Set(secretFromFileKey, true)
			}
			return nil
		},
	})

	// Password hashing yields the CPU to authenticated requests while they contend for it
	// (§7.2's pool, issue 6's login storm).
	pool := passwords.NewPool(cfg)
	pool.YieldTo(kit.AuthenticatedBusy)

	// WAL checkpoints in a background goroutine instead of inside a writer's commit (issue 6).
	checkpoint.InBackground(app)

	hooks.Register(app)
	mail := mailer.Register(app, cfg)
	tokenService := tokens.New(app, kit)
	attempts := captcha.NewAttempts()
	sched := jobs.New(app)
	services := &Services{Kit: kit, Tokens: tokenService, Pool: pool, Mailer: mail, Attempts: attempts, Jobs: sched}
	// The permission levels of the route tables (§1.7); without it apikit refuses them all.
	permissions.Register(app, kit)
	// Scheduled work: outbox retries, key reload/rotation, and the retention of §7.1 (hourly,
	// each plugin its own tables): sessions, auth_failures, captcha_challenges, mfa_challenges,
	// otp_codes, password_reset_tokens, invitations, audit_log (the outbox's bodies: mailer).
	mail.Schedule(sched)
	tokenService.Schedule(sched)
	tokens.ScheduleCleanup(sched, cfg)
	captcha.ScheduleCleanup(sched, cfg)
	secondfactor.ScheduleCleanup(sched, cfg)
	signin.ScheduleCleanup(sched, cfg)
	directory.ScheduleCleanup(sched, cfg)
	audit.ScheduleCleanup(sched, cfg.AuditRetention)

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "gatehouseRoutes",
		Func: func(se *core.ServeEvent) error {
			// The installer would print a superuser token URL into the logs; the README
			// creates the first superuser with `superuser upsert` instead.
			se.InstallerFunc = nil
			if err := startupChecks(se.App, cfg); err != nil {
				return err
			}
			startupWarnings(se.App, cfg)

			kit.BindGuards(se.Router)
			if err := kit.Mount(se.Router, tokenService.Routes()); err != nil {
				return err
			}
			// Both realms' sign-in flows share the token service, the bcrypt pool and the one
			// captcha.Attempts: the CAPTCHA state of a client IP and the admission of password
			// comparisons are the same whichever realm's login it hits.
			signinDeps := signin.Deps{Kit: kit, Tokens: tokenService, Pool: pool, Mailer: mail, Attempts: attempts}
			staffFlows, err := signin.New(se.App, signinDeps, signin.Staff)
			if err != nil {
				return err
			}
			if err := accounts.Register(se, accounts.Deps{Kit: kit, Tokens: tokenService, Pool: pool, Mailer: mail, Flows: staffFlows}); err != nil {
				return err
			}
			employeeFlows, err := signin.New(se.App, signinDeps, signin.Employee)
			if err != nil {
				return err
			}
			if err := hdts.Register(se, hdts.Deps{Kit: kit, Pool: pool, Mailer: mail, Flows: employeeFlows}); err != nil {
				return err
			}
			if err := tts.Register(se, tts.Deps{Kit: kit}); err != nil {
				return err
			}
			if err := directory.Register(se, directory.Deps{Kit: kit, Tokens: tokenService, Pool: pool, Mailer: mail, Flows: staffFlows}); err != nil {
				return err
			}
			if err := apidocs.Register(se, kit); err != nil {
				return err
			}
			// pb_public's pages at both slash forms, no redirect (§5.15.8)
			if err := kit.Mount(se.Router, kit.StaticPageRoutes()); err != nil {
				return err
			}
			kit.MountAPIFallbacks(se.Router)
			if err := se.Next(); err != nil {
				return err
			}
			// PocketBase has built its mux into se.Server.Handler by now: put the fast lane
			// of the hottest read routes in front of it (apikit/fastlane.go).
			if se.Server != nil && se.Server.Handler != nil {
				se.Server.Handler = kit.FastLane(se.Server.Handler, se.Router)
			}
			return nil
		},
	})

	if opts.Public != nil {
		app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
			Id:       "gatehouseStatic",
			Priority: 999, // last, so every route of ours is registered before the catch-all
			Func: func(se *core.ServeEvent) error {
				if !se.Router.HasRoute(http.MethodGet, "/{path...}") {
					se.Router.GET("/{path...}", apis.Static(opts.Public, false)).BindFunc(func(e *core.RequestEvent) error {
						apikit.SetPageHeaders(e)
						return e.Next()
					})
				}
				return se.Next()
			},
		})
	}

	return services
}

const secretFromFileKey = "gatehouse.secretFromFile"

// startupChecks refuses to serve with a configuration that would fail at every request: a
// CAPTCHA_TEST_ANSWER that --dev would use but that is not 6 characters of the CAPTCHA
// alphabet (§1.15) would make every challenge generation answer 500.
func startupChecks(app core.App, cfg *config.Config) error {
	if cfg.CaptchaTestAnswer != "" && app.IsDev() && !captcha.ValidTestAnswer(cfg.CaptchaTestAnswer) {
		return fmt.Errorf("config: CAPTCHA_TEST_ANSWER must be %d characters from %s (any case), got %q",
			captcha.Length, captcha.Alphabet, cfg.CaptchaTestAnswer)
	}
	return nil
}

// startupWarnings prints the warnings of §1.14 and §1.15 once per start, to stderr (PocketBase
// keeps its logger out of the console outside dev mode) and to the app log.
func startupWarnings(app core.App, cfg *config.Config) {
	warn := func(msg string) {
		log.Println("WARNING: " + msg)
		app.Logger().Warn(msg)
	}
	if fromFile, _ := app.Store().Get(secretFromFileKey).(bool); fromFile {
		warn(fmt.Sprintf("GATEHOUSE_SECRET is not set; using the generated secret in %s/%s. Set GATEHOUSE_SECRET (at least 32 bytes) in production.",
			app.DataDir(), config.SecretFileName))
	}
	if cfg.CaptchaTestAnswer != "" && !app.IsDev() {
		warn("CAPTCHA_TEST_ANSWER is set but ignored: it is honoured only with --dev.")
	}
}
