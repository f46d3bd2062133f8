package accounts_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/server"
	"gatehouse/testkit"
)

// fastFlow is a live server whose kit the test can reach (to switch the fast lane and read its
// counter).
func fastFlow(t *testing.T) (*flow, *apikit.Kit) {
	t.Helper()
	var kit *apikit.Kit
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = appURL
		cfg.CORSAllowedOrigins = []string{"https://desk.example.com"}
		kit = server.Register(app, cfg, server.Options{}).Kit
	})
	return &flow{t: t, app: app, url: testkit.Serve(t, app).URL}, kit
}

// assignRole gives userID the role roleName of the system slug.
func assignRole(t testing.TB, app core.App, userID, slug, roleName string, active bool) {
	t.Helper()
	sys, err := app.FindFirstRecordByData("systems", "slug", slug)
	must(t, err)
	role, err := app.FindFirstRecordByFilter("roles", "system = {:s} && name = {:n}", dbx.Params{"s": sys.Id, "n": roleName})
	must(t, err)
	col, err := app.FindCollectionByNameOrId("user_system_roles")
	must(t, err)
	a := core.NewRecord(col)
	a.Set("user", userID)
	a.Set("system", sys.Id)
	a.Set("role", role.Id)
	a.Set("is_active", active)
	must(t, app.Save(a))
}

