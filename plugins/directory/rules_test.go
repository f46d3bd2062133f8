package directory_test

import (
	"gatehouse/testkit"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
)

// TestMassAssignment: a system admin cannot set is_superuser, is_staff, is_active, is_locked,
// company_id, verified or a role through any writable field of the user endpoints, and a user
// cannot raise itself through users/{id}/ (case A ignores those keys).
func TestMassAssignment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.staff(false, "hdts/Admin")
	agent := f.staff(false, "hdts/Ticket Coordinator")
	tok := f.token(admin)
	evil := map[string]any{"first_name": "Ok", "is_superuser": true, "is_staff": true, "is_active": false,
		"is_locked": false, "company_id": "MA9999", "verified": false, "email": "taken@example.com",
		"system_roles": []any{map[string]any{"role_id": f.roles["hdts/Admin"].Id}}, "role_id": f.roles["hdts/Admin"].Id}
	locked := time.Now().Add(time.Hour)
	agent.Set("locked_until", locked)
	if err := f.app.Save(agent); err != nil {
		t.Fatal(err)
	}
	rep := f.do(tok, "PATCH", "/api/v1/users/"+agent.Id+"/", evil)
	if rep.Status != 200 {
		t.Fatalf("admin patch: %d %s", rep.Status, rep.Body)
	}
	u, _ := f.app.FindRecordById("users", agent.Id)
	if u.GetString("first_name") != "Ok" || u.GetBool("is_superuser") || u.GetBool("is_staff") || !u.GetBool("is_active") ||
		u.GetString("company_id") == "MA9999" || !u.Verified() || u.Email() == "taken@example.com" || u.GetDateTime("locked_until").IsZero() {
		t.Fatalf("a restricted field changed: %v", u.PublicExport())
	}
	if n := f.count("user_system_roles", dbx.HashExp{"user": agent.Id, "role": f.roles["hdts/Admin"].Id}); n != 0 {
		t.Fatal("a role was given through the user endpoint")
	}
	// §8.90: is_locked false from a system admin leaves the user locked (checked above) and the
	// answer says so.
	if rep.JSON["is_locked"] != true {
		t.Fatalf("is_locked in answer: %s", rep.Body)
	}

	// Case A: the agent cannot raise itself (keys ignored, nothing stored).
	self := f.token(agent)
	adminTok := f.token(f.staff(true))
	_ = adminTok
	rep = f.do(self, "PATCH", "/api/v1/users/"+agent.Id+"/", map[string]any{"is_superuser": true, "status": "Approved"})
	if rep.Status != 403 { // the agent is no admin at all: ANY_ADMIN fails first
		t.Fatalf("self patch by non-admin: %d %s", rep.Status, rep.Body)
	}
	selfAdmin := f.token(admin)
	rep = f.do(selfAdmin, "PATCH", "/api/v1/users/"+admin.Id+"/", map[string]any{"is_superuser": true, "is_staff": true, "first_name": "Me", "phone_number": "09171234567"})
	a, _ := f.app.FindRecordById("users", admin.Id)
	if rep.Status != 200 || a.GetBool("is_superuser") || a.GetBool("is_staff") || a.GetString("first_name") == "Me" || a.GetString("phone_number") != "+639171234567" {
		t.Fatalf("case A: %d %s / %v", rep.Status, rep.Body, a.PublicExport())
	}

	// Creating a user: status, is_staff (superuser only) and is_superuser are never bound for
	// an admin; the role must be in its scope.
	rep = f.do(tok, "POST", "/api/v1/users/", map[string]any{"email": "made@example.com", "password": "Blue-Lantern-42",
		"role_id": f.roles["hdts/Ticket Coordinator"].Id, "is_superuser": true, "is_staff": true, "status": "Approved", "is_active": false, "verified": true})
	made, err := f.app.FindAuthRecordByEmail("users", "made@example.com")
	if rep.Status != 201 || err != nil || made.GetBool("is_superuser") || made.GetBool("is_staff") || made.GetString("status") != "Pending" || !made.GetBool("is_active") || made.Verified() {
		t.Fatalf("create: %d %s", rep.Status, rep.Body)
	}
	rep = f.do(tok, "POST", "/api/v1/users/", map[string]any{"email": "made2@example.com", "password": "Blue-Lantern-42", "role_id": f.roles["tts/Admin"].Id})
	if rep.Status != 403 || rep.Str("detail") != "Access denied to this system" || f.count("users", dbx.HashExp{"email": "made2@example.com"}) != 0 {
		t.Fatalf("create with a role outside the scope: %d %s", rep.Status, rep.Body)
	}
	// Assignment update: a system admin cannot move itself to another role than Admin or
	// deactivate an Admin assignment (§5.11.6).
	own, _ := f.app.FindFirstRecordByFilter("user_system_roles", "user = {:u}", dbx.Params{"u": admin.Id})
	rep = f.do(tok, "PATCH", "/api/v1/system-roles/user-system-roles/"+own.Id+"/", map[string]any{"is_active": false})
	if rep.Status != 403 || rep.Str("detail") != "Cannot remove Admin role assignments" {
		t.Fatalf("deactivate own Admin: %d %s", rep.Status, rep.Body)
	}
}

