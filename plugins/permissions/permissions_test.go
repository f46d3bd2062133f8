package permissions_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/permissions"
	"gatehouse/plugins/profiles"
	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

const (
	bodyNotAuth   = `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`
	bodyBadToken  = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
	bodyForbidden = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`
	bodyNoSuper   = `{"detail":"Only superusers can do this","code":"permission_denied"}`
	bodyNotAdminS = `{"detail":"You don't have permission to manage this system","code":"permission_denied"}`
	bodyNotMember = `{"detail":"You are not a member of this system","code":"permission_denied"}`
	bodySysNotFnd = `{"detail":"System not found.","code":"not_found"}`
	bodyOnlySuper = `{"detail":"Only superusers can delete users","code":"permission_denied"}`
)

// fixture is a served app with the full wiring plus a test path table that declares every
// level (route-level) and checks ADMIN(S)/MEMBER(S) of a path system in the handler.
type fixture struct {
	t       *testing.T
	app     *tests.TestApp
	srv     *httptest.Server
	handled atomic.Int64 // handler runs: a refused request never reaches its handler
	tts     *core.Record
	hdts    *core.Record
	roles   map[string]*core.Record // "tts/Admin", "tts/Agent", "tts/admin", "hdts/Admin"
	tokens  *tokens.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, roles: map[string]*core.Record{}}
	f.app = testkit.NewApp(t, func(app *tests.TestApp) {
		svc := server.Register(app, testkit.Config(), server.Options{})
		kit := svc.Kit
		f.tokens = svc.Tokens
		app.OnServe().BindFunc(func(se *core.ServeEvent) error {
			if err := kit.Mount(se.Router, f.routes()); err != nil {
				return err
			}
			return se.Next()
		})
	})
	f.app.Settings().RateLimits.Enabled = false
	f.srv = testkit.Serve(t, f.app)

	var err error
	if f.tts, err = f.app.FindFirstRecordByData("systems", "slug", "tts"); err != nil {
		t.Fatal(err)
	}
	if f.hdts, err = f.app.FindFirstRecordByData("systems", "slug", "hdts"); err != nil {
		t.Fatal(err)
	}
	for _, sys := range []*core.Record{f.tts, f.hdts} {
		admin, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", map[string]any{"s": sys.Id})
		if err != nil {
			t.Fatal(err)
		}
		f.roles[sys.GetString("slug")+"/Admin"] = admin
	}
	f.roles["tts/Agent"] = f.newRole(f.tts, "Agent")
	f.roles["tts/admin"] = f.newRole(f.tts, "admin") // lower case: not the Admin role
	return f
}

func (f *fixture) routes() []apikit.Route {
	get := func(path string, access apikit.Access, h func(e *core.RequestEvent) error) apikit.Route {
		return apikit.Route{Method: http.MethodGet, Path: "/api/v1/permtest/" + path, Access: access, Handler: func(e *core.RequestEvent) error {
			f.handled.Add(1)
			return h(e)
		}}
	}
	summary := func(e *core.RequestEvent) error {
		s, err := permissions.For(e)
		if err != nil {
			return err
		}
		slugs := func(systems []permissions.System, all bool) any {
			if all {
				return "all"
			}
			out := []string{}
			for _, sys := range systems {
				out = append(out, sys.Slug)
			}
			return out
		}
		return apikit.WriteJSON(e, http.StatusOK, map[string]any{
			"superuser": s.IsSuperuser(), "any_admin": s.AnyAdmin(),
			"admin": slugs(s.AdminSystems()), "member": slugs(s.MemberSystems()),
		})
	}
	// The order of §1.3 for a system named by the path: level (route) → lookup (404) →
	// ADMIN(S)/MEMBER(S) (403 with the endpoint's text).
	lookup := func(e *core.RequestEvent) (*core.Record, error) {
		sys, err := e.App.FindRecordById("systems", e.Request.PathValue("id"))
		if err != nil {
			return nil, apikit.NotFound("System not found.")
		}
		return sys, nil
	}
	system := func(e *core.RequestEvent) error {
		sys, err := lookup(e)
		if err != nil {
			return err
		}
		if err := permissions.RequireAdmin(e, sys.Id, "You don't have permission to manage this system"); err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, map[string]any{"system": sys.GetString("slug")})
	}
	member := func(e *core.RequestEvent) error {
		sys, err := lookup(e)
		if err != nil {
			return err
		}
		if err := permissions.RequireMember(e, sys.Id, "You are not a member of this system"); err != nil {
			return err
		}
		return apikit.WriteJSON(e, http.StatusOK, map[string]any{"system": sys.GetString("slug")})
	}
	return []apikit.Route{
		get("staff/", apikit.Staff, summary),
		get("superuser/", apikit.Superuser.WithDenied("Only superusers can do this"), summary),
		get("any-admin/", apikit.AnyAdmin, summary),
		get("tts-admin/", apikit.AdminOf("tts"), summary),
		get("tts-member/", apikit.MemberOf("tts"), summary),
		get("member-or-service/", apikit.MemberOf("tts", "hdts").OrService("users:read"), summary),
		get("systems/{id}/", apikit.AnyAdmin, system),
		get("members/{id}/", apikit.Staff, member),
		get("super-split/", apikit.AnyAdmin, func(e *core.RequestEvent) error {
			if err := permissions.RequireSuperuser(e, "Only superusers can delete users"); err != nil {
				return err
			}
			return apikit.WriteJSON(e, http.StatusOK, map[string]any{"system": "all"})
		}),
	}
}

func (f *fixture) newRole(sys *core.Record, name string) *core.Record {
	f.t.Helper()
	return testkit.NewCustomRole(f.t, f.app, sys.Id, name)
}

// staff creates an active staff user holding the given assignments ("tts/Admin" or, inactive,
// "-tts/Admin").
func (f *fixture) staff(superuser bool, assignments ...string) *core.Record {
	f.t.Helper()
	u := testkit.NewPrincipal(f.t, f.app, "users", "perm")
	u.Set("is_active", true)
	u.Set("is_superuser", superuser)
	if err := f.app.Save(u); err != nil {
		f.t.Fatal(err)
	}
	for _, a := range assignments {
		f.assign(u, strings.TrimPrefix(a, "-"), !strings.HasPrefix(a, "-"))
	}
	return u
}

func (f *fixture) assign(u *core.Record, role string, active bool) *core.Record {
	f.t.Helper()
	return testkit.Assign(f.t, f.app, u, f.roles[role], active)
}

// access starts a session of a users or employees record and returns its access token.
func (f *fixture) access(userType string, rec *core.Record) string {
	f.t.Helper()
	issued, err := f.tokens.StartSession(f.app, userType, rec, "password", "127.0.0.1", "permissions-test")
	if err != nil {
		f.t.Fatal(err)
	}
	return issued.Access
}

// apiKey stores an API key with scopes and returns it.
func (f *fixture) apiKey(prefix string, scopes ...string) string {
	f.t.Helper()
	key := "ak_" + prefix + "_" + strings.Repeat("Ab3", 10) + "xy"
	col, err := f.app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		f.t.Fatal(err)
	}
	r := core.NewRecord(col)
	r.Set("name", "test "+prefix)
	r.Set("key_prefix", prefix)
	r.Set("key_hash", tokens.HashAPIKey(key))
	r.Set("scopes", scopes)
	r.Set("is_active", true)
	if err := f.app.Save(r); err != nil {
		f.t.Fatal(err)
	}
	return key
}

// get requests a test path with the given headers; it returns the status and the body.
func (f *fixture) get(path string, headers map[string]string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v1/permtest/"+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(body))
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// expect checks one request: status, exact body, and whether the handler ran.
func (f *fixture) expect(label, path string, headers map[string]string, status int, body string) {
	f.t.Helper()
	before := f.handled.Load()
	gotStatus, gotBody := f.get(path, headers)
	if gotStatus != status || gotBody != body {
		f.t.Errorf("%s GET %s: %d %s\n\twant %d %s", label, path, gotStatus, gotBody, status, body)
	}
	// the handler runs for a 200 and for its own answers (the lookup's 404, the 403s with the
	// endpoint's text); a refusal at the route (401, the level's 403) never reaches it
	wantRan := int64(0)
	if status == http.StatusOK || status == http.StatusNotFound || body == bodyNotAdminS || body == bodyNotMember || body == bodyOnlySuper {
		wantRan = 1
	}
	if ran := f.handled.Load() - before; ran != wantRan {
		f.t.Errorf("%s GET %s: handler ran %d times, want %d", label, path, ran, wantRan)
	}
}

// Every level × every kind of caller (§1.7), through the route table and the handler checks.
func TestLevelsByCaller(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	employee := testkit.NewPrincipal(t, f.app, "employees", "permemp")
	employee.Set("status", "Approved")
	if err := f.app.Save(employee); err != nil {
		t.Fatal(err)
	}
	callers := map[string]map[string]string{
		"anonymous":          nil,
		"employee":           bearer(f.access("employee", employee)),
		"api key":            {"X-API-Key": f.apiKey("permkey1", "users:read")},
		"api key, no scope":  {"X-API-Key": f.apiKey("permkey2", "round_robin:read")},
		"staff":              bearer(f.access("staff", f.staff(false))),
		"tts agent":          bearer(f.access("staff", f.staff(false, "tts/Agent"))),
		"tts admin":          bearer(f.access("staff", f.staff(false, "tts/Admin"))),
		"inactive tts admin": bearer(f.access("staff", f.staff(false, "-tts/Admin"))),
		"tts lower-case":     bearer(f.access("staff", f.staff(false, "tts/admin"))),
		"hdts admin, tts agent": bearer(f.access("staff",
			f.staff(false, "hdts/Admin", "tts/Agent"))),
		"superuser": bearer(f.access("staff", f.staff(true))),
	}

	summary := func(super, anyAdmin bool, admin, member string) string {
		b, _ := json.Marshal(map[string]any{"superuser": super, "any_admin": anyAdmin, "admin": raw(admin), "member": raw(member)})
		return string(b)
	}
	sys := func(slug string) string { return `{"system":"` + slug + `"}` }
	unknown := "systems/zzzzzzzzzzzzzzz/"
	tts, hdts := f.tts.Id, f.hdts.Id

	// a staff caller without any admin scope, and its summary
	noScope := func(member string) map[string][2]any {
		s := summary(false, false, `[]`, member)
		m := map[string][2]any{
			"staff/": {200, s}, "superuser/": {403, bodyNoSuper}, "any-admin/": {403, bodyForbidden},
			"tts-admin/": {403, bodyForbidden}, "tts-member/": {403, bodyForbidden}, "member-or-service/": {403, bodyForbidden},
			// no admin scope at all: ANY_ADMIN fails first, with the default text, even for an unknown S
			"systems/" + tts + "/": {403, bodyForbidden}, "systems/" + hdts + "/": {403, bodyForbidden}, unknown: {403, bodyForbidden},
			"members/" + tts + "/": {403, bodyNotMember}, "members/" + hdts + "/": {403, bodyNotMember},
			"members/zzzzzzzzzzzzzzz/": {404, bodySysNotFnd}, "super-split/": {403, bodyForbidden},
		}
		if member != `[]` {
			for _, p := range []string{"tts-member/", "member-or-service/"} {
				m[p] = [2]any{200, s}
			}
			m["members/"+tts+"/"] = [2]any{200, sys("tts")}
		}
		return m
	}
	everyPath := func(status int, body string) map[string][2]any {
		m := noScope(`[]`)
		for p := range m {
			m[p] = [2]any{status, body}
		}
		return m
	}
	apiKey := everyPath(401, bodyNotAuth) // X-API-Key is ignored where no scope is named
	apiKey["member-or-service/"] = [2]any{200, summary(false, false, `[]`, `[]`)}
	apiKeyNoScope := everyPath(401, bodyNotAuth)
	apiKeyNoScope["member-or-service/"] = [2]any{403, bodyForbidden}

	ttsAdmin := noScope(`["tts"]`)
	ttsAdminSummary := summary(false, true, `["tts"]`, `["tts"]`)
	for _, p := range []string{"staff/", "any-admin/", "tts-admin/", "tts-member/", "member-or-service/"} {
		ttsAdmin[p] = [2]any{200, ttsAdminSummary}
	}
	ttsAdmin["systems/"+tts+"/"] = [2]any{200, sys("tts")}
	ttsAdmin["systems/"+hdts+"/"] = [2]any{403, bodyNotAdminS} // some admin scope, not S: the endpoint's text
	ttsAdmin[unknown] = [2]any{404, bodySysNotFnd}
	ttsAdmin["super-split/"] = [2]any{403, bodyOnlySuper} // an admin, not a superuser: the endpoint's text

	hdtsAdmin := noScope(`["hdts","tts"]`)
	hdtsAdminSummary := summary(false, true, `["hdts"]`, `["hdts","tts"]`)
	for _, p := range []string{"staff/", "any-admin/", "tts-member/", "member-or-service/"} {
		hdtsAdmin[p] = [2]any{200, hdtsAdminSummary}
	}
	hdtsAdmin["tts-admin/"] = [2]any{403, bodyForbidden}
	hdtsAdmin["systems/"+tts+"/"] = [2]any{403, bodyNotAdminS} // admin of hdts acting on tts
	hdtsAdmin["systems/"+hdts+"/"] = [2]any{200, sys("hdts")}
	hdtsAdmin[unknown] = [2]any{404, bodySysNotFnd}
	hdtsAdmin["super-split/"] = [2]any{403, bodyOnlySuper}
	hdtsAdmin["members/"+hdts+"/"] = [2]any{200, sys("hdts")}

	superSummary := summary(true, true, `"all"`, `"all"`)
	superuser := everyPath(200, superSummary)
	superuser["systems/"+tts+"/"] = [2]any{200, sys("tts")}
	superuser["systems/"+hdts+"/"] = [2]any{200, sys("hdts")}
	superuser["members/"+tts+"/"] = [2]any{200, sys("tts")}
	superuser["members/"+hdts+"/"] = [2]any{200, sys("hdts")}
	superuser[unknown] = [2]any{404, bodySysNotFnd}
	superuser["members/zzzzzzzzzzzzzzz/"] = [2]any{404, bodySysNotFnd}
	superuser["super-split/"] = [2]any{200, `{"system":"all"}`}

	want := map[string]map[string][2]any{
		"anonymous":             everyPath(401, bodyNotAuth),
		"employee":              everyPath(401, bodyBadToken), // staff levels: an employee token is invalid (§1.5)
		"api key":               apiKey,
		"api key, no scope":     apiKeyNoScope,
		"staff":                 noScope(`[]`),
		"tts agent":             noScope(`["tts"]`),
		"tts admin":             ttsAdmin,
		"inactive tts admin":    noScope(`[]`),      // an inactive assignment grants nothing
		"tts lower-case":        noScope(`["tts"]`), // "admin" is a member's role, not Admin
		"hdts admin, tts agent": hdtsAdmin,
		"superuser":             superuser,
	}
	for name, headers := range callers {
		for path, w := range want[name] {
			f.expect(name, path, headers, w[0].(int), w[1].(string))
		}
	}
}

// raw is a JSON literal for json.Marshal.
type raw string

func (r raw) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// Role and assignment changes take effect on the next request (§3.5, §1.5): the assignments are
// cached under the write epoch, and each write below is seen at once, through the cache.
func TestChangesTakeEffectAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.staff(false)
	a := f.assign(u, "tts/Admin", true)
	token := bearer(f.access("staff", u))
	adminSummary := `{"admin":["tts"],"any_admin":true,"member":["tts"],"superuser":false}`
	noneSummary := `{"admin":[],"any_admin":false,"member":[],"superuser":false}`

	cached := func(label string) {
		t.Helper()
		r1, err := permissions.Assignments(f.app, u.Id)
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := permissions.Assignments(f.app, u.Id)
		if len(r1) == 0 || &r1[0] != &r2[0] {
			t.Fatalf("%s: the assignments were not served from the cache", label)
		}
	}
	f.expect("admin", "tts-admin/", token, 200, adminSummary)
	cached("admin")

	// assignment deactivated → no longer admin nor member
	testkit.SetField(t, f.app, a, "is_active", false)
	f.expect("deactivated", "tts-admin/", token, 403, bodyForbidden)
	f.expect("deactivated", "staff/", token, 200, noneSummary)
	cached("deactivated")

	testkit.SetField(t, f.app, a, "is_active", true)
	f.expect("reactivated", "tts-admin/", token, 200, adminSummary)

	// the Admin role renamed: its holders are no longer admins (a member role now). A default
	// role keeps its name (hooks: keepDefaultRoleName), so the role is made a custom one first.
	admin := f.roles["tts/Admin"]
	if _, err := f.app.DB().Update("roles", dbx.Params{"is_custom": true}, dbx.HashExp{"id": admin.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	admin = testkit.Reload(t, f.app, admin)
	for _, name := range []string{"Administrator", "ADMIN"} {
		testkit.SetField(t, f.app, admin, "name", name)
		f.expect("role renamed "+name, "tts-admin/", token, 403, bodyForbidden)
		f.expect("role renamed "+name, "staff/", token, 200, `{"admin":[],"any_admin":false,"member":["tts"],"superuser":false}`)
		f.expect("role renamed "+name, "systems/"+f.tts.Id+"/", token, 403, bodyForbidden)
		// the roles claim of the next token and the UserProfile read the same assignments
		if got, want := rolesClaim(t, f.access("staff", u)), `[{"system":"tts","role":"`+name+`"}]`; got != want {
			t.Errorf("roles claim after the rename: %s, want %s", got, want)
		}
		p, err := profiles.UserProfile(f.app, "https://a.example", u, "")
		if err != nil || len(p.SystemRoles) != 1 || p.SystemRoles[0].RoleName != name {
			t.Errorf("UserProfile after the rename: %+v %v", p.SystemRoles, err)
		}
	}
	testkit.SetField(t, f.app, admin, "name", "Admin")
	f.expect("renamed back", "tts-admin/", token, 200, adminSummary)
	f.expect("renamed back", "systems/"+f.tts.Id+"/", token, 200, `{"system":"tts"}`)
	cached("renamed back")

	// the lower-case role renamed to Admin... is impossible next to Admin (unique index is
	// exact case, so it may exist): a user holding "admin" becomes admin only when the name is
	// exactly "Admin"
	v := f.staff(false, "tts/admin")
	vt := bearer(f.access("staff", v))
	f.expect("lower-case", "any-admin/", vt, 403, bodyForbidden)
	testkit.SetField(t, f.app, admin, "name", "Old Admin")
	testkit.SetField(t, f.app, f.roles["tts/admin"], "name", "Admin")
	f.expect("lower-case renamed to Admin", "any-admin/", vt, 200, adminSummary)
	f.expect("old Admin holder", "any-admin/", token, 403, bodyForbidden)

	// assignment deleted
	if err := f.app.Delete(testkit.Reload(t, f.app, a)); err != nil {
		t.Fatal(err)
	}
	f.expect("deleted", "staff/", token, 200, noneSummary)

	// superuser flag set, then cleared
	testkit.SetField(t, f.app, u, "is_superuser", true)
	f.expect("made superuser", "superuser/", token, 200, `{"admin":"all","any_admin":true,"member":"all","superuser":true}`)
	testkit.SetField(t, f.app, u, "is_superuser", false)
	f.expect("superuser cleared", "superuser/", token, 403, bodyNoSuper)
}

// A deactivated superuser is nobody: its token is refused (401), and a Scope resolved from its
// record grants nothing.
func TestDeactivatedSuperuser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.staff(true, "tts/Admin")
	token := bearer(f.access("staff", u))
	f.expect("active", "superuser/", token, 200, `{"admin":"all","any_admin":true,"member":"all","superuser":true}`)

	testkit.SetField(t, f.app, u, "is_active", false)
	f.expect("deactivated", "superuser/", token, 401, bodyBadToken)
	f.expect("deactivated", "staff/", token, 401, bodyBadToken)

	s, err := permissions.Resolve(f.app, &apikit.Caller{Kind: apikit.KindStaff, Record: testkit.Reload(t, f.app, u)})
	if err != nil {
		t.Fatal(err)
	}
	if s.IsSuperuser() || s.AnyAdmin() || s.IsAdmin(f.tts.Id) || s.IsMemberSlug("tts") || s.IsStaff() {
		t.Fatalf("a deactivated superuser has rights: %+v", s)
	}
}

// Resolve by caller kind, without HTTP: only staff users have rights; ids and slugs agree.
func TestResolveByKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.staff(false, "tts/Admin", "-hdts/Admin")
	emp := testkit.NewPrincipal(t, f.app, "employees", "permres")
	super := f.staff(true)
	super.Set("is_superuser", true)
	cases := []struct {
		name                  string
		caller                *apikit.Caller
		super, anyAdmin       bool
		adminTTS, adminHDTS   bool
		memberTTS, memberHDTS bool
	}{
		{"anonymous", nil, false, false, false, false, false, false},
		{"employee", &apikit.Caller{Kind: apikit.KindEmployee, Record: emp}, false, false, false, false, false, false},
		{"api key", &apikit.Caller{Kind: apikit.KindService, Scopes: []string{"users:read"}}, false, false, false, false, false, false},
		{"tts admin, inactive hdts admin", &apikit.Caller{Kind: apikit.KindStaff, Record: admin}, false, true, true, false, true, false},
		{"superuser", &apikit.Caller{Kind: apikit.KindStaff, Record: super}, true, true, true, true, true, true},
	}
	for _, c := range cases {
		s, err := permissions.Resolve(f.app, c.caller)
		if err != nil {
			t.Fatal(err)
		}
		got := []bool{s.IsSuperuser(), s.AnyAdmin(), s.IsAdmin(f.tts.Id), s.IsAdmin(f.hdts.Id), s.IsMember(f.tts.Id), s.IsMember(f.hdts.Id)}
		bySlug := []bool{s.IsSuperuser(), s.AnyAdmin(), s.IsAdminSlug("tts"), s.IsAdminSlug("hdts"), s.IsMemberSlug("tts"), s.IsMemberSlug("hdts")}
		want := []bool{c.super, c.anyAdmin, c.adminTTS, c.adminHDTS, c.memberTTS, c.memberHDTS}
		for i := range want {
			if got[i] != want[i] || bySlug[i] != want[i] {
				t.Errorf("%s: by id %v, by slug %v, want %v", c.name, got, bySlug, want)
				break
			}
		}
	}
	// the inactive assignment is still listed (profiles show it), flagged inactive
	rows, err := permissions.Assignments(f.app, admin.Id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].SystemSlug != "hdts" || rows[0].IsActive || rows[1].SystemSlug != "tts" || !rows[1].GrantsAdmin() {
		t.Fatalf("assignments: %+v", rows)
	}
}

// rolesClaim is the "roles" claim of a JWT, as JSON (the payload is not verified here).
func rolesClaim(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Roles json.RawMessage }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return string(claims.Roles)
}

// Catalogue: cached under the write epoch (the same map while nothing is written), read again
// after a write (a system renamed, a role added), and read anew when asked fresh.
func TestCatalogueFollowsWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c1, err := permissions.Catalogue(f.app, false)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Systems[f.tts.Id] != (permissions.CatalogSystem{Name: f.tts.GetString("name"), Slug: "tts"}) ||
		c1.Roles[f.roles["tts/Agent"].Id] != "Agent" {
		t.Fatalf("catalog: %+v", c1)
	}
	if c2, _ := permissions.Catalogue(f.app, false); c2 != c1 {
		t.Error("not cached while nothing was written")
	}
	if c3, _ := permissions.Catalogue(f.app, true); c3 == c1 || c3.Roles[f.roles["tts/Agent"].Id] != "Agent" {
		t.Error("fresh = true served the cached catalog")
	}
	f.tts.Set("name", "Tickets Renamed")
	if err := f.app.Save(f.tts); err != nil {
		t.Fatal(err)
	}
	role := f.newRole(f.hdts, "Auditor")
	c4, err := permissions.Catalogue(f.app, false)
	if err != nil {
		t.Fatal(err)
	}
	if c4.Systems[f.tts.Id].Name != "Tickets Renamed" || c4.Roles[role.Id] != "Auditor" {
		t.Errorf("after the writes: %+v", c4)
	}
}

// Every refusal of a permission or an API key writes its audit row (Appendix C): authz.denied
// for a 403 permission_denied (the route's level or the handler's check), apikey.denied for an
// API key that is invalid (401) or lacks the scope (403). Other answers write none.
func TestRefusalsAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	staff := f.staff(false, "tts/Admin")
	token := bearer(f.access("staff", staff))
	key := f.apiKey("auditkey", "round_robin:read")
	keyRec, err := f.app.FindFirstRecordByData("api_keys", "key_prefix", "auditkey")
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := "ak_auditkey_" + strings.Repeat("x", 32)

	type row struct{ Event, ActorType, ActorID, TargetType, TargetID, Details string }
	cases := []struct {
		label, path string
		headers     map[string]string
		status      int
		want        *row // nil: no row
	}{
		{"the route's level", "superuser/", token, 403,
			&row{"authz.denied", "staff", staff.Id, "", "", `"path":"/api/v1/permtest/superuser/"`}},
		{"the handler's check", "systems/" + f.hdts.Id + "/", token, 403,
			&row{"authz.denied", "staff", staff.Id, "", "", `"detail":"You don't have permission to manage this system"`}},
		{"a key without the scope", "member-or-service/", map[string]string{"X-API-Key": key}, 403,
			&row{"apikey.denied", "service", keyRec.Id, "", "", `"detail":"You do not have permission to perform this action."`}},
		{"a key with a wrong secret", "member-or-service/", map[string]string{"X-API-Key": wrongSecret}, 401,
			&row{"apikey.denied", "anonymous", "", "api_key", keyRec.Id, `"method":"GET"`}},
		{"an unknown key", "member-or-service/", map[string]string{"X-API-Key": "ak_nokey000_" + strings.Repeat("y", 32)}, 401,
			&row{"apikey.denied", "anonymous", "", "", "", `"path":"/api/v1/permtest/member-or-service/"`}},
		{"granted", "tts-admin/", token, 200, nil},
		{"a bad token", "tts-admin/", bearer("nope"), 401, nil},
		{"no credential", "tts-admin/", nil, 401, nil},
		{"not found", "members/zzzzzzzzzzzzzzz/", token, 404, nil},
	}
	for _, c := range cases {
		var before int
		if err := f.app.DB().Select("COUNT(*)").From("audit_log").Row(&before); err != nil {
			t.Fatal(err)
		}
		if status, body := f.get(c.path, c.headers); status != c.status {
			t.Fatalf("%s: %d %s, want %d", c.label, status, body, c.status)
		}
		var rows []row
		err := f.app.DB().Select("event", "actor_type", "actor_id", "target_type", "target_id", "details").From("audit_log").
			Where(dbx.NewExp("event IN ('authz.denied','apikey.denied')")).OrderBy("rowid").Offset(int64(before)).All(&rows)
		if err != nil {
			t.Fatal(err)
		}
		var after int
		if err := f.app.DB().Select("COUNT(*)").From("audit_log").Row(&after); err != nil {
			t.Fatal(err)
		}
		if c.want == nil {
			if after != before {
				t.Errorf("%s: %d audit rows written", c.label, after-before)
			}
			continue
		}
		if after != before+1 || len(rows) == 0 {
			t.Fatalf("%s: %d audit rows written, want 1", c.label, after-before)
		}
		got := rows[len(rows)-1]
		if got.Event != c.want.Event || got.ActorType != c.want.ActorType || got.ActorID != c.want.ActorID ||
			got.TargetType != c.want.TargetType || got.TargetID != c.want.TargetID || !strings.Contains(got.Details, c.want.Details) {
			t.Errorf("%s: row %+v, want %+v", c.label, got, *c.want)
		}
	}
}
