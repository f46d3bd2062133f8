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