// TestAdminsCannotEditAdmins: §8.61 — a system admin editing a superuser or a holder of an
// Admin assignment anywhere (also outside its scope, also inactive) gets 403; only superusers
// unlock (§8.33).
func TestAdminsCannotEditAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.token(f.staff(false, "hdts/Admin"))
	other := f.staff(false, "hdts/Ticket Coordinator", "-tts/Admin")
	super := f.staff(true, "hdts/Ticket Coordinator")
	for _, u := range []string{other.Id, super.Id} {
		rep := f.do(admin, "PATCH", "/api/v1/users/"+u+"/", map[string]any{"first_name": "X"})
		if rep.Status != 403 || rep.Str("detail") != "Admins cannot edit other admins' profiles" {
			t.Errorf("edit %s: %d %s", u, rep.Status, rep.Body)
		}
	}
	locked := f.staff(false, "hdts/Ticket Coordinator")
	locked.Set("locked_until", time.Now().Add(time.Hour))
	_ = f.app.Save(locked)
	rep := f.do(f.token(f.staff(true)), "PATCH", "/api/v1/users/"+locked.Id+"/", map[string]any{"is_locked": false})
	u, _ := f.app.FindRecordById("users", locked.Id)
	if rep.Status != 200 || rep.JSON["is_locked"] != false || !u.GetDateTime("locked_until").IsZero() {
		t.Fatalf("superuser unlock: %d %s", rep.Status, rep.Body)
	}
	rep = f.do(f.token(f.staff(true)), "PATCH", "/api/v1/users/"+locked.Id+"/", map[string]any{"is_locked": true})
	if rep.Status != 400 || !strings.Contains(string(rep.Body), "Only false is accepted.") {
		t.Fatalf("is_locked true: %d %s", rep.Status, rep.Body)
	}
}

// TestDeactivationRevokesAtOnce: §8.17 — a superuser setting is_active false makes the user's
// access token fail at once.
func TestDeactivationRevokesAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	target := f.staff(false, "hdts/Admin")
	tok := f.token(target)
	if rep := f.do(tok, "GET", "/api/v1/users/", nil); rep.Status != 200 {
		t.Fatalf("before: %d", rep.Status)
	}
	rep := f.do(f.token(f.staff(true)), "PATCH", "/api/v1/users/"+target.Id+"/", map[string]any{"is_active": false})
	if rep.Status != 200 {
		t.Fatalf("deactivate: %d %s", rep.Status, rep.Body)
	}
	if rep := f.do(tok, "GET", "/api/v1/users/", nil); rep.Status != 401 {
		t.Fatalf("after deactivation: %d %s", rep.Status, rep.Body)
	}
	// Removing an Admin assignment (no revocation) takes effect at once too (§8.19).
	admin2 := f.staff(false, "tts/Admin")
	tok2 := f.token(admin2)
	a, _ := f.app.FindFirstRecordByFilter("user_system_roles", "user = {:u}", dbx.Params{"u": admin2.Id})
	if rep := f.do(f.token(f.staff(true)), "DELETE", "/api/v1/system-roles/user-system-roles/"+a.Id+"/", nil); rep.Status != 204 {
		t.Fatalf("delete assignment: %d %s", rep.Status, rep.Body)
	}
	if rep := f.do(tok2, "GET", "/api/v1/users/", nil); rep.Status != 403 {
		t.Fatalf("after removal: %d %s", rep.Status, rep.Body)
	}
}

