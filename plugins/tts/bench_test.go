package tts_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"gatehouse/testkit"
)

// BenchmarkPick: concurrent picks of distinct tickets over HTTP (in process), 3 agents.
func BenchmarkPick(b *testing.B) {
	f := newRR(b)
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := testkit.Client{TB: b, URL: f.client.URL}
		for pb.Next() {
			r := c.Do(http.MethodPost, "/api/v1/tts/round-robin/", map[string]any{"role_id": f.role.Id, "ticket_id": fmt.Sprint("B", seq.Add(1))}, f.key...)
			if r.Status != 201 {
				b.Errorf("%d %s", r.Status, r.Body)
				return
			}
		}
	})
}
