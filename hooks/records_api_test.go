package hooks_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/hooks"
	"gatehouse/plugins/secondfactor"
	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

// The invariants below are written through PocketBase's records API as the dashboard writes
// them (a PocketBase superuser's token on /api/collections/...), on the full app.

type live struct {
	t        *testing.T
	app      *tests.TestApp
	services *server.Services
	c        testkit.Client
	su       string // a PocketBase superuser's token
}

func newLive(t *testing.T) *live {
	t.Helper()
	l := &live{t: t}
	l.app = testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = "https://auth.example.com"
		l.services = server.Register(app, cfg, server.Options{})
	})
	srv := testkit.Serve(t, l.app)
	l.c = testkit.Client{TB: t, URL: srv.URL}
	col, err := l.app.FindCachedCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		t.Fatal(err)
	}
	su := core.NewRecord(col)
	su.SetEmail("root@example.com")
	su.SetPassword("root-password-123")
	if err := l.app.Save(su); err != nil {
		t.Fatal(err)
	}
	if l.su, err = su.NewAuthToken(); err != nil {
		t.Fatal(err)
	}
	return l
}

// admin sends a records-API request as the dashboard's superuser.
func (l *live) admin(method, path string, body any) testkit.Reply {
	l.t.Helper()
	return l.c.Do(method, path, body, "Authorization", l.su)
}

// staff is an active staff user with the password "correct horse battery".
func (l *live) staff() *core.Record {
	l.t.Helper()
	u := testkit.NewPrincipal(l.t, l.app, "users", "live")
	testkit.SetField(l.t, l.app, u, "is_active", true)
	return testkit.Reload(l.t, l.app, u)
}

func (l *live) login(u *core.Record) testkit.Reply {
	l.t.Helper()
	return l.c.Do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": u.Email(), "password": "correct horse battery"})
}

func (l *live) count(collection string, where dbx.Expression) int {
	l.t.Helper()
	n, err := l.app.CountRecords(collection, where)
	if err != nil {
		l.t.Fatal(err)
	}
	return int(n)
}

// §2.19: exactly one signing key is active. The dashboard cannot retire or delete the only one
// (a 400 naming why; login and JWKS keep working), while the service's own rotation — which
// retires it too — still works, and a retired key can still be deleted.
func TestTheOnlyActiveSigningKeyStays(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	u := l.staff()
	active, err := l.app.FindFirstRecordByData("signing_keys", "status", "active")
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/collections/signing_keys/records/" + active.Id
	for _, r := range []testkit.Reply{
		l.admin(http.MethodPatch, path, map[string]any{"status": "retired"}),
		l.admin(http.MethodDelete, path, nil),
	} {
		if r.Status != 400 || r.Str("message") != hooks.MsgLastActiveKey || !strings.Contains(string(r.Body), `"validation_last_active_key"`) {
			t.Fatalf("retiring or deleting the only active key: %d %s", r.Status, r.Body)
		}
	}
	if fresh := testkit.Reload(t, l.app, active); fresh.GetString("status") != "active" {
		t.Fatalf("the refused write left status %q", fresh.GetString("status"))
	}
	if r := l.login(u); r.Status != 200 || r.Str("access") == "" {
		t.Fatalf("login after the refused writes: %d %s", r.Status, r.Body)
	}
	if r := l.c.Do(http.MethodGet, "/.well-known/jwks.json", nil); r.Status != 200 || !strings.Contains(string(r.Body), active.GetString("kid")) {
		t.Fatalf("jwks after the refused writes: %d %s", r.Status, r.Body)
	}

	// The service's rotation retires the active key (the new one is written first).
	newKid, err := l.services.Tokens.Rotate()
	if err != nil {
		t.Fatalf("rotation with the guard: %v", err)
	}
	if n := l.count("signing_keys", dbx.HashExp{"status": "active"}); n != 1 {
		t.Fatalf("%d active keys after the rotation", n)
	}
	if fresh := testkit.Reload(t, l.app, active); fresh.GetString("status") != "retired" {
		t.Fatalf("the old key after the rotation: %q", fresh.GetString("status"))
	}
	// The old key is retired now: the dashboard may delete it; the new one stays guarded.
	if r := l.admin(http.MethodDelete, path, nil); r.Status != 204 {
		t.Fatalf("deleting a retired key: %d %s", r.Status, r.Body)
	}
	if n := l.count("signing_keys", dbx.HashExp{"id": active.Id}); n != 0 {
		t.Fatal("the retired key was not deleted")
	}
	current, _ := l.app.FindFirstRecordByData("signing_keys", "kid", newKid)
	if r := l.admin(http.MethodPatch, "/api/collections/signing_keys/records/"+current.Id, map[string]any{"status": "retired"}); r.Status != 400 {
		t.Fatalf("retiring the new only active key: %d %s", r.Status, r.Body)
	}
	if r := l.login(u); r.Status != 200 || r.Str("access") == "" {
		t.Fatalf("login after the rotation: %d %s", r.Status, r.Body)
	}
	if r := l.c.Do(http.MethodGet, "/.well-known/jwks.json", nil); r.Status != 200 || !strings.Contains(string(r.Body), newKid) {
		t.Fatalf("jwks after the rotation: %d %s", r.Status, r.Body)
	}
}

