package bench

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWrkProfile is a profiling tool, skipped unless BENCH_WRK is set: it serves the app in this
// process and drives it with wrk (external), so -cpuprofile (or -blockprofile, -trace) shows the
// server's work alone under load. BENCH_WRK is a GET path (2 threads, 32 connections, Bearer
// token of the set-up user) or "refresh" (rotations as in bench/run.sh: 8 threads, 8
// connections, one session each). 8 s.
//
//	BENCH_WRK=/api/v1/users/token/validate/ go test ./bench -run WrkProfile -v -cpuprofile /tmp/wrk.cpu
//	go tool pprof -top -cum bench/bench.test /tmp/wrk.cpu
func TestWrkProfile(t *testing.T) {
	target := os.Getenv("BENCH_WRK")
	if target == "" {
		t.Skip("set BENCH_WRK to a GET path or to refresh to profile the server under wrk")
	}
	srv, access := setupServer(t)
	var args []string
	if target == "refresh" {
		var tokens []string
		for i := 0; i < 8; i++ {
			_, refresh := login(t, http.DefaultClient, srv.URL)
			tokens = append(tokens, refresh)
		}
		file := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(file, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		lua, _ := filepath.Abs("lua")
		t.Setenv("BENCH_LUA", lua)
		t.Setenv("TOKENS", file)
		args = []string{"-t8", "-c8", "-s", filepath.Join(lua, "refresh.lua"), srv.URL + "/"}
	} else {
		args = []string{"-t2", "-c32", "-H", "Authorization: Bearer " + access, srv.URL + target}
	}
	time.Sleep(300 * time.Millisecond) // set-up writes settle: hot-path caches fill
	out, err := exec.Command("wrk", append([]string{"--latency", "-d8s"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	t.Log(string(out))
}
