package e2e

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // read the data dir's data.db directly (durability and soak checks)
)

// loadClient sends many requests over a fixed pool of keep-alive connections and returns
// transport errors instead of failing the test (a killed server is expected in some tests).
type loadClient struct {
	base string
	c    *http.Client
}

func newLoadClient(base string, conns int) *loadClient {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &loadClient{base: base, c: &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// close drops the idle keep-alive connections (the server's connection goroutines end).
func (l *loadClient) close() { l.c.CloseIdleConnections() }

// do sends one request; body is JSON-encoded unless nil; headers are name, value pairs.
// The answer counts as received only when its whole body was read.
func (l *loadClient) do(method, path string, body any, headers ...string) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, l.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := l.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, out, nil
}

// Kill9 sends SIGKILL to the server process and waits until it is gone.
func (s *Server) Kill9() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.done
	s.done <- err
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// procStatus reads VmRSS, VmHWM (kB) and Threads from /proc/<pid>/status.
func procStatus(pid int) (rssKB, hwmKB, threads int, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.Atoi(fields[0])
		switch name {
		case "VmRSS":
			rssKB = n
		case "VmHWM":
			hwmKB = n
		case "Threads":
			threads = n
		}
	}
	return rssKB, hwmKB, threads, nil
}

// openDataDB opens the data dir's data.db for reading (WAL mode: readable while the server runs).
func openDataDB(t testing.TB, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// jwtClaim returns a string claim of a JWT's payload (no verification: the test's own token).
func jwtClaim(t testing.TB, token, name string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	v, _ := claims[name].(string)
	return v
}

// jtiHash is the sessions table's form of a refresh token's jti (SHA-256, hex; §2.7).
func jtiHash(t testing.TB, refresh string) string {
	sum := sha256.Sum256([]byte(jwtClaim(t, refresh, "jti")))
	return hex.EncodeToString(sum[:])
}