// comparable drops what legitimately differs between two answers given a moment apart.
func comparable(t *testing.T, r reply) (int, http.Header, string) {
	t.Helper()
	h := r.header.Clone()
	h.Del("Date")
	body := r.body
	var m map[string]any
	if json.Unmarshal(r.body, &m) == nil {
		if _, ok := m["token_validated_at"]; ok {
			m["token_validated_at"] = "<now>"
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		must(t, enc.Encode(m))
		body = buf.Bytes()
	}
	return r.status, h, string(body)
}

// Every successful answer of the fast lane equals the full chain's: status, headers and body.
func TestFastLaneAnswersAsTheFullChain(t *testing.T) {
	f, kit := fastFlow(t)
	u := f.user("fast.lane@example.com", "Fast-Lane-Pass-9", true)
	assignRole(t, f.app, u.Id, "tts", "Admin", true)
	assignRole(t, f.app, u.Id, "hdts", "Admin", false)
	access := f.login("fast.lane@example.com", "Fast-Lane-Pass-9").str("access")

	cases := []struct {
		path string
		kv   []string
	}{
		{"/api/v1/users/token/validate/", bearer(access)},
		{"/api/v1/users/token/validate", bearer(access)},
		{"/api/v1/users/token/validate/?system=tts", bearer(access)},
		{"/api/v1/users/token/validate/?system=nope", bearer(access)},
		{"/api/v1/users/profile/", bearer(access)},
		{"/api/v1/users/profile", []string{"Cookie", "access_token=" + access}},
		{"/api/v1/users/profile/?system=hdts", bearer(access)},
		{"/api/me/", bearer(access)},
		{"/api/me", []string{"Cookie", "access_token=" + access}},
	}
	for _, c := range cases {
		kit.SetFastLane(true)
		before := kit.FastLaneServed()
		fast := f.do(http.MethodGet, c.path, nil, c.kv...)
		if kit.FastLaneServed() != before+1 {
			t.Fatalf("%s: not answered by the fast lane", c.path)
		}
		kit.SetFastLane(false)
		full := f.do(http.MethodGet, c.path, nil, c.kv...)
		if kit.FastLaneServed() != before+1 {
			t.Fatalf("%s: fast lane answered while switched off", c.path)
		}
		fs, fh, fb := comparable(t, fast)
		ss, sh, sb := comparable(t, full)
		if fs != http.StatusOK || fs != ss || fb != sb {
			t.Fatalf("%s:\nfast %d %s\nfull %d %s", c.path, fs, fb, ss, sb)
		}
		if !headersEqual(fh, sh) {
			t.Fatalf("%s: headers differ\nfast %v\nfull %v", c.path, fh, sh)
		}
		for _, want := range []string{"X-Frame-Options", "X-Content-Type-Options", "Vary", "Cache-Control", "Content-Type"} {
			if fh.Get(want) == "" {
				t.Fatalf("%s: fast lane answer without %s: %v", c.path, want, fh)
			}
		}
	}
	kit.SetFastLane(true)
	r := f.do(http.MethodGet, "/api/v1/users/token/validate/?system=tts", nil, bearer(access)...)
	if got := roleList(r.json); !slices.Equal(got, []string{"tts/Admin/active"}) {
		t.Fatalf("system_roles = %v (%s)", got, r.body)
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// Whatever the fast lane cannot answer exactly goes to the full chain, which answers it.
func TestFastLaneHandsOverEverythingElse(t *testing.T) {
	f, kit := fastFlow(t)
	u := f.user("fast.other@example.com", "Fast-Lane-Pass-9", true)
	access := f.login("fast.other@example.com", "Fast-Lane-Pass-9").str("access")

	served := kit.FastLaneServed()
	check := func(name string, r reply, status int, code string) {
		t.Helper()
		if r.status != status || (code != "" && r.str("code") != code) {
			t.Fatalf("%s: %d %s, want %d %s", name, r.status, r.body, status, code)
		}
		if kit.FastLaneServed() != served {
			t.Fatalf("%s: answered by the fast lane", name)
		}
	}
	check("no credential", f.do(http.MethodGet, "/api/v1/users/token/validate/", nil), 401, "not_authenticated")
	check("bad token", f.do(http.MethodGet, "/api/v1/users/token/validate/", nil, bearer(access+"x")...), 401, "token_not_valid")
	check("basic scheme", f.do(http.MethodGet, "/api/v1/users/profile/", nil, "Authorization", "Basic "+access), 401, "token_not_valid")
	check("POST", f.do(http.MethodPost, "/api/v1/users/token/validate/", nil, bearer(access)...), 405, "method_not_allowed")
	check("body", f.do(http.MethodGet, "/api/v1/users/token/validate/", map[string]string{"a": "b"}, bearer(access)...), 200, "")
	check("escaped slash", f.do(http.MethodGet, "/api/v1/users/token/validate%2F", nil, bearer(access)...), 404, "not_found")

	// An allowed Origin: the full chain's CORS answer, with the credential headers.
	r := f.do(http.MethodGet, "/api/v1/users/profile/", nil, append(bearer(access), "Origin", "https://desk.example.com")...)
	check("origin", r, 200, "")
	if r.header.Get("Access-Control-Allow-Origin") != "https://desk.example.com" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers: %v", r.header)
	}

	// A deactivated user's token dies at once, in both lanes.
	u.Set("is_active", false)
	must(t, f.app.Save(u))
	check("deactivated", f.do(http.MethodGet, "/api/v1/users/token/validate/", nil, bearer(access)...), 401, "token_not_valid")
	check("deactivated me", f.do(http.MethodGet, "/api/me/", nil, bearer(access)...), 401, "token_not_valid")
}

// The fast lane counts its answers in PocketBase's rate limiter like the full chain: the request
// over the limit gets the full chain's 429 envelope.
func TestFastLaneKeepsTheRateLimit(t *testing.T) {
	f, kit := fastFlow(t)
	f.user("fast.limit@example.com", "Fast-Lane-Pass-9", true)
	access := f.login("fast.limit@example.com", "Fast-Lane-Pass-9").str("access")

	s := f.app.Settings()
	s.RateLimits.Enabled = true
	s.RateLimits.Rules = []core.RateLimitRule{{Label: "/api/v1/users/token/validate/", MaxRequests: 3, Duration: 10, Audience: core.RateLimitRuleAudienceAuth}}
	must(t, f.app.Save(s))

	before := kit.FastLaneServed()
	for i := 0; i < 3; i++ {
		if r := f.do(http.MethodGet, "/api/v1/users/token/validate/", nil, bearer(access)...); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if got := kit.FastLaneServed() - before; got != 3 {
		t.Fatalf("fast lane answered %d of 3", got)
	}
	r := f.do(http.MethodGet, "/api/v1/users/token/validate", nil, bearer(access)...)
	if r.status != 429 || r.str("code") != "too_many_requests" || r.header.Get("Retry-After") != "10" {
		t.Fatalf("4th request: %d %v %s", r.status, r.header, r.body)
	}
	if got := kit.FastLaneServed() - before; got != 3 {
		t.Fatalf("fast lane answered the limited request (%d)", got)
	}
	// another route is not counted by that rule
	if r := f.do(http.MethodGet, "/api/v1/users/profile/", nil, bearer(access)...); r.status != 200 {
		t.Fatalf("profile: %d %s", r.status, r.body)
	}
}
