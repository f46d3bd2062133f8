package secondfactor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A step of a principal runs alone: 50 concurrent steps never overlap, and they all run.
func TestStepsRunOneAtATimePerPrincipal(t *testing.T) {
	t.Parallel()
	s := NewSteps()
	var running, maxRunning, done atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			end, err := s.Begin(context.Background(), "staff", "u1")
			if err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(100 * time.Microsecond)
			running.Add(-1)
			done.Add(1)
			end()
		}()
	}
	wg.Wait()
	if maxRunning.Load() != 1 || done.Load() != 50 {
		t.Fatalf("at most %d steps ran at once (want 1), %d of 50 ran", maxRunning.Load(), done.Load())
	}
	if n := s.size(); n != 0 {
		t.Fatalf("%d entries left after every step ended, want 0", n)
	}
}

// Steps of different principals, and of the same id in the other realm, do not wait for each other.
func TestStepsOfOtherPrincipalsDoNotWait(t *testing.T) {
	t.Parallel()
	s := NewSteps()
	s.maxWait = 50 * time.Millisecond
	end, err := s.Begin(context.Background(), "staff", "u1")
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	for _, p := range [][2]string{{"staff", "u2"}, {"employee", "u1"}} {
		other, err := s.Begin(context.Background(), p[0], p[1])
		if err != nil {
			t.Fatalf("%v waited for staff:u1: %v", p, err)
		}
		other()
	}
}

// A waiter gives up at its bound (ErrStepWaitTimeout) or when its request ends (ctx), holding
// nothing; the running step is unaffected, and the next step runs once it ends. end is idempotent.
func TestStepsWaitIsBounded(t *testing.T) {
	t.Parallel()
	s := NewSteps()
	s.maxWait = 30 * time.Millisecond
	end, err := s.Begin(context.Background(), "staff", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(context.Background(), "staff", "u1"); !errors.Is(err, ErrStepWaitTimeout) {
		t.Fatalf("second step while the first runs: %v, want ErrStepWaitTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Begin(ctx, "staff", "u1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("second step with its request gone: %v, want context.Canceled", err)
	}
	if n := s.size(); n != 1 {
		t.Fatalf("%d entries while one step runs, want 1", n)
	}
	end()
	end() // a second call does nothing (it would otherwise block on the empty turn)
	next, err := s.Begin(context.Background(), "staff", "u1")
	if err != nil {
		t.Fatalf("step after the first ended: %v", err)
	}
	next()
	if n := s.size(); n != 0 {
		t.Fatalf("%d entries left, want 0", n)
	}
}
