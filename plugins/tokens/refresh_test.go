package tokens

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

func (e *env) refresh(t *testing.T, raw string) (*Issued, error) {
	t.Helper()
	ev := &core.RequestEvent{}
	ev.App = e.app
	ev.Request = httptest.NewRequest(http.MethodPost, "/api/v1/token/refresh/", nil)
	ev.Response = httptest.NewRecorder()
	return e.svc.Refresh(ev, raw, realm.TypeStaff)
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

	// An absolute expiry stored in another text form than PocketBase writes (direct SQL, an
	// import): the cached-expiry swap cannot match it, the session is read, and every refresh
	// still rotates (twice in a row: the expiry read back is cached again in the same form).
	issued = e.login(t)
	later := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	if _, err := e.app.DB().Update("sessions", dbx.Params{"absolute_expires_at": later.Format("2006-01-02 15:04:05Z")},
		dbx.HashExp{"id": issued.SessionID}).Execute(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if issued, err = e.refresh(t, issued.Refresh); err != nil {
			t.Fatalf("absolute expiry without milliseconds, refresh %d: %v", i+1, err)
		}
	}
	if sess, _ := e.app.FindRecordById("sessions", issued.SessionID); sess.GetInt("generation") != 3 {
		t.Fatalf("generation %d after two refreshes, want 3", sess.GetInt("generation"))
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

// A refresh token this process signed is answered from memory (no signature verification) with
// exactly the claims a full Parse finds, once; everything a verification decides still holds.
func TestRefreshIssuedTokensInMemory(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	held, ok := e.svc.issuedRefresh.m.Get(issued.Refresh)
	if !ok {
		t.Fatal("login's refresh token not remembered")
	}
	parsed, err := e.svc.Parse(issued.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := fmt.Sprintf("%+v", *held.claims), fmt.Sprintf("%+v", *parsed); a != b {
		t.Fatalf("remembered claims differ from the parsed ones:\n%s\n%s", a, b)
	}
	next, err := e.refresh(t, issued.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.svc.issuedRefresh.m.Get(issued.Refresh); ok {
		t.Fatal("a presented token stays remembered")
	}
	if _, ok := e.svc.issuedRefresh.m.Get(next.Refresh); !ok {
		t.Fatal("the rotated token is not remembered")
	}
	// presented again: parsed in full, grace answer unchanged
	if _, err := e.refresh(t, issued.Refresh); statusOf(err) != http.StatusConflict {
		t.Fatalf("previous token = %v, want 409", err)
	}

	// The key reloaded (same key in the database): the entry no longer counts, Parse still does.
	if err := e.svc.reloadKeys(); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.svc.issuedRefresh.m.Get(next.Refresh); !ok {
		t.Fatal("entry dropped early")
	}
	if c := e.svc.takeIssued(next.Refresh); c != nil {
		t.Fatal("entry of a replaced key object answered")
	}
	e.svc.issuedRefresh.put(next.Refresh, held.claims, nil) // would be wrong claims: must not be used
	third, err := e.refresh(t, next.Refresh)
	if err != nil {
		t.Fatalf("after reload: %v", err)
	}

	// The signing key deleted: a remembered token of that key is refused.
	key, _ := e.svc.activeKey()
	if _, err := e.app.DB().Delete("signing_keys", dbx.HashExp{"kid": key.kid}).Execute(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.reloadKeys(); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.svc.issuedRefresh.m.Get(third.Refresh); !ok {
		t.Fatal("entry dropped early")
	}
	if _, err := e.refresh(t, third.Refresh); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("token of a deleted key = %v, want 401", err)
	}
}

// A change of issuer (JWT_ISSUER or the application URL) refuses remembered and cached tokens.
func TestRememberedTokensFollowTheIssuer(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	if code := e.probe(t, issued.Access); code != http.StatusOK {
		t.Fatalf("probe = %d", code)
	}
	if _, ok := e.svc.parsed.m.Get(issued.Access); !ok {
		t.Fatal("access token not cached")
	}
	e.svc.cfg.JWTIssuer = "https://other.example.com"
	if code := e.probe(t, issued.Access); code != http.StatusUnauthorized {
		t.Fatalf("probe after issuer change = %d, want 401", code)
	}
	if _, err := e.refresh(t, issued.Refresh); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("refresh after issuer change = %v, want 401", err)
	}
	if sess, _ := e.app.FindRecordById("sessions", issued.SessionID); sess.GetInt("generation") != 1 {
		t.Fatal("session rotated with a token of another issuer")
	}
}

// An expired remembered token is refused like a parsed one.
func TestRememberedRefreshExpires(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	held, _ := e.svc.issuedRefresh.m.Get(issued.Refresh)
	old := *held.claims
	old.ExpiresAt = time.Now().Unix() - 1
	raw, key, err := e.svc.signWithKey(&old)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.issuedRefresh.put(raw, &old, key)
	if _, err := e.refresh(t, raw); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("expired token = %v, want 401", err)
	}
	if sess, _ := e.app.FindRecordById("sessions", issued.SessionID); sess.GetInt("generation") != 1 || sess.GetString("revoked_at") != "" {
		t.Fatalf("session changed by an expired token: %v", sess.PublicExport())
	}
}

// A parse that verified under the old keyring and stored its entry after a reload's clear (the
// race of a Parse beside reloadKeys) must not keep a deleted key's token valid: a cache entry
// counts only under the keyring it was verified with.
func TestParseCacheEntryOfAnOlderKeyringMisses(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	before := e.svc.keys.Load()
	claims, err := e.svc.parseCached(issued.Access)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := e.svc.activeKey()
	if _, err := e.app.DB().Delete("signing_keys", dbx.HashExp{"kid": key.kid}).Execute(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.reloadKeys(); err != nil {
		t.Fatal(err)
	}
	e.svc.parsed.put(issued.Access, claims, before) // the racing parse's late store
	if c, err := e.svc.parseCached(issued.Access); err == nil || c != nil {
		t.Fatalf("access token of a deleted key verified from the cache: %+v", c)
	}
}

// A refresh whose session is revoked while it runs (a logout, a password change committed
// between its read and its swap) is a 401 like any dead session, not the 409 of the grace
// window (§3.4, §3.6).
func TestRefreshRacingARevocationIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	e.svc.absolutes = absoluteExpiries{} // the read-first path, the one that answered 409
	var err error
	testkit.ChangeDuring(t, e.app, "sessions", issued.SessionID, func(r *core.Record) {
		r.Set("revoked_at", types.NowDateTime())
		r.Set("revoked_reason", ReasonLogout)
	}, 300*time.Millisecond, func() { _, err = e.refresh(t, issued.Refresh) })
	if statusOf(err) != 401 {
		t.Fatalf("refresh racing a logout: %v", err)
	}
}

// A refresh that cannot mint its pair (here: no active signing key) fails without rotating:
// the session still holds the presented token, so the client's retry works once the cause is
// gone, instead of being a reuse that revokes the session (§3.4).
func TestRefreshThatCannotMintDoesNotRotate(t *testing.T) {
	e := newEnv(t, nil)
	issued := e.login(t)
	active, err := e.app.FindFirstRecordByData("signing_keys", "status", "active")
	if err != nil {
		t.Fatal(err)
	}
	active.Set("status", "retired")
	if err := e.app.Save(active); err != nil {
		t.Fatal(err)
	}
	if _, err := e.refresh(t, issued.Refresh); err == nil {
		t.Fatal("refresh minted without an active key")
	}
	sess, _ := e.app.FindRecordById("sessions", issued.SessionID)
	if sess.GetInt("generation") != 1 || sess.GetString("previous_jti_hash") != "" || !sess.GetDateTime("revoked_at").IsZero() {
		t.Fatalf("the failed refresh rotated the session: generation %d, previous %q", sess.GetInt("generation"), sess.GetString("previous_jti_hash"))
	}
	active.Set("status", "active")
	if err := e.app.Save(active); err != nil {
		t.Fatal(err)
	}
	if _, err := e.refresh(t, issued.Refresh); err != nil {
		t.Fatalf("the retry: %v", err)
	}
}
