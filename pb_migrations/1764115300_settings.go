package pb_migrations

import (
	"os"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"gatehouse/plugins/apikit"
)

// Seeds PocketBase's settings at first start: the application name and the rate-limit rules of
// §7.2, enabled unless RATE_LIMITS_ENABLED=false. Afterwards the PocketBase setting (dashboard →
// Settings → Rate limiting) is authoritative (§1.14), so this runs once.
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
		s.RateLimits.Rules = apikit.DefaultRateLimitRules()
		return app.Save(s)
	}, func(app core.App) error {
		s := app.Settings()
		s.RateLimits.Enabled = false
		s.RateLimits.Rules = nil
		return app.Save(s)
	})
}
