package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	pbmailer "github.com/pocketbase/pocketbase/tools/mailer"
	gomail "github.com/wneessen/go-mail"

	"gatehouse/plugins/config"
)

// smtpSettings is the effective SMTP configuration of one delivery: PocketBase's settings
// (dashboard → Settings → Mail) with the environment overrides of config.Config on top.
type smtpSettings struct {
	Host        string
	Port        int
	Username    string
	Password    string
	AuthMethod  string // PLAIN (default) or LOGIN
	ImplicitTLS bool
	StartTLS    gomail.TLSPolicy
	LocalName   string
	From        mail.Address
	Timeout     time.Duration
}

// smtpConfigured reports whether mail can be sent: SMTP_HOST is set or the dashboard's SMTP
// switch is on. It reads the live settings, as PocketBase's own request paths do; goroutines of
// their own use smtpConfiguredCopy or resolveSMTP.
func smtpConfigured(app core.App, cfg *config.Config) bool {
	return cfg.SMTPHost != "" || app.Settings().SMTP.Enabled
}

// smtpConfiguredCopy is smtpConfigured on a copy of the settings (settingsOf), for the retry
// job's goroutine.
func smtpConfiguredCopy(app core.App, cfg *config.Config) bool {
	return cfg.SMTPHost != "" || settingsOf(app).SMTP.Enabled
}

// settingsOf returns a copy of app's settings taken under their lock (Settings.Clone, ~0.45 ms
// here): a dashboard save rewrites the fields in place under that lock, and mail goes out from
// the retry job's and the deliveries' goroutines (a data race under go test -race otherwise).
func settingsOf(app core.App) *core.Settings {
	if s, err := app.Settings().Clone(); err == nil {
		return s
	}
	return app.Settings()
}

// resolveSMTP returns the effective settings; ok is false when SMTP is not configured. Every
// environment variable wins over the matching dashboard field when set; with SMTP_HOST set and
// no SMTP_PORT the port is 465 (implicit TLS) or 587, never the dashboard's.
func resolveSMTP(app core.App, cfg *config.Config) (s smtpSettings, ok bool) {
	set := settingsOf(app)
	if cfg.SMTPHost == "" && !set.SMTP.Enabled {
		return s, false
	}
	s = smtpSettings{
		Host:        set.SMTP.Host,
		Port:        set.SMTP.Port,
		Username:    set.SMTP.Username,
		Password:    set.SMTP.Password,
		AuthMethod:  set.SMTP.AuthMethod,
		ImplicitTLS: set.SMTP.TLS,
		LocalName:   set.SMTP.LocalName,
		From:        mail.Address{Name: set.Meta.SenderName, Address: set.Meta.SenderAddress},
		Timeout:     cfg.SMTPTimeout,
	}
	if cfg.SMTPTLS != nil {
		s.ImplicitTLS = *cfg.SMTPTLS
	}
	if cfg.SMTPHost != "" {
		s.Host = cfg.SMTPHost
		s.Port = 587
		if s.ImplicitTLS {
			s.Port = 465
		}
	}
	if cfg.SMTPPort != 0 {
		s.Port = cfg.SMTPPort
	}
	if cfg.SMTPUsername != "" {
		s.Username = cfg.SMTPUsername
	}
	if cfg.SMTPPassword != "" {
		s.Password = cfg.SMTPPassword
	}
	switch cfg.SMTPStartTLS {
	case "mandatory":
		s.StartTLS = gomail.TLSMandatory
	case "none":
		s.StartTLS = gomail.NoTLS
	default:
		s.StartTLS = gomail.TLSOpportunistic
	}
	if cfg.MailFrom != "" {
		if a, err := mail.ParseAddress(cfg.MailFrom); err == nil {
			s.From = *a
		}
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	return s, true
}

// client builds a go-mail client. Credentials are only sent over TLS or to a loopback host
// (go-mail's PLAIN/LOGIN rules), like PocketBase's own client.
func (s smtpSettings) client() (*gomail.Client, error) {
	if s.Host == "" {
		return nil, errors.New("SMTP host is empty")
	}
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(s.Timeout)}
	if s.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(s.StartTLS))
	}
	if s.LocalName != "" {
		opts = append(opts, gomail.WithHELO(s.LocalName))
	}
	if s.Username != "" || s.Password != "" {
		auth := gomail.SMTPAuthPlain
		if strings.EqualFold(s.AuthMethod, pbmailer.SMTPAuthLogin) {
			auth = gomail.SMTPAuthLogin
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	return gomail.NewClient(s.Host, opts...)
}

// send delivers msg in one SMTP conversation bounded by the settings' timeout.
func (s smtpSettings) send(ctx context.Context, msg *gomail.Msg) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	return c.DialAndSendWithContext(ctx, msg)
}

// shortError turns a delivery error into the outbox's last_error: one line, at most 300
// characters, without the SMTP credentials.
func (s smtpSettings) shortError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if s.Password != "" {
		msg = strings.ReplaceAll(msg, s.Password, "***")
	}
	if len(msg) > 300 {
		cut := 300
		for cut > 0 && (msg[cut]&0xC0) == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// messageIDDomain is the domain part of the sender address (for Message-ID headers).
func messageIDDomain(from mail.Address) string {
	if _, domain, ok := strings.Cut(from.Address, "@"); ok && domain != "" {
		return domain
	}
	return "localhost"
}

// goMailer sends PocketBase's own mails (superuser OTP, password reset of _superusers, backup
// alerts...) through go-mail with the same settings as the outbox. Bound to OnMailerSend.
type goMailer struct {
	app core.App
	cfg *config.Config
	ctx context.Context
}

var _ pbmailer.Mailer = (*goMailer)(nil)

func (g *goMailer) Send(m *pbmailer.Message) error {
	s, ok := resolveSMTP(g.app, g.cfg)
	if !ok {
		return errors.New("mailer: SMTP is not configured")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	from := m.From
	if g.cfg.MailFrom != "" || from.Address == "" {
		from = s.From
	}
	msg.FromMailAddress(&from)
	addrs := func(list []mail.Address) []string {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, a.String())
		}
		return out
	}
	if err := msg.To(addrs(m.To)...); err != nil {
		return err
	}
	if len(m.Cc) > 0 {
		if err := msg.Cc(addrs(m.Cc)...); err != nil {
			return err
		}
	}
	if len(m.Bcc) > 0 {
		if err := msg.Bcc(addrs(m.Bcc)...); err != nil {
			return err
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	hasMessageID := false
	for k, v := range m.Headers {
		if strings.EqualFold(k, "Message-ID") {
			hasMessageID = true
			msg.SetMessageIDWithValue(strings.Trim(v, "<>"))
			continue
		}
		msg.SetGenHeader(gomail.Header(k), v)
	}
	if !hasMessageID {
		msg.SetMessageID()
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	for name, r := range m.Attachments {
		if err := msg.AttachReader(name, r); err != nil {
			return err
		}
	}
	for name, r := range m.InlineAttachments {
		if err := msg.EmbedReader(name, r); err != nil {
			return err
		}
	}
	if err := s.send(g.ctx, msg); err != nil {
		return fmt.Errorf("mailer: %s", s.shortError(err))
	}
	return nil
}
