package superusers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/superusers"
	"gatehouse/testkit"
)

const (
	rootEmail    = "root@example.com"
	rootPassword = "root-password-1234"
	failedAuth   = `{"data":{},"message":"Failed to authenticate.","status":400}`
	tooMany      = `{"data":{},"message":"Too Many Requests.","status":429}`
)

type site struct {
	t      *testing.T
	app    *tests.TestApp
	url    string
	rootID string
}

// newSite serves an app with the guard and one superuser; rules replaces the rate-limit rules
// (enabled) unless nil.
func newSite(t *testing.T, rules []core.RateLimitRule) *site {
	t.Helper()
	app := testkit.NewApp(t, func(app *tests.TestApp) { superusers.Register(app) })
	col, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		t.Fatal(err)
	}
	col.Fields.GetByName("password").(*core.PasswordField).Cost = testkit.TestPasswordCost
	if err := app.Save(col); err != nil {
		t.Fatal(err)
	}
	root := core.NewRecord(col)
	root.SetEmail(rootEmail)
	root.SetPassword(rootPassword)
	if err := app.Save(root); err != nil {
		t.Fatal(err)
	}
	if rules != nil {
		s := app.Settings()
		s.RateLimits.Enabled = true
		s.RateLimits.Rules = rules
		if err := app.Save(s); err != nil {
			t.Fatal(err)
		}
	}
	return &site{t: t, app: app, url: testkit.Serve(t, app).URL, rootID: root.Id}
}

func (s *site) post(path string, body any) (int, string, error) {
	raw, _ := json.Marshal(body)
	res, err := http.Post(s.url+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(out)), err
}

func (s *site) signIn(identity, password string) (int, string) {
	s.t.Helper()
	status, body, err := s.post("/api/collections/_superusers/auth-with-password", map[string]string{"identity": identity, "password": password})
	if err != nil {
		s.t.Fatal(err)
	}
	return status, body
}

func (s *site) failures() []*core.Record {
	s.t.Helper()
	rows, err := s.app.FindAllRecords("audit_log", dbx.HashExp{"event": superusers.FailureEvent})
	if err != nil {
		s.t.Fatal(err)
	}
	return rows
}

func TestFailedSignInsAreAudited(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)

	status, body := s.signIn(rootEmail, "wrong-password")
	if status != 400 || body != failedAuth {
		t.Fatalf("wrong password: %d %s", status, body)
	}
	status, body = s.signIn("nobody@example.com", "wrong-password")
	if status != 400 || body != failedAuth {
		t.Fatalf("unknown identity: %d %s", status, body)
	}
	status, body, err := s.post("/api/collections/_superusers/auth-with-password", map[string]string{"identity": rootEmail})
	if err != nil || status != 400 || !strings.Contains(body, `"password":{"code":"validation_required"`) {
		t.Fatalf("no password: %d %s %v", status, body, err)
	}
	status, body, err = s.post("/api/collections/_superusers/auth-with-otp", map[string]string{"otpId": "nope", "password": "123456"})
	if err != nil || status != 403 || !strings.Contains(body, "not configured to allow OTP") {
		t.Fatalf("otp: %d %s %v", status, body, err)
	}

	rows := s.failures()
	if len(rows) != 4 {
		t.Fatalf("%d failure rows, want 4", len(rows))
	}
	want := []struct {
		target, method, identity, message string
		status                            float64
	}{
		{s.rootID, "password", rootEmail, "Failed to authenticate.", 400},
		{"", "password", "nobody@example.com", "Failed to authenticate.", 400},
		{"", "password", "", "An error occurred while validating the submitted data.", 400},
		{"", "otp", "", "The collection is not configured to allow OTP authentication.", 403},
	}
	for i, r := range rows {
		var d map[string]any
		if err := r.UnmarshalJSONField("details", &d); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		identity, _ := d["identity"].(string)
		if r.GetBool("success") || r.GetString("ip") != "127.0.0.1" || r.GetString("actor_type") != "anonymous" ||
			r.GetString("target_type") != "superuser" || r.GetString("target_id") != w.target ||
			d["method"] != w.method || identity != w.identity || d["message"] != w.message || d["status"] != w.status {
			t.Errorf("row %d: %v details %v, want %+v", i, r.PublicExport(), d, w)
		}
		raw := r.GetString("details")
		if strings.Contains(raw, "wrong-password") || strings.Contains(raw, "123456") {
			t.Errorf("row %d holds a secret: %s", i, raw)
		}
	}

	// a right password signs in and writes no failure; another collection is not watched
	if status, body := s.signIn(rootEmail, rootPassword); status != 200 || !strings.Contains(body, `"token":"`) {
		t.Fatalf("right password: %d %s", status, body)
	}
	if status, _, err := s.post("/api/collections/users/auth-with-password", map[string]string{"identity": "a@b.c", "password": "x"}); err != nil || status != 403 {
		t.Fatalf("users sign-in: %d %v", status, err)
	}
	if n := len(s.failures()); n != 4 {
		t.Fatalf("%d failure rows after a success and a users sign-in, want 4", n)
	}
}

