// Package mailer is Gatehouse's email delivery (spec/API.md §2.17, Appendix B, §1.15, §7.1).
//
// Every email is rendered from a template (embedded, overridable from <dataDir>/email_templates)
// and written to the email_outbox collection by Queue, inside the caller's transaction. Nothing
// is ever sent synchronously:
//
//   - First attempt: the outbox record's after-create-success hook (PocketBase runs it after the
//     transaction that queued the mail has committed; a rolled-back transaction never fires it)
//     starts a goroutine that sends the row.
//   - Retries: the job "mailer.retry" runs every 10 s and sends pending rows whose
//     next_attempt_at has passed. Attempt n failing stores attempts = n, last_error and
//     next_attempt_at = now + OutboxRetryDelays[n-1]; the attempt after the last delay
//     (5 in all) failing sets status "failed".
//   - Claiming: before sending, an attempt claims the row with one atomic UPDATE ... WHERE
//     id = ? AND status = 'pending' AND attempts = <attempts seen>, which also increments
//     attempts and moves next_attempt_at to the end of the retry delay (a lease). Only the
//     caller whose UPDATE changed the row sends, so the hook's goroutine, the cron job and a
//     second process can never send the same attempt twice; a process that dies mid-send leaves
//     a row the job picks up again once the lease has passed (at-least-once delivery).
//   - SMTP not configured (neither SMTP_HOST nor the dashboard's SMTP switch): Queue stores the
//     row with status "disabled" and the hook logs one line (recipient, template, record id; the
//     body only to stderr in dev mode). Disabled rows are never retried, not even once SMTP is
//     configured later: they stay as they are (a superuser may set one back to "pending" in the
//     dashboard, which the retry job then sends). A row created "pending" while SMTP is off
//     becomes "disabled"; pending rows already waiting for a retry are left alone while SMTP is
//     off and resume when it is back.
//   - Retention: the job "mailer.cleanup" (hourly) blanks text_body and html_body of rows
//     whose sent_at is older than OutboxBodyRetention (7 days), and of failed or disabled rows
//     created longer ago than that (never sent, same secrets).
//
// Delivery uses go-mail with PocketBase's SMTP settings and the SMTP_* / MAIL_FROM overrides of
// config.Config. PocketBase's own mails (superuser OTP, backup alerts...) go through go-mail too
// (an OnMailerSend handler at priority -100000; tests.TestApp's TestMailer, at -99999, still
// wins in unit tests). Outbox updates by delivery are direct SQL updates: they skip record hooks.
package mailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
)

// Outbox statuses (§2.17).
const (
	StatusPending  = "pending"
	StatusSent     = "sent"
	StatusFailed   = "failed"
	StatusDisabled = "disabled"
)

// Job names (plugins/jobs), added by Schedule.
const (
	RetryJob   = "mailer.retry"
	CleanupJob = "mailer.cleanup"
)

const (
	outbox     = "email_outbox"
	storeKey   = "gatehouse.mailer"
	retryBatch = 25
)

// Mailer queues and delivers the emails of one app.
type Mailer struct {
	app core.App
	cfg *config.Config

	ctx    context.Context // cancelled on termination: aborts SMTP conversations
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup

	now func() time.Time
}

// Register wires delivery into app and returns the mailer; server.Register passes it to the
// plugins that send mail. Touches no data at registration. A second call returns the first
// instance.
func Register(app core.App, cfg *config.Config) *Mailer {
	if m := registered(app); m != nil {
		return m
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mailer{app: app, cfg: cfg, ctx: ctx, cancel: cancel, now: func() time.Time { return time.Now().UTC() }}
	app.Store().Set(storeKey, m)

	app.OnRecordAfterCreateSuccess(outbox).Bind(&hook.Handler[*core.RecordEvent]{
		Id:   "gatehouseMailerDeliver",
		Func: m.afterCreate,
	})
	app.OnMailerSend().Bind(&hook.Handler[*core.MailerEvent]{
		Id:       "gatehouseMailerGoMail",
		Priority: -100000, // before tests.TestApp's TestMailer (-99999), so tests never send
		Func: func(e *core.MailerEvent) error {
			if smtpConfigured(e.App, cfg) {
				e.Mailer = &goMailer{app: e.App, cfg: cfg, ctx: m.ctx}
			}
			return e.Next()
		},
	})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id:       "gatehouseMailerStop",
		Priority: -10, // before the job scheduler waits for running jobs
		Func: func(e *core.TerminateEvent) error {
			m.stop()
			return e.Next()
		},
	})

	return m
}

// Schedule adds the outbox jobs to sched: retries every 10 s, old bodies blanked hourly.
func (m *Mailer) Schedule(sched *jobs.Scheduler) {
	for name, spec := range map[string]string{RetryJob: "*/10 * * * * *", CleanupJob: "0 17 * * * *"} {
		fn := m.retryDue
		if name == CleanupJob {
			fn = m.blankOldBodies
		}
		if err := sched.Add(name, spec, fn); err != nil {
			m.app.Logger().Error("mailer: schedule job", "job", name, "error", err.Error())
		}
	}
}

