package captcha

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/config"
)

// Attempts makes the CAPTCHA thresholds and the password lockout of §6.1 hold under
// concurrency. The counters are rows of auth_failures, written after a password comparison
// that takes ~250 ms; judged only on the rows already written, a burst of N parallel guesses
// for one email would all pass a threshold of 3 and be compared (and a right password could
// slip in while the 10th failure was still being compared).
//
// So every password comparison of a login-type request first takes a reservation on its email
// and its client IP (Admit). A reservation counts as a failure that has not been written yet:
// a request is admitted only while recorded failures + reservations stay below the threshold;
// a request that would need a CAPTCHA only if the reservations fail waits for them to end
// (Done) instead of being refused, so parallel RIGHT passwords all pass, each after the ones
// before it (never more than threshold comparisons of one email at a time). The decision
// (read the counters, add the reservation) is serialised per key; nothing is held during the
// comparison itself. Reservations live in this process (Gatehouse is one process per data
// directory); the counters they guard are persisted.
type Attempts struct {
	mu   sync.Mutex
	keys map[string]*attemptKey
}

type attemptKey struct {
	decide  sync.Mutex    // held while reading the counters and reserving
	pending int           // admitted attempts whose outcome is not written yet (guarded by Attempts.mu)
	changed chan struct{} // closed when pending drops (guarded by Attempts.mu)
	refs    int           // requests using this entry (guarded by Attempts.mu)
}

// NewAttempts returns an empty reservation table; one per app, shared by every endpoint that
// compares a password (server.Register passes it to the plugins).
func NewAttempts() *Attempts { return &Attempts{keys: map[string]*attemptKey{}} }

// AttemptRequest describes one password attempt.
type AttemptRequest struct {
	Email string // as submitted (normalised here); may name no account
	IP    string // the client IP
	// Lookup returns the account the email names in the realm being signed in to (nil when
	// there is none). It is called with the decision locks held, so the record (its lock and
	// counter-reset dates) is fresh when the attempt is admitted.
	Lookup func() (*core.Record, error)
	// CaptchaExempt: the request has no CAPTCHA gate (authenticated current-password checks)
	// and is held only to the lockout threshold.
	CaptchaExempt bool
	// SolveCaptcha is called at most once, when the CAPTCHA is required; it consumes the
	// request's challenge and returns nil when it was satisfied, else the error to answer.
	SolveCaptcha func() error
	// MaxWait bounds the wait for other attempts on the same keys (0: 10 s).
	MaxWait time.Duration
}

// ErrAttemptWaitTimeout is returned when other attempts on the same email or IP did not end
// within MaxWait; the caller answers 429.
var ErrAttemptWaitTimeout = errors.New("captcha: waited too long for concurrent attempts")

// Attempt is an admitted password attempt: call Done exactly once after its outcome (the
// failure row, or the counter reset of a success) is written, or when it ends without one.
type Attempt struct {
	a       *Attempts
	names   []string
	keys    []*attemptKey
	once    sync.Once
	Account *core.Record // the account Lookup returned when the attempt was admitted (may be nil)
	Locked  bool         // that account's password step was locked then (§6.1 item 3)
}

// Done ends the reservation and wakes the requests waiting on its keys.
func (at *Attempt) Done() {
	if at == nil {
		return
	}
	at.once.Do(func() {
		at.a.mu.Lock()
		defer at.a.mu.Unlock()
		for i, k := range at.keys {
			k.pending--
			close(k.changed)
			k.changed = make(chan struct{})
			at.a.unrefLocked(at.names[i], k)
		}
	})
}

func (a *Attempts) ref(names []string) []*attemptKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]*attemptKey, len(names))
	for i, name := range names {
		k := a.keys[name]
		if k == nil {
			k = &attemptKey{changed: make(chan struct{})}
			a.keys[name] = k
		}
		k.refs++
		keys[i] = k
	}
	return keys
}

