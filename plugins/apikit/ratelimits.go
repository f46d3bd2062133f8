package apikit

import (
	"github.com/pocketbase/pocketbase/core"
)

// The rule table of §7.2 is seeded by the migrations (pb_migrations/1764115300_settings.go and
// 1764115310_superuser_rate_limits.go); afterwards PocketBase's setting is authoritative.

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
