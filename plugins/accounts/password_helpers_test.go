package accounts_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/plugins/config"
	"gatehouse/server"
	"gatehouse/testkit"
)

// Paths and answers of §5.6.
const (
	pwChangePath = "/api/v1/users/password/change/"
	pwAliasPath  = "/api/v1/users/profile/reset-password/"
	pwForgotPath = "/api/v1/users/password/forgot/"
	pwResetPath  = "/api/v1/users/password/reset/"

	pwOldPassword = "violet-harbor-42"
	pwNewPassword = "amber-lantern-77"

	pwChangedBody = `{"detail":"Password changed successfully."}`
	pwForgotBody  = `{"message":"If an account with that email exists, a password reset link has been sent."}`
	pwResetBody   = `{"success":true,"message":"Password has been reset successfully. You can now log in with your new password."}`
	pwTokenBad    = `{"detail":"Invalid input.","code":"invalid","errors":{"token":["Invalid or expired reset token."]}}`
	pwCurrentBad  = `{"detail":"Invalid input.","code":"invalid","errors":{"current_password":["Current password is incorrect."]}}`
)

// pbPublic is the repository's pb_public folder, the tree main.go embeds.
var pbPublic = os.DirFS("../../pb_public")

type pwOpts struct {
	mutate func(*config.Config)
	public bool // serve pb_public as the binary does (server.Options.Public)
	// observe, when set, sees every request event after its handlers ran (as PocketBase's
	// activity logger does).
	observe func(e *core.RequestEvent)
}

// newPwFlow is newFlow with PocketBase's rate limiter off (the tests send more than 10 requests
// to one endpoint) and optionally the static pages.
func newPwFlow(t *testing.T, o pwOpts) *flow {
	t.Helper()
	var svc *server.Services
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = appURL
		if o.mutate != nil {
			o.mutate(cfg)
		}
		opts := server.Options{}
		if o.public {
			opts.Public = pbPublic
		}
		svc = server.Register(app, cfg, opts)
		if o.observe != nil {
			app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Func: func(se *core.ServeEvent) error {
				se.Router.Bind(&hook.Handler[*core.RequestEvent]{Priority: -99999, Func: func(e *core.RequestEvent) error {
					err := e.Next()
					o.observe(e)
					return err
				}})
				return se.Next()
			}})
		}
		s := app.Settings()
		s.RateLimits.Enabled = false
		if err := app.Save(s); err != nil {
			t.Fatal(err)
		}
	})
	return &flow{t: t, app: app, url: testkit.Serve(t, app).URL, svc: svc}
}

func pwBearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// pwKestrel creates agent.smith@example.com, username "kestrel", password pwOldPassword: an
// account whose username and email local part a new password must not contain (§1.13).
func (f *flow) pwKestrel() *core.Record {
	f.t.Helper()
	col, _ := f.app.FindCachedCollectionByNameOrId("users")
	u := core.NewRecord(col)
	u.SetEmail("agent.smith@example.com")
	u.SetPassword(pwOldPassword)
	u.Set("username", "kestrel")
	u.Set("is_active", true)
	if err := f.app.Save(u); err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *flow) pwReload(r *core.Record) *core.Record {
	f.t.Helper()
	fresh, err := f.app.FindRecordById(r.Collection().Name, r.Id)
	if err != nil {
		f.t.Fatal(err)
	}
	return fresh
}

