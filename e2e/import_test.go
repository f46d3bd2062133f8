package e2e

import (
	"bufio"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// The original service's database (its README lists the accounts and passwords).
const originalFixtures = "/work/shared/fixtures/original-auth"

func fixturePath(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("ORIGINAL_AUTH_FIXTURES")
	if dir == "" {
		dir = originalFixtures
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("E2E_REQUIRED") == "1" {
			t.Fatalf("fixture %s: %v", p, err)
		}
		t.Skipf("fixture %s not present (set ORIGINAL_AUTH_FIXTURES): %v", p, err)
	}
	return p
}

// Staff accounts of the fixture README with a known password.
var originalStaff = map[string]string{
	"admin@example.com":        "Password123!",
	"adminhdts@example.com":    "admin",
	"admintts@example.com":     "admin",
	"adminams@example.com":     "admin",
	"adminbms@example.com":     "admin",
	"alex.johnson@gmail.com":   "password123",
	"maria.garcia@gmail.com":   "password123",
	"sarah.chen@gmail.com":     "password123",
	"chris.wilson@gmail.com":   "password123",
	"david.lee@gmail.com":      "password123",
	"finance_head@example.com": "Password123!",
	"it_user@example.com":      "Password123!",
	"ops_user@example.com":     "password123",
	"adibentulan@gmail.com":    "password123",
	"amsadmin@test.local":      "amsadmin123",
	"amsoperator@test.local":   "amsoperator123",
}

// The role each of them holds in the original (system slug → role name), as the profile must show it.
var originalRoles = map[string][2]string{
	"adminhdts@example.com":    {"hdts", "Admin"},
	"admintts@example.com":     {"tts", "Admin"},
	"adminams@example.com":     {"ams", "Admin"},
	"adminbms@example.com":     {"bms", "Admin"},
	"admin@example.com":        {"bms", "ADMIN"},
	"alex.johnson@gmail.com":   {"hdts", "Ticket Coordinator"},
	"maria.garcia@gmail.com":   {"hdts", "Ticket Coordinator"},
	"sarah.chen@gmail.com":     {"hdts", "Ticket Coordinator"},
	"chris.wilson@gmail.com":   {"hdts", "Ticket Coordinator"},
	"david.lee@gmail.com":      {"hdts", "Admin"},
	"finance_head@example.com": {"bms", "FINANCE_HEAD"},
	"it_user@example.com":      {"bms", "ADMIN"},
	"ops_user@example.com":     {"bms", "GENERAL_USER"},
	"adibentulan@gmail.com":    {"bms", "ADMIN"},
	"amsadmin@test.local":      {"ams", "Admin"},
	"amsoperator@test.local":   {"ams", "Operator"},
}

func openData(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "data.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dataDigest hashes every row of the tables an import writes (to prove a run changed nothing).
func dataDigest(t *testing.T, dataDir string) string {
	t.Helper()
	db := openData(t, dataDir)
	h := sha256.New()
	for _, table := range []string{"users", "employees", "systems", "roles", "user_system_roles"} {
		rows, err := db.Query("SELECT * FROM " + table + " ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%s %v\n", table, vals)
		}
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

func countRows(t *testing.T, dataDir, table string) int {
	t.Helper()
	var n int
	if err := openData(t, dataDir).QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportOriginalSQLite: import the development database, serve, every staff account logs in
// with its old password once re-hashed to bcrypt, and the peak RSS of 8 parallel first logins
// of argon2 (m = 100 MiB) accounts stays within 150 MB.
func TestImportOriginalSQLite(t *testing.T) {
	// Not parallel: the test asserts the server's peak RSS during 8 parallel argon2 (100 MiB)
	// first logins. Alone it measures 140 MB (limit 150); with the other e2e tests starving its
	// CPUs one CI run measured 245 MB (issue 17 note: not understood yet). Non-parallel tests
	// run before the parallel ones start, so the measurement is of the service, not the box.
	src := fixturePath(t, "db.sqlite3")
	testImportOriginal(t, src)
}

// noLimits: the data dir is created by the import (its first migration seeds the rate-limit
// setting), so the variable goes to the import too.
var noLimits = []string{"RATE_LIMITS_ENABLED=false"}

func testImportOriginal(t *testing.T, from string) {
	dataDir := t.TempDir()

	// A dry run writes nothing but prints the summary.
	out, code := Run(t, dataDir, noLimits, "", "import", "original", "--from", from, "--dry-run")
	if code != 0 || !strings.Contains(out, "DRY RUN") || !strings.Contains(out, "staff users:  20 imported") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if n := countRows(t, dataDir, "users"); n != 0 {
		t.Fatalf("dry run wrote %d users", n)
	}

	out, code = Run(t, dataDir, noLimits, "", "import", "original", "--from", from)
	for _, want := range []string{
		"staff users:  20 imported, 0 already imported, 0 skipped",
		"employees:    8 imported, 0 already imported, 0 skipped",
		"assignments:  20 imported",
		"merged with existing [hdts tts]",
		"bms: admin@example.com holds \"ADMIN\"",
		"bms: it_user@example.com holds \"ADMIN\"",
		"bms: adibentulan@gmail.com holds \"ADMIN\"",
		"API keys (0 in the source)",
		"argon2 28",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("import: exit %d, summary lacks %q:\n%s", code, want, out)
		}
	}
	if code != 0 {
		t.Fatalf("import exit %d\n%s", code, out)
	}
	// Systems merged, not duplicated: 4 systems, bms has Admin and ADMIN.
	if n := countRows(t, dataDir, "systems"); n != 4 {
		t.Fatalf("%d systems after import, want 4", n)
	}
	var roles int
	if err := openData(t, dataDir).QueryRow("SELECT COUNT(*) FROM roles r JOIN systems s ON s.id = r.system WHERE s.slug = 'bms' AND r.name IN ('Admin','ADMIN')").Scan(&roles); err != nil || roles != 2 {
		t.Fatalf("bms Admin/ADMIN roles: %d %v", roles, err)
	}

	// Running it again changes nothing.
	before := dataDigest(t, dataDir)
	out, code = Run(t, dataDir, noLimits, "", "import", "original", "--from", from)
	if code != 0 || !strings.Contains(out, "staff users:  0 imported, 20 already imported") || !strings.Contains(out, "assignments:  0 imported, 20 already imported") {
		t.Fatalf("second import: exit %d\n%s", code, out)
	}
	if after := dataDigest(t, dataDir); after != before {
		t.Fatal("the second import changed the data")
	}

	s := Start(t, Options{DataDir: dataDir, Env: []string{"RATE_LIMITS_ENABLED=false"}})
	db := openData(t, dataDir)
	storedHash := func(email string) (password, legacy string) {
		t.Helper()
		if err := db.QueryRow("SELECT password, legacy_password_hash FROM users WHERE email = ?", email).Scan(&password, &legacy); err != nil {
			t.Fatal(err)
		}
		return
	}

	// A wrong password is a failure like any other: 400 invalid_credentials and an auth_failures row.
	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "ops_user@example.com", "password": "not-the-password"})
	if st != http.StatusBadRequest || !strings.Contains(string(body), "invalid_credentials") {
		t.Fatalf("wrong password: %d %s", st, body)
	}
	var failures int
	if err := db.QueryRow("SELECT COUNT(*) FROM auth_failures WHERE email = 'ops_user@example.com' AND kind = 'password'").Scan(&failures); err != nil || failures != 1 {
		t.Fatalf("auth_failures after a wrong password: %d %v", failures, err)
	}
	if _, legacy := storedHash("ops_user@example.com"); !strings.HasPrefix(legacy, "argon2$") {
		t.Fatal("a failed login changed the legacy hash")
	}

	emails := make([]string, 0, len(originalStaff))
	for e := range originalStaff {
		emails = append(emails, e)
	}
	// 8 parallel first logins of argon2 accounts, with the server's peak RSS.
	var wg sync.WaitGroup
	logins := make(map[string]loginPair)
	var mu sync.Mutex
	retried := 0
	for _, email := range emails[:8] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A 429 (§7.2: no slot within 5 s, e.g. when other tests share the CPUs) is retried
			// after its Retry-After, as a client would.
			for range 5 {
				st, h, _ := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": originalStaff[email]})
				if st != http.StatusTooManyRequests {
					break
				}
				mu.Lock()
				retried++
				mu.Unlock()
				sec, _ := strconv.Atoi(h.Get("Retry-After"))
				time.Sleep(time.Duration(sec) * time.Second)
			}
			p := staffLogin(t, s, email, originalStaff[email])
			mu.Lock()
			logins[email] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	peak := peakRSS(t, s)
	t.Logf("peak RSS after 8 parallel first logins of argon2 (m=100 MiB) accounts: %.1f MB (%d answers 429 retried)", float64(peak)/1e6, retried)
	if peak > 150e6 {
		t.Errorf("peak RSS %d bytes > 150 MB; the server now: %s", peak, rssParts(s))
	}
	for _, email := range emails[8:] {
		logins[email] = staffLogin(t, s, email, originalStaff[email])
	}

	for _, email := range emails {
		password, legacy := storedHash(email)
		if legacy != "" || !strings.HasPrefix(password, "$2a$12$") {
			t.Errorf("%s after its first login: password %.7s…, legacy %q", email, password, legacy)
		}
		// Now bcrypt: the same password still works, a wrong one does not.
		staffLogin(t, s, email, originalStaff[email])

		st, _, body := s.Do(t, http.MethodGet, "/api/v1/users/profile/", nil, "Authorization", "Bearer "+logins[email].Access)
		if st != http.StatusOK {
			t.Fatalf("%s profile: %d %s", email, st, body)
		}
		var prof struct {
			Email       string `json:"email"`
			SystemRoles []struct {
				SystemSlug string `json:"system_slug"`
				RoleName   string `json:"role_name"`
			} `json:"system_roles"`
		}
		if err := json.Unmarshal(body, &prof); err != nil || prof.Email != email {
			t.Fatalf("%s profile: %v %s", email, err, body)
		}
		want := originalRoles[email]
		found := false
		for _, r := range prof.SystemRoles {
			found = found || (r.SystemSlug == want[0] && r.RoleName == want[1])
		}
		if !found {
			t.Errorf("%s: profile roles %+v lack %v", email, prof.SystemRoles, want)
		}
	}
	// The admin of hdts in the original (its Admin role) is Admin(hdts) here.
	var hdtsAdmins string
	err := db.QueryRow(`SELECT group_concat(u.email) FROM user_system_roles a JOIN users u ON u.id = a.user
		JOIN roles r ON r.id = a.role JOIN systems s ON s.id = a.system
		WHERE s.slug = 'hdts' AND r.name = 'Admin' AND a.is_active ORDER BY u.email`).Scan(&hdtsAdmins)
	if err != nil || !strings.Contains(hdtsAdmins, "adminhdts@example.com") || !strings.Contains(hdtsAdmins, "david.lee@gmail.com") {
		t.Fatalf("hdts admins: %q %v", hdtsAdmins, err)
	}

	// An unknown password after re-hash still fails.
	if st, _, _ := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "adminhdts@example.com", "password": "Password123!"}); st != http.StatusBadRequest {
		t.Fatalf("wrong password after the re-hash: %d", st)
	}

	// The 8 imported employees (fixture README: password TestPassword123!, 6 Approved, one
	// Pending, one Rejected) sign in at the employee login with their original passwords.
	t.Run("employees", func(t *testing.T) {
		rows, err := db.Query("SELECT email, status FROM employees ORDER BY email")
		if err != nil {
			t.Fatal(err)
		}
		statuses := map[string]string{}
		for rows.Next() {
			var email, status string
			if err := rows.Scan(&email, &status); err != nil {
				t.Fatal(err)
			}
			statuses[email] = status
		}
		rows.Close()
		if len(statuses) != 8 {
			t.Fatalf("%d imported employees, want 8", len(statuses))
		}
		approved := 0
		for email, status := range statuses {
			st, _, body := s.Do(t, http.MethodPost, "/api/v1/hdts/employees/api/login/", map[string]string{"email": email, "password": "TestPassword123!"})
			switch status {
			case "Approved":
				approved++
				// the password step passed: tokens, or the second factor for an account whose
				// email 2FA switch was imported on
				if st != http.StatusOK || !(strings.Contains(string(body), `"employee":{`) || strings.Contains(string(body), `"otp_required":true`)) {
					t.Errorf("%s (Approved): %d %s", email, st, body)
					continue
				}
				var password, legacy string
				if err := db.QueryRow("SELECT password, legacy_password_hash FROM employees WHERE email = ?", email).Scan(&password, &legacy); err != nil {
					t.Fatal(err)
				}
				if legacy != "" || !strings.HasPrefix(password, "$2a$12$") {
					t.Errorf("%s after its first login: password %.7s…, legacy %q", email, password, legacy)
				}
			case "Pending":
				if st != http.StatusForbidden || !strings.Contains(string(body), `"code":"account_pending"`) {
					t.Errorf("%s (Pending): %d %s", email, st, body)
				}
			case "Rejected":
				if st != http.StatusForbidden || !strings.Contains(string(body), `"code":"account_rejected"`) {
					t.Errorf("%s (Rejected): %d %s", email, st, body)
				}
			default:
				t.Errorf("%s: unexpected status %q", email, status)
			}
			// a wrong password reveals nothing
			if st, _, body := s.Do(t, http.MethodPost, "/api/v1/hdts/employees/api/login/", map[string]string{"email": email, "password": "not-the-password"}); st != http.StatusBadRequest || !strings.Contains(string(body), "invalid_credentials") {
				t.Errorf("%s wrong password: %d %s", email, st, body)
			}
		}
		if approved != 6 {
			t.Errorf("%d approved employees, want 6", approved)
		}
	})
}

