package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/plugins/config"
)

// The Go runtime settings of the server (README "Runtime settings"; the A/B numbers behind each
// are in bench/README.md "Tricks: A/B"). Each one gives way to the standard variable:
//
//   - Start-up collector: GOGC=400 until the server listens, then GOGC=100 and the start-up
//     garbage returned to the OS. Start-up on an empty data dir (~30 collection saves, each
//     re-reading every collection) allocates a lot with a live heap of ~2 MB. Off when GOGC is
//     set.
//   - Heap floor: while serving, the collector's heap goal stays at heapFloor or more (GOGC
//     raised while the live heap is under half of it, checked every 200 ms). Off when GOGC is
//     set; GOMEMLIMIT, when set, still bounds the heap as usual.
//   - Scheduler Ps: 2 × processors once the server listens. Off when GOMAXPROCS is set.
//     Setting the P count turns off the runtime's own updates of GOMAXPROCS when a container's
//     CPU limit changes (Go 1.25+): the count is taken from the limit at start; a process whose
//     limit changes while it runs should set GOMAXPROCS explicitly.
//
// CPU shares and busy signals (password hashing) use the processor count found at start
// (config.Processors), not the raised P count.

// tuneRuntime applies the settings above; the serving ones once everything is bound to OnServe.
func tuneRuntime(app core.App) {
	relaxGC := os.Getenv("GOGC") == ""
	moreProcs := os.Getenv("GOMAXPROCS") == ""
	if relaxGC {
		debug.SetGCPercent(400)
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "gatehouseRuntimeTuning",
		Priority: -1000, // first: the code after se.Next() runs once everything is bound
		Func: func(se *core.ServeEvent) error {
			err := se.Next()
			go func() {
				if relaxGC {
					// back to the default, and the start-up garbage returned to the OS: the
					// relaxed collector let the heap grow ~4× (idle RSS ~40 MB instead of ~30)
					debug.SetGCPercent(100)
					debug.FreeOSMemory()
					keepHeapFloor(heapFloor, 100, 200*time.Millisecond)
				}
				if moreProcs {
					runtime.GOMAXPROCS(2 * config.Processors())
				}
			}()
			return err
		},
	})
}

// heapFloor is the smallest heap goal the collector is given while serving.
//
// Gatehouse's live heap is small (~3 MB while it answers token checks), so at GOGC=100 the
// collector runs after every ~3 MB of allocation: ~35 collections a second at 25k validations/s,
// each stopping the world to begin (0.8 ms median, 2.9 ms p90, 5.5 ms p99 measured under load on
// 2 shared cores). With a floor the collector runs after ~heapFloor of allocation as long as the
// live heap is small, and exactly as at GOGC=100 once the live heap is past half the floor: it
// costs at most heapFloor of memory.
const heapFloor = 24 << 20

// heapFloorGOGC is the GOGC that puts the heap goal, live × (1 + GOGC/100), at floor or more, and
// never under base (the percentage otherwise in force). 0 live (no collection yet) keeps base.
func heapFloorGOGC(live, floor uint64, base int) int {
	if live == 0 || live*uint64(100+base)/100 >= floor {
		return base
	}
	if floor/live > maxFloorGOGC/100 {
		return maxFloorGOGC // GOGC is an int32 in the runtime: never near its overflow
	}
	gogc := int((floor - live) * 100 / live)
	// rounded up to a multiple of 25 so small moves of the live heap change nothing
	return (gogc + 24) / 25 * 25
}

// maxFloorGOGC bounds the percentage (a live heap under floor/100 gets this one).
const maxFloorGOGC = 10000

// keepHeapFloor keeps the heap goal at floor or more (GOGC = base when the live heap is large
// enough): every `every` it reads the live heap of the last collection and sets GOGC when the
// percentage it needs changed. Between two checks the goal can run ahead of the floor only by
// what the live heap grew since the last one. stop ends it and restores base.
func keepHeapFloor(floor uint64, base int, every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		current := base
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			var live uint64
			if sample[0].Value.Kind() == metrics.KindUint64 {
				live = sample[0].Value.Uint64()
			}
			if want := heapFloorGOGC(live, floor, base); want != current {
				debug.SetGCPercent(want)
				current = want
			}
			select {
			case <-done:
				if current != base {
					debug.SetGCPercent(base)
				}
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
