package hdts_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/tokens"
)

func lookupURL(id string) string { return "/api/v1/hdts/users/" + id + "/" }

// apiKey stores an active key with the given scopes, bound to the system slug (or unbound).
func apiKey(tb testing.TB, app core.App, prefix, slug string, scopes ...string) string {
	tb.Helper()
	key := "ak_" + prefix + "_" + strings.Repeat("Ab1", 10) + "xy"
	col, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		tb.Fatal(err)
	}
	r := core.NewRecord(col)
	r.Set("name", "test "+prefix)
	r.Set("key_prefix", prefix)
	r.Set("key_hash", tokens.HashAPIKey(key))
	r.Set("scopes", scopes)
	r.Set("is_active", true)
	if slug != "" {
		sys, err := app.FindFirstRecordByData("systems", "slug", slug)
		if err != nil {
			tb.Fatal(err)
		}
		r.Set("system", sys.Id)
	}
	if err := app.Save(r); err != nil {
		tb.Fatal(err)
	}
	return key
}

func withKey(prefix, slug string, scopes ...string) func(tb testing.TB, app *tests.TestApp, f *fixtures) {
	return func(tb testing.TB, app *tests.TestApp, f *fixtures) {
		f.key = apiKey(tb, app, prefix, slug, scopes...)
	}
}

func TestLookupHDTSUser(t *testing.T) {
	t.Parallel()
	keyed := func(s scenario) scenario { s.useKey = true; return s }
	run(t, []scenario{
		{
			name: "a member looks up a staff user of hdts: UserProfile with hdts roles only", method: http.MethodGet, url: lookupURL(idAdmin), as: asMember,
			before: func(tb testing.TB, app *tests.TestApp, f *fixtures) {
				assign(tb, app, f.hdtsAdmin, "tts", "Admin", true)
			},
			status: 200, content: []string{`{"type":"user","data":{"id":"` + idAdmin + `"`, `"system_slug":"hdts"`, `"is_superuser":false`},
			not: []string{`"system_slug":"tts"`},
		},
		{
			name: "a member looks up an employee (any status)", method: http.MethodGet, url: lookupURL(idPending), as: asMember,
			status: 200, content: []string{`{"type":"employee","data":{"id":"` + idPending + `"`, `"status":"Pending"`},
		},
		{
			name: "a staff user with only an inactive hdts assignment is still in HDTS", method: http.MethodGet, url: lookupURL(idFormer), as: asAdmin,
			status: 200, content: []string{`{"type":"user","data":{"id":"` + idFormer + `"`},
		},
		{
			name: "a staff user without hdts assignments: 404 User not found in HDTS", method: http.MethodGet, url: lookupURL(idTTSAdmin), as: asMember,
			status: 404, exact: `{"detail":"User not found in HDTS","code":"not_found"}`,
		},
		{
			name: "unknown and malformed ids: 404 User not found.", method: http.MethodGet, url: lookupURL("nobody000000000"), as: asMember,
			status: 404, exact: `{"detail":"User not found.","code":"not_found"}`,
		},
		{
			name: "malformed id", method: http.MethodGet, url: lookupURL("not-an-id"), as: func(f *fixtures) *core.Record { return f.superuser },
			status: 404, exact: `{"detail":"User not found.","code":"not_found"}`,
		},
		{name: "no credentials: 401", method: http.MethodGet, url: lookupURL(idPending), status: 401, exact: notAuthenticated},
		{name: "an employee token: 401", method: http.MethodGet, url: lookupURL(idPending), as: asApproved, status: 401, exact: tokenInvalid},
		{name: "a TTS admin (not a member of hdts): 403", method: http.MethodGet, url: lookupURL(idPending),
			as: func(f *fixtures) *core.Record { return f.ttsAdmin }, status: 403, exact: denied},
		{name: "an inactive hdts assignment is not membership: 403", method: http.MethodGet, url: lookupURL(idPending),
			as: func(f *fixtures) *core.Record { return f.inactiveAd }, status: 403, exact: denied},
		keyed(scenario{name: "an unbound users:read key", method: http.MethodGet, url: lookupURL(idApproved),
			before: withKey("unbound1", "", "users:read"), status: 200, content: []string{`{"type":"employee","data":{"id":"` + idApproved + `"`}}),
		keyed(scenario{name: "a users:read key bound to hdts", method: http.MethodGet, url: lookupURL(idMember),
			before: withKey("hdtskey1", "hdts", "users:read"), status: 200, content: []string{`{"type":"user"`}}),
		keyed(scenario{name: "a key bound to tts: 403", method: http.MethodGet, url: lookupURL(idApproved),
			before: withKey("ttskey01", "tts", "users:read"), status: 403, exact: denied}),
		keyed(scenario{name: "a key without users:read: 403", method: http.MethodGet, url: lookupURL(idApproved),
			before: withKey("rrkey001", "", "round_robin:read"), status: 403, exact: denied}),
		{name: "an unknown key: 401", method: http.MethodGet, url: lookupURL(idApproved), headers: map[string]string{"X-API-Key": "ak_zzzzzzzz_" + strings.Repeat("x", 32)},
			status: 401, exact: `{"detail":"Invalid API key.","code":"token_not_valid"}`},
	})
}
