package directory_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/testkit"
)

// Two requests that change an assignment while a deactivation of it commits in between (the
// deactivation's transaction holds the write connection while the request reads, and commits
// after it). Both used to decide on the assignment as read before their write transaction:
//   - edit-settings changes settings only, but saved the old copy and so wrote the deactivated
//     assignment back as active (§3.5: the deactivation holds at once);
//   - PATCH /users/{id}/ with system_role_is_active "sets its is_active" (§5.3.6), but compared
//     the wanted value with the old copy, skipped its write and answered 200 with it inactive.
func TestAssignmentWritesSeeAConcurrentDeactivation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		request    func(f *fixture, su string, agent, asg *core.Record) int
		wantActive bool
		settings   string // the stored settings afterwards ("" = not checked)
	}{
		{"edit-settings keeps it inactive", func(f *fixture, su string, agent, _ *core.Record) int {
			return f.do(su, "POST", "/api/v1/system-roles/user-system-roles/edit-settings/",
				map[string]any{"user_id": agent.Id, "system": "hdts", "settings": map[string]any{"is_deployed": true}}).Status
		}, false, `{"is_deployed":true}`},
		{"system_role_is_active true makes it active", func(f *fixture, su string, agent, asg *core.Record) int {
			return f.do(su, "PATCH", "/api/v1/users/"+agent.Id+"/",
				map[string]any{"system_role_id": asg.Id, "system_role_is_active": true}).Status
		}, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			su := f.token(f.staff(true))
			agent := f.staff(false)
			asg := f.assign(agent, "hdts/Ticket Coordinator", true)

			var status int
			testkit.ChangeDuring(t, f.app, "user_system_roles", asg.Id, func(r *core.Record) { r.Set("is_active", false) }, 300*time.Millisecond, func() {
				status = c.request(f, su, agent, asg)
			})
			if status != 200 {
				t.Fatalf("request: %d", status)
			}
			fresh, err := f.app.FindRecordById("user_system_roles", asg.Id)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.GetBool("is_active") != c.wantActive {
				t.Fatalf("is_active = %v after the request, want %v", fresh.GetBool("is_active"), c.wantActive)
			}
			if c.settings != "" && fresh.GetString("settings") != c.settings {
				t.Fatalf("settings = %s", fresh.GetString("settings"))
			}
		})
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
