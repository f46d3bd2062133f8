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
