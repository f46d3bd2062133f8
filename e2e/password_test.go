package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/e2e/smtpsink"
)

var resetLinkRe = regexp.MustCompile(`(https?://[^\s"<>]+)#token=([A-Za-z0-9_-]+)`)

func mailTo(to, subject string) func(smtpsink.Message) bool {
	return func(m smtpsink.Message) bool {
		return m.Subject == subject && len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == to
	}
}

type loginPair struct{ Access, Refresh string }

func staffLogin(t *testing.T, s *Server, email, password string) loginPair {
	t.Helper()
	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": password})
	if st != http.StatusOK {
		t.Fatalf("login %s: %d %s", email, st, body)
	}
	var p loginPair
	if err := json.Unmarshal(body, &p); err != nil || p.Access == "" || p.Refresh == "" {
		t.Fatalf("login answer: %v %s", err, body)
	}
	return p
}

// TestPasswordForgotAndResetOverSMTP is §6.9 on the real binary with a real SMTP server: forgot
// → email → link → page → token check → reset → every old session dead → the new password logs
// in; the token works once; an unknown email gets the same answer and no mail; the token never
// reaches PocketBase's request log (§8.6 statement 88).
func TestPasswordForgotAndResetOverSMTP(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	s := Start(t, Options{})
	su := s.SuperuserToken(t)
	auth := []string{"Authorization", su}
	configureSMTP(t, s, auth, sink)
	if st, _, body := s.Do(t, http.MethodPatch, "/api/settings", map[string]any{"meta": map[string]any{"appURL": s.URL}}, auth...); st != http.StatusOK {
		t.Fatalf("PATCH appURL = %d %s", st, body)
	}

	const email, oldPassword, newPassword = "reset.me@example.com", "violet-harbor-42", "amber-lantern-77"
	createStaffUser(t, s, su, email, oldPassword)
	first := staffLogin(t, s, email, oldPassword)
	second := staffLogin(t, s, email, oldPassword)

	// The same answer for an unknown and a known email.
	stUnknown, hUnknown, bodyUnknown := s.Do(t, http.MethodPost, "/api/v1/users/password/forgot/", map[string]string{"email": "nobody@example.com"})
	stKnown, hKnown, bodyKnown := s.Do(t, http.MethodPost, "/api/v1/users/password/forgot", map[string]string{"email": "Reset.Me@Example.com"})
	const forgotBody = `{"message":"If an account with that email exists, a password reset link has been sent."}`
	if stUnknown != 200 || stKnown != 200 || string(bodyUnknown) != forgotBody || string(bodyKnown) != forgotBody ||
		hUnknown.Get("Content-Type") != hKnown.Get("Content-Type") || hUnknown.Get("Content-Length") != hKnown.Get("Content-Length") {
		t.Fatalf("forgot: unknown %d %s, known %d %s", stUnknown, bodyUnknown, stKnown, bodyKnown)
	}

	// The email, delivered over SMTP, carries the link with the token in the fragment only.
	msg := sink.WaitFor(t, mailTo(email, "Password reset request"), 15*time.Second)
	m := resetLinkRe.FindStringSubmatch(msg.Text)
	if m == nil || !strings.Contains(msg.HTML, m[0]) {
		t.Fatalf("no reset link in the email:\n%s\n%s", msg.Text, msg.HTML)
	}
	base, token := m[1], m[2]
	if base != s.URL+"/api/v1/users/password/reset/" || len(token) != 43 || strings.Contains(msg.Text, "?token=") {
		t.Fatalf("link %s#token=%s", base, token)
	}
	if n := sink.Count(func(m smtpsink.Message) bool {
		return len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == "nobody@example.com"
	}); n != 0 {
		t.Fatalf("%d messages to the unknown address", n)
	}
	st, _, body := s.Do(t, http.MethodGet, "/api/collections/email_outbox/records?filter="+url.QueryEscape("to='nobody@example.com'"), nil, auth...)
	if st != 200 || !strings.Contains(string(body), `"totalItems":0`) {
		t.Fatalf("outbox rows for the unknown address: %d %s", st, body)
	}

	// The browser opens the link (the fragment stays in the browser): the reset page, no redirect.
	link, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	st, h, page := s.Do(t, http.MethodGet, link.Path, nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if st != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Location") != "" ||
		h.Get("Content-Security-Policy") != "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" ||
		!strings.Contains(string(page), "Reset your password") || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Accept") {
		t.Fatalf("reset page: %d %v %.300s", st, h, page)
	}
	if st, _, static := s.Do(t, http.MethodGet, "/reset-password/", nil); st != 200 || string(static) != string(page) {
		t.Fatalf("/reset-password/ = %d, same page: %v", st, string(static) == string(page))
	}
	// The page checks the token with the JSON variant.
	st, _, body = s.Do(t, http.MethodGet, link.Path+"?token="+token, nil, "Accept", "application/json")
	if st != 200 || string(body) != `{"valid":true}` {
		t.Fatalf("token check: %d %s", st, body)
	}

	// The reset.
	const resetBody = `{"success":true,"message":"Password has been reset successfully. You can now log in with your new password."}`
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/password/reset/", map[string]string{"token": token, "password": newPassword, "password_confirm": newPassword})
	if st != 200 || string(body) != resetBody {
		t.Fatalf("reset: %d %s", st, body)
	}
	sink.WaitFor(t, mailTo(email, "Your password was changed"), 15*time.Second)

	// Every session of the account is dead: access tokens and refresh tokens.
	for _, p := range []loginPair{first, second} {
		if st, _, body := s.Do(t, http.MethodGet, "/api/me/", nil, "Authorization", "Bearer "+p.Access); st != 401 {
			t.Errorf("old access token: %d %s", st, body)
		}
		if st, _, body := s.Do(t, http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": p.Refresh}); st != 401 {
			t.Errorf("old refresh token: %d %s", st, body)
		}
	}

	// The new password logs in, the old one does not; the token works once.
	fresh := staffLogin(t, s, email, newPassword)
	if st, _, body := s.Do(t, http.MethodGet, "/api/me/", nil, "Authorization", "Bearer "+fresh.Access); st != 200 {
		t.Fatalf("new session: %d %s", st, body)
	}
	if st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": oldPassword}); st != 400 {
		t.Fatalf("old password: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/password/reset/", map[string]string{"token": token, "password": "other-lantern-88", "password_confirm": "other-lantern-88"})
	if st != 400 || string(body) != `{"detail":"Invalid input.","code":"invalid","errors":{"token":["Invalid or expired reset token."]}}` {
		t.Fatalf("second use: %d %s", st, body)
	}
	if st, _, body := s.Do(t, http.MethodGet, link.Path+"?token="+token, nil); st != 200 || string(body) != `{"valid":false}` {
		t.Fatalf("used token check: %d %s", st, body)
	}

	// §8.6 st. 88: the request log has the token checks, without their query strings.
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _, logs := s.Do(t, http.MethodGet, "/api/logs?perPage=500&filter="+url.QueryEscape("data.url~'/api/v1/users/password/reset'"), nil, auth...)
		if st != 200 {
			t.Fatalf("GET /api/logs = %d %s", st, logs)
		}
		if strings.Contains(string(logs), token) {
			t.Fatalf("the request log holds the reset token: %s", logs)
		}
		var res struct {
			Items []struct {
				Data map[string]any `json:"data"`
			} `json:"items"`
		}
		if err := json.Unmarshal(logs, &res); err != nil {
			t.Fatal(err)
		}
		gets := 0
		for _, it := range res.Items {
			if it.Data["method"] == "GET" && it.Data["url"] == "/api/v1/users/password/reset/" {
				gets++
			}
		}
		if gets >= 3 { // the page, the check before and the check after the reset
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token checks never reached the request log (%d): %s", gets, logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
