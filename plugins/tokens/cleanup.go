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

// ScheduleCleanup schedules CleanupJob on app's job scheduler.
func ScheduleCleanup(app core.App, cfg *config.Config) {
	if err := jobs.For(app).Add(CleanupJob, "0 23 * * * *", func() {
		if _, err := CleanupSessions(app, cfg, time.Now()); err != nil {
			app.Logger().Error("tokens: session cleanup", "error", err.Error())
		}
	}); err != nil {
		app.Logger().Error("tokens: schedule session cleanup", "error", err.Error())
	}
}

// CleanupSessions deletes the sessions revoked or expired before now - SessionRetention, in
// batches of 500 (the write connection is never held long), and returns how many it deleted.
func CleanupSessions(app core.App, cfg *config.Config, now time.Time) (int64, error) {
	cutoff := now.Add(-cfg.SessionRetention).UTC().Format(types.DefaultDateLayout)
	var total int64
	for {
		res, err := app.NonconcurrentDB().NewQuery(`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions
			WHERE (revoked_at != '' AND revoked_at < {:c}) OR (expires_at != '' AND expires_at < {:c})
			   OR (absolute_expires_at != '' AND absolute_expires_at < {:c}) LIMIT 500)`).
			Bind(dbx.Params{"c": cutoff}).Execute()
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 500 {
			return total, nil
		}
	}
}
