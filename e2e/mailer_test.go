package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"gatehouse/e2e/smtpsink"
)

// configureSMTP points the running service at the sink through the superuser settings API.
func configureSMTP(t *testing.T, s *Server, auth []string, sink *smtpsink.Sink) {
	t.Helper()
	st, _, body := s.Do(t, http.MethodPatch, "/api/settings", map[string]any{
		"smtp": map[string]any{"enabled": true, "host": "127.0.0.1", "port": sink.Port()},
		"meta": map[string]any{"senderName": "Gatehouse", "senderAddress": "no-reply@gatehouse.test"},
	}, auth...)
	if st != http.StatusOK {
		t.Fatalf("PATCH /api/settings = %d %s", st, body)
	}
}

// createOutboxRow creates a pending email_outbox row through the superuser records API.
func createOutboxRow(t *testing.T, s *Server, auth []string, to, subject string) string {
	t.Helper()
	st, _, body := s.Do(t, http.MethodPost, "/api/collections/email_outbox/records", map[string]any{
		"to": to, "template": "e2e", "subject": subject, "text_body": "Hello from the e2e test.\nLink: https://auth.example.com/x#token=abc",
		"html_body": "<p>Hello from the e2e test.</p>", "status": "pending",
	}, auth...)
	if st != http.StatusOK {
		t.Fatalf("create outbox row = %d %s", st, body)
	}
	var rec struct{ ID string }
	if err := json.Unmarshal(body, &rec); err != nil || rec.ID == "" {
		t.Fatalf("create outbox row: %v %s", err, body)
	}
	return rec.ID
}

type outboxRow struct {
	Status        string  `json:"status"`
	Attempts      float64 `json:"attempts"`
	NextAttemptAt string  `json:"next_attempt_at"`
	LastError     string  `json:"last_error"`
	SentAt        string  `json:"sent_at"`
}

// waitOutboxRow polls the row through the superuser API until cond holds.
func waitOutboxRow(t *testing.T, s *Server, auth []string, id, what string, timeout time.Duration, cond func(outboxRow) bool) outboxRow {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, _, body := s.Do(t, http.MethodGet, "/api/collections/email_outbox/records/"+id, nil, auth...)
		if st != http.StatusOK {
			t.Fatalf("GET outbox row = %d %s", st, body)
		}
		var row outboxRow
		if err := json.Unmarshal(body, &row); err != nil {
			t.Fatal(err)
		}
		if cond(row) {
			return row
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox row %s never %s: %+v\n%s", id, what, row, s.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func bySubject(subject string) func(smtpsink.Message) bool {
	return func(m smtpsink.Message) bool { return m.Subject == subject }
}

func TestMailerDeliversAnOutboxRowOverSMTP(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	s := Start(t, Options{})
	auth := []string{"Authorization", s.SuperuserToken(t)}
	configureSMTP(t, s, auth, sink)

	id := createOutboxRow(t, s, auth, "e2e.user@example.com", "E2E delivery")
	msg := sink.WaitFor(t, bySubject("E2E delivery"), 15*time.Second)
	if len(msg.EnvelopeTo) != 1 || msg.EnvelopeTo[0] != "e2e.user@example.com" || msg.EnvelopeFrom != "no-reply@gatehouse.test" ||
		msg.Text != "Hello from the e2e test.\nLink: https://auth.example.com/x#token=abc" || msg.HTML != "<p>Hello from the e2e test.</p>" {
		t.Fatalf("message: %+v", msg)
	}
	row := waitOutboxRow(t, s, auth, id, "sent", 10*time.Second, func(r outboxRow) bool { return r.Status == "sent" })
	if row.SentAt == "" || row.Attempts != 1 || row.LastError != "" {
		t.Fatalf("sent row: %+v", row)
	}
	if n := sink.Count(bySubject("E2E delivery")); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func TestMailerRetriesAfterAnOutageAcrossARestart(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	s := Start(t, Options{})
	auth := []string{"Authorization", s.SuperuserToken(t)}
	configureSMTP(t, s, auth, sink)

	// Outage: the first attempt fails and schedules a retry a minute later.
	sink.Stop()
	id := createOutboxRow(t, s, auth, "outage@example.com", "E2E outage")
	row := waitOutboxRow(t, s, auth, id, "attempted", 15*time.Second, func(r outboxRow) bool { return r.Attempts == 1 && r.LastError != "" })
	if row.Status != "pending" || row.NextAttemptAt == "" {
		t.Fatalf("after the failed attempt: %+v", row)
	}
	next, err := time.Parse("2006-01-02 15:04:05.000Z", row.NextAttemptAt)
	if err != nil || time.Until(next) < 30*time.Second || time.Until(next) > 2*time.Minute {
		t.Fatalf("next_attempt_at = %q (%v), want about a minute from now", row.NextAttemptAt, err)
	}

	// Restart the service (same data dir, so the same SMTP settings) and the SMTP server.
	s.Stop()
	s = Start(t, Options{DataDir: s.DataDir, Env: s.Env})
	if err := sink.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := sink.Count(nil); n != 0 {
		t.Fatalf("%d messages before the retry is due", n)
	}

	// Make the retry due; the 10-second retry job delivers it.
	st, _, body := s.Do(t, http.MethodPatch, "/api/collections/email_outbox/records/"+id,
		map[string]any{"next_attempt_at": time.Now().UTC().Add(-time.Second).Format("2006-01-02 15:04:05.000Z")}, auth...)
	if st != http.StatusOK {
		t.Fatalf("PATCH next_attempt_at = %d %s", st, body)
	}
	sink.WaitFor(t, bySubject("E2E outage"), 15*time.Second)
	row = waitOutboxRow(t, s, auth, id, "sent", 5*time.Second, func(r outboxRow) bool { return r.Status == "sent" })
	if row.Attempts != 2 || row.SentAt == "" {
		t.Fatalf("sent row: %+v", row)
	}
	time.Sleep(500 * time.Millisecond)
	if n := sink.Count(bySubject("E2E outage")); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}
