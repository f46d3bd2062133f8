package directory_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/testkit"
)

// edit-settings changes settings only. It used to save the assignment as read before its write
// transaction, so a deactivation committed in between was written back as active (§3.5: the
// deactivation holds at once). Here the deactivation's transaction holds the write connection
// while the request reads, and commits after it: the request must then see it.
func TestEditSettingsKeepsAConcurrentDeactivation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	su := f.token(f.staff(true))
	agent := f.staff(false)
	asg := f.assign(agent, "hdts/Ticket Coordinator", true)

	var status int
	testkit.ChangeDuring(t, f.app, "user_system_roles", asg.Id, func(r *core.Record) { r.Set("is_active", false) }, 300*time.Millisecond, func() {
		status = f.do(su, "POST", "/api/v1/system-roles/user-system-roles/edit-settings/",
			map[string]any{"user_id": agent.Id, "system": "hdts", "settings": map[string]any{"is_deployed": true}}).Status
	})
	if status != 200 {
		t.Fatalf("edit-settings: %d", status)
	}
	fresh, err := f.app.FindRecordById("user_system_roles", asg.Id)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.GetBool("is_active") {
		t.Fatal("edit-settings wrote the deactivated assignment back as active")
	}
	if got := fresh.GetString("settings"); got != `{"is_deployed":true}` {
		t.Fatalf("settings = %s", got)
	}
}

// §5.3.6: system_role_is_active "sets its is_active". The request compared the wanted value with
// the assignment as read before its write transaction, so a deactivation committed in between
// made it skip the write and answer 200 with the assignment left inactive.
func TestUserUpdateSetsTheAssignmentAsItIsNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	su := f.token(f.staff(true))
	agent := f.staff(false)
	asg := f.assign(agent, "hdts/Ticket Coordinator", true)

	var status int
	testkit.ChangeDuring(t, f.app, "user_system_roles", asg.Id, func(r *core.Record) { r.Set("is_active", false) }, 300*time.Millisecond, func() {
		status = f.do(su, "PATCH", "/api/v1/users/"+agent.Id+"/",
			map[string]any{"system_role_id": asg.Id, "system_role_is_active": true}).Status
	})
	if status != 200 {
		t.Fatalf("PATCH: %d", status)
	}
	if fresh, err := f.app.FindRecordById("user_system_roles", asg.Id); err != nil || !fresh.GetBool("is_active") {
		t.Fatalf("the assignment the request set active is inactive (%v)", err)
	}
}

// §5.3.6 case C: a system admin may not edit a superuser or an Admin. The protection was checked
// on the user as read before the write transaction; a user made superuser in between was edited
// anyway. It is checked again inside.
func TestAdminCannotEditAUserMadeSuperuserMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ad := f.token(f.staff(false, "hdts/Admin"))
	target := f.staff(false, "hdts/Ticket Coordinator")
	before := target.GetString("first_name")

	var status int
	testkit.ChangeDuring(t, f.app, "users", target.Id, func(r *core.Record) { r.Set("is_superuser", true) }, 300*time.Millisecond, func() {
		status = f.do(ad, "PATCH", "/api/v1/users/"+target.Id+"/", map[string]any{"first_name": "Changed"}).Status
	})
	if status != 403 {
		t.Fatalf("PATCH of a user made superuser meanwhile: %d, want 403", status)
	}
	if fresh, err := f.app.FindRecordById("users", target.Id); err != nil || fresh.GetString("first_name") != before {
		t.Fatalf("first_name = %q (%v), want %q", fresh.GetString("first_name"), err, before)
	}
}
