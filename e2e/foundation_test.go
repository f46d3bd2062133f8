package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var allCollections = []string{
	"users", "employees", "systems", "roles", "user_system_roles", "sessions", "mfa_challenges", "otp_codes",
	"recovery_codes", "password_reset_tokens", "invitations", "captcha_challenges", "api_keys", "auth_failures",
	"tts_round_robin_state", "tts_round_robin_picks", "email_outbox", "audit_log", "signing_keys",
}

func TestServeConventionsOnTheRealBinary(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Env: []string{"APP_URL=https://auth.example.com"}})

	// Both slash forms, same body, no redirect.
	st1, h1, b1 := s.Do(t, http.MethodGet, "/api/v1", nil)
	st2, _, b2 := s.Do(t, http.MethodGet, "/api/v1/", nil)
	if st1 != 401 || st2 != 401 || string(b1) != string(b2) || h1.Get("Location") != "" {
		t.Fatalf("GET /api/v1 = %d %s, /api/v1/ = %d %s", st1, b1, st2, b2)
	}
	if want := `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`; string(b1) != want {
		t.Fatalf("body = %s", b1)
	}

	// HEAD answers like GET with an empty body.
	st, _, body := s.Do(t, http.MethodHead, "/api/v1/", nil)
	if st != 401 || len(body) != 0 {
		t.Fatalf("HEAD /api/v1/ = %d %q", st, body)
	}

	// Wrong method: 405 envelope with Allow.
	st, h, body := s.Do(t, http.MethodPost, "/api/v1", nil)
	if st != 405 || h.Get("Allow") != "GET" || string(body) != `{"detail":"Method \"POST\" not allowed.","code":"method_not_allowed"}` {
		t.Fatalf("POST /api/v1 = %d Allow=%q %s", st, h.Get("Allow"), body)
	}

	// Unknown API path: 404 envelope.
	st, _, body = s.Do(t, http.MethodGet, "/api/v1/no/such/path/", nil)
	if st != 404 || string(body) != `{"detail":"Not found.","code":"not_found"}` {
		t.Fatalf("unknown path = %d %s", st, body)
	}

	// OPTIONS anywhere: 204, empty.
	st, _, body = s.Do(t, http.MethodOptions, "/api/v1/users/login/", nil)
	if st != 204 || len(body) != 0 {
		t.Fatalf("OPTIONS = %d %q", st, body)
	}

	// The dashboard and the static landing page are served; HTML carries the page headers.
	if st, _, _ := s.Do(t, http.MethodGet, "/_/", nil); st != 200 {
		t.Fatalf("/_/ = %d", st)
	}
	st, h, body = s.Do(t, http.MethodGet, "/", nil)
	if st != 200 || !strings.Contains(string(body), "Gatehouse") || h.Get("Content-Security-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("/ = %d %v", st, h)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("nosniff missing")
	}
}