// §2.14: an API key created through the records API (§1.15's fixture path) without is_active
// is active, and authenticates (SERVICE(users:read) reads user info); one created with
// is_active false does not.
func TestRecordsAPICreatedAPIKeyIsActiveByDefault(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	u := l.staff()
	for _, c := range []struct {
		prefix string
		active any // nil: not in the body
		status int
	}{{"hkdflt01", nil, 200}, {"hkoff001", false, 401}} {
		key := "ak_" + c.prefix + "_" + strings.Repeat("Ab3", 10) + "xy"
		body := map[string]any{"name": "fixture", "key_prefix": c.prefix, "key_hash": tokens.HashAPIKey(key), "scopes": []string{"users:read"}}
		if c.active != nil {
			body["is_active"] = c.active
		}
		r := l.admin(http.MethodPost, "/api/collections/api_keys/records", body)
		if r.Status != 200 || r.JSON["is_active"] != (c.active == nil) {
			t.Fatalf("%s: create: %d %s", c.prefix, r.Status, r.Body)
		}
		stored, err := l.app.FindFirstRecordByData("api_keys", "key_prefix", c.prefix)
		if err != nil || stored.GetBool("is_active") != (c.active == nil) {
			t.Fatalf("%s: stored is_active = %v (%v)", c.prefix, stored.GetBool("is_active"), err)
		}
		got := l.c.Do(http.MethodGet, "/api/v1/tts/user-info/"+u.Id+"/", nil, "X-API-Key", key)
		if got.Status != c.status {
			t.Fatalf("%s: user-info with the key: %d %s", c.prefix, got.Status, got.Body)
		}
		if c.status == 200 && !strings.Contains(string(got.Body), `"`+u.Email()+`"`) {
			t.Fatalf("%s: user-info without the user: %s", c.prefix, got.Body)
		}
	}
}

