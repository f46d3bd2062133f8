package bench

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestWrkProfile is a profiling tool, skipped unless BENCH_WRK names a GET path: it serves the
// app in this process and drives the path with wrk (external, 2 threads, 32 connections, 8 s,
// Bearer token of the set-up user), so -cpuprofile shows the server's CPU alone under load:
//
//	BENCH_WRK=/api/v1/users/token/validate/ go test ./bench -run WrkProfile -v -cpuprofile /tmp/wrk.cpu
//	go tool pprof -top -cum bench/bench.test /tmp/wrk.cpu
func TestWrkProfile(t *testing.T) {
	path := os.Getenv("BENCH_WRK")
	if path == "" {
		t.Skip("set BENCH_WRK to a GET path to profile the server under wrk")
	}
	srv, access := setupServer(t)
	time.Sleep(300 * time.Millisecond) // set-up writes settle: hot-path caches fill
	out, err := exec.Command("wrk", "--latency", "-t2", "-c32", "-d8s",
		"-H", "Authorization: Bearer "+access, srv.URL+path).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	t.Log(string(out))
}
