package mailer

import (
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	pbmailer "github.com/pocketbase/pocketbase/tools/mailer"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/e2e/smtpsink"
	"gatehouse/plugins/config"
	"gatehouse/plugins/jobs"
	"gatehouse/testkit"
)

// clock is a settable time source for a mailer under test.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 26, 4, 27, 13, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time                { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration)       { c.ns.Add(int64(d)) }
func (c *clock) install(m *Mailer) *Mailer     { m.now = c.now; return m }
func smtpTo(app core.App, sink *smtpsink.Sink) { setSMTP(app, sink.Port()) }

func setSMTP(app core.App, port int) {
	s := app.Settings()
	s.SMTP.Enabled = true
	s.SMTP.Host = "127.0.0.1"
	s.SMTP.Port = port
	s.Meta.SenderName = "Gatehouse"
	s.Meta.SenderAddress = "no-reply@gatehouse.test"
}

// newMailer returns a test app with the mailer registered; SMTP points at sink when non-nil.
func newMailer(t *testing.T, sink *smtpsink.Sink, cfgs ...*config.Config) (*tests.TestApp, *Mailer) {
	t.Helper()
	cfg := testkit.Config()
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	var m *Mailer
	app := testkit.NewApp(t, func(app *tests.TestApp) { m = Register(app, cfg) })
	sched := jobs.New(app)
	m.Schedule(sched)
	schedulers.Store(m, sched)
	if sink != nil {
		smtpTo(app, sink)
	}
	return app, m
}

// schedulers holds the job scheduler of each test's mailer (runJob runs a job by its name,
// as the scheduler would).
var schedulers sync.Map

func runJob(m *Mailer, name string) error {
	s, _ := schedulers.Load(m)
	return s.(*jobs.Scheduler).Run(name)
}

