package writeepoch

import (
	"strconv"
	"sync"
	"testing"
)

func TestHotMapBoundAndTake(t *testing.T) {
	var h HotMap[int]
	h.Max = 3
	for i := 0; i < 3; i++ {
		h.Put(strconv.Itoa(i), i)
	}
	if v, ok := h.Take("1"); !ok || v != 1 {
		t.Fatalf("Take(1) = %d, %v", v, ok)
	}
	if _, ok := h.Take("1"); ok {
		t.Fatal("a taken key answered twice")
	}
	if _, ok := h.Get("1"); ok {
		t.Fatal("a taken key is still there")
	}
	// the taken entry freed its place: a third key fits without starting over
	h.Put("3", 3)
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := h.Get(k); !ok {
			t.Fatalf("key %s lost before the bound", k)
		}
	}
	// past the bound the map starts over
	h.Put("4", 4)
	if _, ok := h.Get("0"); ok {
		t.Fatal("map kept more than Max entries")
	}
	if v, ok := h.Get("4"); !ok || v != 4 {
		t.Fatalf("Get(4) = %d, %v", v, ok)
	}
	h.Clear()
	if _, ok := h.Take("4"); ok {
		t.Fatal("Clear kept an entry")
	}
}

// Concurrent takers of one key: exactly one gets it.
func TestHotMapTakeOnce(t *testing.T) {
	var h HotMap[int]
	for round := 0; round < 200; round++ {
		h.Put("k", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, ok := h.Take("k"); ok {
					mu.Lock()
					got++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if got != 1 {
			t.Fatalf("round %d: %d takers got the key", round, got)
		}
	}
}
