package directory_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// answer is one request of TestDocumentedAnswers and what it must produce.
type answer struct {
	caller       string
	method, path string
	body         any
	status       int
	detail       string // exact detail of an error answer
	field, msg   string // 400: errors[field] holds msg
	key, value   string // 2xx: the body's key holds value
	header       string // "Name: value" the answer must carry
	want         string // when set, the exact answer body
	// effect reports a broken side effect (or a change a refused request made); "" when fine.
	effect func() string
}

// TestDocumentedAnswers produces each status the OpenAPI document gives the plugin's routes
// (docs.go) that the endpoint tests do not already cover, with its body and its side effect: a
// refused request changes nothing, an accepted one stores what it says.
func TestDocumentedAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	super := f.staff(true)
	su := f.token(super)
	admin := f.staff(false, "hdts/Admin")
	ad := f.token(admin)
	otherAdmin := f.staff(false, "hdts/Admin")
	agent := f.staff(false, "hdts/Ticket Coordinator")
	outsider := f.staff(false, "tts/Admin")
	hdts := f.systems["hdts"]
	tc := f.roles["hdts/Ticket Coordinator"]
	custom := f.customRole("hdts", uniq("Custom "))
	custom2 := f.customRole("hdts", uniq("Custom "))
	multi := f.staff(false)
	f.roles["hdts/"+custom.GetString("name")] = custom
	aTC := f.assign(multi, "hdts/Ticket Coordinator", true)
	f.assign(multi, "hdts/"+custom.GetString("name"), true)
	ownAdmin, err := f.app.FindFirstRecordByFilter("user_system_roles", "user = {:u}", dbx.Params{"u": admin.Id})
	if err != nil {
		t.Fatal(err)
	}
	const none = "zzzzzzzzzzzzzzz"

	// A pending invitation (for the list's page count and the duplicate), a revoked one.
	pendingEmail := uniq("pending") + "@example.com"
	if rep := f.do(ad, "POST", "/api/v1/users/invite-agent/", map[string]any{"email": pendingEmail, "role_id": tc.Id}); rep.Status != 201 {
		t.Fatalf("invite: %d %s", rep.Status, rep.Body)
	}
	revoked := f.invitation(uniq("revoked")+"@example.com", admin, "")
	if rep := f.do(ad, "DELETE", "/api/v1/invitations/"+revoked.Id+"/", nil); rep.Status != 204 {
		t.Fatalf("revoke: %d %s", rep.Status, rep.Body)
	}
	// An inviter who caused 50 invitation emails in the last hour.
	busy := f.staff(false, "hdts/Admin")
	for range 50 {
		f.invitation(uniq("sent")+"@example.com", busy, "")
	}
	bz := f.token(busy)
	// Invitations to accept: a new email, and the email of an existing account.
	newEmail := uniq("joiner") + "@example.com"
	f.invitation(newEmail, super, "accept-me-token")
	taken := f.invitation(agent.Email(), super, "taken-email-token")

	field := func(collection, id, name string) string {
		rec, err := f.app.FindRecordById(collection, id)
		if err != nil {
			return "<gone>"
		}
		return rec.GetString(name)
	}
	unchanged := func(collection, id, name, want string) func() string {
		return func() string {
			if got := field(collection, id, name); got != want {
				return fmt.Sprintf("%s %s: %s = %q, want %q", collection, id, name, got, want)
			}
			return ""
		}
	}
	absent := func(collection, key, value string) func() string {
		return func() string {
			if n := f.count(collection, dbx.HashExp{key: value}); n != 0 {
				return fmt.Sprintf("%d %s with %s %q", n, collection, key, value)
			}
			return ""
		}
	}
	countIs := func(collection string, where dbx.HashExp, want int) func() string {
		return func() string {
			if n := f.count(collection, where); n != want {
				return fmt.Sprintf("%s %v: %d rows, want %d", collection, where, n, want)
			}
			return ""
		}
	}
	required := "This field is required."
	invalidPage := "Invalid page."
	pageMsg := "A valid integer is required."
	hdtsName := hdts.GetString("name")

	var cases []answer
	// §1.8 for every list: a bad page number is 400, a page past the last 404.
	for _, l := range []struct{ caller, path string }{
		{su, "/api/v1/users/"}, {su, "/api/v1/users/list/"}, {su, "/api/v1/users/management/"}, {su, "/api/v1/users/agents/"},
		{su, "/api/v1/systems/"}, {"", "/api/v1/systems/public/"}, {su, "/api/v1/roles/"},
		{ad, "/api/v1/system-roles/systems/hdts/users/"}, {ad, "/api/v1/system-roles/user-system-roles/"},
		{ad, "/api/v1/system-roles/user-system-roles/system/hdts/roles/"}, {su, "/api/v1/invitations/"},
	} {
		cases = append(cases,
			answer{caller: l.caller, method: "GET", path: l.path + "?page=0", status: 400, field: "page", msg: pageMsg},
			answer{caller: l.caller, method: "GET", path: l.path + "?page=999", status: 404, detail: invalidPage})
	}
	long := strings.Repeat("a", 101)
	for _, path := range []string{"/api/v1/users/invite-agent/", "/api/v1/users/management/invite_agent/"} {
		cases = append(cases,
			answer{caller: ad, method: "GET", path: path + "?search=" + long, status: 400, field: "search", msg: "Ensure this field has no more than 100 characters."},
			answer{caller: su, method: "GET", path: path + "?system=nope", status: 404, detail: "System not found."})
	}
	cases = append(cases,
		answer{caller: su, method: "GET", path: "/api/v1/users/?system=nope", status: 404, detail: "System not found."},
		// §1.8: a boolean filter is true or false as written; "TRUE" is another value
		answer{caller: su, method: "GET", path: "/api/v1/users/?is_active=TRUE", status: 400, field: "is_active", msg: "Must be a valid boolean."},
		answer{caller: su, method: "GET", path: "/api/v1/users/agents/?system=nope", status: 404, detail: "System not found."},
		answer{caller: su, method: "GET", path: "/api/v1/invitations/?system=nope", status: 404, detail: "System not found."},
		answer{caller: ad, method: "GET", path: "/api/v1/system-roles/systems/nope/users/", status: 404, detail: "System not found."},
		answer{caller: ad, method: "GET", path: "/api/v1/system-roles/user-system-roles/system/nope/roles/", status: 404, detail: "System not found."},
		answer{caller: ad, method: "GET", path: "/api/v1/system-roles/user-system-roles/?scope=all", status: 400, field: "scope", msg: `"all" is not a valid choice.`},
	)

	// §5.3.4, §5.3.6, §5.3.7 and their §5.4 aliases.
	for _, base := range []string{"/api/v1/users/", "/api/v1/users/management/"} {
		email := uniq("short") + "@example.com"
		cases = append(cases,
			answer{caller: su, method: "POST", path: base, body: map[string]any{"email": email, "password": "Sh0rt!"},
				status: 400, field: "password", msg: "Password must be at least 8 characters long.", effect: absent("users", "email", email)},
			answer{caller: su, method: "DELETE", path: base + none + "/", status: 404, detail: "User not found or access denied"})
		for _, method := range []string{"PUT", "PATCH"} {
			target := f.staff(false, "hdts/Ticket Coordinator")
			body := map[string]any{"first_name": "Edited", "last_name": "Person"}
			if method == "PUT" && base == "/api/v1/users/" {
				body["email"], body["username"] = target.Email(), target.GetString("username") // superuser: PUT-required
			}
			caller := ad
			if method == "PUT" && base == "/api/v1/users/" {
				caller = su
			}
			first := target.GetString("first_name")
			cases = append(cases,
				answer{caller: ad, method: method, path: base + target.Id + "/", body: map[string]any{"first_name": "Bad", "last_name": "X", "suffix": "Esq."},
					status: 400, field: "suffix", msg: `"Esq." is not a valid choice.`, effect: unchanged("users", target.Id, "first_name", first)},
				answer{caller: ad, method: method, path: base + otherAdmin.Id + "/", body: map[string]any{"first_name": "Hijack", "last_name": "X"},
					status: 403, detail: "Admins cannot edit other admins' profiles", effect: unchanged("users", otherAdmin.Id, "first_name", otherAdmin.GetString("first_name"))},
				answer{caller: ad, method: method, path: base + outsider.Id + "/", body: map[string]any{"first_name": "Far", "last_name": "X"},
					status: 404, detail: "User not found or access denied", effect: unchanged("users", outsider.Id, "first_name", outsider.GetString("first_name"))},
				answer{caller: caller, method: method, path: base + target.Id + "/", body: body, status: 200, key: "first_name", value: "Edited",
					effect: unchanged("users", target.Id, "first_name", "Edited")})
		}
	}
	putTarget := f.staff(false, "hdts/Ticket Coordinator")
	cases = append(cases, answer{caller: su, method: "PUT", path: "/api/v1/users/" + putTarget.Id + "/", body: map[string]any{"first_name": "Only"},
		status: 400, field: "email", msg: required, effect: unchanged("users", putTarget.Id, "first_name", putTarget.GetString("first_name"))})

	// §5.5.2 on both paths, §5.11.1.
	for _, path := range []string{"/api/v1/users/invite-agent/", "/api/v1/users/management/invite_agent/"} {
		both, unknownRole, limited := uniq("both")+"@example.com", uniq("norole")+"@example.com", uniq("limited")+"@example.com"
		cases = append(cases,
			answer{caller: ad, method: "POST", path: path, body: map[string]any{"role_id": tc.Id, "email": both, "user_id": agent.Id},
				status: 400, field: "non_field_errors", msg: "Provide either user_id or email, not both.", effect: absent("invitations", "email", both)},
			answer{caller: ad, method: "POST", path: path, body: map[string]any{"role_id": none, "email": unknownRole},
				status: 404, detail: "Role not found or does not belong to this system", effect: absent("invitations", "email", unknownRole)},
			answer{caller: ad, method: "POST", path: path, body: map[string]any{"role_id": tc.Id, "email": pendingEmail},
				status: 409, detail: "A pending invitation for " + pendingEmail + " to " + hdtsName + " already exists.",
				effect: countIs("invitations", dbx.HashExp{"email": pendingEmail}, 1)},
			answer{caller: bz, method: "POST", path: path, body: map[string]any{"role_id": tc.Id, "email": limited},
				status: 429, detail: "Too many requests. Try again in 3600 seconds.", header: "Retry-After: 3600", effect: absent("invitations", "email", limited)})
	}
	srBad, srLimited := uniq("sr")+"@example.com", uniq("srlimited")+"@example.com"
	cases = append(cases,
		answer{caller: ad, method: "POST", path: "/api/v1/system-roles/invite/", body: map[string]any{"email": srBad, "role_id": none},
			status: 400, field: "role_id", msg: `"` + none + `" is not a valid choice.`, effect: absent("invitations", "email", srBad)},
		answer{caller: ad, method: "POST", path: "/api/v1/system-roles/invite/", body: map[string]any{"email": agent.Email(), "role_id": tc.Id},
			status: 409, detail: "User " + agent.Email() + " already has a role in the " + hdtsName + " system.",
			effect: countIs("user_system_roles", dbx.HashExp{"user": agent.Id, "system": hdts.Id}, 1)},
		answer{caller: bz, method: "POST", path: "/api/v1/system-roles/invite/", body: map[string]any{"email": srLimited, "role_id": tc.Id},
			status: 429, detail: "Too many requests. Try again in 3600 seconds.", header: "Retry-After: 3600", effect: absent("invitations", "email", srLimited)},
	)

	// §5.9.
	sysName := uniq("Reserved ")
	cases = append(cases,
		answer{caller: su, method: "POST", path: "/api/v1/systems/", body: map[string]any{"name": sysName, "slug": "auth"},
			status: 400, field: "slug", msg: "This slug is reserved.", effect: absent("systems", "name", sysName)},
		answer{caller: su, method: "PUT", path: "/api/v1/systems/" + hdts.Id + "/", body: map[string]any{"name": "Renamed"},
			status: 400, field: "slug", msg: required, effect: unchanged("systems", hdts.Id, "name", hdtsName)},
		// URLs that url.Parse takes and the systems.url field refuses: the field's 400, not a 500
		answer{caller: su, method: "POST", path: "/api/v1/systems/", body: map[string]any{"name": sysName, "slug": "longurl", "url": "https://example.com/" + strings.Repeat("a", 2100)},
			status: 400, field: "url", msg: "Enter a valid URL.", effect: absent("systems", "name", sysName)},
		answer{caller: su, method: "PATCH", path: "/api/v1/systems/" + hdts.Id + "/", body: map[string]any{"url": "https://example.com:123456/"},
			status: 400, field: "url", msg: "Enter a valid URL.", effect: unchanged("systems", hdts.Id, "name", hdtsName)},
		answer{caller: su, method: "DELETE", path: "/api/v1/systems/" + none + "/", status: 404, detail: "System not found or access denied"},
		answer{caller: su, method: "DELETE", path: "/api/v1/systems/" + hdts.Id + "/", status: 409, detail: "Built-in systems cannot be deleted.",
			effect: unchanged("systems", hdts.Id, "slug", "hdts")},
	)

	// §5.10.
	for _, path := range []string{"/api/v1/roles/", "/api/v1/roles/register/"} {
		name := uniq("R400 ")
		cases = append(cases,
			answer{caller: ad, method: "POST", path: path, body: map[string]any{"system": hdts.Id, "name": name, "description": 5},
				status: 400, field: "description", msg: "Not a valid string.", effect: absent("roles", "name", name)},
			answer{caller: ad, method: "POST", path: path, body: map[string]any{"system": hdts.Id, "name": " ticket coordinator "},
				status: 409, detail: "Role 'ticket coordinator' already exists in HDTS system", effect: absent("roles", "name", "ticket coordinator")})
	}
	customName := custom.GetString("name")
	cases = append(cases,
		answer{caller: ad, method: "PUT", path: "/api/v1/roles/" + custom.Id + "/", body: map[string]any{"description": "only"},
			status: 400, field: "name", msg: required, effect: unchanged("roles", custom.Id, "description", custom.GetString("description"))},
		answer{caller: ad, method: "PUT", path: "/api/v1/roles/" + custom.Id + "/", body: map[string]any{"name": custom2.GetString("name")},
			status: 409, detail: "Role '" + custom2.GetString("name") + "' already exists in HDTS system", effect: unchanged("roles", custom.Id, "name", customName)},
		answer{caller: ad, method: "PATCH", path: "/api/v1/roles/" + custom.Id + "/", body: map[string]any{"name": strings.ToUpper(custom2.GetString("name"))},
			status: 409, detail: "Role '" + strings.ToUpper(custom2.GetString("name")) + "' already exists in HDTS system", effect: unchanged("roles", custom.Id, "name", customName)},
	)

	// §5.3.4/§5.3.6: an address our binder takes but PocketBase's email field refuses (no dot in
	// the domain) is the field's 400, as at registration — it was a 500.
	cases = append(cases,
		answer{caller: su, method: "POST", path: "/api/v1/users/", body: map[string]any{"email": "new@localhost", "password": "Blue-Lantern-42"},
			status: 400, field: "email", msg: "Enter a valid email address.", effect: countIs("users", dbx.HashExp{"email": "new@localhost"}, 0)},
		answer{caller: su, method: "PATCH", path: "/api/v1/users/" + agent.Id + "/", body: map[string]any{"email": "moved@localhost"},
			status: 400, field: "email", msg: "Enter a valid email address.", effect: unchanged("users", agent.Id, "email", agent.Email())},
		// and the invitations (the invitation's email field and the outbox's recipient refused it)
		answer{caller: su, method: "POST", path: "/api/v1/users/invite-agent/", body: map[string]any{"email": "new@localhost", "role_id": tc.Id},
			status: 400, field: "email", msg: "Enter a valid email address.", effect: countIs("invitations", dbx.HashExp{"email": "new@localhost"}, 0)},
		answer{caller: su, method: "POST", path: "/api/v1/system-roles/invite/", body: map[string]any{"email": "new@[10.0.0.1]", "role_id": tc.Id},
			status: 400, field: "email", msg: "Enter a valid email address.", effect: countIs("invitations", dbx.HashExp{"email": "new@[10.0.0.1]"}, 0)},
	)

	// §5.11.
	usr := "/api/v1/system-roles/user-system-roles/"
	cases = append(cases,
		answer{caller: ad, method: "POST", path: usr, body: map[string]any{"user": none, "system": hdts.Id, "role": tc.Id},
			status: 400, field: "user", msg: `Invalid pk "` + none + `" - object does not exist.`, effect: countIs("user_system_roles", dbx.HashExp{"user": none}, 0)},
		answer{caller: ad, method: "POST", path: usr, body: map[string]any{"user": agent.Id, "system": hdts.Id, "role": tc.Id},
			status: 409, detail: "This user already has this role in this system.", effect: countIs("user_system_roles", dbx.HashExp{"user": agent.Id}, 1)},
		answer{caller: ad, method: "PATCH", path: usr + aTC.Id + "/", body: map[string]any{"is_active": "no"},
			status: 400, field: "is_active", msg: "Must be a valid boolean.", effect: unchanged("user_system_roles", aTC.Id, "is_active", "true")},
		answer{caller: ad, method: "PUT", path: usr + aTC.Id + "/", body: map[string]any{"is_active": false},
			status: 400, field: "role", msg: required, effect: unchanged("user_system_roles", aTC.Id, "is_active", "true")},
		answer{caller: ad, method: "PATCH", path: usr + aTC.Id + "/", body: map[string]any{"role": custom.Id},
			status: 409, detail: "This user already has this role in this system.", effect: unchanged("user_system_roles", aTC.Id, "role", tc.Id)},
		answer{caller: ad, method: "PUT", path: usr + aTC.Id + "/", body: map[string]any{"role": custom.Id, "is_active": true},
			status: 409, detail: "This user already has this role in this system.", effect: unchanged("user_system_roles", aTC.Id, "role", tc.Id)},
		answer{caller: ad, method: "PUT", path: usr + ownAdmin.Id + "/", body: map[string]any{"role": tc.Id, "is_active": true},
			status: 403, detail: "Cannot remove Admin role assignments", effect: unchanged("user_system_roles", ownAdmin.Id, "role", ownAdmin.GetString("role"))},
		answer{caller: ad, method: "DELETE", path: usr + ownAdmin.Id + "/",
			status: 403, detail: "Cannot remove Admin role assignments", effect: unchanged("user_system_roles", ownAdmin.Id, "role", ownAdmin.GetString("role"))},
		answer{caller: su, method: "POST", path: usr + "edit-settings/", body: map[string]any{"user_id": agent.Id, "settings": map[string]any{"is_deployed": false}},
			status: 400, field: "system", msg: "This field is required when you administer several systems.",
			effect: countIs("audit_log", dbx.HashExp{"event": "assignment.updated", "actor_id": super.Id}, 0)},
		answer{caller: ad, method: "POST", path: usr + "edit-settings/", body: map[string]any{"user_id": agent.Id, "system": "nope", "settings": map[string]any{}},
			status: 404, detail: "System not found.", effect: countIs("audit_log", dbx.HashExp{"event": "assignment.updated", "actor_id": admin.Id}, 0)},
		answer{caller: ad, method: "POST", path: usr + "edit-settings/", body: map[string]any{"user_id": multi.Id, "system": "hdts", "settings": map[string]any{}},
			status: 400, field: "role_id", msg: "The user holds several roles in this system; role_id is required.",
			effect: countIs("audit_log", dbx.HashExp{"event": "assignment.updated", "actor_id": admin.Id}, 0)},
	)

	// §5.15.5.
	cases = append(cases,
		answer{caller: ad, method: "DELETE", path: "/api/v1/invitations/" + revoked.Id + "/", status: 409, detail: "Only pending invitations can be revoked.",
			effect: func() string {
				if rec, _ := f.app.FindRecordById("invitations", revoked.Id); rec == nil || rec.GetString("revoked_by") != admin.Id {
					return "the revoked invitation changed"
				}
				return ""
			}},
		answer{method: "POST", path: "/api/v1/invitations/accept/", body: map[string]any{"token": "taken-email-token", "password": "Blue-Lantern-42", "password_confirm": "Blue-Lantern-42"},
			status: 409, detail: "An account with this email already exists. Sign in and ask an administrator to add the role.",
			effect: unchanged("invitations", taken.Id, "accepted_at", "")},
		// an empty confirmation is blank like the reset's and the change's (§1.4; only the new
		// password itself is "required" when empty)
		answer{method: "POST", path: "/api/v1/invitations/accept/", body: map[string]any{"token": "accept-me-token", "password": "Blue-Lantern-42", "password_confirm": ""},
			status: 400, field: "password_confirm", msg: "This field may not be blank.",
			effect: func() string {
				if f.count("users", dbx.HashExp{"email": newEmail}) != 0 {
					return "an account was created"
				}
				return ""
			}},
		answer{method: "POST", path: "/api/v1/invitations/accept/", body: map[string]any{"token": "accept-me-token", "password": "Blue-Lantern-42", "password_confirm": "Blue-Lantern-42"},
			status: 201, key: "message", value: "Invitation accepted. You can now log in.",
			effect: func() string {
				u, err := f.app.FindAuthRecordByEmail("users", newEmail)
				if err != nil || !u.Verified() || u.GetString("status") != "Approved" ||
					f.count("user_system_roles", dbx.HashExp{"user": u.Id, "role": tc.Id, "is_active": true}) != 1 {
					return "no verified, approved account with its assignment"
				}
				return ""
			}},
	)

	f.checkAnswers(cases)
}