// TestSlugAndDefaultRoles: §8.60 — slug changes need a superuser and ?force=true and revoke the
// sessions of the system's users; built-in slugs never change; the Admin role is never deleted
// or renamed.
func TestSlugAndDefaultRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	super := f.token(f.staff(true))
	rep := f.do(super, "POST", "/api/v1/systems/", map[string]any{"name": "Asset Desk", "slug": "assetdesk"})
	if rep.Status != 201 {
		t.Fatalf("create: %d %s", rep.Status, rep.Body)
	}
	sysID := rep.Str("id")
	adminRole, err := f.app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", dbx.Params{"s": sysID})
	if err != nil {
		t.Fatal("no Admin role")
	}
	f.roles["assetdesk/Admin"] = adminRole
	holder := f.staff(false, "assetdesk/Admin")
	holderTok := f.token(holder)
	if rep := f.do(holderTok, "PATCH", "/api/v1/systems/"+sysID+"/", map[string]any{"slug": "other"}); rep.Status != 400 || !strings.Contains(string(rep.Body), "The slug cannot be changed.") {
		t.Fatalf("admin slug change: %d %s", rep.Status, rep.Body)
	}
	if rep := f.do(super, "PATCH", "/api/v1/systems/"+sysID+"/", map[string]any{"slug": "other"}); rep.Status != 400 || !strings.Contains(string(rep.Body), "?force=true") {
		t.Fatalf("no force: %d %s", rep.Status, rep.Body)
	}
	if rep := f.do(super, "PATCH", "/api/v1/systems/"+f.systems["hdts"].Id+"/?force=true", map[string]any{"slug": "helpdesk"}); rep.Status != 400 || !strings.Contains(string(rep.Body), "built-in") {
		t.Fatalf("built-in: %d %s", rep.Status, rep.Body)
	}
	if rep := f.do(holderTok, "GET", "/api/v1/systems/"+sysID+"/", nil); rep.Status != 200 {
		t.Fatalf("holder before rename: %d", rep.Status)
	}
	if rep := f.do(super, "PATCH", "/api/v1/systems/"+sysID+"/?force=true", map[string]any{"slug": "assets2"}); rep.Status != 200 || rep.Str("slug") != "assets2" {
		t.Fatalf("forced rename: %d %s", rep.Status, rep.Body)
	}
	if rep := f.do(holderTok, "GET", "/api/v1/systems/"+sysID+"/", nil); rep.Status != 401 {
		t.Fatalf("holder's token after rename: %d %s", rep.Status, rep.Body)
	}
	if n := f.count("sessions", dbx.HashExp{"user": holder.Id, "revoked_reason": "slug_renamed"}); n != 1 {
		t.Fatalf("sessions revoked with slug_renamed: %d", n)
	}
	// Default roles.
	for _, id := range []string{adminRole.Id, f.roles["hdts/Admin"].Id} {
		if rep := f.do(super, "DELETE", "/api/v1/roles/"+id+"/", nil); rep.Status != 403 || rep.Str("detail") != "Cannot delete system Admin role" {
			t.Fatalf("delete Admin: %d %s", rep.Status, rep.Body)
		}
		if rep := f.do(super, "PATCH", "/api/v1/roles/"+id+"/", map[string]any{"name": "Boss"}); rep.Status != 400 || !strings.Contains(string(rep.Body), "The name of a default role cannot be changed.") {
			t.Fatalf("rename Admin: %d %s", rep.Status, rep.Body)
		}
	}
	if rep := f.do(super, "DELETE", "/api/v1/roles/"+f.roles["hdts/Ticket Coordinator"].Id+"/", nil); rep.Status != 403 || rep.Str("detail") != "Cannot delete system default roles" {
		t.Fatalf("delete default: %d %s", rep.Status, rep.Body)
	}
	// The dashboard path (a record save) cannot rename it either.
	r := f.roles["hdts/Admin"]
	r.Set("name", "Boss")
	if err := f.app.Save(r); err == nil {
		t.Fatal("the Admin role was renamed by a record save")
	}
	if rep := f.do(f.token(f.staff(false, "hdts/Admin")), "PATCH", "/api/v1/roles/"+f.roles["hdts/Employee"].Id+"/", map[string]any{"description": "x"}); rep.Status != 403 || rep.Str("detail") != "Cannot modify system default roles" {
		t.Fatalf("admin modifies default role: %d %s", rep.Status, rep.Body)
	}
}

