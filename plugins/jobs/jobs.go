// Package jobs runs Gatehouse's scheduled work (outbox retries, key rotation, cleanups) with
// robfig/cron/v3: second-level schedules, one run at a time per job, panics recovered. The
// scheduler starts when the server starts and stops on termination; CLI commands and tests
// never run it, and tests call a job's function directly (Run).
package jobs

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/robfig/cron/v3"
)

// Scheduler owns the cron runner of one app.
type Scheduler struct {
	app  core.App
	cron *cron.Cron
	mu   sync.Mutex
	jobs map[string]func()
}

// New returns a scheduler for app that starts with the server and stops (waiting for running
// jobs) on termination. server.Register makes the one scheduler and passes it to the plugins.
func New(app core.App) *Scheduler {
	s := &Scheduler{app: app, jobs: map[string]func(){}}
	logger := cronLogger{app}
	s.cron = cron.New(cron.WithSeconds(), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "gatehouseJobsStart", Func: func(se *core.ServeEvent) error {
		s.cron.Start()
		return se.Next()
	}})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{Id: "gatehouseJobsStop", Func: func(te *core.TerminateEvent) error {
		<-s.cron.Stop().Done()
		return te.Next()
	}})
	return s
}

// Add schedules fn under a unique name with a 6-field spec (seconds first), e.g. "*/10 * * * * *".
func (s *Scheduler) Add(name, spec string, fn func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[name]; ok {
		return fmt.Errorf("jobs: %q already scheduled", name)
	}
	if _, err := s.cron.AddFunc(spec, fn); err != nil {
		return fmt.Errorf("jobs: %q: %w", name, err)
	}
	s.jobs[name] = fn
	return nil
}

// Run executes a job now, synchronously (tests and the `keys rotate`-style commands use it).
func (s *Scheduler) Run(name string) error {
	s.mu.Lock()
	fn, ok := s.jobs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("jobs: no job %q", name)
	}
	fn()
	return nil
}

type cronLogger struct{ app core.App }

func (l cronLogger) Info(msg string, kv ...any) { l.app.Logger().Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.app.Logger().Error("cron: "+msg, append(kv, slog.String("error", err.Error()))...)
}

// AddLogged schedules fn under name like Add; an error of fn, or of scheduling it, is logged
// with the job's name (the retention jobs use it).
func (s *Scheduler) AddLogged(name, spec string, fn func() error) {
	if err := s.Add(name, spec, func() {
		if err := fn(); err != nil {
			s.app.Logger().Error("job failed", "job", name, "error", err.Error())
		}
	}); err != nil {
		s.app.Logger().Error("job not scheduled", "job", name, "error", err.Error())
	}
}

// DeleteInBatches deletes the rows of table matching where (a SQL condition with params), 500
// at a time, and returns how many. Each batch's ids are found on a read connection and deleted
// by id (where checked again) on the write connection, so the single writer is held only for
// the deletes, never for the search: on a large table the last search (the one that finds
// nothing more) reads the whole table.
func DeleteInBatches(app core.App, table, where string, params dbx.Params) (int64, error) {
	var total int64
	for {
		var ids []any
		var batch []string
		if err := app.ConcurrentDB().NewQuery("SELECT id FROM " + table + " WHERE " + where + " LIMIT 500").Bind(params).Column(&batch); err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		for _, id := range batch {
			ids = append(ids, id)
		}
		res, err := app.NonconcurrentDB().Delete(table, dbx.And(dbx.In("id", ids...), dbx.NewExp(where, params))).Execute()
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if len(batch) < 500 {
			return total, nil
		}
	}
}

// Retention is one retention rule of §7.1: the rows of Table for which any of the date Columns
// is set and older than Keep (the first of those events that ended the row, plus Keep).
type Retention struct {
	Table   string
	Columns []string
	Keep    time.Duration
}

// ApplyRetention deletes what rules say is past retention at now (DeleteInBatches) and returns
// how many rows went.
func ApplyRetention(app core.App, now time.Time, rules ...Retention) (int64, error) {
	var total int64
	for _, r := range rules {
		conds := make([]string, len(r.Columns))
		for i, c := range r.Columns {
			conds[i] = "([[" + c + "]] != '' AND [[" + c + "]] < {:cutoff})"
		}
		n, err := DeleteInBatches(app, r.Table, strings.Join(conds, " OR "),
			dbx.Params{"cutoff": now.Add(-r.Keep).UTC().Format(types.DefaultDateLayout)})
		total += n
		if err != nil {
			return total, fmt.Errorf("jobs: retention of %s: %w", r.Table, err)
		}
	}
	return total, nil
}

// AddRetention schedules the rules as the job name (hourly specs, one minute per plugin).
func (s *Scheduler) AddRetention(name, spec string, rules ...Retention) {
	s.AddLogged(name, spec, func() error {
		_, err := ApplyRetention(s.app, time.Now(), rules...)
		return err
	})
}