// waitRow polls the outbox row until cond holds (10 s at most).
func waitRow(t *testing.T, app core.App, id string, what string, cond func(*core.Record) bool) *core.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := app.FindRecordById(outbox, id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox row %s: never %s (status=%s attempts=%d last_error=%q)", id, what,
				rec.GetString("status"), rec.GetInt("attempts"), rec.GetString("last_error"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func to(addr string) func(smtpsink.Message) bool {
	return func(m smtpsink.Message) bool { return len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == addr }
}

func countRows(t *testing.T, app core.App) int {
	t.Helper()
	n, err := app.CountRecords(outbox)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestMailerEveryTemplateRendersItsRequiredContent(t *testing.T) {
	t.Parallel()
	app, m := newMailer(t, nil)
	app.Settings().Meta.AppName = "Gatehouse"
	m.cfg.AppURLOverride = "https://auth.example.com"
	at := time.Date(2026, 11, 26, 4, 27, 13, 0, time.UTC)

	cases := []struct {
		name    string
		data    map[string]any
		subject string
		must    []string
	}{
		{TemplateOTPCode, map[string]any{"code": "482913"}, "Your verification code",
			[]string{"482913", "expires in 5 minutes"}},
		{TemplatePasswordReset, map[string]any{"link": "https://auth.example.com/api/v1/users/password/reset/#token=abcDEF_-123"},
			"Password reset request", []string{"https://auth.example.com/api/v1/users/password/reset/#token=abcDEF_-123", "expires in 1 hour"}},
		{TemplatePasswordChanged, map[string]any{"time_utc": at, "ip": "203.0.113.7"}, "Your password was changed",
			[]string{"2026-11-26 04:27:13 UTC", "203.0.113.7"}},
		{TemplateAccountLocked, map[string]any{"lock_until_utc": at.Add(15 * time.Minute), "ip": "198.51.100.4"}, "Account locked",
			[]string{"2026-11-26 04:42:13 UTC", "198.51.100.4"}},
		{TemplateMFALocked, map[string]any{"window_minutes": 30, "ip": "198.51.100.9"}, "Two-factor verification locked",
			[]string{"30 minutes", "198.51.100.9", "Change your password"}},
		{Template2FAEnabled, map[string]any{"method": "totp"}, "Two-factor authentication enabled", []string{"Method: totp"}},
		{Template2FADisabled, map[string]any{"time_utc": "2026-11-26T04:27:13.512Z"}, "Two-factor authentication disabled",
			[]string{"2026-11-26 04:27:13 UTC"}},
		{TemplateRecoveryCodeUsed, map[string]any{"remaining": 7}, "A recovery code was used", []string{"Unused recovery codes left: 7"}},
		{TemplateEmailChanged, map[string]any{"new_email": "new.address@example.com"}, "Your email address was changed",
			[]string{"new.address@example.com"}},
		{TemplateInvitation, map[string]any{"system_name": "Help Desk", "role_name": "Agent", "inviter_name": "Ada Admin",
			"link": "https://auth.example.com/accept-invitation/#token=T0k3n"}, "Invitation to Help Desk",
			[]string{"https://auth.example.com/accept-invitation/#token=T0k3n", "Agent", "Ada Admin", "expires in 72 hours"}},
		{TemplateAccessGranted, map[string]any{"system_name": "Ticket Tracker", "role_name": "Viewer"}, "Access granted to Ticket Tracker",
			[]string{"Viewer", "https://auth.example.com/login/"}},
		{TemplateEmployeeWelcome, nil, "Welcome to HDTS", []string{"awaits approval"}},
		{TemplateEmployeeApproved, map[string]any{"login_url": "https://hdts.example.com/login"}, "Your HDTS account has been approved",
			[]string{"https://hdts.example.com/login"}},
		{TemplateEmployeeRejected, nil, "Your HDTS account has been rejected", []string{"rejected"}},
	}
	if len(cases) != len(Templates) {
		t.Fatalf("%d cases for %d templates", len(cases), len(Templates))
	}
	for _, tc := range cases {
		rec, err := m.Queue(app, "someone@example.com", tc.name, tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := rec.GetString("subject"); got != tc.subject {
			t.Errorf("%s: subject %q, want %q", tc.name, got, tc.subject)
		}
		if rec.GetString("template") != tc.name || rec.GetString("to") != "someone@example.com" {
			t.Errorf("%s: template/to = %q/%q", tc.name, rec.GetString("template"), rec.GetString("to"))
		}
		text, html := rec.GetString("text_body"), rec.GetString("html_body")
		htmlText := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(html, "")
		for _, s := range tc.must {
			if !strings.Contains(text, s) {
				t.Errorf("%s: text body lacks %q:\n%s", tc.name, s, text)
			}
			if !strings.Contains(htmlText, s) && !strings.Contains(html, s) {
				t.Errorf("%s: html body lacks %q:\n%s", tc.name, s, html)
			}
		}
		if !strings.HasPrefix(html, "<!DOCTYPE html>") || strings.Contains(text, "<p>") || strings.Contains(text+html, "no value") {
			t.Errorf("%s: bodies look wrong:\n%s\n%s", tc.name, text, html)
		}
	}
}

func TestMailerHTMLBodiesEscapeData(t *testing.T) {
	t.Parallel()
	app, m := newMailer(t, nil)
	rec, err := m.Queue(app, "x@example.com", TemplateInvitation, map[string]any{
		"system_name": "HDTS", "role_name": "Agent", "inviter_name": `<script>alert(1)</script>`,
		"link": "javascript:alert(1)",
	})
	if err != nil {
		t.Fatal(err)
	}
	html := rec.GetString("html_body")
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || strings.Contains(html, `href="javascript:`) {
		t.Fatalf("html not escaped:\n%s", html)
	}
	if !strings.Contains(rec.GetString("text_body"), "<script>alert(1)</script>") {
		t.Fatalf("text body should hold the raw value:\n%s", rec.GetString("text_body"))
	}
}

func TestMailerRenderErrorsQueueNothing(t *testing.T) {
	t.Parallel()
	app, m := newMailer(t, nil)
	if _, err := m.Queue(app, "x@example.com", TemplateOTPCode, nil); err == nil || !strings.Contains(err.Error(), "code") {
		t.Fatalf("missing key: err = %v", err)
	}
	if _, err := m.Queue(app, "x@example.com", "no_such_template", nil); err == nil {
		t.Fatal("unknown template accepted")
	}
	if _, err := m.Queue(app, "not-an-email", TemplateEmployeeWelcome, nil); err == nil {
		t.Fatal("invalid recipient accepted")
	}
	if n := countRows(t, app); n != 0 {
		t.Fatalf("%d rows queued", n)
	}
}

func TestMailerQueueWithoutSMTPIsDisabledAndNeverSent(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app, m := newMailer(t, nil) // SMTP off (PocketBase's default settings)
	app.Settings().SMTP.Port = sink.Port()
	app.Settings().SMTP.Host = "127.0.0.1"

	rec, err := m.Queue(app, "off@example.com", TemplateOTPCode, map[string]any{"code": "123456"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.GetString("status") != StatusDisabled || rec.GetInt("attempts") != 0 {
		t.Fatalf("status %q attempts %d", rec.GetString("status"), rec.GetInt("attempts"))
	}
	// A superuser creating a pending row while SMTP is off: it becomes disabled.
	col, _ := app.FindCollectionByNameOrId(outbox)
	manual := core.NewRecord(col)
	manual.Load(map[string]any{"to": "manual@example.com", "subject": "s", "text_body": "b", "status": StatusPending})
	if err := app.Save(manual); err != nil {
		t.Fatal(err)
	}
	waitRow(t, app, manual.Id, "disabled", func(r *core.Record) bool { return r.GetString("status") == StatusDisabled })

	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("%d messages sent with SMTP off", n)
	}
	got, _ := app.FindRecordById(outbox, rec.Id)
	if got.GetString("status") != StatusDisabled || got.GetString("text_body") == "" {
		t.Fatalf("disabled row changed: %v", got)
	}

	// Configuring SMTP later leaves disabled rows as they are.
	smtpTo(app, sink)
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("%d disabled messages sent once SMTP was configured", n)
	}
}

func TestMailerQueueInCommittedTransactionIsDeliveredOnce(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app, m := newMailer(t, sink)

	var id string
	err := app.RunInTransaction(func(txApp core.App) error {
		rec, err := m.Queue(txApp, "ada@example.com", TemplateOTPCode, map[string]any{"code": "654321"})
		if err != nil {
			return err
		}
		id = rec.Id
		if rec.GetString("status") != StatusPending {
			t.Errorf("status %q", rec.GetString("status"))
		}
		time.Sleep(150 * time.Millisecond) // nothing may leave before the commit
		if n := len(sink.Messages()); n != 0 {
			t.Errorf("%d messages sent before the commit", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	msg := sink.WaitFor(t, to("ada@example.com"), 10*time.Second)
	if msg.Subject != "Your verification code" || !strings.Contains(msg.Text, "654321") || !strings.Contains(msg.HTML, "654321") ||
		!strings.Contains(msg.Text, "expires in 5 minutes") {
		t.Fatalf("message: %+v", msg)
	}
	from, err := mail.ParseAddress(msg.From)
	if err != nil || from.Address != "no-reply@gatehouse.test" || from.Name != "Gatehouse" || msg.EnvelopeFrom != "no-reply@gatehouse.test" {
		t.Fatalf("from %q (%v), envelope %q", msg.From, err, msg.EnvelopeFrom)
	}
	if got := msg.Header.Get("Message-Id"); got != "<"+id+".outbox@gatehouse.test>" {
		t.Errorf("Message-ID %q", got)
	}

	rec := waitRow(t, app, id, "sent", func(r *core.Record) bool { return r.GetString("status") == StatusSent })
	if rec.GetDateTime("sent_at").IsZero() || rec.GetInt("attempts") != 1 || rec.GetString("last_error") != "" {
		t.Fatalf("sent row: sent_at=%v attempts=%d last_error=%q", rec.GetDateTime("sent_at"), rec.GetInt("attempts"), rec.GetString("last_error"))
	}

	// The retry job never sends a sent row again.
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := sink.Count(to("ada@example.com")); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func TestMailerQueueInRolledBackTransactionLeavesNoRowAndNoMail(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app, m := newMailer(t, sink)

	boom := errors.New("boom")
	err := app.RunInTransaction(func(txApp core.App) error {
		if _, err := m.Queue(txApp, "ghost@example.com", TemplateEmployeeWelcome, nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := countRows(t, app); n != 0 {
		t.Fatalf("%d rows after rollback", n)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("%d messages after rollback", n)
	}
}

func TestMailerFailuresAreRetriedWithTheContractDelaysThenFail(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	sink.Stop() // outage: connections are refused
	app, m := newMailer(t, sink)
	clk := newClock()
	clk.install(m)

	rec, err := m.Queue(app, "retry@example.com", TemplateEmployeeRejected, nil)
	if err != nil {
		t.Fatal(err)
	}
	delays := m.cfg.OutboxRetryDelays
	if len(delays) != 4 || m.maxAttempts() != 5 {
		t.Fatalf("delays %v", delays)
	}
	for n := 1; n <= 5; n++ {
		if n > 1 {
			// Not due yet: the job leaves it alone.
			clk.advance(delays[n-2] - time.Second)
			if err := runJob(m, RetryJob); err != nil {
				t.Fatal(err)
			}
			if got, _ := app.FindRecordById(outbox, rec.Id); got.GetInt("attempts") != n-1 {
				t.Fatalf("attempt %d ran before its delay", n)
			}
			clk.advance(time.Second)
			if err := runJob(m, RetryJob); err != nil {
				t.Fatal(err)
			}
		}
		got := waitRow(t, app, rec.Id, "attempted", func(r *core.Record) bool { return r.GetInt("attempts") == n && r.GetString("last_error") != "" })
		if n < 5 {
			want := clk.now().Add(delays[n-1])
			if got.GetString("status") != StatusPending || !got.GetDateTime("next_attempt_at").Time().Equal(want) {
				t.Fatalf("after attempt %d: status %q next_attempt_at %v, want %v", n, got.GetString("status"), got.GetDateTime("next_attempt_at"), want)
			}
		} else if got.GetString("status") != StatusFailed || !got.GetDateTime("next_attempt_at").IsZero() {
			t.Fatalf("after attempt 5: status %q next_attempt_at %v", got.GetString("status"), got.GetDateTime("next_attempt_at"))
		}
		if le := got.GetString("last_error"); !strings.Contains(le, "refused") || len(le) > 301 {
			t.Fatalf("last_error %q", le)
		}
	}

	// A failed row stays failed, even with SMTP back.
	if err := sink.Restart(); err != nil {
		t.Fatal(err)
	}
	clk.advance(24 * time.Hour)
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("failed row sent %d times", n)
	}
}

func TestMailerRetryJobDeliversADueRowAfterAnOutage(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	sink.Stop()
	app, m := newMailer(t, sink)
	clk := newClock()
	clk.install(m)

	rec, err := m.Queue(app, "later@example.com", TemplateRecoveryCodeUsed, map[string]any{"remaining": 3})
	if err != nil {
		t.Fatal(err)
	}
	waitRow(t, app, rec.Id, "failed once", func(r *core.Record) bool { return r.GetInt("attempts") == 1 && r.GetString("last_error") != "" })

	if err := sink.Restart(); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	msg := sink.WaitFor(t, to("later@example.com"), 5*time.Second)
	if !strings.Contains(msg.Text, "Unused recovery codes left: 3") {
		t.Fatalf("text: %s", msg.Text)
	}
	got := waitRow(t, app, rec.Id, "sent", func(r *core.Record) bool { return r.GetString("status") == StatusSent })
	if got.GetInt("attempts") != 2 || got.GetString("last_error") != "" || !got.GetDateTime("sent_at").Time().Equal(clk.now()) {
		t.Fatalf("row: attempts %d last_error %q sent_at %v", got.GetInt("attempts"), got.GetString("last_error"), got.GetDateTime("sent_at"))
	}
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	if n := sink.Count(nil); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func TestMailerConcurrentAttemptsSendOnce(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app, m := newMailer(t, sink)

	rec, err := m.Queue(app, "once@example.com", TemplateEmployeeWelcome, nil) // starts the hook's attempt
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); m.attempt(rec.Id) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = runJob(m, RetryJob) }()
	wg.Wait()
	waitRow(t, app, rec.Id, "sent", func(r *core.Record) bool { return r.GetString("status") == StatusSent })
	time.Sleep(200 * time.Millisecond)
	if n := sink.Count(nil); n != 1 {
		t.Fatalf("sent %d times", n)
	}
	if got, _ := app.FindRecordById(outbox, rec.Id); got.GetInt("attempts") != 1 {
		t.Fatalf("attempts %d", got.GetInt("attempts"))
	}
}

func TestMailerCleanupJobBlanksBodiesAfterRetention(t *testing.T) {
	t.Parallel()
	app, m := newMailer(t, nil)
	clk := newClock()
	clk.install(m)
	col, _ := app.FindCollectionByNameOrId(outbox)
	mk := func(status string, sentAgo time.Duration) *core.Record {
		r := core.NewRecord(col)
		r.Load(map[string]any{"to": "c@example.com", "subject": "s", "text_body": "secret link", "html_body": "<p>secret link</p>", "status": status})
		if sentAgo > 0 {
			r.Set("sent_at", clk.now().Add(-sentAgo))
		}
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	old := mk(StatusSent, 7*24*time.Hour+time.Minute)
	recent := mk(StatusSent, 7*24*time.Hour-time.Minute)
	disabled := mk(StatusDisabled, 0)
	// rows never sent: blanked once they were created as long ago
	created := func(status string, ago time.Duration) *core.Record {
		r := mk(status, 0)
		if _, err := app.DB().Update(outbox, dbx.Params{"created": clk.now().Add(-ago).UTC().Format(types.DefaultDateLayout)},
			dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	failedOld, failedRecent := created(StatusFailed, 7*24*time.Hour+time.Minute), created(StatusFailed, 7*24*time.Hour-time.Minute)
	disabledOld := created(StatusDisabled, 7*24*time.Hour+time.Minute)

	if err := runJob(m, CleanupJob); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rec     *core.Record
		blanked bool
	}{{old, true}, {recent, false}, {disabled, false}, {failedOld, true}, {failedRecent, false}, {disabledOld, true}} {
		got, _ := app.FindRecordById(outbox, tc.rec.Id)
		blank := got.GetString("text_body") == "" && got.GetString("html_body") == ""
		if blank != tc.blanked || got.GetString("subject") != "s" || got.GetString("to") != "c@example.com" {
			t.Errorf("row %s sent_at=%v created=%v: blanked=%v, want %v", got.GetString("status"), got.GetDateTime("sent_at"), got.GetDateTime("created"), blank, tc.blanked)
		}
	}
}

func TestMailerTemplatesCanBeOverriddenFromTheDataDir(t *testing.T) {
	t.Parallel()
	app, m := newMailer(t, nil)
	dir := filepath.Join(app.DataDir(), OverrideDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("otp_code.subject", "{{.app_name}} code")
	write("otp_code.txt", "CODE={{.code}} ({{duration .expires_minutes}})")

	rec, err := m.Queue(app, "o@example.com", TemplateOTPCode, map[string]any{"code": "111222"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.GetString("subject") != app.Settings().Meta.AppName+" code" || rec.GetString("text_body") != "CODE=111222 (5 minutes)\n" {
		t.Fatalf("override not used: %q / %q", rec.GetString("subject"), rec.GetString("text_body"))
	}
	if !strings.Contains(rec.GetString("html_body"), "111222") {
		t.Fatal("embedded html not used")
	}

	// A broken override is an error, and nothing is queued.
	write("otp_code.html", "<p>{{.nope}}</p>")
	if _, err := m.Queue(app, "o@example.com", TemplateOTPCode, map[string]any{"code": "111222"}); err == nil {
		t.Fatal("broken override accepted")
	}
	if n := countRows(t, app); n != 1 {
		t.Fatalf("%d rows", n)
	}
}

func TestMailerEnvironmentOverridesWin(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{
			"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(sink.Port()), "SMTP_USERNAME": "mailer-user",
			"SMTP_PASSWORD": "s3cret-pass", "SMTP_STARTTLS": "none", "MAIL_FROM": "Gate House <gate@example.org>",
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Secret = testkit.Config().Secret
	app, m := newMailer(t, nil, cfg) // dashboard SMTP stays off: SMTP_HOST alone configures it
	if app.Settings().SMTP.Enabled {
		t.Fatal("settings SMTP unexpectedly on")
	}
	rec, err := m.Queue(app, "env@example.com", TemplateEmployeeWelcome, nil)
	if err != nil || rec.GetString("status") != StatusPending {
		t.Fatalf("queue: %v %v", err, rec)
	}
	msg := sink.WaitFor(t, to("env@example.com"), 10*time.Second)
	if msg.AuthUser != "mailer-user" || msg.EnvelopeFrom != "gate@example.org" || !strings.Contains(msg.From, "Gate House") {
		t.Fatalf("auth %q from %q envelope %q", msg.AuthUser, msg.From, msg.EnvelopeFrom)
	}
	waitRow(t, app, rec.Id, "sent", func(r *core.Record) bool { return r.GetString("status") == StatusSent })

	for name, value := range map[string]string{"SMTP_PORT": "70000", "SMTP_TLS": "sometimes", "SMTP_STARTTLS": "always", "MAIL_FROM": "not an address"} {
		lookup := func(k string) (string, bool) {
			if k == name {
				return value, true
			}
			return "", false
		}
		if _, err := config.Load(lookup); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v", name, value, err)
		}
	}
}

func TestMailerLastErrorNeverHoldsThePassword(t *testing.T) {
	s := smtpSettings{Password: "hunter2-secret"}
	got := s.shortError(errors.New("535 auth failed for hunter2-secret\r\n" + strings.Repeat("x", 500)))
	if strings.Contains(got, "hunter2") || strings.ContainsAny(got, "\r\n") || len(got) > 303 {
		t.Fatalf("shortError = %q", got)
	}
}

// PocketBase's own mails (here: a plain BaseApp, which has no TestMailer) leave through go-mail.
func TestMailerPocketBaseMailsGoThroughGoMail(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir()})
	Register(app, testkit.Config())
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.ResetBootstrapState() })
	smtpTo(app, sink)

	err := app.NewMailClient().Send(&pbmailer.Message{
		From:    mail.Address{Name: "PB", Address: "pb@gatehouse.test"},
		To:      []mail.Address{{Address: "root@example.com"}},
		Subject: "Superuser OTP",
		HTML:    "<p>code 999000</p>",
		Text:    "code 999000",
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := sink.WaitFor(t, to("root@example.com"), 5*time.Second)
	if msg.Subject != "Superuser OTP" || !strings.Contains(msg.Text, "999000") || !strings.Contains(msg.HTML, "999000") || msg.EnvelopeFrom != "pb@gatehouse.test" {
		t.Fatalf("message %+v", msg)
	}
}

// A test app keeps PocketBase's TestMailer: PocketBase's mails are captured, never sent.
func TestMailerTestAppMailsStayInTheTestMailer(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app, _ := newMailer(t, sink)
	err := app.NewMailClient().Send(&pbmailer.Message{
		From: mail.Address{Address: "pb@gatehouse.test"}, To: []mail.Address{{Address: "root@example.com"}}, Subject: "x", Text: "y",
	})
	if err != nil {
		t.Fatal(err)
	}
	if app.TestMailer.TotalSend() != 1 || len(sink.Messages()) != 0 {
		t.Fatalf("test mailer %d, sink %d", app.TestMailer.TotalSend(), len(sink.Messages()))
	}
}

// A claimed attempt holds the row until its lease (the retry delay) is over; a process that
// died mid-send leaves a row that is retried, or failed when no attempt is left, afterwards.
func TestMailerInterruptedAttemptsResumeAfterTheirLease(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	app, m := newMailer(t, sink)
	clk := newClock()
	clk.install(m)
	col, _ := app.FindCollectionByNameOrId(outbox)
	mk := func(to string, attempts int) string {
		r := core.NewRecord(col)
		r.Load(map[string]any{"to": to, "subject": "lease " + to, "text_body": "b", "status": StatusFailed})
		if err := app.Save(r); err != nil { // "failed": the create hook leaves it alone
			t.Fatal(err)
		}
		_, err := app.DB().Update(outbox, map[string]any{"status": StatusPending, "attempts": attempts,
			"next_attempt_at": dt(clk.now().Add(time.Hour))}, dbx.HashExp{"id": r.Id}).Execute()
		if err != nil {
			t.Fatal(err)
		}
		return r.Id
	}
	midway := mk("midway@example.com", 2)
	last := mk("last@example.com", 5)

	m.attempt(midway)
	m.attempt(last)
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{midway, last} {
		if r, _ := app.FindRecordById(outbox, id); r.GetString("status") != StatusPending || r.GetString("last_error") != "" {
			t.Fatalf("leased row touched: %v", r)
		}
	}
	if n := sink.Count(nil); n != 0 {
		t.Fatalf("%d messages during the lease", n)
	}

	clk.advance(time.Hour)
	if err := runJob(m, RetryJob); err != nil {
		t.Fatal(err)
	}
	if r, _ := app.FindRecordById(outbox, midway); r.GetString("status") != StatusSent || r.GetInt("attempts") != 3 {
		t.Fatalf("midway row: %v", r)
	}
	if r, _ := app.FindRecordById(outbox, last); r.GetString("status") != StatusFailed || r.GetInt("attempts") != 5 || r.GetString("last_error") == "" {
		t.Fatalf("last row: %v", r)
	}
	if n := sink.Count(nil); n != 1 {
		t.Fatalf("%d messages", n)
	}
}
