package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/plugins/config"
)

// The Go runtime settings of the server (README "Runtime settings"; the A/B numbers behind each
// are in bench/README.md "Tricks: A/B"). Each one gives way to the standard variables:
//
//   - Start-up collector: GOGC=400 until the server listens. Start-up on an empty data dir
//     (~30 collection saves, each re-reading every collection) allocates a lot with a live heap
//     of ~2 MB. Off when GOGC or GOMEMLIMIT is set.
//   - Serving collector: once the server listens, the start-up garbage is returned to the OS,
//     then GOGC=servingGOGC with a soft memory limit of servingMemoryLimit. Gatehouse's live heap
//     is small (~3 MB while it answers token checks): at GOGC=100 the collector ran after every
//     ~3 MB of allocation, ~35 times a second at 25k validations/s, each collection stopping the
//     world to begin (0.8 ms median, 2.9 ms p90, 5.5 ms p99 under load on 2 shared cores). At
//     GOGC=700 it runs after ~24 MB; the limit makes it collect sooner should the live heap grow
//     large. Off when GOGC or GOMEMLIMIT is set: either one hands both to the operator.
//   - Scheduler Ps: 2 × processors once the server listens. Off when GOMAXPROCS is set.
//     Setting the P count turns off the runtime's own updates of GOMAXPROCS when a container's
//     CPU limit changes (Go 1.25+): the count is taken from the limit at start; a process whose
//     limit changes while it runs should set GOMAXPROCS explicitly.
//
// CPU shares and busy signals (password hashing) use the processor count found at start
// (config.Processors), not the raised P count.
const (
	startupGOGC        = 400
	servingGOGC        = 700
	servingMemoryLimit = 96 << 20
)

// tuneRuntime applies the settings above; the serving ones once everything is bound to OnServe.
func tuneRuntime(app core.App) {
	tuneGC := os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
	moreProcs := os.Getenv("GOMAXPROCS") == ""
	if tuneGC {
		debug.SetGCPercent(startupGOGC)
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "gatehouseRuntimeTuning",
		Priority: -1000, // first: the code after se.Next() runs once everything is bound
		Func: func(se *core.ServeEvent) error {
			err := se.Next()
			go func() {
				if tuneGC {
					// the start-up garbage returned to the OS first: the relaxed collector let
					// the heap grow ~4× (idle RSS ~40 MB instead of ~30)
					debug.FreeOSMemory()
					debug.SetMemoryLimit(servingMemoryLimit)
					debug.SetGCPercent(servingGOGC)
				}
				if moreProcs {
					runtime.GOMAXPROCS(2 * config.Processors())
				}
			}()
			return err
		},
	})
}