// checkAnswers sends each request and checks its status, body and effect.
func (f *fixture) checkAnswers(cases []answer) {
	f.t.Helper()
	for _, c := range cases {
		rep := f.do(c.caller, c.method, c.path, c.body)
		label := c.method + " " + c.path
		if len(label) > 120 {
			label = label[:120] + "…"
		}
		if rep.Status != c.status {
			f.t.Errorf("%s: %d, want %d (%s)", label, rep.Status, c.status, rep.Body)
			continue
		}
		switch {
		case c.detail != "" && rep.Str("detail") != c.detail:
			f.t.Errorf("%s: detail %q, want %q", label, rep.Str("detail"), c.detail)
		case c.field != "":
			errs, _ := rep.JSON["errors"].(map[string]any)
			msgs, _ := errs[c.field].([]any)
			if rep.Str("code") != "invalid" || len(msgs) == 0 || !strings.Contains(fmt.Sprint(msgs), c.msg) {
				f.t.Errorf("%s: errors %v, want %s: %q", label, errs, c.field, c.msg)
			}
		case c.key != "" && rep.Str(c.key) != c.value:
			f.t.Errorf("%s: %s = %q, want %q (%s)", label, c.key, rep.Str(c.key), c.value, rep.Body)
		}
		if c.status >= 400 && c.status != 400 && c.field == "" && rep.Str("code") == "" {
			f.t.Errorf("%s: no error envelope: %s", label, rep.Body)
		}
		if got := strings.TrimSpace(string(rep.Body)); c.want != "" && got != c.want {
			f.t.Errorf("%s: body %s, want %s", label, got, c.want)
		}
		if name, value, ok := strings.Cut(c.header, ": "); ok && rep.Header.Get(name) != value {
			f.t.Errorf("%s: %s %q, want %q", label, name, rep.Header.Get(name), value)
		}
		if c.effect != nil {
			if msg := c.effect(); msg != "" {
				f.t.Errorf("%s: %s", label, msg)
			}
		}
	}
}

