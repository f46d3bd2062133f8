package apikit

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