func (a *Attempts) unrefLocked(name string, k *attemptKey) {
	k.refs--
	if k.refs == 0 && k.pending == 0 {
		delete(a.keys, name)
	}
}

// Admit decides whether a password attempt may be compared now (§6.1, §5.1.2 steps 2–3). It
// returns an Attempt (call Done), or the SolveCaptcha error (CAPTCHA missing or wrong),
// ErrAttemptWaitTimeout, a context error or a database error. A request that would need the
// CAPTCHA, or would reach the lockout, only if concurrent attempts fail waits for them.
func (a *Attempts) Admit(ctx context.Context, app core.App, cfg *config.Config, req AttemptRequest) (*Attempt, error) {
	email := NormalizeEmail(req.Email)
	// Lock order: the email key, then the IP key, for every request.
	names := []string{"e:" + email, "i:" + req.IP}
	keys := a.ref(names)
	at := &Attempt{a: a, names: names, keys: keys}
	admitted := false
	defer func() {
		if !admitted {
			a.mu.Lock()
			for i, k := range keys {
				a.unrefLocked(names[i], k)
			}
			a.mu.Unlock()
		}
	}()

	maxWait := req.MaxWait
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()

	captchaDone := req.CaptchaExempt
	for {
		wait, needCaptcha, err := a.decide(app, cfg, email, req, at, captchaDone)
		if err != nil {
			return nil, err
		}
		if needCaptcha {
			if err := req.SolveCaptcha(); err != nil {
				return nil, err
			}
			captchaDone = true
			continue
		}
		if wait == nil {
			admitted = true
			return at, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, ErrAttemptWaitTimeout
		}
	}
}

// decide reads the counters with the keys' decision locks held, then reserves (wait == nil
// and needCaptcha false), asks for the CAPTCHA, or returns the channel to wait on.
func (a *Attempts) decide(app core.App, cfg *config.Config, email string, req AttemptRequest, at *Attempt, captchaDone bool) (wait <-chan struct{}, needCaptcha bool, err error) {
	emailKey, ipKey := at.keys[0], at.keys[1]
	emailKey.decide.Lock()
	defer emailKey.decide.Unlock()
	ipKey.decide.Lock()
	defer ipKey.decide.Unlock()

	// Reservations only grow under the decision locks (held here), so these counts can only
	// drop before the reservation below; a drop closes the channel we would wait on.
	a.mu.Lock()
	pendE, chE := emailKey.pending, emailKey.changed
	pendI, chI := ipKey.pending, ipKey.changed
	a.mu.Unlock()

	if !captchaDone {
		emailF, err := emailFailures(app, cfg, email)
		if err != nil {
			return nil, false, err
		}
		ipF, err := ipFailures(app, cfg, req.IP)
		if err != nil {
			return nil, false, err
		}
		if (email != "" && emailF >= cfg.CaptchaEmailThreshold) || (req.IP != "" && ipF >= cfg.CaptchaIPThreshold) {
			return nil, true, nil
		}
		if email != "" && emailF+pendE >= cfg.CaptchaEmailThreshold {
			return chE, false, nil
		}
		if req.IP != "" && ipF+pendI >= cfg.CaptchaIPThreshold {
			return chI, false, nil
		}
	}

	at.Account, at.Locked = nil, false
	if req.Lookup != nil {
		account, err := req.Lookup()
		if err != nil {
			return nil, false, err
		}
		at.Account = account
	}
	if at.Account != nil {
		now := time.Now()
		at.Locked = IsLocked(at.Account)
		if !at.Locked {
			n, err := lockoutFailures(app, cfg, at.Account, now)
			if err != nil {
				return nil, false, err
			}
			// Also when n already reached the threshold: the failure that reached it is
			// written a moment before the lock it starts (RecordPasswordFailure), and its
			// attempt is still pending until both are.
			if pendE > 0 && n+pendE >= cfg.LockoutFailures {
				return chE, false, nil
			}
		}
	} else if email != "" && req.Lookup != nil {
		// An email that names no account waits exactly as an account would: otherwise the
		// wait above (about one comparison per running attempt, near the lock threshold)
		// would tell a known email from an unknown one (§5.1.2 step 3, §8.4 st. 27).
		n, locked, err := phantomLockout(app, cfg, email, time.Now())
		if err != nil {
			return nil, false, err
		}
		if !locked && pendE > 0 && n+pendE >= cfg.LockoutFailures {
			return chE, false, nil
		}
	}

	a.mu.Lock()
	emailKey.pending++
	ipKey.pending++
	a.mu.Unlock()
	return nil, false, nil
}