// peakRSS is the server process's VmHWM (peak resident set) in bytes.
// rssParts is the server's current RSS by kind (anonymous: the Go heap and SQLite's caches;
// file: the binary's pages and mapped files), for a failure message.
func rssParts(s *Server) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS:", "RssAnon:", "RssFile:", "RssShmem:", "Threads:"} {
			if strings.HasPrefix(line, k) {
				parts = append(parts, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func peakRSS(t *testing.T, s *Server) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// A truncated or a foreign database is refused with a clear error and nothing is written.
func TestImportOriginalRefusesBadSources(t *testing.T) {
	t.Parallel()
	src := fixturePath(t, "db.sqlite3")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.sqlite3")
	if err := os.WriteFile(truncated, raw[:len(raw)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	notSQLite := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notSQLite, []byte(strings.Repeat("not a database\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A foreign database: Gatehouse's own (a valid SQLite file without the original's tables).
	foreign := t.TempDir()
	if out, code := Run(t, foreign, nil, "", "seed"); code != 0 {
		t.Fatalf("seed: %s", out)
	}
	foreignDB := filepath.Join(foreign, "data.db")

	for _, c := range []struct{ from, want string }{
		{truncated, "nothing written"},
		{notSQLite, "nothing written"},
		{foreignDB, "users_user"},
		{filepath.Join(dir, "missing.sqlite3"), "cannot read the source database"},
		{"postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "nothing written"},
	} {
		dataDir := t.TempDir()
		out, code := Run(t, dataDir, nil, "", "import", "original", "--from", c.from)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Fatalf("--from %s: exit %d, want 1 and %q:\n%s", c.from, code, c.want, out)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "data.db")); err == nil {
			if n := countRows(t, dataDir, "users") + countRows(t, dataDir, "employees"); n != 0 {
				t.Fatalf("--from %s wrote %d accounts", c.from, n)
			}
			if n := countRows(t, dataDir, "systems"); n != 2 {
				t.Fatalf("--from %s: %d systems", c.from, n)
			}
		}
	}
}

// TestImportOriginalPostgres loads postgres.sql into a PostgreSQL server of its own (initdb +
// pg_ctl in a temp dir, as an unprivileged user when run as root) and runs the same checks.
func TestImportOriginalPostgres(t *testing.T) {
	// Not parallel: the test asserts the server's peak RSS during 8 parallel argon2 (100 MiB)
	// first logins. Alone it measures 140 MB (limit 150); with the other e2e tests starving its
	// CPUs one CI run measured 245 MB (issue 17 note: not understood yet). Non-parallel tests
	// run before the parallel ones start, so the measurement is of the service, not the box.
	dump := fixturePath(t, "postgres.sql")
	url := startPostgres(t, dump)
	testImportOriginal(t, url)
}

func startPostgres(t *testing.T, dump string) string {
	t.Helper()
	var bins []string
	for _, name := range []string{"initdb", "pg_ctl", "psql"} {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, dir := range []string{"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"} {
				if _, e := os.Stat(filepath.Join(dir, name)); e == nil {
					p, err = filepath.Join(dir, name), nil
					break
				}
			}
		}
		if err != nil {
			if os.Getenv("E2E_REQUIRED") == "1" {
				t.Fatalf("PostgreSQL binaries missing (%s); install Debian's postgresql package", name)
			}
			t.Skipf("PostgreSQL binaries missing (%s); set E2E_REQUIRED=1 to fail instead", name)
		}
		bins = append(bins, p)
	}
	initdb, pgctl, psql := bins[0], bins[1], bins[2]

	dir, err := os.MkdirTemp("", "gatehouse-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pgdata := filepath.Join(dir, "data")
	dumpCopy := filepath.Join(dir, "dump.sql")
	raw, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dumpCopy, raw, 0o644); err != nil {
		t.Fatal(err)
	}

	// PostgreSQL refuses to run as root: run it as "postgres" (or "nobody") then.
	asUser := func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if os.Geteuid() == 0 {
		user := "postgres"
		if _, err := exec.Command("id", "-u", user).Output(); err != nil {
			user = "nobody"
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("running as root without runuser")
		}
		out, err := exec.Command("chown", "-R", user, dir).CombinedOutput()
		if err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		asUser = func(args ...string) *exec.Cmd {
			return exec.Command(runuser, append([]string{"-u", user, "--"}, args...)...)
		}
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := asUser(args...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	run(initdb, "-D", pgdata, "-U", "gh", "--auth=trust", "-E", "UTF8", "--no-sync")
	run(pgctl, "-D", pgdata, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir))
	t.Cleanup(func() { _ = asUser(pgctl, "-D", pgdata, "-m", "fast", "-w", "stop").Run() })
	run(psql, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "gh", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE original")
	run(psql, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "gh", "-d", "original", "-v", "ON_ERROR_STOP=1", "-q", "-f", dumpCopy)
	// wait until it accepts TCP
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("postgres://gh@127.0.0.1:%d/original?sslmode=disable", port)
}
