package smtpsink

import (
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

const qpMultipart = "From: \"Gate House\" <gate@example.org>\r\n" +
	"To: <a@example.com>, B <b@example.com>\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Link: https://auth.example.com/reset/#token=3Dabc and a very long line that=\r\n" +
	" is soft-wrapped\r\n" +
	"second line\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+SGVsbG8gPGI+d29ybGQ8L2I+PC9wPg==\r\n" +
	"--inner--\r\n" +
	"--outer--\r\n"

func TestSinkParsesNestedQuotedPrintableAndBase64(t *testing.T) {
	m, err := Parse([]byte(qpMultipart))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Grüße" || m.From != `"Gate House" <gate@example.org>` || strings.Join(m.To, ",") != "a@example.com,b@example.com" {
		t.Fatalf("headers: %q %q %v", m.Subject, m.From, m.To)
	}
	if m.Text != "Link: https://auth.example.com/reset/#token=abc and a very long line that is soft-wrapped\nsecond line" {
		t.Fatalf("text %q", m.Text)
	}
	if m.HTML != "<p>Hello <b>world</b></p>" {
		t.Fatalf("html %q", m.HTML)
	}
}

func TestSinkReceivesStopsAndRestartsOnTheSamePort(t *testing.T) {
	s := Start(t)
	send := func(subject string) error {
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Auth(smtp.PlainAuth("", "user", "pass", "127.0.0.1")); err != nil {
			return err
		}
		if err := c.Mail("from@example.com"); err != nil {
			return err
		}
		if err := c.Rcpt("to@example.com"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte("Subject: " + subject + "\r\n\r\nbody\r\n")); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	if err := send("one"); err != nil {
		t.Fatal(err)
	}
	m := s.WaitFor(t, func(m Message) bool { return m.Subject == "one" }, time.Second)
	if m.AuthUser != "user" || m.EnvelopeFrom != "from@example.com" || m.EnvelopeTo[0] != "to@example.com" || m.Text != "body\n" {
		t.Fatalf("message %+v", m)
	}

	port := s.Port()
	s.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("stopped sink still accepts connections")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Port() != port {
		t.Fatalf("port %d, want %d", s.Port(), port)
	}
	if err := send("two"); err != nil {
		t.Fatal(err)
	}
	s.WaitFor(t, func(m Message) bool { return m.Subject == "two" }, time.Second)
	if len(s.Messages()) != 2 {
		t.Fatalf("%d messages", len(s.Messages()))
	}
}