func emailFailures(app core.App, cfg *config.Config, email string) (int, error) {
	if email == "" {
		return 0, nil
	}
	return countRows(app,
		"SELECT COUNT(*) FROM {{"+colAuthFailures+"}} WHERE [[email]] = {:email} AND [[kind]] = 'password' AND [[occurred_at]] > {:since}",
		dbx.Params{"email": email, "since": dbTime(time.Now().Add(-cfg.CaptchaWindow))})
}

func ipFailures(app core.App, cfg *config.Config, ip string) (int, error) {
	if ip == "" {
		return 0, nil
	}
	return countRows(app,
		"SELECT COUNT(*) FROM {{"+colAuthFailures+"}} WHERE [[ip]] = {:ip} AND [[kind]] = 'password' AND [[occurred_at]] > {:since}",
		dbx.Params{"ip": ip, "since": dbTime(time.Now().Add(-cfg.CaptchaWindow))})
}

// phantomLockout replays the lockout of §6.1 item 1 over the failures recorded for an email that
// names no account (rows without a principal): the failures that would count toward the next
// lock now, and whether a lock would be running, had an account existed. Each failure that is
// not inside a lock starts one when the failures within LockoutWindow since the end of the last
// lock reach LockoutFailures, as RecordPasswordFailure does for an account. The replay looks
// back two windows and two lock durations; rows are few (past 3 a CAPTCHA is needed for each).
func phantomLockout(app core.App, cfg *config.Config, email string, now time.Time) (n int, locked bool, err error) {
	var rows []struct {
		At string `db:"occurred_at"`
	}
	lookBack := 2 * (cfg.LockoutWindow + cfg.LockDuration)
	err = app.DB().NewQuery("SELECT [[occurred_at]] FROM {{" + colAuthFailures + "}} WHERE [[email]] = {:email} AND [[principal_id]] = '' AND [[kind]] = 'password' AND [[occurred_at]] > {:since} ORDER BY [[occurred_at]] LIMIT 2000").
		Bind(dbx.Params{"email": email, "since": dbTime(now.Add(-lookBack))}).All(&rows)
	if err != nil {
		return 0, false, fmt.Errorf("captcha: phantom lockout: %w", err)
	}
	times := make([]time.Time, 0, len(rows))
	for _, r := range rows {
		if t, perr := time.Parse(types.DefaultDateLayout, r.At); perr == nil {
			times = append(times, t)
		}
	}
	var lockedUntil time.Time
	counted := func(upTo time.Time) int { // failures in (max(upTo-window, lockedUntil), upTo]
		since := upTo.Add(-cfg.LockoutWindow)
		if lockedUntil.After(since) {
			since = lockedUntil
		}
		c := 0
		for _, t := range times {
			if t.After(since) && !t.After(upTo) {
				c++
			}
		}
		return c
	}
	for _, t := range times {
		if !t.After(lockedUntil) {
			continue // inside a lock: refused without counting
		}
		if counted(t) >= cfg.LockoutFailures {
			lockedUntil = t.Add(cfg.LockDuration)
		}
	}
	if lockedUntil.After(now) {
		return 0, true, nil
	}
	return counted(now), false, nil
}
