package apikit

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// The lane reproduces only the middlewares it knows: anything else on the router, on a Fast
// route after Mount, or a Fast route that logs its successes, is reported (and FastLane then
// leaves the lane out; plugins/accounts' TestFastLaneFailsClosedOnUnknownMiddleware runs it live).
func TestFastLaneUnknownMiddlewares(t *testing.T) {
	t.Parallel()
	build := func(skipLog bool) (*Kit, *router.Router[*core.RequestEvent]) {
		k := &Kit{}
		r := router.NewRouter[*core.RequestEvent](nil)
		for id := range fastLaneGlobals {
			r.Bind(&hook.Handler[*core.RequestEvent]{Id: id, Func: func(e *core.RequestEvent) error { return e.Next() }})
		}
		err := k.Mount(r, []Route{{Method: "GET", Path: "/api/hot/", Access: Staff, Fast: true, SkipSuccessLog: skipLog,
			Handler: func(e *core.RequestEvent) error { return nil }}})
		if err != nil {
			t.Fatal(err)
		}
		return k, r
	}

	k, r := build(true)
	if got := k.fastLaneUnknown(r); len(got) != 0 {
		t.Fatalf("known chain reported: %v", got)
	}

	r.BindFunc(func(e *core.RequestEvent) error { return e.Next() }) // no id: a random one
	r.Bind(&hook.Handler[*core.RequestEvent]{Id: "auditTrail", Func: func(e *core.RequestEvent) error { return e.Next() }})
	got := strings.Join(k.fastLaneUnknown(r), "\n")
	if !strings.Contains(got, `global middleware "auditTrail"`) || strings.Count(got, "global middleware") != 2 {
		t.Fatalf("unknown globals not reported: %s", got)
	}

	k, r = build(true)
	k.fastMounts[0].route.Bind(&hook.Handler[*core.RequestEvent]{Id: "ipBlock", Func: func(e *core.RequestEvent) error { return e.Next() }})
	if got := k.fastLaneUnknown(r); len(got) != 1 || got[0] != `middleware "ipBlock" on /api/hot/` {
		t.Fatalf("route middleware not reported: %v", got)
	}

	k, r = build(false)
	if got := k.fastLaneUnknown(r); len(got) != 1 || !strings.Contains(got[0], "/api/hot/ are logged") {
		t.Fatalf("logged successes not reported: %v", got)
	}
}
