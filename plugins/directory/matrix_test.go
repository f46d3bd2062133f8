package directory_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// callers of the permission matrix, in column order.
var callerNames = []string{"superuser", "hdts admin", "tts admin", "staff", "employee", "api key", "anonymous"}

const (
	deny   = "403 You do not have permission to perform this action."
	badTok = "401 Token is invalid or expired."
	noCred = "401 Authentication credentials were not provided."
)

// row is one endpoint of the matrix: setup makes a fresh target per caller (so that writes of
// one caller never change what the next one sees) and returns the path and body.
type row struct {
	method string
	setup  func(f *fixture, i int) (path string, body any)
	want   [7]string // "<status>" or "<status> <detail>"
	// verify checks the side effect of a success.
	verify func(f *fixture, i int, path string)
}

func fixed(path string, body any) func(*fixture, int) (string, any) {
	return func(*fixture, int) (string, any) { return path, body }
}

// TestPermissionMatrix runs every endpoint of the plugin for the seven kinds of caller and
// checks the status and the error text of §1.7/§5 (and the side effect of each success).
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	super := f.staff(true)
	hdtsAdmin := f.staff(false, "hdts/Admin")
	ttsAdmin := f.staff(false, "tts/Admin")
	plain := f.staff(false, "hdts/Ticket Coordinator")
	agent := f.staff(false, "hdts/Ticket Coordinator")
	agentAssignment, _ := f.app.FindFirstRecordByData("user_system_roles", "user", agent.Id)
	callers := []string{f.token(super), f.token(hdtsAdmin), f.token(ttsAdmin), f.token(plain), f.token(f.employee()), "key:" + f.apiKey(), ""}
	hdts := f.systems["hdts"]
	tc := f.roles["hdts/Ticket Coordinator"]
	ok := func(s string) [7]string { return [7]string{s, s, s, deny, badTok, noCred, noCred} }
	adminOnly := func(s, other string) [7]string { return [7]string{s, s, other, deny, badTok, noCred, noCred} }
	public := func(s string) [7]string { return [7]string{s, s, s, s, s, s, s} }
	userAt := func(base string) func(*fixture, int) (string, any) {
		return func(*fixture, int) (string, any) { return base + agent.Id + "/", nil }
	}

	rows := []row{
		{method: "GET", setup: fixed("/api/v1/users/", nil), want: ok("200")},
		{method: "GET", setup: fixed("/api/v1/users/list/", nil), want: ok("200")},
		{method: "GET", setup: fixed("/api/v1/users/management/", nil), want: ok("200")},
		{method: "GET", setup: fixed("/api/v1/users/agents/", nil), want: ok("200")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/users/", map[string]any{"email": uniq("new") + "@example.com", "password": "Blue-Lantern-42", "role_id": tc.Id}
		}, want: adminOnly("201", "403 Access denied to this system")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/users/management/", map[string]any{"email": uniq("new") + "@example.com", "password": "Blue-Lantern-42", "role_id": tc.Id}
		}, want: adminOnly("201", "403 Access denied to this system")},
		{method: "GET", setup: userAt("/api/v1/users/"), want: adminOnly("200", "404 User not found or access denied")},
		{method: "GET", setup: userAt("/api/v1/users/management/"), want: adminOnly("200", "404 User not found or access denied")},
		{method: "PATCH", setup: func(*fixture, int) (string, any) {
			return "/api/v1/users/" + agent.Id + "/", map[string]any{"first_name": "Renamed"}
		}, want: adminOnly("200", "404 User not found or access denied"),
			verify: func(f *fixture, i int, path string) {
				if u, _ := f.app.FindRecordById("users", agent.Id); u.GetString("first_name") != "Renamed" {
					f.t.Errorf("%s: first_name not stored", callerNames[i])
				}
			}},
		{method: "PUT", setup: func(*fixture, int) (string, any) {
			return "/api/v1/users/management/" + agent.Id + "/", map[string]any{"first_name": "Put", "last_name": "Name", "email": agent.Email(), "username": agent.GetString("username")}
		}, want: adminOnly("200", "404 User not found or access denied")},
		{method: "DELETE", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/users/" + f.staff(false, "hdts/Ticket Coordinator").Id + "/", nil
		}, want: [7]string{"204", "403 Only superusers can delete users", "403 Only superusers can delete users", deny, badTok, noCred, noCred},
			verify: func(f *fixture, i int, path string) {
				id := strings.Split(strings.TrimSuffix(path, "/"), "/")[4]
				if _, err := f.app.FindRecordById("users", id); err == nil {
					f.t.Errorf("%s: user not deleted", callerNames[i])
				}
			}},
		{method: "DELETE", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/users/management/" + f.staff(false).Id + "/", nil
		}, want: [7]string{"204", "403 Only superusers can delete users", "403 Only superusers can delete users", deny, badTok, noCred, noCred}},
		{method: "GET", setup: fixed("/api/v1/users/invite-agent/", nil), want: ok("200")},
		{method: "GET", setup: fixed("/api/v1/users/management/invite_agent/", nil), want: ok("200")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/users/invite-agent/", map[string]any{"email": uniq("inv") + "@example.com", "role_id": tc.Id}
		}, want: adminOnly("201", "403 You are not an admin of this system")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/users/management/invite_agent/", map[string]any{"email": uniq("inv") + "@example.com", "role_id": tc.Id}
		}, want: adminOnly("201", "403 You are not an admin of this system")},
		{method: "GET", setup: fixed("/api/v1/systems/", nil), want: ok("200")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/systems/", map[string]any{"name": uniq("System "), "slug": uniq("sys")}
		}, want: [7]string{"201", "403 Only superusers can create new systems", "403 Only superusers can create new systems", deny, badTok, noCred, noCred},
			verify: func(f *fixture, i int, path string) {
				// the system has its Admin role and no account was created
				var n struct{ N int }
				_ = f.app.DB().NewQuery("SELECT COUNT(*) AS n FROM roles r JOIN systems s ON s.id = r.system WHERE s.slug LIKE 'sys%' AND r.name = 'Admin'").One(&n)
				if n.N < 1 {
					f.t.Errorf("no Admin role for the new system")
				}
			}},
		{method: "GET", setup: fixed("/api/v1/systems/public/", nil), want: public("200")},
		{method: "GET", setup: fixed("/api/v1/systems/"+hdts.Id+"/", nil), want: adminOnly("200", "404 System not found or access denied")},
		{method: "PATCH", setup: fixed("/api/v1/systems/"+hdts.Id+"/", map[string]any{"url": "https://hdts.example.com"}), want: adminOnly("200", "404 System not found or access denied")},
		{method: "PUT", setup: fixed("/api/v1/systems/"+hdts.Id+"/", map[string]any{"name": hdts.GetString("name"), "slug": "hdts"}), want: adminOnly("200", "404 System not found or access denied")},
		{method: "DELETE", setup: func(f *fixture, i int) (string, any) {
			col, _ := f.app.FindCollectionByNameOrId("systems")
			s := core.NewRecord(col)
			s.Set("name", uniq("Doomed "))
			s.Set("slug", uniq("doomed"))
			if err := f.app.Save(s); err != nil {
				f.t.Fatal(err)
			}
			return "/api/v1/systems/" + s.Id + "/", nil
		}, want: [7]string{"204", "403 Only superusers can delete systems", "403 Only superusers can delete systems", deny, badTok, noCred, noCred}},
		{method: "GET", setup: fixed("/api/v1/roles/", nil), want: ok("200")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/roles/", map[string]any{"system": hdts.Id, "name": uniq("Role ")}
		}, want: adminOnly("201", "403 Access denied to create roles for this system")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/roles/register/", map[string]any{"system": hdts.Id, "name": uniq("Role ")}
		}, want: adminOnly("201", "403 Access denied to create roles for this system")},
		{method: "GET", setup: fixed("/api/v1/roles/"+tc.Id+"/", nil), want: adminOnly("200", "404 Role not found or access denied")},
		{method: "PATCH", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/roles/" + f.customRole("hdts", uniq("Custom ")).Id + "/", map[string]any{"description": "changed"}
		}, want: adminOnly("200", "404 Role not found or access denied")},
		{method: "PUT", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/roles/" + f.customRole("hdts", uniq("Custom ")).Id + "/", map[string]any{"name": uniq("Renamed ")}
		}, want: adminOnly("200", "404 Role not found or access denied")},
		{method: "DELETE", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/roles/" + f.customRole("hdts", uniq("Custom ")).Id + "/", nil
		}, want: adminOnly("204", "404 Role not found or access denied")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/system-roles/invite/", map[string]any{"email": uniq("sr") + "@example.com", "role_id": tc.Id}
		}, want: adminOnly("201", "403 Access denied to this system")},
		{method: "GET", setup: fixed("/api/v1/system-roles/systems/hdts/users/", nil), want: adminOnly("200", "403 Access denied to this system")},
		{method: "GET", setup: fixed("/api/v1/system-roles/user-system-roles/", nil), want: [7]string{"200", "200", "200", "200", badTok, noCred, noCred}},
		{method: "GET", setup: fixed("/api/v1/system-roles/user-system-roles/?scope=managed", nil), want: ok("200")},
		// search is not a parameter of this list (§5.11.3): ignored, as unknown ones are (§1.8)
		{method: "GET", setup: fixed("/api/v1/system-roles/user-system-roles/?scope=managed&search="+strings.Repeat("a", 101), nil), want: ok("200")},
		{method: "POST", setup: func(f *fixture, i int) (string, any) {
			return "/api/v1/system-roles/user-system-roles/", map[string]any{"user": f.staff(false).Id, "system": hdts.Id, "role": tc.Id}
		}, want: adminOnly("201", "403 Access denied to this system")},
		{method: "GET", setup: fixed("/api/v1/system-roles/user-system-roles/"+agentAssignment.Id+"/", nil),
			want: [7]string{"200", "200", "404 User system role not found or access denied", "404 User system role not found or access denied", badTok, noCred, noCred}},
		{method: "PATCH", setup: fixed("/api/v1/system-roles/user-system-roles/"+agentAssignment.Id+"/", map[string]any{"is_active": true}),
			want: [7]string{"200", "200", "404 User system role not found or access denied", "404 User system role not found or access denied", badTok, noCred, noCred}},
		{method: "PUT", setup: fixed("/api/v1/system-roles/user-system-roles/"+agentAssignment.Id+"/", map[string]any{"role": tc.Id, "is_active": true}),
			want: [7]string{"200", "200", "404 User system role not found or access denied", "404 User system role not found or access denied", badTok, noCred, noCred}},
		{method: "DELETE", setup: func(f *fixture, i int) (string, any) {
			u := f.staff(false)
			return "/api/v1/system-roles/user-system-roles/" + f.assign(u, "hdts/Ticket Coordinator", true).Id + "/", nil
		}, want: [7]string{"204", "204", "404 User system role not found or access denied", "404 User system role not found or access denied", badTok, noCred, noCred}},
		{method: "POST", setup: fixed("/api/v1/system-roles/user-system-roles/edit-settings/", map[string]any{"user_id": agent.Id, "system": "hdts", "settings": map[string]any{"is_deployed": false}}),
			want: adminOnly("200", "403 Access denied to this system")},
		{method: "GET", setup: fixed("/api/v1/system-roles/user-system-roles/system/hdts/roles/", nil), want: adminOnly("200", "403 Access denied to this system")},
		{method: "GET", setup: fixed("/api/v1/invitations/", nil), want: ok("200")},
		{method: "DELETE", setup: func(f *fixture, i int) (string, any) {
			rep := f.do(callers[0], "POST", "/api/v1/users/invite-agent/", map[string]any{"email": uniq("rv") + "@example.com", "role_id": tc.Id})
			inv, _ := rep.JSON["invitation"].(map[string]any)
			if inv == nil {
				f.t.Fatalf("invite: %d %s", rep.Status, rep.Body)
			}
			return "/api/v1/invitations/" + inv["id"].(string) + "/", nil
		}, want: adminOnly("204", "404 Invitation not found or access denied")},
		{method: "GET", setup: fixed("/api/v1/invitations/accept/?token=nope", nil), want: public("200")},
		{method: "POST", setup: fixed("/api/v1/invitations/accept/", map[string]any{}), want: public("400 Invalid input.")},
	}
	for _, r := range rows {
		for i, caller := range callers {
			path, body := r.setup(f, i)
			rep := f.do(caller, r.method, path, body)
			got := fmt.Sprint(rep.Status)
			if rep.Status >= 400 {
				got += " " + rep.Str("detail")
			}
			want := r.want[i]
			if !strings.Contains(want, " ") && rep.Status < 400 {
				// success: status only (bodies are checked by the endpoint tests)
			}
			if got != want {
				t.Errorf("%s %s as %s: got %q, want %q (body %s)", r.method, path, callerNames[i], got, want, rep.Body)
				continue
			}
			if rep.Status < 300 && r.verify != nil {
				r.verify(f, i, path)
			}
			if rep.Status >= 400 && r.method != http.MethodGet {
				// a refused write changes nothing: checked per endpoint in the focused tests
				_ = dbx.HashExp{}
			}
		}
	}
}
