package pb_migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Rate-limit rules for the dashboard's sign-in (issue 18). Without them the superuser routes of
// PocketBase fell under the global guest rule (300 / 10 s per IP), because the §7.2 table
// replaces PocketBase's own `*:auth` rules.
//
// PocketBase applies the first matching rule of a request: `_superusers:auth` (its tag of
// auth-with-password, auth-with-otp and auth-with-oauth2; one counter per route and IP) and the
// OTP-request and refresh rules. `_superusers:authPerHour` names no PocketBase tag: Gatehouse's
// superuser guard applies it to the same `auth` routes, on top of PocketBase's rule.
//
// For an existing data directory the rules are added to the stored setting whatever the operator
// changed there: they concern only routes no earlier rule named, so they undo no choice. A label
// the setting already has (an operator's own rule) is left as it is; `enabled` is not touched.
// Frozen copy: a later change is a new migration.
var superuserRateLimitRules = []core.RateLimitRule{
	{Label: "_superusers:auth", MaxRequests: 10, Duration: 10},
	{Label: "_superusers:requestOTP", MaxRequests: 10, Duration: 10},
	{Label: "_superusers:authRefresh", MaxRequests: 10, Duration: 10},
	{Label: "_superusers:authPerHour", MaxRequests: 30, Duration: 3600},
}

func init() {
	m.Register(func(app core.App) error {
		s := app.Settings()
		rules := slices.Clone(s.RateLimits.Rules)
		for _, add := range superuserRateLimitRules {
			if slices.ContainsFunc(rules, func(r core.RateLimitRule) bool { return r.Label == add.Label }) {
				continue
			}
			// keep the table longest label first (§7.2)
			at := slices.IndexFunc(rules, func(r core.RateLimitRule) bool { return len(r.Label) < len(add.Label) })
			if at < 0 {
				at = len(rules)
			}
			rules = slices.Insert(rules, at, add)
		}
		s.RateLimits.Rules = rules
		return app.Save(s)
	}, func(app core.App) error {
		s := app.Settings()
		s.RateLimits.Rules = slices.DeleteFunc(slices.Clone(s.RateLimits.Rules), func(r core.RateLimitRule) bool {
			return slices.Contains(superuserRateLimitRules, r)
		})
		return app.Save(s)
	})
}
