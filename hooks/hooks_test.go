package hooks_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/hooks"
	"gatehouse/testkit"
)

func newApp(t *testing.T) *tests.TestApp {
	return testkit.NewApp(t, func(app *tests.TestApp) { hooks.Register(app) })
}

func newAccount(t testing.TB, app core.App, collection, email string) (*core.Record, error) {
	t.Helper()
	col, err := app.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(col)
	r.SetEmail(email)
	r.SetPassword("correct horse battery")
	return r, app.Save(r)
}

func TestConcurrentCreatesGetDistinctCompanyIDs(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := newAccount(t, app, "users", fmt.Sprintf("user%d@example.com", i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent create failed: %v", err)
		}
	}
	records, err := app.FindAllRecords("users")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range records {
		ids = append(ids, r.GetString("company_id"))
	}
	slices.Sort(ids)
	if len(ids) != n || slices.Compact(slices.Clone(ids)) == nil || len(slices.Compact(slices.Clone(ids))) != n {
		t.Fatalf("got %d ids, %d distinct: %v", len(ids), len(slices.Compact(slices.Clone(ids))), ids)
	}
	if ids[0] != "MA0001" || ids[n-1] != fmt.Sprintf("MA%04d", n) {
		t.Fatalf("ids should run MA0001..MA%04d, got %s..%s", n, ids[0], ids[n-1])
	}
}

func TestCompanyIDSequenceAndPrefixes(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	u, err := newAccount(t, app, "users", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	emp, err := newAccount(t, app, "employees", "a@example.com") // same email: unrelated account
	if err != nil {
		t.Fatal(err)
	}
	if u.GetString("company_id") != "MA0001" || emp.GetString("company_id") != "EM0001" {
		t.Fatalf("company ids = %s, %s", u.GetString("company_id"), emp.GetString("company_id"))
	}
	// A value past 9999 keeps counting (MA10000), and odd values that are not ^MA\d+$ are ignored.
	u.Set("company_id", "MA9999")
	if err := app.UnsafeWithoutHooks().Save(u); err != nil {
		t.Fatal(err)
	}
	odd, _ := newAccount(t, app, "users", "b@example.com")
	if odd.GetString("company_id") != "MA10000" {
		t.Fatalf("after MA9999: %s", odd.GetString("company_id"))
	}
	// The API can never change it: an update restores the stored value.
	odd.Set("company_id", "MA0042")
	if err := app.Save(odd); err != nil {
		t.Fatal(err)
	}
	fresh, _ := app.FindRecordById("users", odd.Id)
	if fresh.GetString("company_id") != "MA10000" {
		t.Fatalf("company_id changed on update: %s", fresh.GetString("company_id"))
	}
}

func TestEmailNormalisationAndVerifiedReset(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	u, err := newAccount(t, app, "users", "  MiXed.Case@Example.COM ")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email() != "mixed.case@example.com" {
		t.Fatalf("email stored as %q", u.Email())
	}
	if _, err := newAccount(t, app, "users", "MIXED.case@example.com"); err == nil {
		t.Fatal("an email differing only by case must be refused")
	}
	u.SetVerified(true)
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	u.SetEmail("New@Example.com")
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	fresh, _ := app.FindRecordById("users", u.Id)
	if fresh.Email() != "new@example.com" || fresh.Verified() {
		t.Fatalf("after email change: email=%q verified=%v", fresh.Email(), fresh.Verified())
	}
}

// An email change spends the principal's unused reset tokens (a completed reset sets verified,
// so a link sent to the old address must not vouch for the new one); other changes and other
// principals' tokens are left alone. Both realms, written as the dashboard writes (app.Save).
func TestEmailChangeSpendsUnusedResetTokens(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ collection, userType, relation string }{
		{"users", "staff", "user"}, {"employees", "employee", "employee"},
	} {
		t.Run(c.userType, func(t *testing.T) {
			t.Parallel()
			app := newApp(t)
			owner, err := newAccount(t, app, c.collection, "owner@example.com")
			if err != nil {
				t.Fatal(err)
			}
			other, err := newAccount(t, app, c.collection, "other@example.com")
			if err != nil {
				t.Fatal(err)
			}
			col, err := app.FindCachedCollectionByNameOrId("password_reset_tokens")
			if err != nil {
				t.Fatal(err)
			}
			token := func(principal *core.Record, hash, usedAt string) *core.Record {
				r := core.NewRecord(col)
				r.Set("user_type", c.userType)
				r.Set(c.relation, principal.Id)
				r.Set("token_hash", hash)
				r.Set("expires_at", "2099-01-01 00:00:00.000Z")
				r.Set("used_at", usedAt)
				if err := app.Save(r); err != nil {
					t.Fatal(err)
				}
				return r
			}
			live := token(owner, "h-live", "")
			used := token(owner, "h-used", "2026-01-01 00:00:00.000Z")
			others := token(other, "h-other", "")
			usedAt := func(r *core.Record) string {
				fresh, err := app.FindRecordById(col, r.Id)
				if err != nil {
					t.Fatal(err)
				}
				return fresh.GetString("used_at")
			}

			owner.Set("first_name", "Renamed") // not an email change: the token stays usable
			if err := app.Save(owner); err != nil {
				t.Fatal(err)
			}
			if got := usedAt(live); got != "" {
				t.Fatalf("a name change spent the reset token (used_at %q)", got)
			}

			owner.SetEmail("Moved@Example.com")
			if err := app.Save(owner); err != nil {
				t.Fatal(err)
			}
			if got := usedAt(live); got == "" {
				t.Fatal("the unused reset token survived the email change")
			}
			if got := usedAt(used); got != "2026-01-01 00:00:00.000Z" {
				t.Fatalf("the already used token's used_at moved to %q", got)
			}
			if got := usedAt(others); got != "" {
				t.Fatalf("another principal's token was spent (used_at %q)", got)
			}
		})
	}
}

