package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/e2e/smtpsink"
)

// TestInvitationOverSMTP is §6.12 on the built binary with a real SMTP server: an admin invites
// a new email → the email's link → the token check → acceptance with a chosen password (the
// body's email is ignored) → login with the invited role; the link works once, an expired one
// is refused, and the email of an unverified account is never matched (§8.95).
func TestInvitationOverSMTP(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t)
	s := Start(t, Options{})
	su := s.SuperuserToken(t)
	auth := []string{"Authorization", su}
	configureSMTP(t, s, auth, sink)
	if st, _, body := s.Do(t, http.MethodPatch, "/api/settings", map[string]any{"meta": map[string]any{"appURL": s.URL}}, auth...); st != http.StatusOK {
		t.Fatalf("PATCH appURL = %d %s", st, body)
	}
	// The inviter: a staff superuser.
	st, _, body := s.Do(t, http.MethodPost, "/api/collections/users/records", map[string]any{
		"email": "boss@example.com", "password": "violet-harbor-42", "passwordConfirm": "violet-harbor-42",
		"is_active": true, "is_superuser": true, "verified": true,
	}, auth...)
	if st != http.StatusOK {
		t.Fatalf("create inviter: %d %s", st, body)
	}
	boss := []string{"Authorization", "Bearer " + staffLogin(t, s, "boss@example.com", "violet-harbor-42").Access}

	st, _, body = s.Do(t, http.MethodGet, "/api/v1/system-roles/user-system-roles/system/tts/roles/", nil, boss...)
	if st != http.StatusOK {
		t.Fatalf("tts roles: %d %s", st, body)
	}
	var roles struct {
		Results []struct{ ID, Name string }
	}
	_ = json.Unmarshal(body, &roles)
	roleID := ""
	for _, r := range roles.Results {
		if r.Name == "Asset Manager" {
			roleID = r.ID
		}
	}
	if roleID == "" {
		t.Fatalf("no Asset Manager role: %s", body)
	}

	// An unverified account's email is not matched.
	createStaffUser(t, s, su, "unverified@example.com", "violet-harbor-43")
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/invite-agent/", map[string]any{"email": "unverified@example.com", "role_id": roleID}, boss...)
	if st != http.StatusConflict || !strings.Contains(string(body), "An unverified account with this email exists; invite it by user_id.") {
		t.Fatalf("unverified: %d %s", st, body)
	}

	// Invite a new email.
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/invite-agent/", map[string]any{"email": "New.Agent@Example.com", "role_id": roleID, "first_name": "New"}, boss...)
	if st != http.StatusCreated || !strings.Contains(string(body), `"status":"invited"`) || strings.Contains(string(body), "token") {
		t.Fatalf("invite: %d %s", st, body)
	}
	msg := sink.WaitFor(t, func(m smtpsink.Message) bool {
		return len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == "new.agent@example.com"
	}, 15*time.Second)
	m := resetLinkRe.FindStringSubmatch(msg.Text)
	if m == nil || m[1] != s.URL+"/accept-invitation/" {
		t.Fatalf("invitation link: %q", msg.Text)
	}
	token := m[2]

	st, _, body = s.Do(t, http.MethodGet, "/api/v1/invitations/accept/?token="+url.QueryEscape(token), nil)
	if st != http.StatusOK || !strings.Contains(string(body), `"valid":true`) || !strings.Contains(string(body), `"email":"new.agent@example.com"`) {
		t.Fatalf("check: %d %s", st, body)
	}
	accept := map[string]any{"token": token, "password": "amber-lantern-77", "password_confirm": "amber-lantern-77", "email": "evil@example.com"}
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/invitations/accept/", accept)
	if st != http.StatusCreated || !strings.Contains(string(body), `"email":"new.agent@example.com"`) || !strings.Contains(string(body), `"status":"Approved"`) {
		t.Fatalf("accept: %d %s", st, body)
	}
	// Login works with the invited role.
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "new.agent@example.com", "password": "amber-lantern-77"})
	if st != http.StatusOK || !strings.Contains(string(body), `"role_name":"Asset Manager"`) || !strings.Contains(string(body), `"system_slug":"tts"`) {
		t.Fatalf("login: %d %s", st, body)
	}
	if st, _, _ := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "evil@example.com", "password": "amber-lantern-77"}); st == http.StatusOK {
		t.Fatal("the body's email got an account")
	}
	// The link works once.
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/invitations/accept/", accept)
	if st != http.StatusBadRequest || !strings.Contains(string(body), "Invalid or expired invitation token.") {
		t.Fatalf("second use: %d %s", st, body)
	}
	if st, _, body = s.Do(t, http.MethodGet, "/api/v1/invitations/accept/?token="+url.QueryEscape(token), nil); !strings.Contains(string(body), `{"valid":false}`) {
		t.Fatalf("check after use: %d %s", st, body)
	}

	// An expired invitation is refused.
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/users/invite-agent/", map[string]any{"email": "late@example.com", "role_id": roleID}, boss...)
	if st != http.StatusCreated {
		t.Fatalf("invite late: %d %s", st, body)
	}
	var inv struct{ Invitation struct{ ID string } }
	_ = json.Unmarshal(body, &inv)
	late := sink.WaitFor(t, func(m smtpsink.Message) bool { return len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == "late@example.com" }, 15*time.Second)
	lateToken := resetLinkRe.FindStringSubmatch(late.Text)[2]
	if st, _, body := s.Do(t, http.MethodPatch, "/api/collections/invitations/records/"+inv.Invitation.ID,
		map[string]any{"expires_at": time.Now().Add(-time.Minute).UTC().Format("2006-01-02 15:04:05.000Z")}, auth...); st != http.StatusOK {
		t.Fatalf("expire: %d %s", st, body)
	}
	st, _, body = s.Do(t, http.MethodPost, "/api/v1/invitations/accept/", map[string]any{"token": lateToken, "password": "amber-lantern-77", "password_confirm": "amber-lantern-77"})
	if st != http.StatusBadRequest || !strings.Contains(string(body), "Invalid or expired invitation token.") {
		t.Fatalf("expired: %d %s", st, body)
	}
	// The token never reaches the stored rows or the request log.
	if st, _, body := s.Do(t, http.MethodGet, "/api/collections/invitations/records", nil, auth...); st != http.StatusOK || strings.Contains(string(body), token) {
		t.Fatalf("invitation rows: %d", st)
	}
	if _, _, body := s.Do(t, http.MethodGet, "/api/logs?perPage=500", nil, auth...); strings.Contains(string(body), token) {
		t.Fatal("the token is in the request log")
	}
}
