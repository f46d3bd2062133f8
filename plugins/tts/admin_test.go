package tts_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/server"
	"gatehouse/testkit"
)

const bodyDenied = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`

// assign-agent-to-role, update-assignment (PUT, DELETE): only TTS admins and superusers
// (§5.13.3, §5.13.8, §5.13.9, §8.7 statement 58), with their rules and side effects.
func TestTTSAssignments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ttsAdminUser := f.user("Tina", "Admin", false)
	f.assign(ttsAdminUser, f.admin["tts"])
	hdtsAdminUser := f.user("Hank", "Admin", false)
	f.assign(hdtsAdminUser, f.admin["hdts"])
	admin, hdtsAdmin, super := f.bearer(ttsAdminUser), f.bearer(hdtsAdminUser), f.bearer(f.user("Sue", "Per", true))
	agentRole, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Budget Manager'", dbx.Params{"s": f.tts.Id})
	if err != nil {
		t.Fatal(err)
	}
	agent := f.user("Zed", "Agent", false)
	inactive := f.user("Ina", "Gone", false)
	testkit.SetField(t, f.app, inactive, "is_active", false)

	post := func(h []string, body any) testkit.Reply {
		return f.client.Do(http.MethodPost, "/api/v1/tts/assign-agent-to-role/", body, h...)
	}
	// refused callers change nothing
	for label, h := range map[string][]string{"hdts admin": hdtsAdmin, "agent": f.bearer(agent), "service key": f.apiKey(nil, "round_robin:write", "users:read")} {
		want := 403
		if label == "service key" {
			want = 401 // X-API-Key is ignored on a TTS_ADMIN endpoint: no credential
		}
		expect(t, "assign by "+label, post(h, map[string]any{"userID": agent.Id, "role": agentRole.Id}), want, "")
	}
	if n := f.count("user_system_roles", dbx.HashExp{"user": agent.Id}); n != 0 {
		t.Fatalf("refused assignment stored %d rows", n)
	}
	// validation: every field reported together
	expect(t, "assign invalid", post(admin, map[string]any{"userID": "nosuchuser00000", "role": f.admin["hdts"].Id, "settings": map[string]any{"is_deployed": "yes"}}), 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"role":["Role does not belong to the TTS system."],"settings":["is_deployed must be a boolean."],"userID":["Invalid pk \"nosuchuser00000\" - object does not exist."]}}`)
	expect(t, "assign inactive user", post(admin, map[string]any{"userID": inactive.Id, "role": agentRole.Id}), 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"userID":["User is inactive."]}}`)
	expect(t, "assign missing", post(admin, map[string]any{}), 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"role":["This field is required."],"userID":["This field is required."]}}`)
	big := map[string]any{"blob": strings.Repeat("x", 16400)}
	expect(t, "assign big settings", post(admin, map[string]any{"userID": agent.Id, "role": agentRole.Id, "settings": big}), 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"settings":["Settings must not exceed 16 KB."]}}`)

	r := post(admin, map[string]any{"userID": agent.Id, "role": agentRole.Id})
	id := r.Str("assignment_id")
	expect(t, "assign", r, 201, fmt.Sprintf(`{"message":"User successfully assigned to TTS role.","userID":"%s","role":"Budget Manager","system":"tts","settings":{"is_deployed":true},"assignment_id":"%s"}`, agent.Id, id))
	stored, err := f.app.FindRecordById("user_system_roles", id)
	if err != nil || !stored.GetBool("is_active") || stored.GetString("system") != f.tts.Id || stored.GetString("role") != agentRole.Id {
		t.Fatalf("stored assignment: %v %v", stored, err)
	}
	if f.count("audit_log", dbx.HashExp{"event": "assignment.created", "target_id": id, "actor_id": ttsAdminUser.Id, "system": "tts"}) != 1 {
		t.Errorf("assignment.created not audited")
	}
	expect(t, "assign twice", post(super, map[string]any{"userID": agent.Id, "role": agentRole.Id}), 409,
		`{"detail":"User is already assigned to this role in TTS.","code":"conflict"}`)

	// the lists show it
	list := f.client.Do(http.MethodGet, "/api/v1/tts/assign-agent-to-role/", nil, admin...)
	if list.Status != 200 || !strings.Contains(string(list.Body), `{"user_id":"`+agent.Id+`","first_name":"Zed","last_name":"Agent","email":"`+agent.Email()+`","role_id":"`+agentRole.Id+`","role_name":"Budget Manager","is_active":true,"assignment_id":"`+id+`","assignment_is_active":true}`) ||
		list.JSON["system"] != "tts" || list.JSON["count"] != float64(2) {
		t.Fatalf("assign-agent-to-role list: %d %s", list.Status, list.Body)
	}
	// a refused reader gets the envelope, never the agents
	expect(t, "assign-agent-to-role list by hdts admin", f.client.Do(http.MethodGet, "/api/v1/tts/assign-agent-to-role/", nil, hdtsAdmin...), 403, bodyDenied)
	for _, path := range []string{"/api/v1/tts/assign-role/", "/assign-role"} {
		l := f.client.Do(http.MethodGet, path, nil, admin...)
		if l.Status != 200 || !strings.Contains(string(l.Body), `"id":"`+id+`","user_id":"`+agent.Id+`","user_first_name":"Zed","user_last_name":"Agent","user_email":"`+agent.Email()+`","role_id":"`+agentRole.Id+`","role_name":"Budget Manager","is_active":true,"is_deployed":true,"created_at":"`) ||
			!strings.Contains(string(l.Body), `"roles":[{"id":"`+f.admin["tts"].Id+`","name":"Admin"},`) || !varyAccept(l) {
			t.Fatalf("%s: %d %s", path, l.Status, l.Body)
		}
		expect(t, path+" by hdts admin", f.client.Do(http.MethodGet, path, nil, hdtsAdmin...), 403, bodyDenied)
	}

	// update
	put := func(h []string, id string, body any) testkit.Reply {
		return f.client.Do(http.MethodPut, "/api/v1/tts/update-assignment/"+id+"/", body, h...)
	}
	expect(t, "update by hdts admin", put(hdtsAdmin, id, map[string]any{"is_active": false}), 403, bodyDenied)
	expect(t, "update unknown", put(admin, "nosuchassignmnt", map[string]any{"is_active": false}), 404, `{"detail":"Assignment not found","code":"not_found"}`)
	hdtsAssignment, err := f.app.FindFirstRecordByData("user_system_roles", "user", hdtsAdminUser.Id)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "update hdts assignment", put(admin, hdtsAssignment.Id, map[string]any{"is_active": false}), 404, `{"detail":"Assignment not found","code":"not_found"}`)
	expect(t, "update without is_active", put(admin, id, map[string]any{"settings": []int{1}}), 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"is_active":["This field is required."],"settings":["Expected a JSON object."]}}`)
	expect(t, "update", put(admin, id, map[string]any{"is_active": false, "settings": map[string]any{"is_deployed": false, "shift": "night"}}), 200,
		`{"message":"Assignment updated successfully","id":"`+id+`","is_active":false,"settings":{"is_deployed":false,"shift":"night"}}`)
	stored = testkit.Reload(t, f.app, stored)
	if stored.GetBool("is_active") || !strings.Contains(stored.GetString("settings"), `"shift":"night"`) ||
		f.count("audit_log", dbx.HashExp{"event": "assignment.updated", "target_id": id, "system": "tts"}) != 1 {
		t.Fatalf("update not stored or not audited: %v", stored)
	}
	// without settings, settings are kept
	expect(t, "update is_active only", put(admin, id, map[string]any{"is_active": true}), 200,
		`{"message":"Assignment updated successfully","id":"`+id+`","is_active":true,"settings":{"is_deployed":false,"shift":"night"}}`)

	// the Admin assignment: only a superuser removes it
	adminAssignment, err := f.app.FindFirstRecordByData("user_system_roles", "user", ttsAdminUser.Id)
	if err != nil {
		t.Fatal(err)
	}
	const cannot = `{"detail":"Cannot remove Admin role assignments","code":"permission_denied"}`
	expect(t, "deactivate Admin", put(admin, adminAssignment.Id, map[string]any{"is_active": false}), 403, cannot)
	expect(t, "delete Admin", f.client.Do(http.MethodDelete, "/api/v1/tts/update-assignment/"+adminAssignment.Id+"/", nil, admin...), 403, cannot)
	if !testkit.Reload(t, f.app, adminAssignment).GetBool("is_active") {
		t.Fatal("a refused deactivation changed the Admin assignment")
	}
	expect(t, "Admin settings by admin", put(admin, adminAssignment.Id, map[string]any{"is_active": true, "settings": map[string]any{"is_deployed": true}}), 200, "")

	// delete: the assignment and its round-robin state go; the agent's other state stays
	key := f.apiKey(nil, "round_robin:write")
	expect(t, "redeploy", put(admin, id, map[string]any{"is_active": true, "settings": map[string]any{"is_deployed": true}}), 200, "")
	if r := f.pick(key, map[string]any{"role_id": agentRole.Id, "ticket_id": "D1"}); r.Status != 201 || r.Str("user_id") != agent.Id {
		t.Fatalf("pick: %d %s", r.Status, r.Body)
	}
	expect(t, "delete by hdts admin", f.client.Do(http.MethodDelete, "/api/v1/tts/update-assignment/"+id+"/", nil, hdtsAdmin...), 403, bodyDenied)
	expect(t, "delete", f.client.Do(http.MethodDelete, "/api/v1/tts/update-assignment/"+id, nil, admin...), 204, "")
	if f.count("user_system_roles", dbx.HashExp{"id": id}) != 0 || f.count("tts_round_robin_state", dbx.HashExp{"user": agent.Id}) != 0 ||
		f.count("audit_log", dbx.HashExp{"event": "assignment.deleted", "target_id": id, "system": "tts"}) != 1 {
		t.Fatal("delete left the assignment or its state, or was not audited")
	}
	expect(t, "delete again", f.client.Do(http.MethodDelete, "/api/v1/tts/update-assignment/"+id+"/", nil, admin...), 404, `{"detail":"Assignment not found","code":"not_found"}`)
	expect(t, "superuser deletes Admin", f.client.Do(http.MethodDelete, "/api/v1/tts/update-assignment/"+adminAssignment.Id+"/", nil, super...), 204, "")
	expect(t, "PATCH is not a method here", f.client.Do(http.MethodPatch, "/api/v1/tts/update-assignment/"+id+"/", map[string]any{}, super...), 405, `{"detail":"Method \"PATCH\" not allowed.","code":"method_not_allowed"}`)
}

// create-role (§5.13.5, §5.13.6): ADMIN(S) of ?system, default tts.
func TestTTSCreateRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ttsAdminUser := f.user("Tina", "Admin", false)
	f.assign(ttsAdminUser, f.admin["tts"])
	admin := f.bearer(ttsAdminUser)
	agent := f.user("Zed", "Agent", false)
	post := func(h []string, query string, body any) testkit.Reply {
		return f.client.Do(http.MethodPost, "/api/v1/tts/create-role/"+query, body, h...)
	}
	expect(t, "no admin scope", post(f.bearer(agent), "", map[string]any{"name": "X"}), 403, bodyDenied)
	expect(t, "unknown system", post(admin, "?system=nope", map[string]any{"name": "X"}), 404, `{"detail":"NOPE system not found","code":"not_found"}`)
	expect(t, "another system", post(admin, "?system=hdts", map[string]any{"name": "X"}), 403,
		`{"detail":"You don't have permission to create roles in HDTS system","code":"permission_denied"}`)
	expect(t, "view another system", f.client.Do(http.MethodGet, "/api/v1/tts/create-role/?system=hdts", nil, admin...), 403,
		`{"detail":"You don't have permission to view roles in HDTS system","code":"permission_denied"}`)
	expect(t, "view unknown system", f.client.Do(http.MethodGet, "/api/v1/tts/create-role/?system=nope", nil, admin...), 404,
		`{"detail":"NOPE system not found","code":"not_found"}`)
	expect(t, "blank name", post(admin, "", map[string]any{"name": "  "}), 400, `{"detail":"Invalid input.","code":"invalid","errors":{"name":["Role name is required"]}}`)
	expect(t, "missing name", post(admin, "", map[string]any{"description": strings.Repeat("d", 1001)}), 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"description":["Ensure this field has no more than 1000 characters."],"name":["Role name is required"]}}`)
	expect(t, "duplicate", post(admin, "", map[string]any{"name": " asset MANAGER "}), 409, `{"detail":"Role 'asset MANAGER' already exists in TTS system","code":"conflict"}`)

	r := post(admin, "", map[string]any{"name": " Dispatcher ", "description": "Routes tickets"})
	id := r.Str("id")
	if role, ok := r.JSON["role"].(map[string]any); ok {
		id, _ = role["id"].(string)
	}
	expect(t, "create", r, 201, `{"message":"Role 'Dispatcher' created successfully","role":{"id":"`+id+`","name":"Dispatcher","description":"Routes tickets"}}`)
	stored, err := f.app.FindRecordById("roles", id)
	if err != nil || !stored.GetBool("is_custom") || stored.GetString("system") != f.tts.Id ||
		f.count("audit_log", dbx.HashExp{"event": "role.created", "target_id": id, "system": "tts"}) != 1 {
		t.Fatalf("role not stored as custom tts role, or not audited: %v %v", stored, err)
	}
	// concurrent creates of one name (any case): exactly one wins
	names := []string{"Night Shift", "night shift", "NIGHT SHIFT", "Night shift"}
	var next atomic.Int64
	wins := testkit.Concurrently(t, len(names)*2, func() (bool, error) {
		r := post(admin, "", map[string]any{"name": names[int(next.Add(1))%len(names)]})
		if r.Status != 201 && r.Status != 409 {
			return false, fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return r.Status == 201, nil
	})
	if wins != 1 || f.count("roles", dbx.NewExp("lower(name) = 'night shift'")) != 1 {
		t.Fatalf("concurrent creates: %d won", wins)
	}

	list := f.client.Do(http.MethodGet, "/api/v1/tts/create-role/", nil, admin...)
	if list.Status != 200 || list.JSON["system"] != "tts" || !strings.Contains(string(list.Body), `{"id":"`+id+`","name":"Dispatcher","description":"Routes tickets","is_custom":true,"created_at":"`) {
		t.Fatalf("create-role list: %d %s", list.Status, list.Body)
	}
	super := f.bearer(f.user("Sue", "Per", true))
	if r := f.client.Do(http.MethodGet, "/api/v1/tts/create-role/?system=hdts", nil, super...); r.Status != 200 || r.JSON["system"] != "hdts" {
		t.Fatalf("superuser lists hdts roles: %d %s", r.Status, r.Body)
	}
}

