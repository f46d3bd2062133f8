package config

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// HeapFloor is the smallest heap goal the collector is given while serving (main.go).
//
// Gatehouse's live heap is small (~3 MB while it answers token checks), so at GOGC=100 the
// collector runs after every ~3 MB of allocation: ~35 collections a second at 25k validations/s,
// each stopping the world to begin (0.8 ms median, 2.9 ms p90, 5.5 ms p99 measured under load on
// 2 shared cores), which lands in the slowest requests' latency (issue 6). With a floor the
// collector runs after ~HeapFloor of allocation as long as the live heap is small, and exactly as
// at GOGC=100 once the live heap is past half the floor: it costs at most HeapFloor of memory.
const HeapFloor = 24 << 20

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

// KeepHeapFloor keeps the heap goal at floor or more (GOGC = base when the live heap is large
// enough): every `every` it reads the live heap of the last collection and sets GOGC when the
// percentage it needs changed. Between two checks the goal can run ahead of the floor only by
// what the live heap grew since the last one. stop ends it and restores base.
func KeepHeapFloor(floor uint64, base int, every time.Duration) (stop func()) {
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