func TestSchemaSeedAndSettingsThroughTheSuperuserAPI(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	token := s.SuperuserToken(t)
	auth := []string{"Authorization", token}

	st, _, body := s.Do(t, http.MethodGet, "/api/collections?perPage=200", nil, auth...)
	if st != 200 {
		t.Fatalf("collections: %d %s", st, body)
	}
	var cols struct {
		Items []struct {
			Name    string   `json:"name"`
			Indexes []string `json:"indexes"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &cols); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols.Items {
		names = append(names, c.Name)
		if c.Name == "users" && !strings.Contains(strings.Join(c.Indexes, " "), "COLLATE NOCASE") {
			t.Errorf("users indexes lack case-insensitive email/username uniqueness: %v", c.Indexes)
		}
	}
	for _, want := range allCollections {
		if !slices.Contains(names, want) {
			t.Errorf("collection %s missing", want)
		}
	}

	systems := func() []string {
		st, _, body := s.Do(t, http.MethodGet, "/api/collections/systems/records?perPage=50&sort=slug", nil, auth...)
		if st != 200 {
			t.Fatalf("systems: %d %s", st, body)
		}
		var page struct {
			Items []struct{ Slug string } `json:"items"`
		}
		_ = json.Unmarshal(body, &page)
		var slugs []string
		for _, it := range page.Items {
			slugs = append(slugs, it.Slug)
		}
		return slugs
	}
	if got := strings.Join(systems(), ","); got != "hdts,tts" {
		t.Fatalf("systems after migration = %s, want hdts,tts", got)
	}

	for i := range 2 {
		out, code := Run(t, s.DataDir, nil, "", "seed")
		if code != 0 {
			t.Fatalf("seed #%d: exit %d %s", i+1, code, out)
		}
		if i == 1 && !strings.Contains(out, "0 record(s) created") {
			t.Fatalf("second seed must create nothing: %s", out)
		}
	}
	if got := strings.Join(systems(), ","); got != "ams,bms,hdts,tts" {
		t.Fatalf("systems after seed = %s", got)
	}
	st, _, body = s.Do(t, http.MethodGet, "/api/collections/roles/records?perPage=100", nil, auth...)
	var roles struct {
		TotalItems int `json:"totalItems"`
	}
	_ = json.Unmarshal(body, &roles)
	if st != 200 || roles.TotalItems != 3+3+2+4 {
		t.Fatalf("roles after seed: %d total=%d", st, roles.TotalItems)
	}
	st, _, body = s.Do(t, http.MethodGet, "/api/collections/users/records", nil, auth...)
	if st != 200 || !strings.Contains(string(body), `"totalItems":0`) {
		t.Fatalf("no accounts may exist after migrations and seed: %d %s", st, body)
	}

	// Rate limiting is on by default with the contract's rules.
	st, _, body = s.Do(t, http.MethodGet, "/api/settings", nil, auth...)
	var settings struct {
		RateLimits struct {
			Enabled bool `json:"enabled"`
			Rules   []struct {
				Label       string `json:"label"`
				MaxRequests int    `json:"maxRequests"`
			} `json:"rules"`
		} `json:"rateLimits"`
	}
	if err := json.Unmarshal(body, &settings); err != nil || st != 200 {
		t.Fatalf("settings: %d %v", st, err)
	}
	login := slices.IndexFunc(settings.RateLimits.Rules, func(r struct {
		Label       string `json:"label"`
		MaxRequests int    `json:"maxRequests"`
	}) bool {
		return r.Label == "POST /api/v1/users/login/" && r.MaxRequests == 10
	})
	if !settings.RateLimits.Enabled || login < 0 {
		t.Fatalf("rate limits not seeded: %s", body)
	}
}

func TestGeneratedSecretFileAndWarning(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	info, err := os.Stat(filepath.Join(s.DataDir, ".gatehouse_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", info.Mode().Perm())
	}
	warnings := 0
	for _, line := range strings.Split(s.Output(), "\n") {
		if strings.Contains(line, "WARNING") && strings.Contains(line, "GATEHOUSE_SECRET") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("want exactly one warning line naming GATEHOUSE_SECRET, got %d:\n%s", warnings, s.Output())
	}

	withEnv := Start(t, Options{Env: []string{"GATEHOUSE_SECRET=" + strings.Repeat("z", 32)}})
	if _, err := os.Stat(filepath.Join(withEnv.DataDir, ".gatehouse_secret")); !os.IsNotExist(err) {
		t.Fatalf("no secret file may be written when GATEHOUSE_SECRET is set: %v", err)
	}
	if strings.Contains(withEnv.Output(), "WARNING") {
		t.Fatalf("unexpected warning: %s", withEnv.Output())
	}
}

func TestFailuresExitNonZero(t *testing.T) {
	t.Parallel()
	// A taken port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, code := Run(t, t.TempDir(), nil, "", "serve", "--http", l.Addr().String())
	if code == 0 {
		t.Fatalf("serve on a taken port exited 0: %s", out)
	}

	if out, code := Run(t, "", nil, "", "no-such-command"); code == 0 {
		t.Fatalf("unknown command exited 0: %s", out)
	}
	if out, code := Run(t, t.TempDir(), nil, "", "serve", "--no-such-flag"); code == 0 {
		t.Fatalf("bad flag exited 0: %s", out)
	}
	// arguments a command refuses, and an unknown subcommand below the root (cobra checks both
	// outside RunE; PocketBase ignored the errors: exit 0)
	for _, args := range [][]string{{"users", "create-admin", "admin@example.com"}, {"keys", "rotat"}, {"seed", "extra"}} {
		if out, code := Run(t, t.TempDir(), nil, "", args...); code != 1 {
			t.Fatalf("%v exited %d: %s", args, code, out)
		}
	}
	if out, code := Run(t, t.TempDir(), nil, "", "keys", "--help"); code != 0 || !strings.Contains(out, "rotate") {
		t.Fatalf("keys --help exited %d: %s", code, out)
	}
	if out, code := Run(t, t.TempDir(), []string{"GATEHOUSE_SECRET=short"}, "", "serve", "--http", "127.0.0.1:0"); code == 0 || !strings.Contains(out, "GATEHOUSE_SECRET") {
		t.Fatalf("a short GATEHOUSE_SECRET must stop serve: %d %s", code, out)
	}
	if out, code := Run(t, t.TempDir(), []string{"ACCESS_TOKEN_TTL=soon"}, "", "serve"); code == 0 || !strings.Contains(out, "ACCESS_TOKEN_TTL") {
		t.Fatalf("a malformed variable must stop the binary: %d %s", code, out)
	}
}

func TestCreateAdminCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, code := Run(t, dir, nil, "", "users", "create-admin", "--email", "Boss@Example.com", "--password", "short")
	if code == 0 {
		t.Fatalf("a 5-character password must be refused: %s", out)
	}
	// §1.13 applies to admin creation too (§8.6 st. 51): a common password, and one holding the
	// email's local part, are refused with the policy's message; nothing is created.
	for pw, msg := range map[string]string{"password123": "Password is too common.", "the-boss-of-all-9": "email"} {
		out, code = Run(t, dir, nil, "", "users", "create-admin", "--email", "Boss@Example.com", "--password", pw)
		if code == 0 || !strings.Contains(out, msg) {
			t.Fatalf("create-admin --password %s: %d %s (want a refusal with %q)", pw, code, out, msg)
		}
	}
	out, code = Run(t, dir, nil, "a-long-enough-pass\n", "users", "create-admin", "--email", "Boss@Example.com")
	if code != 0 || !strings.Contains(out, "Created superuser boss@example.com") {
		t.Fatalf("create-admin with a prompted password: %d %s", code, out)
	}
	out, code = Run(t, dir, nil, "", "users", "create-admin", "--email", "boss@example.com")
	if code != 0 || !strings.Contains(out, "Promoted boss@example.com") {
		t.Fatalf("promote: %d %s", code, out)
	}

	s := Start(t, Options{DataDir: dir})
	token := s.SuperuserToken(t)
	st, _, body := s.Do(t, http.MethodGet, "/api/collections/users/records", nil, "Authorization", token)
	if st != 200 || !strings.Contains(string(body), `"email":"boss@example.com"`) ||
		!strings.Contains(string(body), `"is_superuser":true`) || !strings.Contains(string(body), `"company_id":"MA0001"`) {
		t.Fatalf("admin user: %d %s", st, body)
	}
	if strings.Contains(string(body), "a-long-enough-pass") {
		t.Fatal("password leaked")
	}
}

func TestColdStart(t *testing.T) {
	t.Parallel()
	Binary(t)
	start := time.Now()
	s := Start(t, Options{})
	t.Logf("cold start to first healthy answer on an empty data dir: %v", time.Since(start))
	if st, _, _ := s.Do(t, http.MethodGet, "/api/health", nil); st != 200 {
		t.Fatal(fmt.Sprint("health ", st))
	}
}

func TestRateLimiterAnswersWithTheEnvelope(t *testing.T) {
	t.Parallel()
	limited := Start(t, Options{})
	unlimited := Start(t, Options{Env: []string{"RATE_LIMITS_ENABLED=false"}})

	// The global guest rule allows 300 requests per 10 s per IP under /api/.
	var status int
	var header http.Header
	var body []byte
	for i := 0; i < 301; i++ {
		status, header, body = limited.Do(t, http.MethodGet, "/api/v1/unknown/", nil)
		if status == 429 {
			break
		}
	}
	if status != 429 || header.Get("Retry-After") != "10" ||
		string(body) != `{"detail":"Too many requests. Try again in 10 seconds.","code":"too_many_requests"}` {
		t.Fatalf("301st request: %d Retry-After=%q %s", status, header.Get("Retry-After"), body)
	}

	for i := 0; i < 301; i++ {
		if st, _, b := unlimited.Do(t, http.MethodGet, "/api/v1/unknown/", nil); st != 404 {
			t.Fatalf("request %d with RATE_LIMITS_ENABLED=false: %d %s", i+1, st, b)
		}
	}
}

func TestStaticPagesWithoutRedirect(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	var first []byte
	for _, path := range []string{"/reset-password/", "/reset-password"} {
		st, h, body := s.Do(t, http.MethodGet, path, nil)
		if st != 200 || h.Get("Location") != "" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
			h.Get("Content-Security-Policy") != "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %v", path, st, h)
		}
		if first == nil {
			first = body
		} else if string(first) != string(body) {
			t.Fatal("both slash forms must serve the same page")
		}
	}
	if st, _, _ := s.Do(t, http.MethodGet, "/assets/reset-password.js", nil); st != 200 {
		t.Fatalf("page asset: %d", st)
	}
}