func TestUsernameDerivation(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	cases := []struct{ email, want string }{
		{"John.Doe+tag@example.com", "john.doetag"},
		{"john.doe+TAG@other.example", "john.doetag2"},
		{"JOHN.DOETAG@third.example", "john.doetag3"},
		{"+++@example.com", "user"},
		{"abcdefghijklmnopqrstuvwxyz0123456789@example.com", "abcdefghijklmnopqrstuvwxyz0123"},
	}
	for _, c := range cases {
		r, err := newAccount(t, app, "users", c.email)
		if err != nil {
			t.Fatalf("%s: %v", c.email, err)
		}
		if got := r.GetString("username"); got != c.want {
			t.Errorf("%s: username %q, want %q", c.email, got, c.want)
		}
	}
	// A given username is kept; an existing one in the other case is taken case-insensitively.
	col, _ := app.FindCachedCollectionByNameOrId("users")
	r := core.NewRecord(col)
	r.SetEmail("x@example.com")
	r.SetPassword("correct horse battery")
	r.Set("username", "Chosen_Name")
	if err := app.Save(r); err != nil || r.GetString("username") != "Chosen_Name" {
		t.Fatalf("explicit username: %v %q", err, r.GetString("username"))
	}
	clash, err := newAccount(t, app, "users", "chosen_name@example.com")
	if err != nil || clash.GetString("username") != "chosen_name2" {
		t.Fatalf("derived username next to Chosen_Name: %v %q", err, clash.GetString("username"))
	}
}

