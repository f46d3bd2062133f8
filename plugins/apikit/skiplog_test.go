package apikit

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Our skip flag is the one PocketBase's activity logger reads.
func TestSkipSuccessLogKey(t *testing.T) {
	e := &core.RequestEvent{}
	h := hook.Hook[*core.RequestEvent]{}
	h.Bind(apis.SkipSuccessActivityLog())
	if err := h.Trigger(e); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Get(pbSkipSuccessLogKey).(bool); !v {
		t.Fatalf("apis.SkipSuccessActivityLog does not set %q", pbSkipSuccessLogKey)
	}
}

// Only successful answers are kept out of the request log; failures (which our error writer
// answers itself, returning nil) stay in it.
func TestSkipSuccessLogOnlyOnSuccess(t *testing.T) {
	for status, skip := range map[int]bool{200: true, 204: true, 302: true, 400: false, 401: false, 409: false, 429: false, 500: false} {
		e := &core.RequestEvent{}
		e.Response = &router.ResponseWriter{ResponseWriter: httptest.NewRecorder()}
		h := hook.Hook[*core.RequestEvent]{}
		h.BindFunc(skipSuccessLog)
		err := h.Trigger(e, func(e *core.RequestEvent) error {
			e.Response.WriteHeader(status)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := e.Get(pbSkipSuccessLogKey).(bool); got != skip {
			t.Errorf("status %d: skipped = %v, want %v", status, got, skip)
		}
	}
	// a returned error is logged whatever was written
	e := &core.RequestEvent{}
	e.Response = &router.ResponseWriter{ResponseWriter: httptest.NewRecorder()}
	h := hook.Hook[*core.RequestEvent]{}
	h.BindFunc(skipSuccessLog)
	_ = h.Trigger(e, func(e *core.RequestEvent) error {
		e.Response.WriteHeader(http.StatusOK)
		return http.ErrAbortHandler
	})
	if e.Get(pbSkipSuccessLogKey) != nil {
		t.Error("an answer with an error was kept out of the log")
	}
}

// AuthenticatedBusy holds while at least GOMAXPROCS authenticated requests are in progress, or
// while they arrive at busyPerProc per processor per window.
func TestAuthenticatedBusy(t *testing.T) {
	k := &Kit{procs: 2}
	done1 := k.track()
	if k.AuthenticatedBusy() {
		t.Fatal("busy with one request on two processors")
	}
	done2 := k.track()
	if !k.AuthenticatedBusy() {
		t.Fatal("not busy with two requests on two processors")
	}
	done1()
	done2()
	if k.inflight.Load() != 0 {
		t.Fatalf("inflight = %d after both ended", k.inflight.Load())
	}

	k = &Kit{procs: 2}
	for i := 0; i < 2*busyPerProc; i++ {
		k.track()()
	}
	if !k.AuthenticatedBusy() {
		t.Fatal("not busy after a burst of short requests")
	}
	time.Sleep(2*busyWindow + 5*time.Millisecond)
	if k.AuthenticatedBusy() {
		t.Fatal("still busy two windows after the burst")
	}
	k.track()()
	if k.AuthenticatedBusy() {
		t.Fatal("busy after a single request")
	}
}
