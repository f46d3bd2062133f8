package secondfactor

import (
	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob applies the retention of §7.1 to the pending logins and the email codes, hourly:
// mfa_challenges and otp_codes ExpiredRowRetention (24 h) after expires_at.
const CleanupJob = "secondfactor.cleanup"

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, cfg *config.Config) {
	sched.AddRetention(CleanupJob, "0 35 * * * *",
		jobs.Retention{Table: "mfa_challenges", Columns: []string{"expires_at"}, Keep: cfg.ExpiredRowRetention},
		jobs.Retention{Table: colOTPCodes, Columns: []string{"expires_at"}, Keep: cfg.ExpiredRowRetention})
}