func TestSystemsGetTheirAdminRole(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	col, _ := app.FindCachedCollectionByNameOrId("systems")
	sys := core.NewRecord(col)
	sys.Set("name", "Asset Tracker")
	sys.Set("slug", "assets")
	if err := app.Save(sys); err != nil {
		t.Fatal(err)
	}
	roles, err := app.FindAllRecords("roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	var found *core.Record
	for _, r := range roles {
		if r.GetString("system") == sys.Id {
			if found != nil {
				t.Fatal("more than one role created")
			}
			found = r
		}
	}
	if found == nil || found.GetString("name") != "Admin" || found.GetBool("is_custom") ||
		found.GetString("description") != "Administrator role for Asset Tracker" {
		t.Fatalf("admin role = %v", found)
	}
	users, _ := app.FindAllRecords("users")
	if len(users) != 0 {
		t.Fatal("creating a system must create no account")
	}
}

// §5.9 and §2.4 hold for the dashboard too: hdts and tts are never deleted nor renamed, and no
// system gets the reserved slug; other systems are deleted and renamed as before.
func TestBuiltinSystemsAndTheReservedSlug(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	col, _ := app.FindCachedCollectionByNameOrId("systems")
	refused := func(err error, msg string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Fatalf("got %v, want a refusal %q", err, msg)
		}
	}
	for _, slug := range hooks.BuiltinSystems {
		sys, err := app.FindFirstRecordByData(col, "slug", slug)
		if err != nil {
			t.Fatal(err)
		}
		refused(app.Delete(sys), hooks.MsgBuiltinNoDelete)
		sys.Set("slug", slug+"-renamed")
		refused(app.Save(sys), hooks.MsgSlugBuiltin)
		if fresh, err := app.FindRecordById(col, sys.Id); err != nil || fresh.GetString("slug") != slug {
			t.Fatalf("%s after the refusals: %v %v", slug, fresh, err)
		}
	}

	reserved := core.NewRecord(col)
	reserved.Set("name", "Auth")
	reserved.Set("slug", hooks.ReservedSlug)
	refused(app.Save(reserved), hooks.MsgSlugReserved)

	custom := core.NewRecord(col)
	custom.Set("name", "Asset Tracker")
	custom.Set("slug", "assets")
	if err := app.Save(custom); err != nil {
		t.Fatal(err)
	}
	custom.Set("slug", hooks.ReservedSlug)
	refused(app.Save(custom), hooks.MsgSlugReserved)
	custom.Set("slug", "assets2")
	if err := app.Save(custom); err != nil {
		t.Fatalf("renaming a custom system: %v", err)
	}
	if err := app.Delete(custom); err != nil {
		t.Fatalf("deleting a custom system: %v", err)
	}
}

func TestAssignmentsRoleMustBelongToSystem(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	u, err := newAccount(t, app, "users", "agent@example.com")
	if err != nil {
		t.Fatal(err)
	}
	hdts, _ := app.FindFirstRecordByData("systems", "slug", "hdts")
	tts, _ := app.FindFirstRecordByData("systems", "slug", "tts")
	ttsAdmin, err := app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", map[string]any{"s": tts.Id})
	if err != nil {
		t.Fatal(err)
	}
	col, _ := app.FindCachedCollectionByNameOrId("user_system_roles")
	bad := core.NewRecord(col)
	bad.Set("user", u.Id)
	bad.Set("system", hdts.Id)
	bad.Set("role", ttsAdmin.Id)
	bad.Set("is_active", true)
	if err := app.Save(bad); err == nil {
		t.Fatal("a tts role assigned in system hdts must be refused")
	}
	good := core.NewRecord(col)
	good.Set("user", u.Id)
	good.Set("system", tts.Id)
	good.Set("role", ttsAdmin.Id)
	good.Set("is_active", true)
	if err := app.Save(good); err != nil {
		t.Fatal(err)
	}
	stored, _ := app.FindRecordById("user_system_roles", good.Id)
	if got := string(stored.GetString("settings")); got != `{"is_deployed":true}` {
		t.Fatalf("default settings = %s", got)
	}
	stored.Set("settings", map[string]any{"is_deployed": "yes"})
	if err := app.Save(stored); err == nil {
		t.Fatal("a non-boolean is_deployed must be refused")
	}
}

// A new password, however it is stored (SetPassword, or a hash copied with SetRaw as the
// password-change endpoint does), clears an imported account's Django hash; other updates keep it.
func TestNewPasswordClearsTheLegacyHash(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	for _, collection := range []string{"users", "employees"} {
		r, err := newAccount(t, app, collection, "legacy-"+collection+"@example.com")
		if err != nil {
			t.Fatal(err)
		}
		const legacy = "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q"
		set := func() {
			r.Set("legacy_password_hash", legacy)
			if err := app.Save(r); err != nil {
				t.Fatal(err)
			}
		}
		stored := func() string {
			got, err := app.FindRecordById(collection, r.Id)
			if err != nil {
				t.Fatal(err)
			}
			return got.GetString("legacy_password_hash")
		}

		set()
		r.Set("first_name", "Kept")
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		if got := stored(); got != legacy {
			t.Fatalf("%s: an update without a new password changed the legacy hash to %q", collection, got)
		}

		r.SetPassword("a brand new password")
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		if got := stored(); got != "" {
			t.Fatalf("%s: SetPassword kept the legacy hash %q", collection, got)
		}

		set()
		scratch := r.Clone()
		scratch.SetPassword("another new password")
		r.SetRaw(core.FieldNamePassword, scratch.GetRaw(core.FieldNamePassword))
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		if got := stored(); got != "" {
			t.Fatalf("%s: a copied hash kept the legacy hash %q", collection, got)
		}
	}
}

