package mailer

import (
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	gomail "github.com/wneessen/go-mail"
)

// maxAttempts is the number of delivery attempts of one row: one per retry delay, plus the first.
func (m *Mailer) maxAttempts() int { return len(m.cfg.OutboxRetryDelays) + 1 }

// retryDelay is the wait after attempt n (1-based) failed. After the last attempt there is no
// retry; its value is then only the claim lease (how long a crashed last attempt stays claimed).
func (m *Mailer) retryDelay(n int) time.Duration {
	d := m.cfg.OutboxRetryDelays
	switch {
	case len(d) == 0:
		return time.Minute
	case n-1 < len(d):
		return d[n-1]
	default:
		return d[len(d)-1]
	}
}

func dt(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// attempt makes one delivery attempt of a pending row, if it can claim it (see the package
// comment). It never panics and never returns an error: the outcome is stored on the row.
func (m *Mailer) attempt(id string) {
	defer func() {
		if r := recover(); r != nil {
			m.app.Logger().Error("mailer: delivery panicked", "outbox_id", id, "panic", fmt.Sprint(r))
		}
	}()

	rec, err := m.app.FindRecordById(outbox, id)
	if err != nil || rec.GetString("status") != StatusPending {
		return
	}
	settings, ok := resolveSMTP(m.app, m.cfg)
	if !ok {
		return // pending rows wait while SMTP is off
	}
	seen := rec.GetInt("attempts")
	claimedAt := m.now()
	due := dbx.NewExp("[[next_attempt_at]] <= {:now}", dbx.Params{"now": dt(claimedAt)})
	if seen >= m.maxAttempts() {
		// The last attempt was claimed and its lease ran out: the process died mid-send.
		m.update(id, dbx.Params{"status": StatusFailed, "next_attempt_at": "",
			"last_error": "delivery interrupted; no attempts left"}, seen, due)
		return
	}

	// Claim: only a due row whose attempts are still the ones we saw. The claim moves
	// next_attempt_at to the end of the retry delay (a lease), so while this attempt runs (or
	// after it died) nobody else can claim the row before the lease is over.
	n := seen + 1
	if !m.update(id, dbx.Params{"attempts": n, "next_attempt_at": dt(claimedAt.Add(m.retryDelay(n)))}, seen, due) {
		return // another attempt owns this row, or it is not due
	}

	sendErr := m.send(rec, settings)
	now := m.now()
	if sendErr == nil {
		m.update(id, dbx.Params{"status": StatusSent, "sent_at": dt(now), "next_attempt_at": "", "last_error": ""}, n)
		return
	}

	lastError := settings.shortError(sendErr)
	if n >= m.maxAttempts() {
		m.update(id, dbx.Params{"status": StatusFailed, "next_attempt_at": "", "last_error": lastError}, n)
		m.app.Logger().Warn("Email delivery failed for good", "outbox_id", id, "attempts", n, "error", lastError)
		return
	}
	m.update(id, dbx.Params{"next_attempt_at": dt(now.Add(m.retryDelay(n))), "last_error": lastError}, n)
	m.app.Logger().Info("Email delivery failed; will retry", "outbox_id", id, "attempts", n, "error", lastError)
}

// update changes a pending row whose attempts still equal attempts (and that matches every
// extra condition) and reports whether it did.
func (m *Mailer) update(id string, set dbx.Params, attempts int, extra ...dbx.Expression) bool {
	set["updated"] = dt(m.now())
	where := append([]dbx.Expression{dbx.HashExp{"id": id, "status": StatusPending, "attempts": attempts}}, extra...)
	res, err := m.app.DB().Update(outbox, set, dbx.And(where...)).Execute()
	if err != nil {
		m.app.Logger().Error("mailer: update outbox row", "outbox_id", id, "error", err.Error())
		return false
	}
	affected, err := res.RowsAffected()
	return err == nil && affected == 1
}

// send builds the message of an outbox row and sends it.
func (m *Mailer) send(rec *core.Record, s smtpSettings) error {
	if s.From.Address == "" {
		return errors.New("no sender address (set MAIL_FROM or the sender in Settings → Mail)")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(&s.From)
	if err := msg.To(rec.GetString("to")); err != nil {
		return err
	}
	msg.Subject(rec.GetString("subject"))
	msg.SetDate()
	// Stable across retries, so a receiver can drop a duplicate of an at-least-once delivery.
	msg.SetMessageIDWithValue(rec.Id + ".outbox@" + messageIDDomain(s.From))
	text, html := rec.GetString("text_body"), rec.GetString("html_body")
	switch {
	case text != "" && html != "":
		msg.SetBodyString(gomail.TypeTextPlain, text)
		msg.AddAlternativeString(gomail.TypeTextHTML, html)
	case html != "":
		msg.SetBodyString(gomail.TypeTextHTML, html)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, text)
	}
	return s.send(m.ctx, msg)
}

// retryDue is the "mailer.retry" job: it sends the pending rows whose next_attempt_at has
// passed (a batch per run, at most about a minute of work), one after the other.
func (m *Mailer) retryDue() {
	if !smtpConfiguredCopy(m.app, m.cfg) || m.isClosed() {
		return
	}
	due, err := m.app.FindRecordsByFilter(outbox, "status = 'pending' && next_attempt_at <= {:now}",
		"next_attempt_at", retryBatch, 0, dbx.Params{"now": dt(m.now())})
	if err != nil {
		m.app.Logger().Error("mailer: find due outbox rows", "error", err.Error())
		return
	}
	started := time.Now()
	for _, rec := range due {
		if m.isClosed() || time.Since(started) > time.Minute {
			return
		}
		m.attempt(rec.Id)
	}
}

// blankOldBodies is the "mailer.cleanup" job: it blanks the bodies of rows sent more than
// OutboxBodyRetention ago (they hold reset links and codes, §2.17), and of rows that will never
// be sent (failed, disabled) once they are as old: the contract's rule names only sent_at, but a
// body that was never delivered holds the same secrets.
func (m *Mailer) blankOldBodies() {
	now := m.now()
	_, err := m.app.DB().Update(outbox, dbx.Params{"text_body": "", "html_body": "", "updated": dt(now)},
		dbx.NewExp("(([[sent_at]] != '' AND [[sent_at]] < {:cutoff}) OR ([[status]] IN ({:failed}, {:disabled}) AND [[created]] < {:cutoff}))"+
			" AND ([[text_body]] != '' OR [[html_body]] != '')",
			dbx.Params{"cutoff": dt(now.Add(-m.cfg.OutboxBodyRetention)), "failed": StatusFailed, "disabled": StatusDisabled})).Execute()
	if err != nil {
		m.app.Logger().Error("mailer: blank old outbox bodies", "error", err.Error())
	}
}
