package directory

import (
	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob applies the retention of §7.1 to invitations, hourly: deleted InvitationRetention
// (30 days) after acceptance, revocation or expiry, whichever came first.
const CleanupJob = "directory.cleanupInvitations"

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, cfg *config.Config) {
	sched.AddRetention(CleanupJob, "0 47 * * * *",
		jobs.Retention{Table: colInvitations, Columns: []string{"accepted_at", "revoked_at", "expires_at"}, Keep: cfg.InvitationRetention})
}
