package importer

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/hooks"
	"gatehouse/plugins/passwords"
	"gatehouse/testkit"
)

func fixture(t *testing.T) string {
	t.Helper()
	p := "/work/shared/fixtures/original-auth/db.sqlite3"
	if d := os.Getenv("ORIGINAL_AUTH_FIXTURES"); d != "" {
		p = filepath.Join(d, "db.sqlite3")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture missing: %v", err)
	}
	return p
}

func newApp(t *testing.T) *tests.TestApp {
	return testkit.NewApp(t, func(app *tests.TestApp) { hooks.Register(app) })
}

// An email that already exists in Gatehouse is reported and skipped, never overwritten; its
// assignments are skipped with it. Everything else is imported.
func TestExistingEmailIsSkippedNotOverwritten(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	col, _ := app.FindCollectionByNameOrId("users")
	mine := core.NewRecord(col)
	mine.SetEmail("it_user@example.com")
	mine.SetPassword("my own password 1")
	mine.Set("first_name", "Mine")
	if err := app.Save(mine); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), app, Options{From: fixture(t)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Users.Imported != 19 || len(sum.Users.Skipped) != 1 || sum.Users.Skipped[0] != "it_user@example.com" ||
		sum.Assignments.Imported != 19 || sum.Assignments.Skipped != 1 {
		t.Fatalf("summary: %+v %+v", sum.Users, sum.Assignments)
	}
	got, _ := app.FindAuthRecordByEmail("users", "it_user@example.com")
	if got.GetString("first_name") != "Mine" || got.GetString(passwords.LegacyHashField) != "" || !got.ValidatePassword("my own password 1") {
		t.Fatal("the existing account was changed")
	}
	var out strings.Builder
	sum.Print(&out)
	if !strings.Contains(out.String(), "skipped: it_user@example.com") {
		t.Fatalf("summary does not name the skipped email:\n%s", out.String())
	}
	// Imported accounts: the Django hash kept, the bcrypt field never the password.
	admin, _ := app.FindAuthRecordByEmail("users", "admin@example.com")
	if !strings.HasPrefix(admin.GetString(passwords.LegacyHashField), "argon2$argon2id$") || admin.ValidatePassword("Password123!") ||
		admin.GetString("company_id") != "MA9599" || // MA0001 is taken by the existing account: allocated after the kept MA9598
		!admin.GetBool("is_superuser") || admin.GetString("imported_from") != "original:users_user:1" {
		t.Fatalf("admin imported as %v", admin.PublicExport())
	}
	emp, _ := app.FindAuthRecordByEmail("employees", "robert.johnson@gmail.com")
	if !emp.GetBool("otp_enabled") || emp.GetString("otp_method") != "email" || !strings.HasPrefix(emp.GetString("company_id"), "EM") {
		t.Fatalf("employee imported as %v", emp.PublicExport())
	}
}

// A bad row anywhere (here: the last assignment's settings is not an object) writes nothing and
// names the table and row.
func TestBadRowWritesNothing(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 CLI missing")
	}
	src := filepath.Join(t.TempDir(), "bad.sqlite3")
	raw, err := os.ReadFile(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sqlite3", src, "UPDATE system_roles_usersystemrole SET settings = '[1]' WHERE id = 20").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	app := newApp(t)
	_, err = Run(context.Background(), app, Options{From: src})
	if err == nil || !strings.Contains(err.Error(), "system_roles_usersystemrole row id=20") || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("err = %v", err)
	}
	for _, table := range []string{"users", "employees", "user_system_roles"} {
		if n, _ := app.CountRecords(table); n != 0 {
			t.Fatalf("%s: %d rows written", table, n)
		}
	}
	if n, _ := app.CountRecords("systems"); n != 2 {
		t.Fatalf("%d systems", n)
	}
}

// A second run recognises what the first brought over by origin, not by email: an imported
// account whose email changed since stays the one account (no second one under the old email,
// with the old Django password and the source's rights), and its assignments are not made again.
func TestRerunAfterAnEmailChangeCreatesNothing(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	first, err := Run(context.Background(), app, Options{From: fixture(t)})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := app.FindAuthRecordByEmail("users", "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	admin.SetEmail("head.of.it@example.com")
	if err := app.Save(admin); err != nil {
		t.Fatal(err)
	}
	countOf := func(collection string) int {
		n, err := app.CountRecords(collection)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	users, assignments := countOf("users"), countOf("user_system_roles")

	again, err := Run(context.Background(), app, Options{From: fixture(t)})
	if err != nil {
		t.Fatal(err)
	}
	if again.Users.Imported != 0 || again.Users.AlreadyImported != first.Users.Imported || len(again.Users.Skipped) != 0 ||
		again.Assignments.Imported != 0 || again.Assignments.AlreadyImported != first.Assignments.Imported {
		t.Fatalf("second run: %+v %+v (first: %+v %+v)", again.Users, again.Assignments, first.Users, first.Assignments)
	}
	if _, err := app.FindAuthRecordByEmail("users", "admin@example.com"); err == nil {
		t.Fatal("the second run created an account under the old email")
	}
	if countOf("users") != users || countOf("user_system_roles") != assignments {
		t.Fatalf("rows changed: users %d → %d, assignments %d → %d", users, countOf("users"), assignments, countOf("user_system_roles"))
	}
}

// The source is read as it is now: a SQLite database in WAL mode whose newest changes are
// still in its -wal file (the original service running, or stopped without a checkpoint) is
// read with them (immutable=1 skipped the WAL), and a relative --from path works (it was
// taken for a file:// URL's host).
func TestWALSourceByRelativePath(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "live.sqlite3"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := sql.Open("sqlite", filepath.Join(dir, "live.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	live.SetMaxOpenConns(1)
	defer live.Close()
	for _, q := range []string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0",
		"UPDATE users_user SET first_name = 'Renamed' WHERE email = 'admin@example.com'"} {
		if _, err := live.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "live.sqlite3-wal")); err != nil || st.Size() == 0 {
		t.Fatalf("the change is not in the WAL: %v", err)
	}
	t.Chdir(dir)
	app := newApp(t)
	if _, err := Run(context.Background(), app, Options{From: "live.sqlite3"}); err != nil {
		t.Fatal(err)
	}
	u, err := app.FindAuthRecordByEmail("users", "admin@example.com")
	if err != nil || u.GetString("first_name") != "Renamed" {
		t.Fatalf("first_name %q (%v), want the WAL's Renamed", u.GetString("first_name"), err)
	}
}
