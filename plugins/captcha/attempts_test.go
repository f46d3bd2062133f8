package captcha

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

var errNeedCaptcha = errors.New("captcha required")

// attemptBurst releases n attempts for account's email together. Each admitted attempt holds
// its reservation for hold (a bcrypt comparison), then records a failure (wrong) or a verified
// password (right) and ends. It returns how many were admitted and how many were sent to the
// CAPTCHA.
func attemptBurst(t *testing.T, a *Attempts, app core.App, account *core.Record, n int, solved, right bool, hold time.Duration) (admitted, captchaAsked int) {
	t.Helper()
	cfg := testkit.Config()
	var adm, asked atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			at, err := a.Admit(context.Background(), app, cfg, AttemptRequest{
				Email: account.Email(), IP: "203.0.113.7",
				Lookup: func() (*core.Record, error) { return app.FindRecordById(account.Collection(), account.Id) },
				SolveCaptcha: func() error {
					if solved {
						return nil
					}
					asked.Add(1)
					return errNeedCaptcha
				},
			})
			if errors.Is(err, errNeedCaptcha) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			defer at.Done()
			adm.Add(1)
			time.Sleep(hold)
			if right && !at.Locked {
				if err := PasswordVerified(app, at.Account); err != nil {
					t.Error(err)
				}
				return
			}
			r, _ := realm.Of(account)
			if _, err := RecordPasswordFailure(app, cfg, account.Email(), "203.0.113.7", r.Type, account.Id); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(adm.Load()), int(asked.Load())
}

// 30 wrong passwords at once: exactly 3 are compared, 27 are sent to the CAPTCHA, for both
// realms.
func TestAttemptsHoldTheCaptchaThresholdUnderABurst(t *testing.T) {
	t.Parallel()
	for _, r := range realm.All {
		app, _ := setup(t)
		account := newPrincipal(t, app, r.Collection)
		admitted, asked := attemptBurst(t, NewAttempts(), app, account, 30, false, false, 20*time.Millisecond)
		if admitted != 3 || asked != 27 {
			t.Fatalf("%s: %d admitted, %d sent to the CAPTCHA; want 3 and 27", r.Type, admitted, asked)
		}
	}
}

// 30 wrong passwords at once with solved CAPTCHAs: exactly 10 are compared before the lock,
// the rest are admitted as locked (no comparison); the lock started once.
func TestAttemptsHoldTheLockoutThresholdUnderABurst(t *testing.T) {
	t.Parallel()
	for _, r := range realm.All {
		app, _ := setup(t)
		account := newPrincipal(t, app, r.Collection)
		a := NewAttempts()
		var compared atomic.Int64
		cfg := testkit.Config()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				at, err := a.Admit(context.Background(), app, cfg, AttemptRequest{
					Email: account.Email(), IP: "203.0.113.8",
					Lookup:       func() (*core.Record, error) { return app.FindRecordById(account.Collection(), account.Id) },
					SolveCaptcha: func() error { return nil },
				})
				if err != nil {
					t.Error(err)
					return
				}
				defer at.Done()
				if !at.Locked {
					compared.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
				if _, err := RecordPasswordFailure(app, cfg, account.Email(), "203.0.113.8", r.Type, account.Id); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if compared.Load() != int64(cfg.LockoutFailures) {
			t.Fatalf("%s: %d compared before the lock, want %d", r.Type, compared.Load(), cfg.LockoutFailures)
		}
		if !IsLocked(testkit.Reload(t, app, account)) {
			t.Fatalf("%s: not locked", r.Type)
		}
	}
}

// The other side: 12 right passwords at once are all admitted (a few at a time), none is sent
// to the CAPTCHA, and the reservation table is empty afterwards.
func TestAttemptsAdmitParallelRightPasswords(t *testing.T) {
	t.Parallel()
	app, _ := setup(t)
	account := newPrincipal(t, app, realm.CollectionStaff)
	a := NewAttempts()
	admitted, asked := attemptBurst(t, a, app, account, 12, false, true, 20*time.Millisecond)
	if admitted != 12 || asked != 0 {
		t.Fatalf("%d admitted, %d sent to the CAPTCHA; want 12 and 0", admitted, asked)
	}
	a.mu.Lock()
	left := len(a.keys)
	a.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d reservation keys left", left)
	}
}