// TestDeniedSides produces the refused side of permission checks no other test reaches, with
// the exact body (§1.3) and the proof that nothing was written:
//   - §5.11.6–§5.11.7: an assignment the caller sees because it is its own, in a system it does
//     not administer (no admin scope at all, or another system's), is not the caller's to
//     change or delete;
//   - §5.3.7/§5.4.7: a superuser never deletes another superuser;
//   - §5.3.6 cases B and C: system_role_id must name an assignment of the target, and for a
//     system admin one in its admin scope.
func TestDeniedSides(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	su := f.token(f.staff(true))
	ad := f.token(f.staff(false, "hdts/Admin"))
	tc := f.roles["hdts/Ticket Coordinator"]
	const none = "zzzzzzzzzzzzzzz"
	denied := func(detail string) string { return `{"detail":"` + detail + `","code":"permission_denied"}` }
	invalid := func(field, msg string) string {
		return `{"detail":"Invalid input.","code":"invalid","errors":{"` + field + `":["` + msg + `"]}}`
	}

	var cases []answer
	// §5.11.6–§5.11.7: own, hence visible, but not ADMIN of its system.
	const modifyDenied = "Access denied to modify this system's role assignments"
	usr := "/api/v1/system-roles/user-system-roles/"
	for label, roles := range map[string][]string{"no admin scope": nil, "admin of tts": {"tts/Admin"}} {
		owner := f.staff(false, roles...)
		own := f.assign(owner, "hdts/Ticket Coordinator", true)
		tok := f.token(owner)
		if rep := f.do(tok, "GET", usr+own.Id+"/", nil); rep.Status != 200 || rep.Str("id") != own.Id {
			t.Fatalf("%s: its own assignment is not visible: %d %s", label, rep.Status, rep.Body)
		}
		kept := f.unchanged("user_system_roles", own.Id, map[string]string{"role": tc.Id, "is_active": "true"})
		cases = append(cases,
			answer{caller: tok, method: "PUT", path: usr + own.Id + "/", body: map[string]any{"role": tc.Id, "is_active": false},
				status: 403, want: denied(modifyDenied), effect: kept},
			answer{caller: tok, method: "PATCH", path: usr + own.Id + "/", body: map[string]any{"is_active": false},
				status: 403, want: denied(modifyDenied), effect: kept},
			answer{caller: tok, method: "DELETE", path: usr + own.Id + "/",
				status: 403, want: denied(modifyDenied), effect: kept})
	}

	// §5.3.7, §5.4.7: another superuser.
	for _, base := range []string{"/api/v1/users/", "/api/v1/users/management/"} {
		other := f.staff(true, "hdts/Ticket Coordinator")
		cases = append(cases, answer{caller: su, method: "DELETE", path: base + other.Id + "/",
			status: 403, want: denied("Cannot delete other superusers"),
			effect: f.unchanged("users", other.Id, map[string]string{"email": other.Email(), "is_superuser": "true"})})
	}

	// §5.3.6: system_role_id of no assignment of the target.
	const roleDenied = "System role not found or access denied."
	for _, base := range []string{"/api/v1/users/", "/api/v1/users/management/"} {
		for _, method := range []string{"PUT", "PATCH"} {
			target := f.staff(false, "hdts/Ticket Coordinator")
			neighbour := f.staff(false)
			theirs := f.assign(neighbour, "hdts/Ticket Coordinator", true)
			ttsOfTarget := f.assign(target, "tts/Budget Manager", true)
			first := target.GetString("first_name")
			keptTarget := f.unchanged("users", target.Id, map[string]string{"first_name": first})
			// case B: a superuser; PUT-required fields present, so system_role_id is the only error
			b := map[string]any{"email": target.Email(), "username": target.GetString("username"), "first_name": "Changed", "last_name": "X"}
			// case C: an HDTS admin
			c := map[string]any{"first_name": "Changed", "last_name": "X"}
			with := func(body map[string]any, id string) map[string]any {
				out := map[string]any{"system_role_id": id, "system_role_is_active": false}
				for k, v := range body {
					out[k] = v
				}
				return out
			}
			path := base + target.Id + "/"
			cases = append(cases,
				answer{caller: su, method: method, path: path, body: with(b, theirs.Id), status: 400, want: invalid("system_role_id", roleDenied),
					effect: both(keptTarget, f.unchanged("user_system_roles", theirs.Id, map[string]string{"is_active": "true"}))},
				answer{caller: su, method: method, path: path, body: with(b, none), status: 400, want: invalid("system_role_id", roleDenied),
					effect: keptTarget},
				answer{caller: ad, method: method, path: path, body: with(c, theirs.Id), status: 400, want: invalid("system_role_id", roleDenied),
					effect: both(keptTarget, f.unchanged("user_system_roles", theirs.Id, map[string]string{"is_active": "true"}))},
				// the target's own tts assignment, outside an HDTS admin's scope
				answer{caller: ad, method: method, path: path, body: with(c, ttsOfTarget.Id), status: 400, want: invalid("system_role_id", roleDenied),
					effect: both(keptTarget, f.unchanged("user_system_roles", ttsOfTarget.Id, map[string]string{"is_active": "true"}))},
			)
		}
	}
	f.checkAnswers(cases)
}

