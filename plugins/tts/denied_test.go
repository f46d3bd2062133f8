package tts_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"

	"gatehouse/testkit"
)

// An employee access token is valid, but for the wrong principal on every TTS route (all of
// them are staff or service routes): 401 token_not_valid, never 403 and never a fallback to
// another principal (§1.5), with its WWW-Authenticate; and nothing is written.
func TestTTSRefusesEmployeeTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	emp := testkit.NewPrincipal(t, f.app, "employees", "emp")
	emp.Set("status", "Approved")
	if err := f.app.Save(emp); err != nil {
		t.Fatal(err)
	}
	issued, err := f.tokens.StartSession(f.app, "employee", emp, "password", "127.0.0.1", "tts-test")
	if err != nil {
		t.Fatal(err)
	}
	employee := []string{"Authorization", "Bearer " + issued.Access}
	// the token itself is good: a PRINCIPAL route takes it
	expect(t, "employee on /api/v1/tts/", f.client.Do(http.MethodGet, "/api/v1/tts/", nil, employee...), 200, "")

	role, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Budget Manager'", dbx.Params{"s": f.tts.Id})
	if err != nil {
		t.Fatal(err)
	}
	agent := f.user("Zed", "Agent", false)
	asg := f.assign(agent, role)
	id := asg.Id
	roles, assignments := f.count("roles", nil), f.count("user_system_roles", nil)

	const tokenNotValid = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/v1/tts/round-robin/?role_id=" + role.Id, nil},
		{http.MethodPost, "/api/v1/tts/round-robin/", map[string]any{"role_id": role.Id, "ticket_id": "E1"}},
		{http.MethodGet, "/api/v1/tts/user-info/" + agent.Id + "/", nil},
		{http.MethodPost, "/api/v1/tts/users-info/", map[string]any{"employee_cookie_ids": []string{agent.Id}}},
		{http.MethodGet, "/api/v1/tts/assign-agent-to-role/", nil},
		{http.MethodPost, "/api/v1/tts/assign-agent-to-role/", map[string]any{"userID": agent.Id, "role": f.admin["tts"].Id}},
		{http.MethodGet, "/api/v1/tts/assign-role/", nil},
		{http.MethodGet, "/assign-role/", nil},
		{http.MethodPut, "/api/v1/tts/update-assignment/" + id + "/", map[string]any{"is_active": false, "settings": map[string]any{"is_deployed": false}}},
		{http.MethodDelete, "/api/v1/tts/update-assignment/" + id + "/", nil},
		{http.MethodGet, "/api/v1/tts/create-role/", nil},
		{http.MethodPost, "/api/v1/tts/create-role/", map[string]any{"name": "Employee Made"}},
	} {
		label := "employee " + c.method + " " + c.path
		r := f.client.Do(c.method, c.path, c.body, employee...)
		expect(t, label, r, 401, tokenNotValid)
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="api", error="invalid_token"` {
			t.Errorf("%s: WWW-Authenticate %q", label, got)
		}
	}

	stored := testkit.Reload(t, f.app, asg)
	if !stored.GetBool("is_active") || stored.GetString("role") != role.Id || stored.GetString("settings") != asg.GetString("settings") {
		t.Errorf("the assignment changed: %v", stored)
	}
	if n := f.count("roles", nil); n != roles {
		t.Errorf("roles: %d, want %d", n, roles)
	}
	if n := f.count("user_system_roles", nil); n != assignments {
		t.Errorf("assignments: %d, want %d", n, assignments)
	}
	for _, table := range []string{"tts_round_robin_picks", "tts_round_robin_state"} {
		if n := f.count(table, nil); n != 0 {
			t.Errorf("%s: %d rows, want 0", table, n)
		}
	}
	if n := f.count("audit_log", dbx.HashExp{"actor_id": emp.Id}); n != 0 {
		t.Errorf("%d audit entries by the employee", n)
	}
}
