// Package e2e runs the real Gatehouse binary: built once per test process, started on a random
// loopback port with a private data dir, driven over HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// RepoRoot is the module root (the folder holding main.go).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// Binary builds the gatehouse binary once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin-*")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is one running gatehouse process.
type Server struct {
	URL     string
	DataDir string
	Env     []string

	cmd    *exec.Cmd
	output *syncBuffer
	done   chan error
}

// Options configure Start.
type Options struct {
	DataDir string   // reuse a data dir (e.g. across a restart); a new temp dir when empty
	Env     []string // extra environment variables, KEY=VALUE
	Args    []string // extra serve arguments (e.g. --dev)
}

// Start runs `gatehouse serve` on a free loopback port and waits for /api/health.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t)
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	var last error
	for range 5 { // the free port may be taken between probe and listen: retry
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), DataDir: opts.DataDir, Env: opts.Env, output: &syncBuffer{}, done: make(chan error, 1)}
		args := append([]string{"serve", "--http", fmt.Sprintf("127.0.0.1:%d", port), "--dir", opts.DataDir}, opts.Args...)
		s.cmd = exec.Command(bin, args...)
		s.cmd.Env = append(baseEnv(), opts.Env...)
		s.cmd.Stdout = s.output
		s.cmd.Stderr = s.output
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.done <- s.cmd.Wait() }()
		if last = s.waitHealthy(15 * time.Second); last == nil {
			t.Cleanup(s.Stop)
			return s
		}
		s.Stop()
	}
	t.Fatalf("gatehouse did not start: %v", last)
	return nil
}

// baseEnv is the test process environment without variables that would change the service.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "APP_URL", "GATEHOUSE_SECRET", "TRUSTED_PROXIES", "CORS_ALLOWED_ORIGINS", "RATE_LIMITS_ENABLED", "CAPTCHA_TEST_ANSWER":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (s *Server) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("exited early (%v): %s", err, s.output.String())
		default:
		}
		res, err := http.Get(s.URL + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no healthy answer within %v: %s", timeout, s.output.String())
}

// Stop sends SIGTERM and waits for the process (killing it after 10 s).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case err := <-s.done:
		s.done <- err
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
	}
}

// Output is everything the process printed so far.
func (s *Server) Output() string { return s.output.String() }

// Run executes the binary with args (a CLI command) and returns its combined output and exit code.
func Run(t testing.TB, dataDir string, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if dataDir != "" {
		args = append(args, "--dir", dataDir)
	}
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatalf("run %v: %v", args, err)
		}
	}
	return string(out), code
}

// Client is an HTTP client that never follows redirects (a redirect is a failure here).
var Client = &http.Client{
	Timeout:       15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends a request with an optional JSON body and headers, and returns status, headers, body.
func (s *Server) Do(t testing.TB, method, path string, body any, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			r = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			r = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, out
}

// SuperuserToken creates (upserts) a PocketBase superuser with the CLI and logs it in.
func (s *Server) SuperuserToken(t testing.TB) string {
	t.Helper()
	const email, password = "root@example.com", "root-password-1234"
	if out, code := Run(t, s.DataDir, s.Env, "", "superuser", "upsert", email, password); code != 0 {
		t.Fatalf("superuser upsert: %d %s", code, out)
	}
	status, _, body := s.Do(t, http.MethodPost, "/api/collections/_superusers/auth-with-password",
		map[string]string{"identity": email, "password": password})
	if status != http.StatusOK {
		t.Fatalf("superuser login: %d %s", status, body)
	}
	var res struct{ Token string }
	if err := json.Unmarshal(body, &res); err != nil || res.Token == "" {
		t.Fatalf("superuser token: %v %s", err, body)
	}
	return res.Token
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
