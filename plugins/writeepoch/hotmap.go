package writeepoch

import (
	"sync"
	"sync/atomic"
)

// HotMap is a bounded concurrent map for caches read on every request: reads of settled keys
// take no lock and write no shared memory (sync.Map), so two cores reading the same entry do
// not contend the way an RWMutex's reader count makes them. It starts over with an empty map
// once it holds Max entries (Max ≤ 0: 20000).
type HotMap[V any] struct {
	Max int64

	m atomic.Pointer[sync.Map]
	n atomic.Int64
}

// Get returns the value stored under key.
func (h *HotMap[V]) Get(key string) (V, bool) {
	var zero V
	m := h.m.Load()
	if m == nil {
		return zero, false
	}
	v, ok := m.Load(key)
	if !ok {
		return zero, false
	}
	return v.(V), true
}

// Put stores v under key.
func (h *HotMap[V]) Put(key string, v V) {
	max := h.Max
	if max <= 0 {
		max = maxSnapshots
	}
	m := h.m.Load()
	if m == nil || h.n.Load() >= max {
		m = new(sync.Map)
		h.m.Store(m)
		h.n.Store(0)
	}
	if _, loaded := m.Swap(key, v); !loaded {
		h.n.Add(1)
	}
}

// Take returns the value stored under key and removes it.
func (h *HotMap[V]) Take(key string) (V, bool) {
	var zero V
	m := h.m.Load()
	if m == nil {
		return zero, false
	}
	v, ok := m.LoadAndDelete(key)
	if !ok {
		return zero, false
	}
	if h.m.Load() == m {
		h.n.Add(-1)
	}
	return v.(V), true
}

// Clear empties the map.
func (h *HotMap[V]) Clear() {
	h.m.Store(nil)
	h.n.Store(0)
}
