package tokens

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

func (e *env) refresh(t *testing.T, raw string) (*Issued, error) {
	t.Helper()
	ev := &core.RequestEvent{}
	ev.App = e.app
	ev.Request = httptest.NewRequest(http.MethodPost, "/api/v1/token/refresh/", nil)
	ev.Response = httptest.NewRecorder()
	return e.svc.Refresh(ev, raw, UserTypeStaff)
}

func statusOf(err error) int {
	if apiErr, ok := err.(*apikit.Error); ok {
		return apiErr.Status
	}
	return 0
}

// The one-statement rotation (absolute expiry known) and the read-first path (not known, e.g.
// after a restart) give the same answers and leave the same row.
func TestRefreshPathsAgree(t *testing.T) {
	e := newEnv(t, nil)
	first := e.login(t)
	if _, ok := e.svc.absolutes.get(first.SessionID); !ok {
		t.Fatal("login did not remember the session's absolute expiry")
	}

	for _, known := range []bool{true, false} {
		issued := e.login(t)
		if !known {
			e.svc.absolutes = absoluteExpiries{}
		}
		next, err := e.refresh(t, issued.Refresh)
		if err != nil {
			t.Fatalf("known=%v: %v", known, err)
		}
		sess, err := e.app.FindRecordById("sessions", issued.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Parse(next.Refresh)
		if err != nil {
			t.Fatal(err)
		}
		if sess.GetString("refresh_jti_hash") != hashJTI(c.ID) || sess.GetInt("generation") != 2 {
			t.Fatalf("known=%v: row not rotated: %v", known, sess.PublicExport())
		}
		if got := sess.GetDateTime("expires_at").Time().Unix(); got != c.ExpiresAt {
			t.Fatalf("known=%v: stored expiry %d, token exp %d", known, got, c.ExpiresAt)
		}
		// the previous token within the grace window: 409, nothing rotates
		if _, err := e.refresh(t, issued.Refresh); statusOf(err) != http.StatusConflict {
			t.Fatalf("known=%v: previous token = %v, want 409", known, err)
		}
		if _, ok := e.svc.absolutes.get(issued.SessionID); !ok {
			t.Fatalf("known=%v: absolute expiry not remembered", known)
		}
	}

	// A session revoked while its absolute expiry is remembered: 401, no rotation.
	issued := e.login(t)
	if _, err := RevokeSession(e.app, issued.SessionID, ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if _, err := e.refresh(t, issued.Refresh); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("revoked session: %v", err)
	}
	if sess, _ := e.app.FindRecordById("sessions", issued.SessionID); sess.GetInt("generation") != 1 {
		t.Fatal("revoked session rotated")
	}

	// An absolute lifetime shortened after login (dashboard edit): the new token follows it.
	issued = e.login(t)
	sess, _ := e.app.FindRecordById("sessions", issued.SessionID)
	shorter := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Millisecond)
	sess.Set("absolute_expires_at", shorter)
	if err := e.app.Save(sess); err != nil {
		t.Fatal(err)
	}
	next, err := e.refresh(t, issued.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.svc.Parse(next.Refresh)
	if c.ExpiresAt > shorter.Unix() {
		t.Fatalf("token exp %d past the shortened absolute expiry %d", c.ExpiresAt, shorter.Unix())
	}
	sess, _ = e.app.FindRecordById("sessions", issued.SessionID)
	if sess.GetDateTime("expires_at").Time().After(shorter) {
		t.Fatalf("stored expiry %v past %v", sess.GetDateTime("expires_at"), shorter)
	}

	// A principal deactivated since login: 401 and the session ends.
	issued = e.login(t)
	if _, err := e.app.DB().Update("users", dbx.Params{"is_active": false}, dbx.HashExp{"id": e.user.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.refresh(t, issued.Refresh); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("deactivated: %v", err)
	}
	if sess, _ := e.app.FindRecordById("sessions", issued.SessionID); sess.GetString("revoked_reason") != ReasonUserDeactivated {
		t.Fatalf("session after deactivation: %v", sess.PublicExport())
	}
}

// token.refresh is audited at most once per session per minute (§7.1).
func TestRefreshAuditIsSampled(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	for i := 0; i < 3; i++ {
		next, err := e.refresh(t, issued.Refresh)
		if err != nil {
			t.Fatal(err)
		}
		issued = next
	}
	n, err := e.app.CountRecords("audit_log", dbx.HashExp{"event": "token.refresh", "target_id": issued.SessionID})
	if err != nil || n != 1 {
		t.Fatalf("token.refresh rows = %d (%v), want 1", n, err)
	}
}

// Our compact JWS is byte for byte what golang-jwt writes (Ed25519 signatures are deterministic).
func TestSignMatchesGolangJWT(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	for _, raw := range []string{issued.Access, issued.Refresh} {
		c, err := e.svc.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := e.svc.sign(c)
		if err != nil {
			t.Fatal(err)
		}
		key, err := e.svc.activeKey()
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = key.kid
		theirs, err := tok.SignedString(key.priv)
		if err != nil {
			t.Fatal(err)
		}
		if ours != theirs || ours != raw {
			t.Fatalf("tokens differ:\nours   %s\ntheirs %s\nissued %s", ours, theirs, raw)
		}
	}
}
