package e2e

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const tightenedLine = "private to this user (directories 0700, files 0600)"

// checkPrivate fails for any directory of root (root included) whose mode is not 0700 and any
// file whose mode is not 0600; it returns how many entries it checked.
func checkPrivate(t *testing.T, when, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path != root {
				return nil // e.g. a temp file removed meanwhile
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		switch perm := info.Mode().Perm(); {
		case d.IsDir() && perm != 0o700:
			t.Errorf("%s: dir %s has mode %o, want 700", when, path, perm)
		case d.Type().IsRegular() && perm != 0o600:
			t.Errorf("%s: file %s has mode %o, want 600", when, path, perm)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func countLines(out, substr string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// The data directory is private to the service's user after the first start, after a restart,
// and after a start on a directory made earlier with wider modes; backup archives are too.
func TestDataDirectoryIsPrivate(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{DataDir: filepath.Join(t.TempDir(), "pb_data")}) // created by the binary
	for _, name := range []string{"data.db", "auxiliary.db", ".gatehouse_secret"} {
		if _, err := os.Stat(filepath.Join(s.DataDir, name)); err != nil {
			t.Fatalf("%s missing: %v", name, err)
		}
	}
	if n := checkPrivate(t, "first start", s.DataDir); n < 5 {
		t.Fatalf("checked only %d entries", n)
	}
	token := s.SuperuserToken(t) // the CLI (superuser upsert) writes to the data dir too
	checkPrivate(t, "superuser upsert", s.DataDir)
	if strings.Contains(s.Output(), tightenedLine) {
		t.Fatalf("a new data dir needs no tightening:\n%s", s.Output())
	}

	// a backup through PocketBase's API (the scheduled ones take the same path)
	st, _, body := s.Do(t, http.MethodPost, "/api/backups", map[string]string{"name": "b1.zip"}, "Authorization", token)
	if st != 204 {
		t.Fatalf("create backup: %d %s", st, body)
	}
	info, err := os.Stat(filepath.Join(s.DataDir, "backups", "b1.zip"))
	if err != nil || info.Mode().Perm() != 0o600 || info.Size() == 0 {
		t.Fatalf("backup archive: %v %v", info, err)
	}
	st, _, body = s.Do(t, http.MethodGet, "/api/backups", nil, "Authorization", token)
	if st != 200 || !strings.Contains(string(body), `"key":"b1.zip"`) {
		t.Fatalf("list backups: %d %s", st, body)
	}
	checkPrivate(t, "after a backup", s.DataDir)

	s.Stop()
	again := Start(t, Options{DataDir: s.DataDir})
	checkPrivate(t, "restart", again.DataDir)
	if strings.Contains(again.Output(), tightenedLine) {
		t.Fatalf("nothing to tighten at a restart:\n%s", again.Output())
	}
	again.Stop()

	// an existing data dir with wider modes (as earlier versions left it): tightened, one line
	err = filepath.WalkDir(s.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	wide := Start(t, Options{DataDir: s.DataDir})
	if n := countLines(wide.Output(), tightenedLine); n != 1 {
		t.Fatalf("want one line saying the data dir was tightened, got %d:\n%s", n, wide.Output())
	}
	if n := checkPrivate(t, "start on a wide data dir", wide.DataDir); n < 7 {
		t.Fatalf("checked only %d entries", n)
	}
	// still the same data: the superuser signs in
	st, _, body = wide.Do(t, http.MethodPost, "/api/collections/_superusers/auth-with-password",
		map[string]string{"identity": "root@example.com", "password": "root-password-1234"})
	if st != 200 {
		t.Fatalf("sign-in after tightening: %d %s", st, body)
	}
}

// The dashboard's sign-in has its own limit: the 11th superuser sign-in from one IP within 10 s
// gets 429, failed sign-ins are in audit_log with their IP, and the right password signs in
// again once the window has passed.
func TestSuperuserSignInLimitAndAudit(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Env: []string{"TRUSTED_PROXIES=127.0.0.1/32"}})
	token := s.SuperuserToken(t)
	auth := []string{"Authorization", token}
	st, _, body := s.Do(t, http.MethodPatch, "/api/settings", map[string]any{"trustedProxy": map[string]any{"headers": []string{"X-Real-IP"}}}, auth...)
	if st != 200 {
		t.Fatalf("trusted proxy setting: %d %s", st, body)
	}

	// the rules are in PocketBase's setting, next to §7.2's
	st, _, body = s.Do(t, http.MethodGet, "/api/settings", nil, auth...)
	for _, rule := range []string{
		`{"label":"_superusers:auth","audience":"","duration":10,"maxRequests":10}`,
		`{"label":"_superusers:authPerHour","audience":"","duration":3600,"maxRequests":30}`,
		`{"label":"POST /api/v1/users/login/","audience":"","duration":10,"maxRequests":10}`,
	} {
		if st != 200 || !strings.Contains(string(body), rule) {
			t.Fatalf("settings lack %s: %d %s", rule, st, body)
		}
	}

	signIn := func(ip, password string) (int, string) {
		st, _, body := s.Do(t, http.MethodPost, "/api/collections/_superusers/auth-with-password",
			map[string]string{"identity": "root@example.com", "password": password}, "X-Real-IP", ip)
		return st, string(body)
	}
	const attacker, colleague = "203.0.113.7", "203.0.113.8"
	start := time.Now()
	for i := 1; i <= 10; i++ {
		if st, body := signIn(attacker, "wrong-password-"+string(rune('a'+i))); st != 400 || strings.TrimSpace(body) != `{"data":{},"message":"Failed to authenticate.","status":400}` {
			t.Fatalf("attempt %d: %d %s", i, st, body)
		}
	}
	st, body11 := signIn(attacker, "root-password-1234")
	if time.Since(start) >= 10*time.Second {
		t.Skip("the machine is too slow to send 11 requests within 10 s")
	}
	if st != 429 || strings.TrimSpace(body11) != `{"data":{},"message":"Too Many Requests.","status":429}` {
		t.Fatalf("11th sign-in: %d %s", st, body11)
	}
	if st, body := signIn(colleague, "root-password-1234"); st != 200 || !strings.Contains(body, `"token":"`) {
		t.Fatalf("another IP: %d %s", st, body)
	}

	q := url.Values{"filter": {"event='superuser.login.failure'"}, "perPage": {"100"}}
	st, _, body = s.Do(t, http.MethodGet, "/api/collections/audit_log/records?"+q.Encode(), nil, auth...)
	var rows struct {
		Items []struct {
			IP       string         `json:"ip"`
			Success  bool           `json:"success"`
			TargetID string         `json:"target_id"`
			Details  map[string]any `json:"details"`
		} `json:"items"`
	}
	if st != 200 || json.Unmarshal(body, &rows) != nil || len(rows.Items) != 10 {
		t.Fatalf("audit rows: %d %s", st, body)
	}
	for _, r := range rows.Items {
		if r.IP != attacker || r.Success || r.TargetID == "" || r.Details["identity"] != "root@example.com" || r.Details["method"] != "password" {
			t.Errorf("audit row %+v", r)
		}
	}
	if strings.Contains(string(body), "wrong-password") {
		t.Fatalf("an audit row holds a password: %s", body)
	}

	time.Sleep(time.Until(start.Add(11 * time.Second)))
	if st, body := signIn(attacker, "root-password-1234"); st != 200 || !strings.Contains(body, `"token":"`) {
		t.Fatalf("right password after the window: %d %s", st, body)
	}
}