// TestStaticSegmentsWin: §1.1/§8.94 — a wrong method on a static segment is a 405, never a
// lookup of {id}.
func TestStaticSegmentsWin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	super := f.token(f.staff(true))
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/v1/roles/register/", "POST"},
		{"DELETE", "/api/v1/roles/register", "POST"},
		{"GET", "/api/v1/system-roles/user-system-roles/edit-settings/", "POST"},
		{"DELETE", "/api/v1/system-roles/user-system-roles/edit-settings/", "POST"},
		{"DELETE", "/api/v1/invitations/accept/", "GET, POST"},
		{"PATCH", "/api/v1/users/agents/", "GET"},
		{"DELETE", "/api/v1/systems/public/", "GET"},
		{"GET", "/api/v1/invitations/abcdefghijklmno/", "DELETE"},
	} {
		rep := f.do(super, c.method, c.path, nil)
		if rep.Status != 405 || rep.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow=%q %s", c.method, c.path, rep.Status, rep.Header.Get("Allow"), rep.Body)
		}
	}
	for _, path := range []string{"/api/v1/users/not-an-id/", "/api/v1/roles/zzzzzzzzzzzzzzz/", "/api/v1/systems/x/"} {
		if rep := f.do(super, "GET", path, nil); rep.Status != 404 {
			t.Errorf("GET %s: %d", path, rep.Status)
		}
	}
}

// TestInviteEmailLimitBurst: §8.97 — under a burst of parallel invitations an inviter gets at
// most 50 emails an hour; the rest are 429 with Retry-After 3600 and create nothing.
func TestInviteEmailLimitBurst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.token(f.staff(false, "hdts/Admin"))
	role := f.roles["hdts/Ticket Coordinator"].Id
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rep := f.client.Do("POST", "/api/v1/users/invite-agent/", map[string]any{"email": uniq("burst") + "@example.com", "role_id": role}, "Authorization", "Bearer "+admin)
			mu.Lock()
			codes[rep.Status]++
			if rep.Status == 429 && rep.Header.Get("Retry-After") != "3600" {
				t.Errorf("Retry-After %q", rep.Header.Get("Retry-After"))
			}
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if codes[201] != 50 || codes[429] != 10 {
		t.Fatalf("statuses: %v", codes)
	}
	if n := f.count("invitations", nil); n != 50 {
		t.Fatalf("invitations stored: %d", n)
	}
	if n := f.count("email_outbox", dbx.HashExp{"template": "invitation"}); n != 50 {
		t.Fatalf("invitation emails: %d", n)
	}
	// §1.15: the window is measured on an editable date. Moving the invitations an hour back
	// (their expires_at) opens it again.
	if _, err := f.app.DB().NewQuery("UPDATE invitations SET expires_at = strftime('%Y-%m-%d %H:%M:%fZ', expires_at, '-61 minutes')").Execute(); err != nil {
		t.Fatal(err)
	}
	if rep := f.client.Do("POST", "/api/v1/users/invite-agent/", map[string]any{"email": uniq("after") + "@example.com", "role_id": role}, "Authorization", "Bearer "+admin); rep.Status != 201 {
		t.Fatalf("an hour later: %d %s", rep.Status, rep.Body)
	}
}