// The HTML variant of the page endpoints (their page of pb_public) needs no credential and carries the page headers;
// the JSON variant keeps its Auth line (§1.11).
func TestTTSPages(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, server.Options{Public: os.DirFS("../../pb_public")})
	for path, file := range map[string]string{"/api/v1/tts/assign-agent-to-role/": "tts/assign-agent-to-role/index.html",
		"/api/v1/tts/assign-role": "tts/assign-role/index.html", "/api/v1/tts/create-role/": "tts/create-role/index.html", "/assign-role/": "tts/assign-role/index.html"} {
		page, err := os.ReadFile("../../pb_public/" + file)
		if err != nil {
			t.Fatal(err)
		}
		r := f.client.Do(http.MethodGet, path, nil, "Accept", "text/html,application/xhtml+xml")
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !varyAccept(r) ||
			r.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			string(r.Body) != string(page) {
			t.Errorf("HTML %s: %d %v %.200s", path, r.Status, r.Header, r.Body)
		}
		j := f.client.Do(http.MethodGet, path, nil, "Accept", "application/json")
		expect(t, "JSON "+path, j, 401, `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`)
		if !varyAccept(j) {
			t.Errorf("JSON %s: no Vary: Accept", path)
		}
	}
	// a page's POST still needs its credential even when the browser asks for HTML
	r := f.client.Do(http.MethodPost, "/api/v1/tts/create-role/", map[string]any{"name": "X"}, "Accept", "text/html")
	expect(t, "POST with Accept: text/html", r, 401, "")
}