// registered returns the mailer registered on app, nil when Register was never called.
func registered(app core.App) *Mailer {
	m, _ := app.Store().Get(storeKey).(*Mailer)
	return m
}

// Queue renders the named template with data and inserts an email_outbox row through app (pass
// the transaction app so the mail commits or rolls back with the change that caused it; nil
// means the registered app). Status is "pending" when SMTP is configured, else "disabled".
// Never sends synchronously: the first attempt starts after the commit. A rendering error
// (unknown template, missing data key) returns an error and queues nothing.
func (m *Mailer) Queue(app core.App, to, template string, data map[string]any) (*core.Record, error) {
	if app == nil {
		app = m.app
	}
	rendered, err := Render(filepath.Join(app.DataDir(), OverrideDir), template, m.templateData(app, template, data))
	if err != nil {
		return nil, err
	}
	col, err := app.FindCachedCollectionByNameOrId(outbox)
	if err != nil {
		return nil, err
	}
	rec := core.NewRecord(col)
	rec.Set("to", strings.TrimSpace(to))
	rec.Set("template", template)
	rec.Set("subject", rendered.Subject)
	rec.Set("text_body", rendered.Text)
	rec.Set("html_body", rendered.HTML)
	rec.Set("attempts", 0)
	if smtpConfigured(app, m.cfg) {
		rec.Set("status", StatusPending)
		rec.Set("next_attempt_at", m.now()) // the retry job's safety net if the first attempt never runs
	} else {
		rec.Set("status", StatusDisabled)
	}
	if err := app.Save(rec); err != nil {
		return nil, fmt.Errorf("mailer: queue %s: %w", template, err)
	}
	return rec, nil
}

// templateData is data over the defaults every template may use: app_name, app_url, the
// contract's validity periods (expires_minutes) and login_url.
func (m *Mailer) templateData(app core.App, template string, data map[string]any) map[string]any {
	appURL := m.cfg.AppURL(app)
	d := map[string]any{
		"app_name": app.Settings().Meta.AppName,
		"app_url":  appURL,
	}
	switch template {
	case TemplateOTPCode:
		d["expires_minutes"] = m.cfg.EmailOTPTTL
	case TemplatePasswordReset:
		d["expires_minutes"] = m.cfg.ResetTokenTTL
	case TemplateInvitation:
		d["expires_minutes"] = m.cfg.InvitationTTL
	case TemplateAccessGranted, TemplateEmployeeApproved:
		d["login_url"] = appURL + "/login/"
	}
	for k, v := range data {
		d[k] = v
	}
	return d
}

// afterCreate runs after the transaction that created an outbox row has committed.
func (m *Mailer) afterCreate(e *core.RecordEvent) error {
	rec := e.Record
	switch rec.GetString("status") {
	case StatusPending:
		if smtpConfigured(m.app, m.cfg) {
			m.deliverAsync(rec.Id)
		} else {
			m.disable(rec)
		}
	case StatusDisabled:
		m.logDisabled(rec)
	}
	return e.Next()
}

// disable turns a row created "pending" while SMTP is off into "disabled".
func (m *Mailer) disable(rec *core.Record) {
	_, err := m.app.DB().Update(outbox, dbx.Params{
		"status":     StatusDisabled,
		"last_error": "SMTP is not configured",
		"updated":    types.NowDateTime().String(),
	}, dbx.HashExp{"id": rec.Id, "status": StatusPending}).Execute()
	if err != nil {
		m.app.Logger().Error("mailer: disable outbox row", "outbox_id", rec.Id, "error", err.Error())
		return
	}
	m.logDisabled(rec)
}

func (m *Mailer) logDisabled(rec *core.Record) {
	m.app.Logger().Info("Email not sent: SMTP is not configured (kept in email_outbox)",
		"outbox_id", rec.Id, "to", rec.GetString("to"), "template", rec.GetString("template"))
	if m.app.IsDev() {
		fmt.Fprintf(os.Stderr, "── email (SMTP not configured) %s to %s: %s\n%s\n──\n",
			rec.Id, rec.GetString("to"), rec.GetString("subject"), strings.TrimSpace(rec.GetString("text_body")))
	}
}

// deliverAsync starts the first attempt of a row in a goroutine (unless terminating).
func (m *Mailer) deliverAsync(id string) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return // the retry job sends it after the next start
	}
	m.inflight.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.inflight.Done()
		m.attempt(id)
	}()
}

// stop refuses new goroutines, lets running attempts finish for a moment, then aborts them.
func (m *Mailer) stop() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		m.cancel()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
	}
	m.cancel()
}

func (m *Mailer) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
