package permissions_test

import (
	"testing"

	"gatehouse/plugins/permissions"
	"gatehouse/plugins/writeepoch"
	"gatehouse/testkit"
)

// RoleHolders: every assignment of a role with its user, sorted by user id; a cached answer is
// never served after a write to an assignment or a user.
func TestRoleHolders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	writeepoch.WatchWrites(f.app)
	role := f.roles["tts/Agent"]
	a, b := f.staff(false), f.staff(false)
	aa, ba := f.assign(a, "tts/Agent", true), f.assign(b, "tts/Agent", true)
	f.assign(f.staff(false), "tts/Admin", true) // another role

	read := func() []permissions.Holder {
		t.Helper()
		h, err := permissions.RoleHolders(f.app, role.Id)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := read()
	if len(h) != 2 || h[0].UserID > h[1].UserID || !h[0].IsActive || !h[0].UserIsActive || h[0].Email == "" {
		t.Fatalf("holders: %+v", h)
	}
	read() // cached now
	testkit.SetField(t, f.app, aa, "is_active", false)
	testkit.SetField(t, f.app, b, "is_active", false)
	for _, x := range read() {
		switch x.AssignmentID {
		case aa.Id:
			if x.IsActive || !x.UserIsActive {
				t.Errorf("deactivated assignment still active: %+v", x)
			}
		case ba.Id:
			if x.UserIsActive || !x.IsActive {
				t.Errorf("deactivated user still active: %+v", x)
			}
		default:
			t.Errorf("unexpected holder %+v", x)
		}
	}
	if err := f.app.Delete(testkit.Reload(t, f.app, aa)); err != nil {
		t.Fatal(err)
	}
	if h := read(); len(h) != 1 || h[0].AssignmentID != ba.Id {
		t.Fatalf("after a delete: %+v", h)
	}
}
