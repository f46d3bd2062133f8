package pb_migrations

import (
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// HEAD is counted like GET on the three GET endpoints of the §7.2 `auth` and `captcha` groups
// (§1.1: HEAD is answered exactly like GET). PocketBase's limiter labels a request
// "<METHOD> <path>", and then "<path>"; a rule "GET /x/" never matches "HEAD /x", so HEAD fell
// to the global `/api/` rule (300 / 10 s instead of 10 or 20). Each rule "GET /x/" becomes the
// method-less rule "/x/": GET and HEAD (and a stray PUT or DELETE, answered 405) of that path
// share its one counter (PocketBase keys the counter by rule label and audience), while the
// "POST /x/" rule, matched first by its method label, keeps its own counter as before. CORS
// preflights (OPTIONS) are answered before the limiter runs and are not counted.
//
// For an existing data directory the stored setting is edited in place: a rule "GET /x/" keeps
// the operator's numbers and audience under its new label; a rule the operator removed stays
// removed, and a label "/x/" the operator already uses keeps the operator's rule (the GET rule
// is then left as it was). `enabled` is not touched. Renamed rules move to keep the table
// longest label first (a "/x/" rule must come before "/api/"). Frozen copy: a later change is a
// new migration.
var headRateLimitLabels = []string{
	"GET /api/v1/users/password/reset/",
	"GET /api/v1/invitations/accept/",
	"GET /api/v1/users/captcha/required/",
}

func init() {
	m.Register(func(app core.App) error {
		s := app.Settings()
		rules := slices.Clone(s.RateLimits.Rules)
		for _, from := range headRateLimitLabels {
			rules = renameRateLimitRule(rules, from, strings.TrimPrefix(from, "GET "))
		}
		s.RateLimits.Rules = rules
		return app.Save(s)
	}, func(app core.App) error {
		s := app.Settings()
		rules := slices.Clone(s.RateLimits.Rules)
		for _, to := range headRateLimitLabels {
			rules = renameRateLimitRule(rules, strings.TrimPrefix(to, "GET "), to)
		}
		s.RateLimits.Rules = rules
		return app.Save(s)
	})
}

// renameRateLimitRule gives the rules labelled from (one per audience) the label to, unless a
// rule already has label to, and moves them to the place of their new length in a table sorted
// longest label first.
func renameRateLimitRule(rules []core.RateLimitRule, from, to string) []core.RateLimitRule {
	if slices.ContainsFunc(rules, func(r core.RateLimitRule) bool { return r.Label == to }) {
		return rules
	}
	var moved []core.RateLimitRule
	rules = slices.DeleteFunc(rules, func(r core.RateLimitRule) bool {
		if r.Label != from {
			return false
		}
		r.Label = to
		moved = append(moved, r)
		return true
	})
	for _, r := range moved {
		at := slices.IndexFunc(rules, func(o core.RateLimitRule) bool { return len(o.Label) < len(r.Label) })
		if at < 0 {
			at = len(rules)
		}
		rules = slices.Insert(rules, at, r)
	}
	return rules
}
