package superusers

import (
	"fmt"
	"testing"
	"time"
)

// Many clients within one window (sign-ins from 20,000 addresses in an hour): the expired
// windows are swept when the map doubles, not on every new address once it holds sweepAt live
// ones (each sweep scans the whole map under the guard's lock). And a client's window still
// counts: the hourly maximum holds for an address met again, and its expired window is dropped.
func TestGuardSweepsWhenTheMapDoubles(t *testing.T) {
	g := &guard{windows: map[windowKey]*window{}}
	now := time.Now()
	key := func(i int) windowKey {
		return windowKey{ip: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), max: 2, duration: 3600, audience: "@guest"}
	}
	for i := range 20000 {
		if !g.take(key(i), now.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("client %d refused at its first attempt", i)
		}
	}
	if g.sweeps > 4 {
		t.Fatalf("%d sweeps for 20,000 live clients, want the map's doublings (≤ 4)", g.sweeps)
	}
	first := key(0)
	if !g.take(first, now.Add(time.Minute)) || g.take(first, now.Add(2*time.Minute)) {
		t.Fatal("the hourly maximum of 2 does not hold for a client met again")
	}
	// an hour later every window has expired: the next sweep drops them all, keeping only the
	// windows started since
	later, sweeps, added := now.Add(2*time.Hour), g.sweeps, 0
	for i := 20000; g.sweeps == sweeps; i++ {
		if i > 100000 {
			t.Fatal("no sweep")
		}
		g.take(key(i), later)
		added++
	}
	if len(g.windows) != added {
		t.Fatalf("%d windows after the sweep, want the %d started since", len(g.windows), added)
	}
}
