// Package smtpsink is an in-process SMTP server for tests (github.com/emersion/go-smtp): it
// listens on a random 127.0.0.1 port without TLS, accepts any AUTH PLAIN/LOGIN credentials and
// every message, and keeps the parsed messages in memory. Stop and Restart (same port) simulate
// an SMTP outage.
package smtpsink

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	EnvelopeFrom string   // MAIL FROM
	EnvelopeTo   []string // RCPT TO
	AuthUser     string   // the AUTH username, empty without AUTH

	From    string   // header From, as written (e.g. `"Gatehouse" <no-reply@example.com>`)
	To      []string // header To addresses (address part only)
	Subject string   // decoded (RFC 2047)
	Text    string   // decoded text/plain body, CRLF turned into LF
	HTML    string   // decoded text/html body, CRLF turned into LF
	Header  mail.Header
	Raw     []byte
}

// Sink is a running (or stopped) SMTP server.
type Sink struct {
	mu       sync.Mutex
	port     int
	server   *smtp.Server
	listener net.Listener
	done     chan struct{}
	messages []Message
	changed  chan struct{} // closed and replaced on every new message
}

// Start listens on a random 127.0.0.1 port; the sink stops when the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	s := &Sink{changed: make(chan struct{})}
	if err := s.listen("127.0.0.1:0"); err != nil {
		t.Fatalf("smtpsink: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Sink) listen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ErrorLog = discardLogger{}
	done := make(chan struct{})
	s.mu.Lock()
	s.port = l.Addr().(*net.TCPAddr).Port
	s.server = srv
	s.listener = l
	s.done = done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	return nil
}

// Addr is "127.0.0.1:<port>".
func (s *Sink) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())) }

// Port is the listening port (kept across Restart).
func (s *Sink) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Stop closes the listener and every open connection: new connections are refused until
// Restart. Stopping a stopped sink does nothing.
func (s *Sink) Stop() {
	s.mu.Lock()
	srv, l, done := s.server, s.listener, s.done
	s.server, s.listener, s.done = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	// Close the listener ourselves too: Serve may not have registered it with the server yet.
	_ = l.Close()
	_ = srv.Close()
	<-done
}

// Restart listens again on the same port (after Stop; a running sink is restarted). Received
// messages are kept.
func (s *Sink) Restart() error {
	s.Stop()
	addr := s.Addr()
	var err error
	for range 50 { // the port may linger for a moment after close
		if err = s.listen(addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("smtpsink: restart on %s: %w", addr, err)
}

// Messages returns a copy of every message received so far, oldest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Count is the number of received messages matching match (all when match is nil).
func (s *Sink) Count(match func(Message) bool) int {
	n := 0
	for _, m := range s.Messages() {
		if match == nil || match(m) {
			n++
		}
	}
	return n
}

// WaitFor returns the first message (oldest first) matching match, waiting up to timeout for
// it; the test fails when none arrives.
func (s *Sink) WaitFor(t testing.TB, match func(Message) bool, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		for _, m := range s.messages {
			if match == nil || match(m) {
				s.mu.Unlock()
				return m
			}
		}
		n := len(s.messages)
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("smtpsink: no matching message within %v (%d received)", timeout, n)
			return Message{}
		}
	}
}

func (s *Sink) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

type backend struct{ sink *Sink }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{sink: b.sink}, nil }

type session struct {
	sink *Sink
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, _ string) error {
			s.user = username
			return nil
		}), nil
	case sasl.Login:
		return &loginServer{done: func(username string) { s.user = username }}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparsable message: " + err.Error()}
	}
	m.EnvelopeFrom = s.from
	m.EnvelopeTo = append([]string(nil), s.to...)
	m.AuthUser = s.user
	s.sink.add(m)
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl only ships the client): it asks for
// the username and the password and accepts any pair.
type loginServer struct {
	step     int
	username string
	done     func(string)
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) > 0 { // initial response carries the username
			l.username = string(response)
			l.step = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		l.done(l.username)
		return nil, true, nil
	}
	return nil, true, errors.New("unexpected AUTH LOGIN response")
}

// Parse reads a raw RFC 5322 message: headers, the decoded subject, and the first text/plain and
// text/html parts (walking nested multiparts, decoding quoted-printable and base64, CRLF → LF).
func Parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: msg.Header, Raw: raw, From: msg.Header.Get("From")}
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	if list, err := msg.Header.AddressList("To"); err == nil {
		for _, a := range list {
			m.To = append(m.To, a.Address)
		}
	}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &m)
	return m, err
}

func walk(contentType, transferEncoding string, body io.Reader, m *Message) error {
	if contentType == "" {
		contentType = "text/plain; charset=utf-8"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: decode the transfer encoding here, for every part alike.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, m); err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(decodeTransfer(transferEncoding, body))
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	// Text parts travel with CRLF line ends; tests compare them with Go strings.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = text
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = text
		}
	}
	return nil
}

func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	}
	return r
}

// newlineStripper drops CR and LF so base64 lines decode as one stream.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		c, err := n.r.Read(p)
		k := 0
		for _, b := range p[:c] {
			if b != '\r' && b != '\n' {
				p[k] = b
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}
func (discardLogger) Println(...interface{})        {}
