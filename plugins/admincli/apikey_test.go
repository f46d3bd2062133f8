package admincli_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/spf13/cobra"

	"gatehouse/hooks"
	"gatehouse/plugins/admincli"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
	"gatehouse/testkit"
)

var keyFormat = regexp.MustCompile(`^ak_[a-z0-9]{8}_[A-Za-z0-9]{32}$`)

// TestAPIKeyCreate: `apikey create` prints a key of the §1.5 format once, stores only its hash
// with the scopes, system and expiry, and the key authenticates (X-API-Key) until it is
// deactivated or expires.
func TestAPIKeyCreate(t *testing.T) {
	t.Parallel()
	var svc *tokens.Service
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		hooks.Register(app)
		svc = tokens.New(app, apikit.New(app, testkit.Config()))
	})
	root := &cobra.Command{Use: "gatehouse", SilenceErrors: true}
	admincli.Register(app, root, admincli.Deps{Tokens: svc})
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"apikey", "create", "--name", "tts bridge", "--scopes", "users:read,round_robin:read", "--system", "tts", "--expires", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	if !keyFormat.MatchString(key) {
		t.Fatalf("key %q has not the format of §1.5", key)
	}
	rec, err := app.FindFirstRecordByData("api_keys", "key_prefix", key[3:11])
	if err != nil {
		t.Fatal(err)
	}
	tts, _ := app.FindFirstRecordByData("systems", "slug", "tts")
	if rec.GetString("key_hash") != tokens.HashAPIKey(key) || strings.Contains(rec.GetString("key_hash"), key[12:]) ||
		rec.GetString("system") != tts.Id || !rec.GetBool("is_active") || rec.GetDateTime("expires_at").IsZero() ||
		strings.Join(rec.GetStringSlice("scopes"), ",") != "users:read,round_robin:read" || rec.GetString("name") != "tts bridge" {
		t.Fatalf("stored key: %v", rec.PublicExport())
	}
	if strings.Contains(errOut.String(), key) {
		t.Fatal("the key is printed more than once")
	}

	e := &core.RequestEvent{App: app}
	caller, err := svc.APIKey(e, key)
	if err != nil || caller.Kind != apikit.KindService || !caller.HasScope("users:read") || caller.HasScope("round_robin:write") {
		t.Fatalf("valid key refused: %v %+v", err, caller)
	}
	wrong := key[:len(key)-1] + "Q" // the last secret character changed (1 key in 62 ends in Q)
	if key[len(key)-1] == 'Q' {
		wrong = key[:len(key)-1] + "R"
	}
	if _, err := svc.APIKey(e, wrong); err == nil {
		t.Fatalf("a wrong secret with a known prefix was accepted (key %q, tried %q)", key, wrong)
	}
	rec.Set("expires_at", time.Now().Add(-time.Second))
	if err := app.Save(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.APIKey(e, key); err == nil {
		t.Fatal("an expired key was accepted")
	}
	rec.Set("expires_at", "")
	rec.Set("is_active", false)
	if err := app.Save(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.APIKey(e, key); err == nil {
		t.Fatal("an inactive key was accepted")
	}

	for _, args := range [][]string{
		{"--name", "x", "--scopes", "admin:all"},
		{"--name", "", "--scopes", "users:read"},
		{"--name", "x", "--scopes", "users:read", "--system", "nope"},
		{"--name", "x", "--scopes", "users:read", "--expires", "tomorrow"},
		{"--name", "x", "--scopes", "users:read", "--expires", "2001-01-01T00:00:00Z"},
	} {
		before, _ := app.CountRecords("api_keys")
		root.SetArgs(append([]string{"apikey", "create"}, args...))
		if err := root.Execute(); err == nil {
			t.Errorf("%v: accepted", args)
		}
		if after, _ := app.CountRecords("api_keys"); after != before {
			t.Errorf("%v: a key was stored", args)
		}
	}
}

// `users create-admin --password` on an existing account sets a new password: a reset, which
// ends every session of the account (§3.5, password_reset); a promotion without a password
// ends none.
func TestCreateAdminWithAPasswordEndsTheSessions(t *testing.T) {
	t.Parallel()
	var svc *tokens.Service
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		hooks.Register(app)
		svc = tokens.New(app, apikit.New(app, testkit.Config()))
	})
	u := testkit.NewPrincipal(t, app, "users", "boss")
	testkit.SetField(t, app, u, "is_active", true)
	if err := svc.EnsureActiveKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.StartSession(app, realm.TypeStaff, testkit.Reload(t, app, u), tokens.MethodPassword, "127.0.0.1", "test"); err != nil {
		t.Fatal(err)
	}
	live := func() int64 {
		n, _ := app.CountRecords("sessions", dbx.HashExp{"user": u.Id, "revoked_at": ""})
		return n
	}
	run := func(args ...string) {
		t.Helper()
		root := &cobra.Command{Use: "gatehouse", SilenceErrors: true}
		admincli.Register(app, root, admincli.Deps{Tokens: svc})
		root.SetOut(&bytes.Buffer{})
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
	}
	run("users", "create-admin", "--email", u.Email())
	if live() != 1 || !testkit.Reload(t, app, u).GetBool("is_superuser") {
		t.Fatalf("a promotion without a password: %d live sessions", live())
	}
	run("users", "create-admin", "--email", u.Email(), "--password", "new-harbor-lantern-9")
	if n, _ := app.CountRecords("sessions", dbx.HashExp{"user": u.Id, "revoked_reason": "password_reset"}); n != 1 || live() != 0 {
		t.Fatalf("after a new password: %d password_reset, %d live", n, live())
	}
	if !testkit.Reload(t, app, u).ValidatePassword("new-harbor-lantern-9") {
		t.Fatal("the password was not set")
	}
}
