package directory_test

import (
	"encoding/json"
	"gatehouse/testkit"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// §5.11.4, §5.11.6, §5.5.2: the answer of an assignment write is the assignment it committed.
// The handlers read it again after the commit; a delete committed in between (here: an
// after-commit hook deletes the assignment of the marked users, as a concurrent
// DELETE /users/{id}/ or /user-system-roles/{id}/ landing right after the commit would) left
// nothing: create and update panicked on the nil row (500), the invitations answered 201
// "assigned" with "assignment": null. Now each answers the row read in its own transaction.
func TestAssignmentAnswerIsWhatTheTransactionWrote(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ad := f.token(f.staff(false, "hdts/Admin"))
	hdts := f.systems["hdts"]
	tc := f.roles["hdts/Ticket Coordinator"]

	var mu sync.Mutex
	doomed := map[string]bool{} // users whose assignment is deleted right after each commit
	deleteAfterCommit := func(e *core.RecordEvent) error {
		mu.Lock()
		hit := doomed[e.Record.GetString("user")]
		mu.Unlock()
		if hit {
			if err := e.App.Delete(e.Record); err != nil {
				t.Errorf("delete after commit: %v", err)
			}
		}
		return e.Next()
	}
	f.app.OnRecordAfterCreateSuccess("user_system_roles").BindFunc(deleteAfterCommit)
	f.app.OnRecordAfterUpdateSuccess("user_system_roles").BindFunc(deleteAfterCommit)
	doom := func(u *core.Record) {
		mu.Lock()
		doomed[u.Id] = true
		mu.Unlock()
	}
	// answered checks a 201/200 whose assignment (at key, "" for the whole body) is the written
	// one, that it is gone now and that its write was audited.
	answered := func(label string, status int, got int, body []byte, key string, user *core.Record, event string) {
		t.Helper()
		raw := json.RawMessage(body)
		if key != "" {
			var top map[string]json.RawMessage
			_ = json.Unmarshal(body, &top)
			raw = top[key]
		}
		var fields map[string]any
		_ = json.Unmarshal(raw, &fields)
		id, _ := fields["id"].(string)
		if got != status || id == "" || fields["user"] != user.Id || fields["system_slug"] != "hdts" ||
			fields["role_name"] != "Ticket Coordinator" || fields["email"] != user.Email() {
			t.Fatalf("%s: %d %s, want %d with the assignment of %s", label, got, body, status, user.Id)
		}
		if n := f.count("user_system_roles", dbx.HashExp{"id": id}); n != 0 {
			t.Fatalf("%s: the assignment was not deleted after the commit", label)
		}
		if n := f.count("audit_log", dbx.HashExp{"event": event, "target_id": id, "system": "hdts"}); n != 1 {
			t.Fatalf("%s: %d %s audit rows, want 1", label, n, event)
		}
	}

	// create
	u := f.staff(false)
	doom(u)
	r := f.do(ad, "POST", "/api/v1/system-roles/user-system-roles/", map[string]any{"user": u.Id, "system": hdts.Id, "role": tc.Id})
	answered("create", 201, r.Status, r.Body, "", u, "assignment.created")
	if _, ok := r.JSON["available_roles"].([]any); !ok {
		t.Fatalf("create: no available_roles: %s", r.Body)
	}

	// update (PATCH): the assignment exists before, is deleted right after the update commits
	u = f.staff(false)
	a := f.assign(u, "hdts/Ticket Coordinator", true)
	doom(u)
	r = f.do(ad, "PATCH", "/api/v1/system-roles/user-system-roles/"+a.Id+"/", map[string]any{"is_active": false})
	answered("update", 200, r.Status, r.Body, "", u, "assignment.updated")
	if r.JSON["is_active"] != false {
		t.Fatalf("update: the answer is not the written row: %s", r.Body)
	}

	// the invitations of an existing user: 201 "assigned" with that assignment, never null
	for _, path := range []string{"/api/v1/users/invite-agent/", "/api/v1/users/management/invite_agent/", "/api/v1/system-roles/invite/"} {
		u = f.staff(false)
		doom(u)
		body := map[string]any{"role_id": tc.Id, "user_id": u.Id}
		if path == "/api/v1/system-roles/invite/" {
			body = map[string]any{"role_id": tc.Id, "email": u.Email()}
		}
		r = f.do(ad, "POST", path, body)
		if r.JSON["status"] != "assigned" {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		answered(path, 201, r.Status, r.Body, "assignment", u, "assignment.created")
	}

	// update of an assignment deleted after the request read it and before its transaction: the
	// delete's transaction is open while the request checks, and commits while the request waits
	// for the write lock. 404, as for any unknown id (it was a 500: sql.ErrNoRows).
	u = f.staff(false)
	a = f.assign(u, "hdts/Ticket Coordinator", true)
	committed := testkit.HoldDelete(t, f.app, "user_system_roles", a.Id, 300*time.Millisecond)
	r = f.do(ad, "PATCH", "/api/v1/system-roles/user-system-roles/"+a.Id+"/", map[string]any{"is_active": false})
	committed()
	if r.Status != 404 || r.Str("code") != "not_found" || f.count("user_system_roles", dbx.HashExp{"id": a.Id}) != 0 ||
		f.count("audit_log", dbx.HashExp{"event": "assignment.updated", "target_id": a.Id}) != 0 {
		t.Fatalf("update of an assignment deleted meanwhile: %d %s", r.Status, r.Body)
	}
}

// A role, system or invitation deleted after the request read it and before its update's
// transaction: 404 with the endpoint's text for an unknown id, nothing written (it was a 500,
// sql.ErrNoRows from updateAudited's re-read).
func TestUpdateOfARecordDeletedMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	su := f.token(f.staff(true))
	heldDelete := func(collection, id string) (committed func()) {
		return testkit.HoldDelete(t, f.app, collection, id, 300*time.Millisecond)
	}
	role := f.customRole("hdts", "Short-lived")
	committed := heldDelete("roles", role.Id)
	r := f.do(su, "PATCH", "/api/v1/roles/"+role.Id+"/", map[string]any{"description": "late"})
	committed()
	if r.Status != 404 || r.Str("code") != "not_found" || f.count("audit_log", dbx.HashExp{"event": "role.updated", "target_id": role.Id}) != 0 {
		t.Fatalf("update of a role deleted meanwhile: %d %s", r.Status, r.Body)
	}

	// deletes racing a delete: the request read the record, the other delete commits before
	// the request's transaction — 404, and no audit row of a delete that did not happen (it was
	// 204 with a second role.deleted / system.deleted row, and a 500 for an assignment)
	for _, c := range []struct{ collection, path, event string }{
		{"roles", "/api/v1/roles/" + f.customRole("hdts", "Twice").Id + "/", "role.deleted"},
		{"user_system_roles", "/api/v1/system-roles/user-system-roles/" + f.assign(f.staff(false), "hdts/Ticket Coordinator", true).Id + "/", "assignment.deleted"},
	} {
		id := c.path[strings.LastIndex(strings.TrimSuffix(c.path, "/"), "/")+1 : len(c.path)-1]
		committed := heldDelete(c.collection, id)
		r := f.do(su, "DELETE", c.path, nil)
		committed()
		if r.Status != 404 || r.Str("code") != "not_found" || f.count("audit_log", dbx.HashExp{"event": c.event, "target_id": id}) != 0 {
			t.Fatalf("DELETE %s deleted meanwhile: %d %s", c.path, r.Status, r.Body)
		}
	}
	// a user update whose target is deleted meanwhile: 404 (was a 500)
	gone := f.staff(false)
	committed = heldDelete("users", gone.Id)
	r = f.do(su, "PATCH", "/api/v1/users/"+gone.Id+"/", map[string]any{"first_name": "Late"})
	committed()
	if r.Status != 404 || r.Str("code") != "not_found" || f.count("audit_log", dbx.HashExp{"event": "user.updated", "target_id": gone.Id}) != 0 {
		t.Fatalf("update of a user deleted meanwhile: %d %s", r.Status, r.Body)
	}
	// ... and whose named assignment is deleted meanwhile: the field's 400 (was a 500)
	holder := f.staff(false)
	a := f.assign(holder, "hdts/Ticket Coordinator", true)
	committed = heldDelete("user_system_roles", a.Id)
	r = f.do(su, "PATCH", "/api/v1/users/"+holder.Id+"/", map[string]any{"system_role_id": a.Id, "system_role_is_active": false})
	committed()
	if r.Status != 400 || r.Str("code") != "invalid" {
		t.Fatalf("update naming an assignment deleted meanwhile: %d %s", r.Status, r.Body)
	}

	// a user created with a role deleted meanwhile: the role_id's 400, and no user (was a 500)
	doomedRole := f.customRole("hdts", "Deleted Meanwhile")
	committed = heldDelete("roles", doomedRole.Id)
	r = f.do(su, "POST", "/api/v1/users/", map[string]any{"email": "late.user@example.com", "password": "amber-lantern-77x", "role_id": doomedRole.Id})
	committed()
	if r.Status != 400 || !strings.Contains(string(r.Body), `"role_id":["Invalid pk`) || f.count("users", dbx.HashExp{"email": "late.user@example.com"}) != 0 {
		t.Fatalf("create with a role deleted meanwhile: %d %s", r.Status, r.Body)
	}

	sysCol, _ := f.app.FindCollectionByNameOrId("systems")
	sys := core.NewRecord(sysCol)
	sys.Set("name", "Short-lived System")
	sys.Set("slug", "shortlived")
	if err := f.app.Save(sys); err != nil {
		t.Fatal(err)
	}
	committed = heldDelete("systems", sys.Id)
	r = f.do(su, "DELETE", "/api/v1/systems/"+sys.Id+"/", nil)
	committed()
	if r.Status != 404 || f.count("audit_log", dbx.HashExp{"event": "system.deleted", "target_id": sys.Id}) != 0 {
		t.Fatalf("DELETE of a system deleted meanwhile: %d %s", r.Status, r.Body)
	}
}

// edit-settings answers with the role read in its own transaction: a role deleted right after
// the commit (with its assignments) must not turn the saved change into a 500 (§5.11.8).
func TestEditSettingsAnswerIsWhatItWrote(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	su := f.token(f.staff(true))
	role := f.customRole("hdts", "Doomed Role")
	agent := f.staff(false)
	testkit.Assign(t, f.app, agent, role, true)
	f.app.OnRecordAfterUpdateSuccess("user_system_roles").BindFunc(func(e *core.RecordEvent) error {
		if e.Record.GetString("role") == role.Id {
			if r, err := e.App.FindRecordById("roles", role.Id); err == nil {
				if err := e.App.Delete(r); err != nil {
					t.Errorf("delete after commit: %v", err)
				}
			}
		}
		return e.Next()
	})
	r := f.do(su, "POST", "/api/v1/system-roles/user-system-roles/edit-settings/",
		map[string]any{"user_id": agent.Id, "system": "hdts", "settings": map[string]any{"is_deployed": false}})
	if r.Status != 200 || r.Str("role") != "Doomed Role" || r.Str("system") != "hdts" {
		t.Fatalf("edit-settings, role deleted after the commit: %d %s", r.Status, r.Body)
	}
	if n := f.count("audit_log", dbx.HashExp{"event": "assignment.updated"}); n != 1 {
		t.Fatalf("%d assignment.updated rows", n)
	}
}
