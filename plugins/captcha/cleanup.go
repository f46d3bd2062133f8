package captcha

import (
	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob applies the retention of §7.1 to this plugin's collections, hourly:
// auth_failures rows AuthFailureRetention (24 h) after occurred_at, captcha_challenges
// ExpiredRowRetention (24 h) after expires_at.
const CleanupJob = "captcha.cleanup"

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, cfg *config.Config) {
	sched.AddRetention(CleanupJob, "0 29 * * * *",
		jobs.Retention{Table: colAuthFailures, Columns: []string{"occurred_at"}, Keep: cfg.AuthFailureRetention},
		jobs.Retention{Table: "captcha_challenges", Columns: []string{"expires_at"}, Keep: cfg.ExpiredRowRetention})
}
