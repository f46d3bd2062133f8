package directory_test

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
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

// The other protections of the directory and TTS, each checked again on the row read in the
// write transaction (a change committed between the first read and the write: ChangeDuring).
// Each case's request was answered 2xx and written when the check used the first read.
func TestProtectionsSeeAChangeCommittedMeanwhile(t *testing.T) {
	t.Parallel()
	type setup struct {
		collection, id string
		change         func(*core.Record)
		request        func() testkit.Reply
		after          func(t *testing.T) // the write did not happen
	}
	assignmentStays := func(f *fixture, id string) func(t *testing.T) {
		return func(t *testing.T) {
			if rec, err := f.app.FindRecordById("user_system_roles", id); err != nil || !rec.GetBool("is_active") {
				t.Fatalf("the Admin assignment was removed or deactivated (%v)", err)
			}
		}
	}
	for _, c := range []struct {
		name  string
		want  int
		build func(f *fixture) setup
	}{
		{"§5.11.6: an HDTS admin deactivating an assignment given the Admin role meanwhile", 403, func(f *fixture) setup {
			ad := f.token(f.staff(false, "hdts/Admin"))
			asg := f.assign(f.staff(false), "hdts/Ticket Coordinator", true)
			return setup{"user_system_roles", asg.Id, func(r *core.Record) { r.Set("role", f.roles["hdts/Admin"].Id) },
				func() testkit.Reply {
					return f.do(ad, "PATCH", "/api/v1/system-roles/user-system-roles/"+asg.Id+"/", map[string]any{"is_active": false})
				}, assignmentStays(f, asg.Id)}
		}},
		{"§5.11.7: an HDTS admin deleting an assignment given the Admin role meanwhile", 403, func(f *fixture) setup {
			ad := f.token(f.staff(false, "hdts/Admin"))
			asg := f.assign(f.staff(false), "hdts/Ticket Coordinator", true)
			return setup{"user_system_roles", asg.Id, func(r *core.Record) { r.Set("role", f.roles["hdts/Admin"].Id) },
				func() testkit.Reply {
					return f.do(ad, "DELETE", "/api/v1/system-roles/user-system-roles/"+asg.Id+"/", nil)
				}, assignmentStays(f, asg.Id)}
		}},
		{"§5.13.8: a TTS admin deactivating an assignment given the Admin role meanwhile", 403, func(f *fixture) setup {
			ad := f.token(f.staff(false, "tts/Admin"))
			asg := f.assign(f.staff(false), "tts/Asset Manager", true)
			return setup{"user_system_roles", asg.Id, func(r *core.Record) { r.Set("role", f.roles["tts/Admin"].Id) },
				func() testkit.Reply {
					return f.do(ad, "PUT", "/api/v1/tts/update-assignment/"+asg.Id+"/", map[string]any{"is_active": false})
				}, assignmentStays(f, asg.Id)}
		}},
		{"§5.13.9: a TTS admin deleting an assignment given the Admin role meanwhile", 403, func(f *fixture) setup {
			ad := f.token(f.staff(false, "tts/Admin"))
			asg := f.assign(f.staff(false), "tts/Asset Manager", true)
			return setup{"user_system_roles", asg.Id, func(r *core.Record) { r.Set("role", f.roles["tts/Admin"].Id) },
				func() testkit.Reply { return f.do(ad, "DELETE", "/api/v1/tts/update-assignment/"+asg.Id+"/", nil) },
				assignmentStays(f, asg.Id)}
		}},
		{"§5.3.7: a superuser deleting a user made superuser meanwhile", 403, func(f *fixture) setup {
			su := f.token(f.staff(true))
			target := f.staff(false)
			return setup{"users", target.Id, func(r *core.Record) { r.Set("is_superuser", true) },
				func() testkit.Reply { return f.do(su, "DELETE", "/api/v1/users/"+target.Id+"/", nil) },
				func(t *testing.T) {
					if _, err := f.app.FindRecordById("users", target.Id); err != nil {
						t.Fatalf("the superuser was deleted: %v", err)
					}
				}}
		}},
		{"§5.15.5: accepting an invitation whose inviter lost ADMIN meanwhile", 400, func(f *fixture) setup {
			inviter := f.staff(false)
			adminAsg := f.assign(inviter, "hdts/Admin", true)
			email := uniq("invitee") + "@example.com"
			f.invitation(email, inviter, "stale-inviter-token")
			return setup{"user_system_roles", adminAsg.Id, func(r *core.Record) { r.Set("is_active", false) },
				func() testkit.Reply {
					return f.do("", "POST", "/api/v1/invitations/accept/", map[string]any{
						"token": "stale-inviter-token", "password": "amber-lantern-77x", "password_confirm": "amber-lantern-77x"})
				},
				func(t *testing.T) {
					if n := f.count("users", dbx.HashExp{"email": email}); n != 0 {
						t.Fatalf("%d accounts made by an invitation of a former admin", n)
					}
				}}
		}},
		{"§5.3.6 case self: an email change proved with a password reset meanwhile", 400, func(f *fixture) setup {
			self := f.staff(false, "hdts/Admin")
			self.Set("is_staff", true) // staff may change their own email here (§5.3.6)
			if err := f.app.Save(self); err != nil {
				t.Fatal(err)
			}
			tok := f.token(self)
			return setup{"users", self.Id, func(r *core.Record) { r.SetPassword("reset-meanwhile-42") },
				func() testkit.Reply {
					return f.do(tok, "PATCH", "/api/v1/users/"+self.Id+"/", map[string]any{
						"email": uniq("moved") + "@example.com", "current_password": "correct horse battery"})
				},
				func(t *testing.T) {
					if fresh, err := f.app.FindRecordById("users", self.Id); err != nil || fresh.Email() != self.Email() {
						t.Fatalf("the email moved with a replaced password (%v)", err)
					}
				}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := c.build(f)
			var r testkit.Reply
			testkit.ChangeDuring(t, f.app, s.collection, s.id, s.change, 300*time.Millisecond, func() { r = s.request() })
			if r.Status != c.want {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, c.want)
			}
			s.after(t)
		})
	}
}
