package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Durability (issue 17): the built binary is killed with SIGKILL while 1,000 acknowledged writes
// (registrations, refresh rotations, password changes) are in flight. Acknowledged = the client
// read the whole 2xx answer; each one is recorded client-side. After a restart on the same data
// dir every acknowledged write is there: each registered account exists and its password
// logs in, each account's last acknowledged password logs in, and each session holds exactly
// the last acknowledged refresh token (its stored current and previous jti hashes match the
// client's last two tokens, so no session is half-rotated) and rotates again. A write the kill
// interrupted (sent, no answer) may or may not have committed; the test accepts both, and
// only for that one write.
//
// The README's "Durability" convention states the guarantee this measures (process crash: no
// acknowledged write is lost; power loss: see there).
func TestDurabilityKill9DuringAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	const (
		totalWrites   = 1000
		refreshChains = 8 // sessions, each rotated by one worker (never two refreshes in flight)
		changers      = 4 // accounts whose password one worker changes again and again
		registrars    = 2 // workers registering new accounts
		// refreshes are ~1000× cheaper than a registration or a password change (bcrypt 12):
		// at most this many refreshes per bcrypt-bound write, so the kill falls in the middle
		// of all three kinds
		refreshesPerSlowWrite = 40
	)
	env := []string{"RATE_LIMITS_ENABLED=false"}
	s := Start(t, Options{Env: env})
	su := s.SuperuserToken(t)
	lc := newLoadClient(s.URL, 32)

	login := func(email, password string) loginPair {
		t.Helper()
		st, body, err := lc.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": password})
		var p loginPair
		if err != nil || st != 200 || json.Unmarshal(body, &p) != nil || p.Refresh == "" {
			t.Fatalf("login %s: %d %s %v", email, st, body, err)
		}
		return p
	}

	// Set-up: 2 accounts with 4 sessions each (refresh chains), 4 accounts with one session each.
	type chain struct {
		sid      string
		tokens   []string // refresh tokens: [0] from the login, then one per acknowledged rotation
		access   string   // access token of the last acknowledged answer
		inFlight bool     // a rotation was sent with tokens[len-1] and not answered
	}
	chains := make([]*chain, refreshChains)
	for a := range 2 {
		email := fmt.Sprintf("dur.refresh.%d@example.com", a)
		createStaffUser(t, s, su, email, "violet-harbor-42")
		var wg sync.WaitGroup
		for i := range refreshChains / 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := login(email, "violet-harbor-42")
				chains[a*refreshChains/2+i] = &chain{sid: jwtClaim(t, p.Refresh, "sid"), tokens: []string{p.Refresh}, access: p.Access}
			}()
		}
		wg.Wait()
	}
	type changer struct {
		email     string
		access    string
		passwords []string // [0] the initial one, then one per acknowledged change
		inFlight  string   // the new password of a change sent and not answered
	}
	accounts := make([]*changer, changers)
	var wg sync.WaitGroup
	for i := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("dur.change.%d@example.com", i)
			createStaffUser(t, s, su, email, "violet-harbor-42")
			accounts[i] = &changer{email: email, access: login(email, "violet-harbor-42").Access, passwords: []string{"violet-harbor-42"}}
		}()
	}
	wg.Wait()
	type registrar struct {
		acked    map[string]string // email → password
		inFlight string
	}
	regs := make([]*registrar, registrars)
	for i := range regs {
		regs[i] = &registrar{acked: map[string]string{}}
	}

	// The write phase. Each worker records its acknowledged write before counting it; the
	// worker whose acknowledgement is the 1000th kills the server at once, while the others
	// are mid-request.
	var acked, slowAcked, refreshAcked atomic.Int64
	var killOnce sync.Once
	killedAt := make(chan time.Time, 1)
	count := func() {
		if acked.Add(1) == totalWrites {
			killOnce.Do(func() { s.Kill9(); killedAt <- time.Now() })
		}
	}
	var unexpected atomic.Value
	fail := func(format string, args ...any) { unexpected.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
	start := time.Now()
	for _, c := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				for refreshAcked.Load() >= refreshesPerSlowWrite*(slowAcked.Load()+1) {
					if unexpected.Load() != nil {
						return // the slow writers stopped: never wait for them
					}
					time.Sleep(2 * time.Millisecond)
				}
				c.inFlight = true
				st, body, err := lc.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": c.tokens[len(c.tokens)-1]})
				if err != nil {
					return // the server is gone
				}
				var p loginPair
				if st != 200 || json.Unmarshal(body, &p) != nil || p.Refresh == "" {
					fail("refresh: %d %s", st, body)
					return
				}
				c.tokens, c.access, c.inFlight = append(c.tokens, p.Refresh), p.Access, false
				refreshAcked.Add(1)
				count()
			}
		}()
	}
	for _, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next := strongPassword()
				a.inFlight = next
				st, body, err := lc.do(http.MethodPost, "/api/v1/users/password/change/", map[string]string{
					"current_password": a.passwords[len(a.passwords)-1], "new_password": next, "new_password_confirm": next,
				}, "Authorization", "Bearer "+a.access)
				if err != nil {
					return
				}
				if st != 200 || string(body) != `{"detail":"Password changed successfully."}` {
					fail("password change %s: %d %s", a.email, st, body)
					return
				}
				a.passwords, a.inFlight = append(a.passwords, next), ""
				slowAcked.Add(1)
				count()
			}
		}()
	}
	for w, r := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				email, password := fmt.Sprintf("dur.reg.%d.%d@example.com", w, n), strongPassword()
				r.inFlight = email
				st, body, err := lc.do(http.MethodPost, "/api/v1/users/register/", map[string]string{
					"email": email, "password": password, "first_name": "Dura", "last_name": "Ble",
				})
				if err != nil {
					return
				}
				if st != 201 {
					fail("register %s: %d %s", email, st, body)
					return
				}
				r.acked[email], r.inFlight = password, ""
				slowAcked.Add(1)
				count()
			}
		}()
	}
	wg.Wait()
	if msg := unexpected.Load(); msg != nil {
		t.Fatalf("during the write phase: %s", msg)
	}
	var killTime time.Time
	select {
	case killTime = <-killedAt:
	default:
		t.Fatalf("the workers stopped after %d acknowledged writes without a kill", acked.Load())
	}
	nReg, nChange, nInFlight := 0, 0, 0
	for _, r := range regs {
		nReg += len(r.acked)
		if r.inFlight != "" {
			nInFlight++
		}
	}
	for _, a := range accounts {
		nChange += len(a.passwords) - 1
		if a.inFlight != "" {
			nInFlight++
		}
	}
	for _, c := range chains {
		if c.inFlight {
			nInFlight++
		}
	}
	t.Logf("SIGKILL %v into the write phase, at the %dth acknowledgement: %d acknowledged writes in all (%d refreshes, %d password changes, %d registrations; answers already on their way count too), %d writes interrupted",
		killTime.Sub(start).Round(time.Millisecond), totalWrites, acked.Load(), refreshAcked.Load(), nChange, nReg, nInFlight)
	if nReg == 0 || nChange == 0 {
		t.Fatalf("the kill came before registrations (%d) and password changes (%d) were acknowledged", nReg, nChange)
	}

	// Restart on the same data dir.
	s2 := Start(t, Options{DataDir: s.DataDir, Env: env})
	lc2 := newLoadClient(s2.URL, 4)
	db := openDataDB(t, s2.DataDir)

	// Every acknowledged registration exists; an interrupted one may.
	for _, r := range regs {
		for email := range r.acked {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM users WHERE email = ? AND password != ''`, email).Scan(&n); err != nil || n != 1 {
				t.Fatalf("acknowledged registration %s: %d rows (%v)", email, n, err)
			}
		}
	}
	// The last acknowledged registration of the first worker logs in with its password.
	for email, password := range regs[0].acked {
		if email == fmt.Sprintf("dur.reg.0.%d@example.com", len(regs[0].acked)-1) {
			if st, body, err := lc2.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": email, "password": password}); err != nil || st != 200 {
				t.Fatalf("login of registered %s: %d %s %v", email, st, body, err)
			}
		}
	}

	// Each account's last acknowledged password logs in (or, if a change was interrupted and
	// committed, that change's new password), and its session is live.
	interruptedChanges := 0
	for _, a := range accounts {
		last := a.passwords[len(a.passwords)-1]
		st, body, err := lc2.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": a.email, "password": last})
		if err != nil {
			t.Fatal(err)
		}
		if st != 200 {
			if a.inFlight == "" {
				t.Fatalf("%s: the last acknowledged password (change %d) does not log in: %d %s", a.email, len(a.passwords)-1, st, body)
			}
			st2, body2, err := lc2.do(http.MethodPost, "/api/v1/users/login/", map[string]string{"email": a.email, "password": a.inFlight})
			if err != nil || st2 != 200 {
				t.Fatalf("%s: neither the last acknowledged nor the interrupted password logs in: %d %s / %d %s", a.email, st, body, st2, body2)
			}
			interruptedChanges++
		}
		if st, body, err := lc2.do(http.MethodGet, "/api/v1/users/token/validate/", nil, "Authorization", "Bearer "+a.access); err != nil || st != 200 {
			t.Fatalf("%s: the session the changes were made with: %d %s %v", a.email, st, body, err)
		}
	}

	// Each session holds exactly the client's last acknowledged refresh token (generation,
	// current and previous jti hashes all from the same rotation), or — only if a rotation was
	// interrupted — the rotation after it.
	interruptedRotations := 0
	for i, c := range chains {
		var generation int
		var current, previous, revoked string
		if err := db.QueryRow(`SELECT generation, refresh_jti_hash, previous_jti_hash, revoked_at FROM sessions WHERE id = ?`, c.sid).
			Scan(&generation, &current, &previous, &revoked); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		k := len(c.tokens) - 1 // acknowledged rotations
		last := c.tokens[k]
		if revoked != "" {
			t.Fatalf("session %d revoked (%s)", i, revoked)
		}
		switch {
		case generation == 1+k && current == jtiHash(t, last) && (k == 0 || previous == jtiHash(t, c.tokens[k-1])):
			st, body, err := lc2.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": last})
			var p loginPair
			if err != nil || st != 200 || json.Unmarshal(body, &p) != nil {
				t.Fatalf("session %d: the last acknowledged refresh token after the restart: %d %s %v", i, st, body, err)
			}
			if st, body, err := lc2.do(http.MethodGet, "/api/v1/users/token/validate/", nil, "Authorization", "Bearer "+p.Access); err != nil || st != 200 {
				t.Fatalf("session %d: the new access token: %d %s %v", i, st, body, err)
			}
		case c.inFlight && generation == 2+k && previous == jtiHash(t, last):
			// The interrupted rotation committed; its answer never arrived. The client's token is
			// the previous one: within 10 s of the rotation a 409, later a reuse (401).
			interruptedRotations++
			st, body, err := lc2.do(http.MethodPost, "/api/v1/token/refresh/", map[string]string{"refresh": last})
			if err != nil || (st != 409 && st != 401) {
				t.Fatalf("session %d: the superseded token: %d %s %v", i, st, body, err)
			}
		default:
			t.Fatalf("session %d: generation %d (the client holds %d acknowledged rotations, interrupted: %v), current hash of the last token: %v, previous of the one before: %v",
				i, generation, k, c.inFlight, current == jtiHash(t, last), k > 0 && previous == jtiHash(t, c.tokens[k-1]))
		}
		if generation == 1+k {
			if st, body, err := lc2.do(http.MethodGet, "/api/v1/users/token/validate/", nil, "Authorization", "Bearer "+c.access); err != nil || st != 200 {
				t.Fatalf("session %d: the last acknowledged access token: %d %s %v", i, st, body, err)
			}
		}
	}
	t.Logf("after the restart: every acknowledged write present; interrupted writes that had committed: %d password changes, %d rotations",
		interruptedChanges, interruptedRotations)
}

// strongPassword is a fresh password that passes the §1.13 policy.
func strongPassword() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "Quartz-" + hex.EncodeToString(b) + "-lantern"
}
