package secondfactor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Steps makes the second-factor lock of §6.1 hold under concurrency. The lock is judged on the
// OTP failures already written (MFALocked), and a failure is written only after its code was
// compared (RecordOTPFailure): N codes for one account sent at once (each on its own
// mfa_pending token, from as many client IPs as the rate limits need) would all read the count
// before any of them wrote a failure, and all be compared — a right one among them would sign
// in past the 10th failure.
//
// So a second-factor step of a principal (read the lock, compare the code, write the failure
// or clear the failures) runs only while no other step of the same principal does: Begin
// waits for the running one to end. The comparisons are fast (an HMAC, a SHA-256, a TOTP
// window), so parallel right codes all pass, one after the other, and parallel wrong ones are
// each counted before the next reads the lock. A waiter gives up when its request ends or after
// StepMaxWait (the caller answers 429), so a flood on one account cannot hold requests for
// ever; once the account is locked every step ends at the lock check. The
// entries live in this process (Gatehouse is one process per data directory) and only while in
// use; the failures they order are persisted.
type Steps struct {
	mu      sync.Mutex
	keys    map[string]*stepKey
	maxWait time.Duration
}

type stepKey struct {
	turn chan struct{} // holds a token while a step of the principal runs
	refs int           // steps running or waiting (guarded by Steps.mu)
}

// StepMaxWait bounds Begin's wait for the principal's other steps.
const StepMaxWait = 10 * time.Second

// ErrStepWaitTimeout is Begin's answer when the principal's other steps did not end within
// StepMaxWait.
var ErrStepWaitTimeout = errors.New("secondfactor: waited too long for the account's other second-factor steps")

// NewSteps returns an empty table; the flows of one realm share one.
func NewSteps() *Steps { return &Steps{keys: map[string]*stepKey{}, maxWait: StepMaxWait} }

// Begin waits until no other second-factor step of the principal runs and returns the function
// that ends this one (call it once the step's outcome is written; later calls do nothing). It
// returns ctx's error or ErrStepWaitTimeout, holding nothing, when ctx ends or StepMaxWait
// passes first.
func (s *Steps) Begin(ctx context.Context, principalType, principalID string) (end func(), err error) {
	name := principalType + ":" + principalID
	s.mu.Lock()
	k := s.keys[name]
	if k == nil {
		k = &stepKey{turn: make(chan struct{}, 1)}
		s.keys[name] = k
	}
	k.refs++
	s.mu.Unlock()

	select {
	case k.turn <- struct{}{}: // no other step of the principal runs: no timer
	default:
		if err := s.wait(ctx, name, k); err != nil {
			return nil, err
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-k.turn
			s.release(name, k)
		})
	}, nil
}

// wait takes the principal's turn once the running step ends (Begin's slow path).
func (s *Steps) wait(ctx context.Context, name string, k *stepKey) error {
	deadline := time.NewTimer(s.maxWait)
	defer deadline.Stop()
	select {
	case k.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		s.release(name, k)
		return ctx.Err()
	case <-deadline.C:
		s.release(name, k)
		return ErrStepWaitTimeout
	}
}

func (s *Steps) release(name string, k *stepKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k.refs--
	if k.refs == 0 {
		delete(s.keys, name)
	}
}

// size is the number of principals with a step running or waiting (tests).
func (s *Steps) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}