// A default role cannot be deleted by anyone (the dashboard writes through app.Delete too); a
// custom role can, and deleting a system still takes its default roles with it.
func TestDefaultRolesAreNotDeletedButGoWithTheirSystem(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	systems, _ := app.FindCachedCollectionByNameOrId("systems")
	sys := core.NewRecord(systems)
	sys.Set("name", "Asset Tracker")
	sys.Set("slug", "assets")
	if err := app.Save(sys); err != nil {
		t.Fatal(err)
	}
	admin, err := app.FindFirstRecordByFilter("roles", "system = {:s} && name = 'Admin'", map[string]any{"s": sys.Id})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(admin); err == nil {
		t.Fatal("the default Admin role was deleted")
	}
	if _, err := app.FindRecordById("roles", admin.Id); err != nil {
		t.Fatalf("the Admin role is gone after a refused delete: %v", err)
	}
	rolesCol, _ := app.FindCachedCollectionByNameOrId("roles")
	custom := core.NewRecord(rolesCol)
	custom.Set("name", "Auditor")
	custom.Set("system", sys.Id)
	custom.Set("is_custom", true)
	if err := app.Save(custom); err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(custom); err != nil {
		t.Fatalf("a custom role must be deletable: %v", err)
	}
	if err := app.Delete(sys); err != nil {
		t.Fatalf("deleting the system: %v", err)
	}
	if n, _ := app.CountRecords("roles", dbx.HashExp{"system": sys.Id}); n != 0 {
		t.Fatalf("%d roles of the deleted system remain", n)
	}
}

// Deleting an assignment, by any writer, deletes the round-robin state of its (role, user)
// and only that (§5.11.7, §5.13.9).
func TestDeletingAnAssignmentDropsItsRoundRobinState(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	tts, _ := app.FindFirstRecordByData("systems", "slug", "tts")
	rolesCol, _ := app.FindCachedCollectionByNameOrId("roles")
	agentRole := core.NewRecord(rolesCol)
	agentRole.Set("name", "Agent")
	agentRole.Set("system", tts.Id)
	agentRole.Set("is_custom", true)
	if err := app.Save(agentRole); err != nil {
		t.Fatal(err)
	}
	assignCol, _ := app.FindCachedCollectionByNameOrId("user_system_roles")
	stateCol, _ := app.FindCachedCollectionByNameOrId("tts_round_robin_state")
	var assignments []*core.Record
	for i := range 2 {
		u, err := newAccount(t, app, "users", fmt.Sprintf("agent%d@example.com", i))
		if err != nil {
			t.Fatal(err)
		}
		a := core.NewRecord(assignCol)
		a.Set("user", u.Id)
		a.Set("system", tts.Id)
		a.Set("role", agentRole.Id)
		a.Set("is_active", true)
		if err := app.Save(a); err != nil {
			t.Fatal(err)
		}
		st := core.NewRecord(stateCol)
		st.Set("role", agentRole.Id)
		st.Set("user", u.Id)
		st.Set("assigned_count", 3)
		if err := app.Save(st); err != nil {
			t.Fatal(err)
		}
		assignments = append(assignments, a)
	}
	if err := app.Delete(assignments[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := app.CountRecords("tts_round_robin_state", dbx.HashExp{"user": assignments[0].GetString("user")}); n != 0 {
		t.Fatalf("the deleted assignment's state remains (%d rows)", n)
	}
	if n, _ := app.CountRecords("tts_round_robin_state", dbx.HashExp{"user": assignments[1].GetString("user")}); n != 1 {
		t.Fatalf("the other agent's state: %d rows, want 1", n)
	}
}
