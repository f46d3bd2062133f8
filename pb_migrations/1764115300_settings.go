package pb_migrations

import (
	"cmp"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Seeds PocketBase's settings at first start: the application name and the rate-limit rules of
// §7.2, enabled unless RATE_LIMITS_ENABLED=false. Afterwards the PocketBase setting (dashboard →
// Settings → Rate limiting) is authoritative (§1.14), so this runs once.
//
// The rule table below is this migration's own frozen copy (a migration is a snapshot and
// imports no plugin): a later change to the rules is a new migration, like
// 1764115310_superuser_rate_limits.go.
func init() {
	m.Register(func(app core.App) error {
		s := app.Settings()
		s.Meta.AppName = "Gatehouse"
		enabled := true
		if v := strings.TrimSpace(os.Getenv("RATE_LIMITS_ENABLED")); v != "" {
			if b, err := strconv.ParseBool(v); err == nil {
				enabled = b
			}
		}
		s.RateLimits.Enabled = enabled
		s.RateLimits.Rules = settingsRateLimitRules()
		return app.Save(s)
	}, func(app core.App) error {
		s := app.Settings()
		s.RateLimits.Enabled = false
		s.RateLimits.Rules = nil
		return app.Save(s)
	})
}

// settingsRateGroups are the endpoint groups of §7.2 with their per-IP limit (requests per 10 s).
var settingsRateGroups = []struct {
	max    int
	labels []string
}{
	{10, []string{ // auth
		"POST /api/v1/users/register/", "POST /api/v1/users/login/", "POST /api/v1/token/obtain/", "POST /token/",
		"POST /api/v1/users/login/verify-otp/", "POST /api/v1/users/password/change/",
		"POST /api/v1/users/profile/reset-password/", "POST /api/v1/users/password/forgot/",
		"GET /api/v1/users/password/reset/", "POST /api/v1/users/password/reset/",
		"POST /api/v1/users/2fa/enable/", "POST /api/v1/users/2fa/disable/", "POST /api/v1/users/2fa/request-otp/",
		"POST /api/v1/users/2fa/request-otp-authenticated/", "POST /api/v1/users/verify-disable-otp/",
		"POST /api/v1/hdts/employees/api/register/", "POST /api/v1/hdts/employees/api/login/",
		"POST /api/v1/hdts/employees/api/profile/change-password/", "POST /api/v1/hdts/employees/api/password/forgot/",
		"POST /api/v1/hdts/employees/api/password/reset/", "POST /api/v1/hdts/employees/api/2fa/enable/",
		"POST /api/v1/hdts/employees/api/2fa/disable/", "POST /api/v1/hdts/employees/api/2fa/request-otp/",
		"POST /api/v1/hdts/employees/api/2fa/verify-otp/",
		"GET /api/v1/invitations/accept/", "POST /api/v1/invitations/accept/",
	}},
	{20, []string{ // captcha
		"POST /api/v1/users/captcha/generate/", "GET /api/v1/users/captcha/required/", "POST /api/v1/users/captcha/verify/",
	}},
	{1000, []string{"POST /api/v1/token/verify/"}}, // verify
}

// settingsRateLimitRules is the rule table of §7.2. Every label ends in "/", which makes it a
// PocketBase prefix rule matching both slash forms with one counter; rules are stored longest
// label first so that ".../login/" never catches ".../login/verify-otp/".
func settingsRateLimitRules() []core.RateLimitRule {
	var rules []core.RateLimitRule
	for _, g := range settingsRateGroups {
		for _, l := range g.labels {
			rules = append(rules, core.RateLimitRule{Label: l, MaxRequests: g.max, Duration: 10})
		}
	}
	for _, prefix := range []string{"/api/", "/token/"} {
		rules = append(rules,
			core.RateLimitRule{Label: prefix, MaxRequests: 300, Duration: 10, Audience: core.RateLimitRuleAudienceGuest},
			core.RateLimitRule{Label: prefix, MaxRequests: 3000, Duration: 10, Audience: core.RateLimitRuleAudienceAuth},
		)
	}
	slices.SortStableFunc(rules, func(a, b core.RateLimitRule) int { return cmp.Compare(len(b.Label), len(a.Label)) })
	return rules
}
