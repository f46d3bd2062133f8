package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestHeapFloorGOGC(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{0, 24 * mb, 100, 100},       // no collection yet
		{3 * mb, 24 * mb, 100, 700},  // goal 3 × 8 = 24 MB
		{2 * mb, 24 * mb, 100, 1100}, // 2 × 12 = 24
		{5 * mb, 24 * mb, 100, 400},  // 380 rounded up to 400: goal 25 MB
		{12 * mb, 24 * mb, 100, 100}, // 2 × 12 = 24 already
		{40 * mb, 24 * mb, 100, 100}, // large live heap: the base
		{10 * mb, 24 * mb, 200, 200}, // 3 × 10 ≥ 24 under a larger base
		{6 * mb, 24 * mb, 200, 300},  // 6 × 4 = 24
		{mb / 2, 24 * mb, 100, 4700}, // 0.5 × 48 = 24
		{1, 24 * mb, 100, 10000},     // tiny heaps: bounded, never near int32's overflow
		{mb / 8, 24 * mb, 100, 10000},
	} {
		got := heapFloorGOGC(c.live, c.floor, c.base)
		if got != c.want {
			t.Errorf("live %d floor %d base %d: GOGC %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
		if goal := c.live * uint64(100+got) / 100; c.live > 0 && goal < c.floor && got != c.base && got != maxFloorGOGC {
			t.Errorf("live %d: goal %d under the floor", c.live, goal)
		}
	}
}

// keepHeapFloor raises GOGC while the live heap is under half the floor and puts it back when
// stopped.
func TestKeepHeapFloor(t *testing.T) {
	gogc := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	if gogc() != 100 {
		t.Skip("GOGC is set for this test process")
	}
	runtime.GC() // a live heap reading exists
	stop := keepHeapFloor(1<<30, 100, 5*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for gogc() <= 100 {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("GOGC still %d with a 1 GB floor", gogc())
		}
		time.Sleep(5 * time.Millisecond)
	}
	raised := gogc()
	stop()
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC %d after stop (was raised to %d), want 100", got, raised)
	}
}