// user-info and users-info (§5.13.10, §5.13.11): visibility by caller.
func TestTTSUserInfo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	agentRole, _ := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Asset Manager'", dbx.Params{"s": f.tts.Id})
	ttsUser := f.user("Tia", "Tee", false)
	f.assign(ttsUser, agentRole)
	hdtsUser := f.user("Hal", "Aitch", false)
	f.assign(hdtsUser, f.admin["hdts"])
	loner := f.user("Lone", "Wolf", false) // no assignment
	member := f.user("Mem", "Ber", false)
	f.assign(member, agentRole)
	ttsMember := f.bearer(member)

	info := func(h []string, id string) testkit.Reply {
		return f.client.Do(http.MethodGet, "/api/v1/tts/user-info/"+id+"/", nil, h...)
	}
	r := info(ttsMember, ttsUser.Id)
	expect(t, "member sees tts user", r, 200, fmt.Sprintf(`{"id":"%s","first_name":"Tia","last_name":"Tee","email":"%s","department":"IT Department","position":null,"is_active":true,"date_joined":"%s"}`,
		ttsUser.Id, ttsUser.Email(), r.Str("date_joined")))
	if !strings.HasSuffix(r.Str("date_joined"), "Z") || len(r.Str("date_joined")) != 24 {
		t.Errorf("date_joined %q", r.Str("date_joined"))
	}
	const notFound = `{"detail":"User not found.","code":"not_found"}`
	expect(t, "member, hdts user", info(ttsMember, hdtsUser.Id), 404, notFound)
	expect(t, "member, loner", info(ttsMember, loner.Id), 404, notFound)
	expect(t, "member, unknown", info(ttsMember, "nosuchuser00000"), 404, notFound)
	expect(t, "hdts-bound key, tts user", info(f.apiKey(f.hdts, "users:read"), ttsUser.Id), 404, notFound)
	expect(t, "hdts-bound key, hdts user", info(f.apiKey(f.hdts, "users:read"), hdtsUser.Id), 200, "")
	expect(t, "unbound key, loner", info(f.apiKey(nil, "users:read"), loner.Id), 200, "")
	expect(t, "superuser, loner", info(f.bearer(f.user("S", "U", true)), loner.Id), 200, "")
	expect(t, "no membership", info(f.bearer(f.user("No", "Body", false)), ttsUser.Id), 403, bodyDenied)
	expect(t, "key without users:read", info(f.apiKey(nil, "round_robin:read"), ttsUser.Id), 403, bodyDenied)

	many := func(h []string, body any) testkit.Reply {
		return f.client.Do(http.MethodPost, "/api/v1/tts/users-info/", body, h...)
	}
	r = many(ttsMember, map[string]any{"employee_cookie_ids": []string{ttsUser.Id, hdtsUser.Id, loner.Id, ttsUser.Id, "nosuchuser00000"}})
	if r.Status != 200 || len(r.JSON) != 1 || r.JSON[ttsUser.Id] == nil {
		t.Fatalf("users-info: %d %s", r.Status, r.Body)
	}
	// a caller without tts/hdts membership, or a key without users:read, reads nobody
	for label, h := range map[string][]string{"no membership": f.bearer(f.user("No", "One", false)), "key without users:read": f.apiKey(nil, "round_robin:read")} {
		expect(t, "users-info, "+label, many(h, map[string]any{"employee_cookie_ids": []string{ttsUser.Id}}), 403, bodyDenied)
	}
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprintf("id%013d", i)
	}
	invalid := func(msg string) string {
		return `{"detail":"Invalid input.","code":"invalid","errors":{"employee_cookie_ids":["` + msg + `"]}}`
	}
	for label, c := range map[string]struct {
		body any
		msg  string
	}{
		"missing":    {map[string]any{}, "employee_cookie_ids array is required."},
		"empty":      {map[string]any{"employee_cookie_ids": []string{}}, "employee_cookie_ids array is required."},
		"not a list": {map[string]any{"employee_cookie_ids": "abc"}, "employee_cookie_ids must be an array."},
		"a number":   {map[string]any{"employee_cookie_ids": []any{"abc", 5}}, "All employee_cookie_ids must be strings."},
		"too many":   {map[string]any{"employee_cookie_ids": ids}, "At most 200 ids may be requested."},
	} {
		expect(t, "users-info "+label, many(ttsMember, c.body), 400, invalid(c.msg))
	}
}