// unchanged reports a record of collection whose fields differ from want, or that is gone.
func (f *fixture) unchanged(collection, id string, want map[string]string) func() string {
	return func() string {
		rec, err := f.app.FindRecordById(collection, id)
		if err != nil {
			return collection + " " + id + " is gone"
		}
		for name, value := range want {
			if got := rec.GetString(name); got != value {
				return fmt.Sprintf("%s %s: %s = %q, want %q", collection, id, name, got, value)
			}
		}
		return ""
	}
}

// both reports the first of two effects' failures.
func both(a, b func() string) func() string {
	return func() string {
		if msg := a(); msg != "" {
			return msg
		}
		return b()
	}
}

// invitation stores a pending invitation to hdts/Ticket Coordinator from inviter; token ""
// makes a random one.
func (f *fixture) invitation(email string, inviter *core.Record, token string) *core.Record {
	f.t.Helper()
	if token == "" {
		token = uniq("tok-")
	}
	sum := sha256.Sum256([]byte(token))
	col, _ := f.app.FindCollectionByNameOrId("invitations")
	r := core.NewRecord(col)
	r.Set("email", email)
	r.Set("system", f.systems["hdts"].Id)
	r.Set("role", f.roles["hdts/Ticket Coordinator"].Id)
	r.Set("invited_by", inviter.Id)
	r.Set("token_hash", hex.EncodeToString(sum[:]))
	r.Set("expires_at", types.NowDateTime().Add(72*time.Hour))
	if err := f.app.Save(r); err != nil {
		f.t.Fatal(err)
	}
	return r
}
