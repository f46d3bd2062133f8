package captcha

import (
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// CleanupJob applies the retention of §7.1 to this plugin's collections, hourly:
// auth_failures rows AuthFailureRetention (24 h) after occurred_at, captcha_challenges
// ExpiredRowRetention (24 h) after expires_at.
const CleanupJob = "captcha.cleanup"

// ScheduleCleanup schedules CleanupJob on sched.
func ScheduleCleanup(sched *jobs.Scheduler, app core.App, cfg *config.Config) {
	sched.AddLogged(CleanupJob, "0 29 * * * *", func() error {
		_, err := Cleanup(app, cfg, time.Now())
		return err
	})
}

// Cleanup deletes the rows past retention at now, in batches (jobs.DeleteInBatches), and
// returns how many.
func Cleanup(app core.App, cfg *config.Config, now time.Time) (int64, error) {
	var total int64
	for _, q := range []struct {
		table, column string
		keep          time.Duration
	}{
		{"auth_failures", "occurred_at", cfg.AuthFailureRetention},
		{"captcha_challenges", "expires_at", cfg.ExpiredRowRetention},
	} {
		cutoff := now.Add(-q.keep).UTC().Format(types.DefaultDateLayout)
		n, err := jobs.DeleteInBatches(app, q.table, q.column+" != '' AND "+q.column+" < {:c}", dbx.Params{"c": cutoff})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