// The discovery document lists every TTS route (they are all mounted).
func TestTTSDiscovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.client.Do(http.MethodGet, "/api/v1/tts/", nil, f.bearer(f.user("A", "B", false))...)
	want := `{"round-robin":"%[1]s/api/v1/tts/round-robin/","user-info":"%[1]s/api/v1/tts/user-info/{user_id}/","users-info":"%[1]s/api/v1/tts/users-info/",` +
		`"assign-agent-to-role":"%[1]s/api/v1/tts/assign-agent-to-role/","assign-role":"%[1]s/api/v1/tts/assign-role/","create-role":"%[1]s/api/v1/tts/create-role/",` +
		`"update-assignment":"%[1]s/api/v1/tts/update-assignment/{assignment_id}/"}`
	base := strings.TrimSuffix(f.app.Settings().Meta.AppURL, "/")
	expect(t, "discovery", r, 200, fmt.Sprintf(want, base))
}

func varyAccept(r testkit.Reply) bool {
	for _, v := range r.Header.Values("Vary") {
		if v == "Accept" {
			return true
		}
	}
	return false
}

// settings are stored as sent, compacted (§2.6, §5.11.4): 2,800 '&' are 2.8 kB and under the
// 16 KB limit, though re-encoded by Go they would be 16.8 kB (a 500 before); and an integer past
// float64's 2^53 keeps its digits — on both TTS endpoints.
func TestTTSSettingsAreStoredAsSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.user("Tina", "Admin", false)
	f.assign(admin, f.admin["tts"])
	auth := f.bearer(admin)
	role, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Budget Manager'", dbx.Params{"s": f.tts.Id})
	if err != nil {
		t.Fatal(err)
	}
	agent := f.user("Zed", "Agent", false)
	amps := strings.Repeat("&", 2800)

	r := f.client.Do(http.MethodPost, "/api/v1/tts/assign-agent-to-role/",
		`{"userID":"`+agent.Id+`","role":"`+role.Id+`","settings":{"is_deployed":true,"note":"`+amps+`"}}`, auth...)
	id := r.Str("assignment_id")
	if r.Status != 201 || id == "" {
		t.Fatalf("assign with 2,800 '&': %d %.300s", r.Status, r.Body)
	}
	stored := func() string {
		rec, err := f.app.FindRecordById("user_system_roles", id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.GetString("settings")
	}
	if got := stored(); got != `{"is_deployed":true,"note":"`+amps+`"}` {
		t.Fatalf("stored settings (%d bytes): %.120s", len(got), got)
	}

	r = f.client.Do(http.MethodPut, "/api/v1/tts/update-assignment/"+id+"/",
		`{"is_active": true, "settings": {"is_deployed": true, "queue": 9007199254740993}}`, auth...)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"settings":{"is_deployed":true,"queue":9007199254740993}`) {
		t.Fatalf("update with a large integer: %d %s", r.Status, r.Body)
	}
	if got := stored(); got != `{"is_deployed":true,"queue":9007199254740993}` {
		t.Fatalf("stored settings: %s", got)
	}
}

// §5.13.3: the user must be active. The check read the user before the write transaction, so a
// deactivation committed in between still got a 201 and an active assignment. Here the
// deactivation's transaction holds the write connection while the request checks, and commits
// after it: the request answers "User is inactive." and stores nothing.
func TestTTSAssignRefusesAUserDeactivatedMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.user("Tina", "Admin", false)
	f.assign(admin, f.admin["tts"])
	role, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Budget Manager'", dbx.Params{"s": f.tts.Id})
	if err != nil {
		t.Fatal(err)
	}
	agent := f.user("Zed", "Agent", false)
	auth := f.bearer(admin) // before the transaction below: a token starts a session (a write)

	var r testkit.Reply
	testkit.ChangeDuring(t, f.app, "users", agent.Id, func(u *core.Record) { u.Set("is_active", false) }, 300*time.Millisecond, func() {
		r = f.client.Do(http.MethodPost, "/api/v1/tts/assign-agent-to-role/", map[string]any{"userID": agent.Id, "role": role.Id}, auth...)
	})
	expect(t, "assign a user deactivated meanwhile", r, 400,
		`{"detail":"Invalid input.","code":"invalid","errors":{"userID":["User is inactive."]}}`)
	if n := f.count("user_system_roles", dbx.HashExp{"user": agent.Id}); n != 0 {
		t.Fatalf("%d assignments stored for the deactivated user", n)
	}
}

// An API key's last_used_at is written at most once per APIKeyTouchInterval (§2.14), also when
// a burst of requests finds it due together: each read the old value, and each wrote it.
func TestAPIKeyTouchIsOnePerBurst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.apiKey(nil, "users:read")
	loner := f.user("Lone", "Key", false)
	for _, q := range []string{
		"UPDATE api_keys SET last_used_at = '2026-01-01 00:00:00.000Z'", // long due
		"CREATE TABLE test_touches (at TEXT)",
		"CREATE TRIGGER test_touch AFTER UPDATE OF last_used_at ON api_keys BEGIN INSERT INTO test_touches VALUES (NEW.last_used_at); END",
	} {
		if _, err := f.app.DB().NewQuery(q).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	if ok := testkit.Concurrently(t, 30, func() (bool, error) {
		return f.client.Do(http.MethodGet, "/api/v1/tts/user-info/"+loner.Id+"/", nil, key...).Status == 200, nil
	}); ok != 30 {
		t.Fatalf("%d of 30 requests with the key answered 200", ok)
	}
	if n := f.count("test_touches", nil); n != 1 {
		t.Fatalf("last_used_at written %d times by one burst, want 1", n)
	}
}

// §1.2: a key repeated inside settings is read as its last occurrence — by the validation,
// by the answers and by the round-robin alike. The stored settings held both keys, and the
// round-robin's SQL (json_extract) read the first: an agent assigned with
// {"is_deployed": false, "is_deployed": true} showed is_deployed true everywhere but was never
// eligible. Now the stored object has the key once, with its last value (nested ones too).
func TestTTSSettingsRepeatedKeyLastWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.user("Tina", "Admin", false)
	f.assign(admin, f.admin["tts"])
	auth := f.bearer(admin)
	role := f.role(f.tts, "Dup Key Desk")
	agent := f.user("Dana", "Agent", false)
	key := f.apiKey(nil, "round_robin:write", "round_robin:read")

	r := f.client.Do(http.MethodPost, "/api/v1/tts/assign-agent-to-role/",
		`{"userID":"`+agent.Id+`","role":"`+role.Id+`","settings":{"is_deployed":false,"x":{"a":1,"a":2},"is_deployed":true}}`, auth...)
	id := r.Str("assignment_id")
	if r.Status != 201 || id == "" || !strings.Contains(string(r.Body), `"settings":{"is_deployed":true,"x":{"a":2}}`) {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	rec, err := f.app.FindRecordById("user_system_roles", id)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.GetString("settings"); got != `{"is_deployed":true,"x":{"a":2}}` {
		t.Fatalf("stored settings: %s", got)
	}
	st := f.client.Do(http.MethodGet, "/api/v1/tts/round-robin/?role_id="+role.Id, nil, key...)
	if st.Status != 200 || st.Str("next_user_id") != agent.Id || !strings.Contains(string(st.Body), `"eligible":true`) {
		t.Fatalf("status: %d %s", st.Status, st.Body)
	}
	p := f.pick(key, map[string]any{"role_id": role.Id, "ticket_id": "DUP-1"})
	if p.Status != 201 || p.Str("user_id") != agent.Id || f.count("tts_round_robin_picks", dbx.HashExp{"ticket_id": "DUP-1"}) != 1 {
		t.Fatalf("pick: %d %s", p.Status, p.Body)
	}

	// the other way round through the update: last false → not eligible, stored once
	r = f.client.Do(http.MethodPut, "/api/v1/tts/update-assignment/"+id+"/",
		`{"is_active": true, "settings": {"is_deployed": true, "is_deployed": false}}`, auth...)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"settings":{"is_deployed":false}`) {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	if got := testkit.Reload(t, f.app, rec).GetString("settings"); got != `{"is_deployed":false}` {
		t.Fatalf("stored settings after update: %s", got)
	}
	p = f.pick(key, map[string]any{"role_id": role.Id, "ticket_id": "DUP-2"})
	expect(t, "pick with the agent undeployed", p, 409, `{"detail":"No eligible agent for role 'Dup Key Desk'.","code":"no_eligible_agent"}`)
	if f.count("tts_round_robin_picks", dbx.HashExp{"ticket_id": "DUP-2"}) != 0 {
		t.Fatal("a refused pick was recorded")
	}
}