// A request that only waits for others gives up at MaxWait with ErrAttemptWaitTimeout, and
// when its context ends.
func TestAttemptsWaitIsBounded(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	account := newPrincipal(t, app, realm.CollectionStaff)
	a := NewAttempts()
	req := AttemptRequest{Email: account.Email(), IP: "203.0.113.9", SolveCaptcha: func() error { return errNeedCaptcha }}
	var held []*Attempt
	for range cfg.CaptchaEmailThreshold {
		at, err := a.Admit(context.Background(), app, cfg, req)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, at)
	}
	req.MaxWait = 50 * time.Millisecond
	if _, err := a.Admit(context.Background(), app, cfg, req); !errors.Is(err, ErrAttemptWaitTimeout) {
		t.Fatalf("err = %v, want ErrAttemptWaitTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req.MaxWait = time.Minute
	if _, err := a.Admit(ctx, app, cfg, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for _, at := range held {
		at.Done()
		at.Done() // a second Done is a no-op
	}
	if at, err := a.Admit(context.Background(), app, cfg, req); err != nil {
		t.Fatalf("after the reservations ended: %v", err)
	} else {
		at.Done()
	}
}

// Near the lock threshold a second concurrent attempt waits for the first (its failure may start
// the lock). It must wait the same for an email that names no account, or the wait (one
// comparison) tells a known email from an unknown one (§5.1.2 step 3, §8.4 st. 27). And once
// the 10th failure is recorded, neither waits: the account is locked, the unknown email is
// replayed as locked.
func TestAttemptsWaitTheSameForKnownAndUnknownEmails(t *testing.T) {
	t.Parallel()
	app, _ := setup(t)
	cfg := testkit.Config()
	account := newPrincipal(t, app, realm.Staff.Collection)
	unknown := "nobody.here@example.com"
	lookup := map[string]func() (*core.Record, error){
		account.Email(): func() (*core.Record, error) { return app.FindRecordById(account.Collection(), account.Id) },
		unknown:         func() (*core.Record, error) { return nil, nil },
	}
	fail := func(email string) {
		t.Helper()
		id := ""
		if email == account.Email() {
			id = account.Id
		}
		if _, err := RecordPasswordFailure(app, cfg, email, "198.51.100.9", realm.TypeStaff, id); err != nil {
			t.Fatal(err)
		}
	}
	// second reports whether a second attempt is admitted within 150 ms while a first is running.
	second := func(email string) bool {
		t.Helper()
		a := NewAttempts()
		req := AttemptRequest{Email: email, IP: "198.51.100.9", Lookup: lookup[email], SolveCaptcha: func() error { return nil }}
		first, err := a.Admit(context.Background(), app, cfg, req)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Done()
		req.MaxWait = 150 * time.Millisecond
		at, err := a.Admit(context.Background(), app, cfg, req)
		if errors.Is(err, ErrAttemptWaitTimeout) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		at.Done()
		return true
	}
	for _, email := range []string{account.Email(), unknown} {
		for range cfg.LockoutFailures - 1 {
			fail(email)
		}
	}
	if known, ghost := second(account.Email()), second(unknown); known || ghost {
		t.Fatalf("with 9 failures a second attempt was admitted at once: known %v, unknown %v (want both to wait)", known, ghost)
	}
	for _, email := range []string{account.Email(), unknown} {
		fail(email)
	}
	if !IsLocked(testkit.Reload(t, app, account)) {
		t.Fatal("the account is not locked after 10 failures")
	}
	if known, ghost := second(account.Email()), second(unknown); !known || !ghost {
		t.Fatalf("while locked a second attempt waited: known admitted %v, unknown admitted %v (want both at once)", known, ghost)
	}
}

// The replay of phantomLockout against the account rules: 10 failures within the window lock for
// LockDuration; failures during the lock do not count; after it the count starts from its end.
func TestPhantomLockoutReplaysTheAccountRules(t *testing.T) {
	t.Parallel()
	app, _ := setup(t)
	cfg := testkit.Config()
	col, err := app.FindCachedCollectionByNameOrId(colAuthFailures)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	add := func(email string, ago time.Duration) {
		r := core.NewRecord(col)
		r.Set("kind", kindPassword)
		r.Set("email", email)
		r.Set("ip", "198.51.100.10")
		r.Set("occurred_at", dbTime(now.Add(-ago)))
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 { // a lock started 20 min ago (10 failures within 2 min), ended 5 min ago
		add("a@example.com", 22*time.Minute-time.Duration(i)*10*time.Second)
	}
	add("a@example.com", 10*time.Minute) // inside that lock: not counted
	add("a@example.com", 2*time.Minute)  // after it: counts
	if n, locked, err := phantomLockout(app, cfg, "a@example.com", now); err != nil || locked || n != 1 {
		t.Fatalf("after a finished lock: n=%d locked=%v err=%v, want 1 false", n, locked, err)
	}
	for i := range 10 {
		add("b@example.com", time.Duration(10-i)*time.Minute)
	}
	if _, locked, err := phantomLockout(app, cfg, "b@example.com", now); err != nil || !locked {
		t.Fatalf("10 failures within the window: locked=%v err=%v, want locked", locked, err)
	}
	for i := range 9 {
		add("c@example.com", time.Duration(9-i)*time.Minute)
	}
	add("c@example.com", 20*time.Minute) // outside the window
	if n, locked, err := phantomLockout(app, cfg, "c@example.com", now); err != nil || locked || n != 9 {
		t.Fatalf("9 failures in the window: n=%d locked=%v err=%v, want 9 false", n, locked, err)
	}
}
