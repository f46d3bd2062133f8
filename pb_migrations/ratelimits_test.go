package pb_migrations

import (
	"slices"
	"testing"

	"github.com/pocketbase/pocketbase/core"
)

// The rules the migrations store, looked up the way PocketBase's limiter looks them up.
func TestRateLimitRules(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	cfg := app.Settings().RateLimits
	cfg.Enabled = true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("rules do not validate: %v", err)
	}
	for i := 1; i < len(cfg.Rules); i++ {
		if len(cfg.Rules[i].Label) > len(cfg.Rules[i-1].Label) {
			t.Errorf("rule %d %q is longer than the one before it (%q)", i, cfg.Rules[i].Label, cfg.Rules[i-1].Label)
		}
	}
	// PocketBase's labels for a collection auth route: "<collection>:<action>", "<collection>:<tag>",
	// the "*:" forms, then method+path and path.
	superuser := func(action, tag, path string) []string {
		labels := []string{"_superusers:" + action}
		if tag != "" {
			labels = append(labels, "_superusers:"+tag)
		}
		labels = append(labels, "*:"+action)
		if tag != "" {
			labels = append(labels, "*:"+tag)
		}
		return append(labels, "POST /api/collections/_superusers/"+path, "/api/collections/_superusers/"+path)
	}
	cases := []struct {
		labels   []string
		audience string
		want     string
		max      int
		window   int64
	}{
		{[]string{"POST /api/v1/users/login/verify-otp", "/api/v1/users/login/verify-otp"}, "@guest", "POST /api/v1/users/login/verify-otp/", 10, 10},
		{[]string{"POST /api/v1/users/login", "/api/v1/users/login"}, "@guest", "POST /api/v1/users/login/", 10, 10},
		{[]string{"POST /api/v1/users/login/", "/api/v1/users/login/"}, "@auth", "POST /api/v1/users/login/", 10, 10},
		// the GET endpoints of the groups: HEAD matches the same method-less rule (one counter)
		{[]string{"GET /api/v1/users/captcha/required", "/api/v1/users/captcha/required"}, "@guest", "/api/v1/users/captcha/required/", 20, 10},
		{[]string{"HEAD /api/v1/users/captcha/required/", "/api/v1/users/captcha/required/"}, "@guest", "/api/v1/users/captcha/required/", 20, 10},
		{[]string{"GET /api/v1/users/password/reset", "/api/v1/users/password/reset"}, "@guest", "/api/v1/users/password/reset/", 10, 10},
		{[]string{"HEAD /api/v1/users/password/reset", "/api/v1/users/password/reset"}, "@auth", "/api/v1/users/password/reset/", 10, 10},
		{[]string{"POST /api/v1/users/password/reset", "/api/v1/users/password/reset"}, "@guest", "POST /api/v1/users/password/reset/", 10, 10},
		{[]string{"HEAD /api/v1/invitations/accept/", "/api/v1/invitations/accept/"}, "@guest", "/api/v1/invitations/accept/", 10, 10},
		{[]string{"POST /api/v1/invitations/accept/", "/api/v1/invitations/accept/"}, "@guest", "POST /api/v1/invitations/accept/", 10, 10},
		{[]string{"POST /api/v1/token/verify/", "/api/v1/token/verify/"}, "@guest", "POST /api/v1/token/verify/", 1000, 10},
		{[]string{"GET /api/v1/systems/public/", "/api/v1/systems/public/"}, "@guest", "/api/", 300, 10},
		{[]string{"GET /api/v1/systems/public/", "/api/v1/systems/public/"}, "@auth", "/api/", 3000, 10},
		{[]string{"POST /token", "/token"}, "@guest", "POST /token/", 10, 10},
		{superuser("authWithPassword", "auth", "auth-with-password"), "@guest", "_superusers:auth", 10, 10},
		{superuser("authWithOTP", "auth", "auth-with-otp"), "@guest", "_superusers:auth", 10, 10},
		{superuser("authWithOAuth2", "auth", "auth-with-oauth2"), "@guest", "_superusers:auth", 10, 10},
		{superuser("requestOTP", "", "request-otp"), "@guest", "_superusers:requestOTP", 10, 10},
		{superuser("authRefresh", "", "auth-refresh"), "@guest", "_superusers:authRefresh", 10, 10},
		{[]string{"_superusers:authPerHour"}, "@guest", "_superusers:authPerHour", 30, 3600},
		// other collections keep the global rule
		{[]string{"users:authWithPassword", "users:auth", "*:authWithPassword", "*:auth", "POST /api/collections/users/auth-with-password", "/api/collections/users/auth-with-password"}, "@guest", "/api/", 300, 10},
	}
	for _, c := range cases {
		rule, ok := cfg.FindRateLimitRule(c.labels, "", c.audience)
		if !ok || rule.Label != c.want || rule.MaxRequests != c.max || rule.Duration != c.window {
			t.Errorf("%v (%s): got %+v ok=%v, want %s %d/%ds", c.labels, c.audience, rule, ok, c.want, c.max, c.window)
		}
	}
	if _, ok := cfg.FindRateLimitRule([]string{"GET /.well-known/jwks.json", "/.well-known/jwks.json"}, "", "@guest"); ok {
		t.Error("jwks must not be rate-limited")
	}
}

func superuserRulesMigration(t *testing.T) *core.Migration {
	t.Helper()
	for _, item := range core.AppMigrations.Items() {
		if item.File == "1764115310_superuser_rate_limits.go" {
			return item
		}
	}
	t.Fatal("migration 1764115310_superuser_rate_limits.go not registered")
	return nil
}