func (f *flow) pwCount(table string, where dbx.Expression) int {
	f.t.Helper()
	var n int
	if err := f.app.DB().Select("COUNT(*)").From(table).Where(where).Row(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *flow) pwRecords(collection string, where dbx.Expression) []*core.Record {
	f.t.Helper()
	var out []*core.Record
	if err := f.app.RecordQuery(collection).Where(where).OrderBy("created ASC", "rowid ASC").All(&out); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// checkPassword reports whether password is the stored password of u.
func (f *flow) pwIs(u *core.Record, password string) bool {
	return f.pwReload(u).ValidatePassword(password)
}

// setDate stores a date field through app.Save (as a test would through the superuser API).
func (f *flow) pwSetDate(r *core.Record, field string, t time.Time) {
	f.t.Helper()
	fresh := f.pwReload(r)
	fresh.Set(field, t.UTC())
	if err := f.app.Save(fresh); err != nil {
		f.t.Fatal(err)
	}
}

var pwLinkRe = regexp.MustCompile(`(https?://[^\s"<]+)#token=([A-Za-z0-9_-]+)`)

// resetMails returns the password_reset outbox rows, oldest first.
func (f *flow) pwResetMails() []*core.Record {
	return f.pwRecords("email_outbox", dbx.HashExp{"template": "password_reset"})
}

// lastResetLink returns the base and the token of the newest password_reset email, checking that
// text and HTML bodies carry the same link.
func (f *flow) pwLastLink() (base, token string) {
	f.t.Helper()
	mails := f.pwResetMails()
	if len(mails) == 0 {
		f.t.Fatal("no password_reset email queued")
	}
	m := mails[len(mails)-1]
	text := pwLinkRe.FindStringSubmatch(m.GetString("text_body"))
	html := pwLinkRe.FindStringSubmatch(m.GetString("html_body"))
	if text == nil || html == nil || text[0] != html[0] {
		f.t.Fatalf("reset link: text %q html %q", text, html)
	}
	return text[1], text[2]
}

// forgot asks for a reset link and returns its token (the request must queue one).
func (f *flow) pwForgot(email string) string {
	f.t.Helper()
	before := len(f.pwResetMails())
	r := f.do(http.MethodPost, pwForgotPath, map[string]string{"email": email})
	if r.status != 200 || string(r.body) != pwForgotBody || len(f.pwResetMails()) != before+1 {
		f.t.Fatalf("forgot: %d %s (%d mails before)", r.status, r.body, before)
	}
	_, token := f.pwLastLink()
	return token
}

func pwSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// tokenRow finds the password_reset_tokens row of a clear token (stored only as its hash).
func (f *flow) pwTokenRow(token string) *core.Record {
	f.t.Helper()
	r, err := f.app.FindFirstRecordByData("password_reset_tokens", "token_hash", pwSHA256(token))
	if err != nil {
		f.t.Fatalf("token row: %v", err)
	}
	return r
}

// sessionsOf returns "<sid>:<revoked_reason>" for every session of the user ("" = live).
func (f *flow) pwSessions(userID string) map[string]string {
	out := map[string]string{}
	for _, s := range f.pwRecords("sessions", dbx.HashExp{"user": userID}) {
		out[s.Id] = s.GetString("revoked_reason")
		if s.GetDateTime("revoked_at").IsZero() != (s.GetString("revoked_reason") == "") {
			f.t.Errorf("session %s: revoked_at %v, reason %q", s.Id, s.GetDateTime("revoked_at"), s.GetString("revoked_reason"))
		}
	}
	return out
}

func (f *flow) pwAudits(event string, success bool) []*core.Record {
	return f.pwRecords("audit_log", dbx.HashExp{"event": event, "success": success})
}

func pwInvalid(fields string) string {
	return `{"detail":"Invalid input.","code":"invalid","errors":` + fields + `}`
}

// noSecretIn fails when any column of any row of the given tables holds s.
func (f *flow) pwNoSecretIn(s string, tables ...string) {
	f.t.Helper()
	for _, table := range tables {
		var rows []dbx.NullStringMap
		if err := f.app.DB().Select("*").From(table).All(&rows); err != nil {
			f.t.Fatal(err)
		}
		for _, row := range rows {
			for col, v := range row {
				if v.Valid && strings.Contains(v.String, s) {
					f.t.Errorf("%s.%s holds the secret: %q", table, col, v.String)
				}
			}
		}
	}
}

// pwVaryAccept reports whether the Vary headers name Accept (§1.11).
func pwVaryAccept(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "Accept") {
				return true
			}
		}
	}
	return false
}
