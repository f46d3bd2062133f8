package signin

import (
	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob applies the retention of §7.1 to the reset links of both realms, hourly:
// password_reset_tokens ExpiredRowRetention (24 h) after expires_at.
const CleanupJob = "signin.cleanup"

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, cfg *config.Config) {
	sched.AddRetention(CleanupJob, "0 41 * * * *",
		jobs.Retention{Table: resetTokensCollection, Columns: []string{"expires_at"}, Keep: cfg.ExpiredRowRetention})
}