// An existing data directory whose operator edited the rate-limit setting gets the superuser
// rules it lacks; a label the operator already uses keeps the operator's rule, and `enabled`
// stays as it was. Down removes only the rules the migration added unchanged.
func TestSuperuserRulesOnAnExistingDataDir(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	own := core.RateLimitRule{Label: "_superusers:auth", MaxRequests: 3, Duration: 60}
	other := core.RateLimitRule{Label: "/api/", MaxRequests: 100, Duration: 10}
	s := app.Settings()
	s.RateLimits.Enabled = false
	s.RateLimits.Rules = []core.RateLimitRule{other, own}
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}

	mig := superuserRulesMigration(t)
	if err := mig.Up(app); err != nil {
		t.Fatalf("up: %v", err)
	}
	got := app.Settings().RateLimits
	want := []core.RateLimitRule{
		{Label: "_superusers:authRefresh", MaxRequests: 10, Duration: 10},
		{Label: "_superusers:authPerHour", MaxRequests: 30, Duration: 3600},
		{Label: "_superusers:requestOTP", MaxRequests: 10, Duration: 10},
		other, own,
	}
	if got.Enabled || !slices.Equal(got.Rules, want) {
		t.Fatalf("after up: enabled=%v rules=%+v, want disabled %+v", got.Enabled, got.Rules, want)
	}
	// stored, not only cached
	if err := app.ReloadSettings(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(app.Settings().RateLimits.Rules, want) {
		t.Fatalf("stored rules differ: %+v", app.Settings().RateLimits.Rules)
	}

	// a second run adds nothing
	if err := mig.Up(app); err != nil || !slices.Equal(app.Settings().RateLimits.Rules, want) {
		t.Fatalf("second up: %v %+v", err, app.Settings().RateLimits.Rules)
	}

	if err := mig.Down(app); err != nil {
		t.Fatalf("down: %v", err)
	}
	if rules := app.Settings().RateLimits.Rules; !slices.Equal(rules, []core.RateLimitRule{other, own}) {
		t.Fatalf("after down: %+v", rules)
	}
}

func migration(t *testing.T, file string) *core.Migration {
	t.Helper()
	for _, item := range core.AppMigrations.Items() {
		if item.File == file {
			return item
		}
	}
	t.Fatalf("migration %s not registered", file)
	return nil
}

// 1764116100 on an existing data directory: a GET rule becomes the method-less rule with the
// operator's numbers and audiences, in its place of the longest-first table; a GET rule the
// operator removed stays removed; a method-less label the operator already has wins over the
// GET rule; `enabled` is kept. Down restores the GET labels.
func TestHeadRulesOnAnExistingDataDir(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	mig := migration(t, "1764116100_head_rate_limits.go")
	if err := mig.Down(app); err != nil { // the data dir as it was before 1764116100
		t.Fatalf("down: %v", err)
	}
	post := core.RateLimitRule{Label: "POST /api/v1/users/password/reset/", MaxRequests: 10, Duration: 10}
	resetGuest := core.RateLimitRule{Label: "GET /api/v1/users/password/reset/", MaxRequests: 4, Duration: 60, Audience: core.RateLimitRuleAudienceGuest}
	resetAuth := core.RateLimitRule{Label: "GET /api/v1/users/password/reset/", MaxRequests: 40, Duration: 60, Audience: core.RateLimitRuleAudienceAuth}
	captchaGet := core.RateLimitRule{Label: "GET /api/v1/users/captcha/required/", MaxRequests: 20, Duration: 10}
	captchaOwn := core.RateLimitRule{Label: "/api/v1/users/captcha/required/", MaxRequests: 7, Duration: 10}
	api := core.RateLimitRule{Label: "/api/", MaxRequests: 300, Duration: 10}
	// no rule for GET /api/v1/invitations/accept/: the operator removed it
	s := app.Settings()
	s.RateLimits.Enabled = false
	s.RateLimits.Rules = []core.RateLimitRule{captchaGet, post, resetGuest, resetAuth, captchaOwn, api} // longest first
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}

	if err := mig.Up(app); err != nil {
		t.Fatalf("up: %v", err)
	}
	renamedGuest, renamedAuth := resetGuest, resetAuth
	renamedGuest.Label, renamedAuth.Label = "/api/v1/users/password/reset/", "/api/v1/users/password/reset/"
	want := []core.RateLimitRule{captchaGet, post, captchaOwn, renamedGuest, renamedAuth, api}
	if err := app.ReloadSettings(); err != nil { // stored, not only cached
		t.Fatal(err)
	}
	got := app.Settings().RateLimits
	if got.Enabled || !slices.Equal(got.Rules, want) {
		t.Fatalf("after up: enabled=%v rules=%+v, want disabled %+v", got.Enabled, got.Rules, want)
	}
	got.Enabled = true
	for _, method := range []string{"GET", "HEAD"} {
		rule, ok := got.FindRateLimitRule([]string{method + " /api/v1/users/password/reset", "/api/v1/users/password/reset"}, "", "@guest")
		if !ok || rule != renamedGuest {
			t.Errorf("%s reset: %+v %v, want %+v", method, rule, ok, renamedGuest)
		}
	}
	if err := mig.Up(app); err != nil || !slices.Equal(app.Settings().RateLimits.Rules, want) {
		t.Fatalf("second up: %v %+v", err, app.Settings().RateLimits.Rules)
	}

	if err := mig.Down(app); err != nil {
		t.Fatalf("down: %v", err)
	}
	back := []core.RateLimitRule{captchaGet, post, resetGuest, resetAuth, captchaOwn, api}
	if rules := app.Settings().RateLimits.Rules; !slices.Equal(rules, back) {
		t.Fatalf("after down: %+v, want %+v", rules, back)
	}
}
