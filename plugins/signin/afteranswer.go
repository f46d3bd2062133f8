package signin

import (
	"context"
	"gatehouse/plugins/realm"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// afterAnswer runs per-account work after the request has been answered, so that an answer
// that must not reveal whether an account exists also takes the same time either way
// (forgot-password, §5.6.2: looking the account up, counting its recent emails, writing the
// token, the outbox row and the audit row cost ~2 ms that an unknown email does not).
//
// One worker runs the jobs in order; Enqueue blocks while the queue is full, which depends only
// on the number of requests, never on the accounts. Jobs still queued when the app terminates
// are dropped (a reset email not sent; the user asks again); the running one finishes.
type afterAnswer struct {
	app  core.App
	jobs chan func() error
	done chan struct{}
	quit sync.Once
	idle sync.WaitGroup // the worker
}

const afterAnswerKey = "gatehouse.signin.afterAnswer."

func newAfterAnswer(app core.App, name string, size int) *afterAnswer {
	q := &afterAnswer{app: app, jobs: make(chan func() error, size), done: make(chan struct{})}
	q.idle.Add(1)
	go q.work()
	app.Store().Set(afterAnswerKey+name, q) // for tests: SettleAfterAnswer (export_test.go)
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		q.stop(2 * time.Second)
		return e.Next()
	})
	return q
}

// Enqueue hands job to the worker, waiting for room at most until ctx ends.
func (q *afterAnswer) Enqueue(ctx context.Context, job func() error) error {
	select {
	case q.jobs <- job:
		return nil
	case <-q.done:
		return context.Canceled
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle waits until every job queued before it has run.
func (q *afterAnswer) settle() {
	ran := make(chan struct{})
	if q.Enqueue(context.Background(), func() error { close(ran); return nil }) == nil {
		select {
		case <-ran:
		case <-q.done:
		}
	}
}

func (q *afterAnswer) work() {
	defer q.idle.Done()
	for {
		select {
		case <-q.done:
			return
		case job := <-q.jobs:
			if err := job(); err != nil {
				q.app.Logger().Error("signin: deferred work failed", "error", err)
			}
		}
	}
}

func (q *afterAnswer) stop(wait time.Duration) {
	q.quit.Do(func() { close(q.done) })
	finished := make(chan struct{})
	go func() { q.idle.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(wait):
	}
}

// SettleAfterAnswer waits until the work queued after earlier answers (forgot-password) of
// every realm on app has run. Tests call it before they look for a reset email or token.
func SettleAfterAnswer(app core.App) {
	for _, r := range realm.All {
		if q, ok := app.Store().Get(afterAnswerKey + r.Type).(*afterAnswer); ok {
			q.settle()
		}
	}
}