// §2.4: systems.url is an absolute http or https URL also when the dashboard writes it
// (PocketBase's url field alone stores "ams.example.com", ftp://, wss://, ...).
func TestSystemURLIsHTTPFromTheDashboard(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	tts, err := l.app.FindFirstRecordByData("systems", "slug", "tts")
	if err != nil {
		t.Fatal(err)
	}
	const good = "https://tts.example.com/app"
	if r := l.admin(http.MethodPatch, "/api/collections/systems/records/"+tts.Id, map[string]any{"url": good}); r.Status != 200 || r.Str("url") != good {
		t.Fatalf("an https URL: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"tts.example.com", "ftp://tts.example.com/", "wss://tts.example.com/", "tcp://tts.example.com:80", "https:///path-only"} {
		r := l.admin(http.MethodPatch, "/api/collections/systems/records/"+tts.Id, map[string]any{"url": bad})
		if r.Status != 400 || !strings.Contains(string(r.Body), `"url":{"code":"validation_invalid_url","message":"`+hooks.MsgInvalidURL+`"}`) {
			t.Fatalf("PATCH url %q: %d %s", bad, r.Status, r.Body)
		}
		if got := testkit.Reload(t, l.app, tts).GetString("url"); got != good {
			t.Fatalf("after the refused %q the stored url is %q", bad, got)
		}
		r = l.admin(http.MethodPost, "/api/collections/systems/records", map[string]any{"name": "Assets " + bad, "slug": "assets", "url": bad})
		if r.Status != 400 || !strings.Contains(string(r.Body), `"validation_invalid_url"`) {
			t.Fatalf("POST url %q: %d %s", bad, r.Status, r.Body)
		}
		if n := l.count("systems", dbx.HashExp{"slug": "assets"}); n != 0 {
			t.Fatalf("POST url %q stored the system", bad)
		}
	}
	if r := l.admin(http.MethodPatch, "/api/collections/systems/records/"+tts.Id, map[string]any{"url": ""}); r.Status != 200 || r.Str("url") != "" {
		t.Fatalf("clearing the optional url: %d %s", r.Status, r.Body)
	}
}

// §2.2, §2.10: the dashboard's "turn off 2FA" leaves the account as the API's disable does
// (no method, no secrets, no recovery codes, no live email code), and 2FA cannot be turned on
// without a method the sign-in can complete.
func TestDashboardTwoFactorFields(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	cfg := testkit.Config()
	u := l.staff()
	u.Set("otp_enabled", true)
	u.Set("otp_method", "totp")
	u.Set("totp_secret", "sealed-secret")
	u.Set("totp_pending_secret", "sealed-pending")
	u.Set("totp_pending_expires", "2099-01-01 00:00:00.000Z")
	if err := l.app.Save(u); err != nil {
		t.Fatal(err)
	}
	if _, err := secondfactor.GenerateRecoveryCodes(l.app, cfg, "staff", u.Id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secondfactor.IssueEmailCode(l.app, cfg, "staff", u.Id, secondfactor.PurposeManage); err != nil {
		t.Fatal(err)
	}
	other := l.staff() // another account's codes stay
	if _, err := secondfactor.GenerateRecoveryCodes(l.app, cfg, "staff", other.Id); err != nil {
		t.Fatal(err)
	}
	path := "/api/collections/users/records/" + u.Id

	r := l.admin(http.MethodPatch, path, map[string]any{"otp_enabled": false})
	if r.Status != 200 || r.JSON["otp_enabled"] != false || r.Str("otp_method") != "" {
		t.Fatalf("turning 2FA off: %d %s", r.Status, r.Body)
	}
	fresh := testkit.Reload(t, l.app, u)
	for _, f := range []string{"otp_method", "totp_secret", "totp_pending_secret", "totp_pending_expires"} {
		if v := fresh.GetString(f); v != "" {
			t.Errorf("after turning 2FA off %s = %q", f, v)
		}
	}
	if n := l.count("recovery_codes", dbx.HashExp{"user": u.Id}); n != 0 {
		t.Errorf("%d recovery codes left", n)
	}
	if n := l.count("otp_codes", dbx.HashExp{"user": u.Id, "used_at": ""}); n != 0 {
		t.Errorf("%d live email codes left", n)
	}
	if n := l.count("recovery_codes", dbx.HashExp{"user": other.Id}); n != 10 {
		t.Errorf("the other account has %d recovery codes, want 10", n)
	}

	// On without a method, or totp without a secret: refused, nothing changes.
	for _, body := range []map[string]any{
		{"otp_enabled": true},
		{"otp_enabled": true, "otp_method": "totp"},
	} {
		r := l.admin(http.MethodPatch, path, body)
		if r.Status != 400 || !strings.Contains(string(r.Body), `"otp_method":{"code":"validation_`) {
			t.Fatalf("%v: %d %s", body, r.Status, r.Body)
		}
		if fresh := testkit.Reload(t, l.app, u); fresh.GetBool("otp_enabled") || fresh.GetString("otp_method") != "" {
			t.Fatalf("%v: stored otp_enabled=%v method=%q", body, fresh.GetBool("otp_enabled"), fresh.GetString("otp_method"))
		}
	}
	// The email method is complete: the login then asks for an emailed code.
	if r := l.admin(http.MethodPatch, path, map[string]any{"otp_enabled": true, "otp_method": "email"}); r.Status != 200 || r.Str("otp_method") != "email" {
		t.Fatalf("email 2FA on: %d %s", r.Status, r.Body)
	}
	r = l.login(u)
	if methods, _ := r.JSON["methods"].([]any); r.Status != 200 || r.JSON["otp_required"] != true || len(methods) != 1 || methods[0] != "email" {
		t.Fatalf("login with email 2FA: %d %s", r.Status, r.Body)
	}
}

// §2.12: at most one pending invitation per (email, system), also for records-API creates and
// under parallel ones; expired, revoked or accepted invitations do not count, and a revoked
// one cannot be made pending again next to a pending one.
func TestOnePendingInvitationPerEmailAndSystem(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	tts, _ := l.app.FindFirstRecordByData("systems", "slug", "tts")
	hdts, _ := l.app.FindFirstRecordByData("systems", "slug", "hdts")
	role := func(sys *core.Record) string {
		r, err := l.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", map[string]any{"s": sys.Id})
		if err != nil {
			t.Fatal(err)
		}
		return r.Id
	}
	future, past := "2099-01-01 00:00:00.000Z", "2020-01-01 00:00:00.000Z"
	var tokenSeq atomic.Int64
	invite := func(email string, sys *core.Record, extra map[string]any) testkit.Reply {
		body := map[string]any{"email": email, "system": sys.Id, "role": role(sys), "expires_at": future,
			"token_hash": fmt.Sprintf("hash-%d", tokenSeq.Add(1))}
		for k, v := range extra {
			body[k] = v
		}
		return l.admin(http.MethodPost, "/api/collections/invitations/records", body)
	}
	pending := func(email string, sys *core.Record) int {
		return l.count("invitations", dbx.NewExp("email = {:e} AND system = {:s} AND accepted_at = '' AND revoked_at = '' AND expires_at > {:now}",
			dbx.Params{"e": email, "s": sys.Id, "now": "2030-01-01"}))
	}
	const msg = `"email":{"code":"validation_pending_invitation_exists","message":"A pending invitation for a@example.com to Ticket Tracking System already exists."}`

	// not pending: they never block
	for _, extra := range []map[string]any{{"expires_at": past}, {"revoked_at": past}, {"accepted_at": past}} {
		if r := invite("a@example.com", tts, extra); r.Status != 200 {
			t.Fatalf("%v: %d %s", extra, r.Status, r.Body)
		}
	}
	first := invite("a@example.com", tts, nil)
	if first.Status != 200 {
		t.Fatalf("first pending: %d %s", first.Status, first.Body)
	}
	for _, email := range []string{"a@example.com", " A@Example.COM "} {
		if r := invite(email, tts, nil); r.Status != 400 || !strings.Contains(string(r.Body), msg) {
			t.Fatalf("second pending (%q): %d %s", email, r.Status, r.Body)
		}
	}
	if n := pending("a@example.com", tts); n != 1 {
		t.Fatalf("%d pending invitations for the pair", n)
	}
	if r := invite("a@example.com", hdts, nil); r.Status != 200 { // another system
		t.Fatalf("the same email to hdts: %d %s", r.Status, r.Body)
	}
	// a revoked one made pending again next to the pending one
	revoked, err := l.app.FindFirstRecordByFilter("invitations", "email = 'a@example.com' && system = {:s} && revoked_at != ''", map[string]any{"s": tts.Id})
	if err != nil {
		t.Fatal(err)
	}
	if r := l.admin(http.MethodPatch, "/api/collections/invitations/records/"+revoked.Id, map[string]any{"revoked_at": ""}); r.Status != 400 || !strings.Contains(string(r.Body), msg) {
		t.Fatalf("un-revoking next to a pending one: %d %s", r.Status, r.Body)
	}
	// the pending one itself can be edited (its own row does not count)
	if r := l.admin(http.MethodPatch, "/api/collections/invitations/records/"+first.Str("id"), map[string]any{"expires_at": "2098-01-01 00:00:00.000Z"}); r.Status != 200 {
		t.Fatalf("editing the pending invitation: %d %s", r.Status, r.Body)
	}

	// a burst for a new pair: exactly one is stored
	const n = 10
	wins := testkit.Concurrently(t, n, func() (bool, error) {
		r := invite("burst@example.com", tts, nil)
		return r.Status == 200, nil
	})
	if wins != 1 || pending("burst@example.com", tts) != 1 {
		t.Fatalf("burst: %d creates answered 200, %d pending stored", wins, pending("burst@example.com", tts))
	}
}

// §2.2: an account's email has at most 254 characters also through the records API (PocketBase's
// email field has no length limit), with the endpoints' message; 254 is accepted.
func TestAccountEmailAtMost254Characters(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	// an address of n characters: 60-character labels, then a local part of at most 64
	email := func(n int) string {
		domain := "example.com"
		for 64+1+len(domain) < n {
			domain = strings.Repeat("b", 60) + "." + domain
		}
		addr := strings.Repeat("a", n-1-len(domain)) + "@" + domain
		if len(addr) != n {
			t.Fatalf("built %d characters, want %d", len(addr), n)
		}
		return addr
	}
	const msg = `"email":{"code":"validation_max_text_constraint","message":"Ensure this field has no more than 254 characters."}`
	for _, col := range []string{"users", "employees"} {
		long, ok := email(255), email(254)
		body := func(addr string) map[string]any {
			return map[string]any{"email": addr, "password": "correct horse battery", "passwordConfirm": "correct horse battery"}
		}
		if r := l.admin(http.MethodPost, "/api/collections/"+col+"/records", body(long)); r.Status != 400 || !strings.Contains(string(r.Body), msg) {
			t.Fatalf("%s: create with 255 characters: %d %s", col, r.Status, r.Body)
		}
		if n := l.count(col, dbx.HashExp{"email": long}); n != 0 {
			t.Fatalf("%s: the 255-character email was stored", col)
		}
		r := l.admin(http.MethodPost, "/api/collections/"+col+"/records", body(ok))
		if r.Status != 200 {
			t.Fatalf("%s: create with 254 characters: %d %s", col, r.Status, r.Body)
		}
		if r := l.admin(http.MethodPatch, "/api/collections/"+col+"/records/"+r.Str("id"), map[string]any{"email": email(300)}); r.Status != 400 || !strings.Contains(string(r.Body), msg) {
			t.Fatalf("%s: update to 300 characters: %d %s", col, r.Status, r.Body)
		}
		if n := l.count(col, dbx.HashExp{"email": ok}); n != 1 {
			t.Fatalf("%s: the refused update changed the email", col)
		}
	}
}

// §2.5: a role created through the records API is a custom role (is_custom true) unless the
// body says otherwise — default roles come only from migrations, seed and system creation — so
// it can be renamed and deleted through our API like any custom role.
func TestRecordsAPICreatedRoleIsCustomByDefault(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	hdts, err := l.app.FindFirstRecordByData("systems", "slug", "hdts")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		custom any // nil: not in the body
	}{{"Dashboard Role", nil}, {"Dashboard Default", false}} {
		body := map[string]any{"name": c.name, "system": hdts.Id}
		if c.custom != nil {
			body["is_custom"] = c.custom
		}
		r := l.admin(http.MethodPost, "/api/collections/roles/records", body)
		if r.Status != 200 || r.JSON["is_custom"] != (c.custom == nil) {
			t.Fatalf("%s: %d %s", c.name, r.Status, r.Body)
		}
		stored, err := l.app.FindFirstRecordByData("roles", "name", c.name)
		if err != nil || stored.GetBool("is_custom") != (c.custom == nil) {
			t.Fatalf("%s: stored is_custom %v (%v)", c.name, stored.GetBool("is_custom"), err)
		}
	}
}

// §3.5: a password a superuser sets in the dashboard is a reset — every session of the account
// ends (password_reset), so resetting a compromised account ends the attacker's sessions; 2FA
// turned off there ends them too (security_change). Other dashboard edits end none.
func TestDashboardSecurityChangesRevokeSessions(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	u := l.staff()
	live := func() int { return l.count("sessions", dbx.HashExp{"user": u.Id, "revoked_at": ""}) }
	path := "/api/collections/users/records/" + u.Id

	refresh := l.login(u).Str("refresh")
	if r := l.admin(http.MethodPatch, path, map[string]any{"first_name": "Renamed"}); r.Status != 200 || live() != 1 {
		t.Fatalf("a plain edit: %d %s, %d live sessions", r.Status, r.Body, live())
	}
	if r := l.admin(http.MethodPatch, path, map[string]any{"password": "new-harbor-lantern-9", "passwordConfirm": "new-harbor-lantern-9"}); r.Status != 200 {
		t.Fatalf("set password: %d %s", r.Status, r.Body)
	}
	if n := l.count("sessions", dbx.HashExp{"user": u.Id, "revoked_reason": "password_reset"}); n != 1 || live() != 0 {
		t.Fatalf("after the dashboard's password: %d password_reset, %d live", n, live())
	}
	if r := l.c.Do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": refresh}); r.Status != 401 {
		t.Fatalf("refresh after the dashboard's password: %d %s", r.Status, r.Body)
	}

	// 2FA off from the dashboard
	testkit.SetField(t, l.app, u, "otp_enabled", true)
	testkit.SetField(t, l.app, u, "otp_method", "email")
	r := l.c.Do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": u.Email(), "password": "new-harbor-lantern-9"})
	if r.Status != 200 || r.Str("temporary_token") == "" {
		t.Fatalf("2FA login: %d %s", r.Status, r.Body)
	}
	testkit.SetField(t, l.app, u, "otp_enabled", false) // (a session to end: log in without 2FA)
	r = l.c.Do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": u.Email(), "password": "new-harbor-lantern-9"})
	if r.Status != 200 || r.Str("access") == "" {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	testkit.SetField(t, l.app, u, "otp_enabled", true)
	testkit.SetField(t, l.app, u, "otp_method", "email")
	if r := l.admin(http.MethodPatch, path, map[string]any{"otp_enabled": false}); r.Status != 200 {
		t.Fatalf("2FA off: %d %s", r.Status, r.Body)
	}
	if n := l.count("sessions", dbx.HashExp{"user": u.Id, "revoked_reason": "security_change"}); n != 1 || live() != 0 {
		t.Fatalf("after 2FA off in the dashboard: %d security_change, %d live", n, live())
	}
}