// Passing the first factor when MFA is on is no failure.
func TestMFARequiredIsNoFailure(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	col, _ := s.app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	col.MFA.Enabled = true
	col.OTP.Enabled = true
	if err := s.app.Save(col); err != nil {
		t.Fatal(err)
	}
	status, body := s.signIn(rootEmail, rootPassword)
	if status != 401 || !strings.Contains(body, `"mfaId":"`) {
		t.Fatalf("first factor: %d %s", status, body)
	}
	if n := len(s.failures()); n != 0 {
		t.Fatalf("%d failure rows, want 0", n)
	}
}

// The hourly rule holds under a burst: of 20 sign-ins released together with a budget of 5,
// exactly 5 reach PocketBase (and are audited) and 15 get PocketBase's 429.
func TestHourlyRuleUnderABurst(t *testing.T) {
	t.Parallel()
	s := newSite(t, []core.RateLimitRule{{Label: superusers.HourlyRuleLabel, MaxRequests: 5, Duration: 3600}})
	var mu sync.Mutex
	var limited, failed int
	testkit.Concurrently(t, 20, func() (bool, error) {
		status, body, err := s.post("/api/collections/_superusers/auth-with-password", map[string]string{"identity": rootEmail, "password": "wrong-password"})
		if err != nil {
			return false, err
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case status == 429 && body == tooMany:
			limited++
		case status == 400 && body == failedAuth:
			failed++
		default:
			t.Errorf("answer %d %s", status, body)
		}
		return true, nil
	})
	if failed != 5 || limited != 15 {
		t.Fatalf("failed=%d limited=%d, want 5 and 15", failed, limited)
	}
	if n := len(s.failures()); n != 5 {
		t.Fatalf("%d failure rows, want 5 (a refused request is not audited)", n)
	}
	// the right password is refused too until the hour ends
	if status, body := s.signIn(rootEmail, rootPassword); status != 429 || body != tooMany {
		t.Fatalf("right password within the hour: %d %s", status, body)
	}
}

// The rule is PocketBase's setting: off with rate limiting, not for excluded IPs, gone when
// deleted, and the other routes are not counted.
func TestHourlyRuleFollowsTheSetting(t *testing.T) {
	t.Parallel()
	rule := core.RateLimitRule{Label: superusers.HourlyRuleLabel, MaxRequests: 1, Duration: 3600}
	cases := []struct {
		name   string
		change func(*core.Settings)
		want   []int
	}{
		{"as stored", func(*core.Settings) {}, []int{400, 429, 429}},
		{"rate limiting off", func(s *core.Settings) { s.RateLimits.Enabled = false }, []int{400, 400, 400}},
		{"excluded ip", func(s *core.Settings) { s.RateLimits.ExcludedIPs = []string{"127.0.0.0/8"} }, []int{400, 400, 400}},
		{"rule deleted", func(s *core.Settings) {
			s.RateLimits.Rules = []core.RateLimitRule{{Label: "/nothing", MaxRequests: 9, Duration: 1}}
		}, []int{400, 400, 400}},
		{"for authenticated callers only", func(s *core.Settings) {
			s.RateLimits.Rules = []core.RateLimitRule{{Label: rule.Label, MaxRequests: 1, Duration: 3600, Audience: core.RateLimitRuleAudienceAuth}}
		}, []int{400, 400, 400}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, []core.RateLimitRule{rule})
			c.change(s.app.Settings())
			if err := s.app.Save(s.app.Settings()); err != nil {
				t.Fatal(err)
			}
			// not a sign-in route: never counted
			if status, _, err := s.post("/api/collections/_superusers/request-password-reset", map[string]string{"email": rootEmail}); err != nil || status != 204 {
				t.Fatalf("request-password-reset: %d %v", status, err)
			}
			for i, want := range c.want {
				s.t = t
				if status, _ := s.signIn(rootEmail, "wrong-password"); status != want {
					t.Fatalf("attempt %d: %d, want %d", i+1, status, want)
				}
			}
		})
	}
}

// With the migrated rules, PocketBase's `_superusers:auth` rule refuses the 11th sign-in from one
// IP within 10 s; the refused one is not audited.
func TestMigratedRulesLimitSignIns(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.app.Settings().RateLimits.Enabled = true
	if err := s.app.Save(s.app.Settings()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		if status, body := s.signIn(rootEmail, "wrong-password"); status != 400 || body != failedAuth {
			t.Fatalf("attempt %d: %d %s", i, status, body)
		}
	}
	if status, body := s.signIn(rootEmail, rootPassword); status != 429 || body != tooMany {
		t.Fatalf("11th: %d %s", status, body)
	}
	if n := len(s.failures()); n != 10 {
		t.Fatalf("%d failure rows, want 10", n)
	}
}
