package apikit

import (
	"cmp"
	"slices"

	"github.com/pocketbase/pocketbase/core"
)

// rateGroups are the endpoint groups of §7.2 with their per-IP limit (requests per 10 s).
var rateGroups = []struct {
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

// DefaultRateLimitRules is the rule table of §7.2. Every label ends in "/", which makes it a
// PocketBase prefix rule matching both slash forms with one counter; rules are stored longest
// label first so that ".../login/" never catches ".../login/verify-otp/".
func DefaultRateLimitRules() []core.RateLimitRule {
	var rules []core.RateLimitRule
	for _, g := range rateGroups {
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

// rateLimitWindow is the window (seconds) of the rule that limited the request: the <n> of the
// 429 answer of §7.2.
func rateLimitWindow(e *core.RequestEvent) int {
	audience := []string{core.RateLimitRuleAudienceAll, core.RateLimitRuleAudienceGuest}
	if e.Auth != nil {
		audience[1] = core.RateLimitRuleAudienceAuth
	}
	labels := []string{e.Request.Method + " " + e.Request.URL.Path, e.Request.URL.Path}
	if rule, ok := e.App.Settings().RateLimits.FindRateLimitRule(labels, audience...); ok && rule.Duration > 0 {
		return int(rule.Duration)
	}
	return 10
}
