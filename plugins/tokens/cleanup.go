package tokens

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob deletes revoked or expired sessions SessionRetention (30 days, §7.1) after their
// revocation or expiry (idle or absolute), hourly. Nothing references a session row.
const CleanupJob = "tokens.cleanupSessions"

func sessionRetention(cfg *config.Config) jobs.Retention {
	return jobs.Retention{Table: "sessions", Columns: []string{"revoked_at", "expires_at", "absolute_expires_at"}, Keep: cfg.SessionRetention}
}

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, cfg *config.Config) {
	sched.AddRetention(CleanupJob, "0 23 * * * *", sessionRetention(cfg))
}

// CleanupSessions deletes the sessions past retention at now and returns how many.
func CleanupSessions(app core.App, cfg *config.Config, now time.Time) (int64, error) {
	return jobs.ApplyRetention(app, now, sessionRetention(cfg))
}
