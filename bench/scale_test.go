package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/writeepoch"
	"gatehouse/server"
	"gatehouse/testkit"
)

// BenchmarkScale profiles the directory lists of bench/scale.sh in-process, against a seeded
// data dir (BENCH_SCALE_DIR: e.g. a copy of the cached seed of scale.sh, which tests.NewTestApp
// copies again), one request at a time so ns/op is close to a request's CPU:
//
//	BENCH_SCALE_DIR=/tmp/scale go test ./bench -run XXX -bench Scale -benchtime 200x -cpuprofile /tmp/scale.cpu
//
// Sub-benchmarks "…/8conns" send from 8 goroutines (wrk's 8 connections).
func BenchmarkScale(b *testing.B) {
	dir := os.Getenv("BENCH_SCALE_DIR")
	if dir == "" {
		b.Skip("set BENCH_SCALE_DIR to a data dir seeded by bench/seed")
	}
	app, err := tests.NewTestApp(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(app.Cleanup)
	server.Register(app, testkit.Config(), server.Options{})
	app.Settings().RateLimits.Enabled = false
	srv := testkit.Serve(b, app)
	res, err := http.Post(srv.URL+"/api/v1/users/login/", "application/json",
		strings.NewReader(`{"email":"bench.admin@example.com","password":"bench-admin-password-1234"}`))
	if err != nil {
		b.Fatal(err)
	}
	var tok struct{ Access string }
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.Access == "" {
		b.Fatalf("login: %d", res.StatusCode)
	}
	if why := writeepoch.Disabled(app); why != "" {
		b.Logf("write-epoch caches off: %s", why)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(b *testing.B, path string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Access)
		res, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Errorf("%s: status %d", path, res.StatusCode)
		}
	}
	terms := []string{ // lua/search.lua's
		"son", "mar", "ana", "ria", "john", "garc", "rey", "santos", "lee", "chr", "ela", "tan", "ong",
		"cruz", "Dela", "MARIA", "example.org", "corp.", "@mail", "jose", "m%C3%BCller", "pe%C3%B1a",
		"9171", "0012", "MA0", "MA12345", "an.", "kris", "jen", "xyz", "qqq", "bautista", "wats", "wil",
		"ram", "torres", "ver", "ine", "ick"}
	time.Sleep(300 * time.Millisecond)
	workloads := []struct {
		name  string
		paths []string
	}{
		{"first", []string{"/api/v1/users/?page_size=50"}},
		{"search", nil},
		{"deep_date", []string{"/api/v1/users/?ordering=-date_joined&page=1000&page_size=50"}},
		{"deep_email", []string{"/api/v1/users/?page=1000&page_size=50"}},
	}
	for _, t := range terms {
		workloads[1].paths = append(workloads[1].paths, "/api/v1/users/?search="+t+"&ordering=-date_joined")
	}
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				get(b, w.paths[i%len(w.paths)])
			}
		})
		b.Run(w.name+"/8conns", func(b *testing.B) {
			var wg sync.WaitGroup
			var next sync.Mutex
			i := 0
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						next.Lock()
						n := i
						i++
						next.Unlock()
						if n >= b.N {
							return
						}
						get(b, w.paths[n%len(w.paths)])
					}
				}()
			}
			wg.Wait()
		})
	}
}