// §2.18: an audit row names its system's slug when a system is involved; invitation.revoked and
// invitation.accepted (and the assignment rows of the user create and edit paths) left it empty.
func TestInvitationAuditRowsNameTheirSystem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	inviter := f.staff(false, "hdts/Admin")
	revoked := f.invitation(uniq("revoked")+"@example.com", inviter, "")
	if r := f.do(f.token(inviter), "DELETE", "/api/v1/invitations/"+revoked.Id+"/", nil); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	f.invitation(uniq("accepted")+"@example.com", inviter, "audit-slug-token")
	if r := f.do("", "POST", "/api/v1/invitations/accept/", map[string]any{
		"token": "audit-slug-token", "password": "amber-lantern-77x", "password_confirm": "amber-lantern-77x"}); r.Status != 201 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	for _, event := range []string{"invitation.revoked", "invitation.accepted"} {
		if n := f.count("audit_log", dbx.HashExp{"event": event, "system": "hdts"}); n != 1 {
			t.Errorf("%d %s rows naming hdts, want 1", n, event)
		}
	}
}

// §5.5.2, §5.11.1: the phone number of a new invitation is checked for uniqueness when the
// invitation is made (and again at acceptance): a number another user has is a 400, and no
// invitation or email is made. An existing user's invitation uses no profile (not checked).
func TestInvitationPhoneIsCheckedWhenInviting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ad := f.token(f.staff(false, "hdts/Admin"))
	holder := f.staff(false)
	testkit.SetField(t, f.app, holder, "phone_number", "+639171234567")
	tc := f.roles["hdts/Ticket Coordinator"]
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/api/v1/users/invite-agent/", map[string]any{"role_id": tc.Id, "email": "new.one@example.com", "phone_number": "0917 123 4567"}},
		{"/api/v1/system-roles/invite/", map[string]any{"role_id": tc.Id, "system": "hdts", "email": "new.two@example.com", "phone_number": "09171234567"}},
	} {
		r := f.do(ad, "POST", c.path, c.body)
		if r.Status != 400 || string(r.Body) != `{"detail":"Invalid input.","code":"invalid","errors":{"phone_number":["A user with this phone number already exists."]}}` {
			t.Fatalf("%s with a taken phone: %d %s", c.path, r.Status, r.Body)
		}
		if n := f.count("invitations", dbx.HashExp{"email": c.body["email"]}); n != 0 {
			t.Fatalf("%s: %d invitations", c.path, n)
		}
		if n := f.count("email_outbox", dbx.HashExp{"to": c.body["email"]}); n != 0 {
			t.Fatalf("%s: %d emails", c.path, n)
		}
	}
	// the holder themself, invited by user_id with that phone: assigned (no profile is used)
	r := f.do(ad, "POST", "/api/v1/users/invite-agent/", map[string]any{"role_id": tc.Id, "user_id": holder.Id, "phone_number": "+639171234567"})
	if r.Status != 201 || r.Str("status") != "assigned" {
		t.Fatalf("existing user: %d %s", r.Status, r.Body)
	}
	// a free number: invited
	r = f.do(ad, "POST", "/api/v1/users/invite-agent/", map[string]any{"role_id": tc.Id, "email": "new.three@example.com", "phone_number": "09179999999"})
	if r.Status != 201 || r.Str("status") != "invited" {
		t.Fatalf("free phone: %d %s", r.Status, r.Body)
	}
}
