package tokens

import (
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob deletes revoked or expired sessions SessionRetention (30 days, §7.1) after their
// revocation or expiry (idle or absolute), hourly. Nothing references a session row.
const CleanupJob = "tokens.cleanupSessions"

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, app core.App, cfg *config.Config) {
	sched.AddLogged(CleanupJob, "0 23 * * * *", func() error {
		_, err := CleanupSessions(app, cfg, time.Now())
		return err
	})
}

// CleanupSessions deletes the sessions revoked or expired before now - SessionRetention, in
// batches (jobs.DeleteInBatches), and returns how many it deleted.
func CleanupSessions(app core.App, cfg *config.Config, now time.Time) (int64, error) {
	cutoff := now.Add(-cfg.SessionRetention).UTC().Format(types.DefaultDateLayout)
	return jobs.DeleteInBatches(app, "sessions", `(revoked_at != '' AND revoked_at < {:c}) OR (expires_at != '' AND expires_at < {:c})
		OR (absolute_expires_at != '' AND absolute_expires_at < {:c})`, dbx.Params{"c": cutoff})
}
