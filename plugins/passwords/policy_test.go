package passwords

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"gatehouse/plugins/config"
)

func newTestPolicy() *Policy { return NewPolicy(config.Default()) }

func check(t *testing.T, p *Policy, password, username, email string, want ...string) {
	t.Helper()
	got := p.Check(context.Background(), password, username, email)
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check(%q, %q, %q)\n got %q\nwant %q", password, username, email, got, want)
	}
}

func TestMessagesAreTheContractTexts(t *testing.T) {
	// Byte for byte, spec/API.md §1.13.
	want := map[string]string{
		MsgRequired:      "This field is required.",
		MsgTooShort:      "Password must be at least 8 characters long.",
		MsgTooLong:       "Password must be at most 71 bytes long.",
		MsgHasUsername:   "Password must not contain your username.",
		MsgHasEmailLocal: "Password must not contain part of your email address.",
		MsgTooCommon:     "Password is too common.",
		MsgPwned:         "This password has been found in data breaches. Please choose a different password.",
	}
	for got, w := range want {
		if got != w {
			t.Errorf("message %q, want %q", got, w)
		}
	}
}

func TestRequired(t *testing.T) {
	p := newTestPolicy()
	// Rule 1 short-circuits: the username/email/length rules are not evaluated.
	check(t, p, "", "alice", "alice@example.com", MsgRequired)
	check(t, p, "", "", "", MsgRequired)
}

func TestLength(t *testing.T) {
	p := newTestPolicy()
	check(t, p, "Zq7#kLm", "", "", MsgTooShort)
	check(t, p, "Zq7#kLm9", "", "")

	ascii64 := strings.Repeat("Zq7#kLm9", 8)
	if len(ascii64) != 64 {
		t.Fatal("bad fixture")
	}
	check(t, p, ascii64, "", "")

	ascii71 := ascii64 + "Zq7#kLm"
	check(t, p, ascii71, "", "")

	ascii72 := ascii64 + "Zq7#kLm9"
	if len(ascii72) != 72 {
		t.Fatal("bad fixture")
	}
	check(t, p, ascii72, "", "", "Password must be at most 71 bytes long.")

	// Code points, not bytes, for the minimum: 7 two-byte characters (14 bytes) are too short,
	// 8 are enough.
	check(t, p, strings.Repeat("é", 7), "", "", MsgTooShort)
	check(t, p, "éàüößçñø", "", "")

	// Bytes, not code points, for the maximum: 71 bytes of mostly two-byte characters pass,
	// 72 bytes (36 characters) are rejected.
	mb71 := strings.Repeat("é", 35) + "x"
	if len(mb71) != 71 || utf8.RuneCountInString(mb71) != 36 {
		t.Fatalf("bad fixture: %d bytes", len(mb71))
	}
	check(t, p, mb71, "", "")
	mb72 := strings.Repeat("é", 36)
	check(t, p, mb72, "", "", MsgTooLong)
	// Four-byte characters: 18 emoji = 72 bytes.
	check(t, p, strings.Repeat("😀", 18), "", "", MsgTooLong)
	check(t, p, strings.Repeat("😀", 17)+"abc", "", "")
}

func TestLengthFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.PasswordMinChars = 10
	cfg.PasswordMaxBytes = 20
	p := NewPolicy(cfg)
	check(t, p, "Zq7#kLm9x", "", "", "Password must be at least 10 characters long.")
	check(t, p, strings.Repeat("Zq7#kLm9x", 3), "", "", "Password must be at most 20 bytes long.")
}

func TestTooCommon(t *testing.T) {
	p := newTestPolicy()
	for _, pw := range []string{"password123", "Password123", "PASSWORD123", "12345678", "Qwerty12", "welcome1", "admin123"} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false", pw)
			continue
		}
		check(t, p, pw, "", "", MsgTooCommon)
	}
	// Exact match only, not containment.
	check(t, p, "password123-Zq7#kLm9", "", "")
}

func TestCommonListContents(t *testing.T) {
	for _, pw := range []string{"password", "12345678", "qwerty", "letmein", "admin", "welcome", "admin123", "password123"} {
		if !IsCommon(pw) || !IsCommon(strings.ToUpper(pw)) {
			t.Errorf("mandatory entry %q missing", pw)
		}
	}
	if n := CommonPasswordCount(); n < 9000 {
		t.Errorf("list has %d entries, want ~10,000", n)
	}
	for _, line := range strings.Split(strings.TrimSpace(commonPasswordsText), "\n") {
		if line == "" || line != strings.ToLower(line) || strings.ContainsAny(line, "\r") {
			t.Fatalf("list line %q is not a lower-cased entry", line)
		}
	}
	// Short entries also get the length message (every failing rule is reported).
	check(t, newTestPolicy(), "admin", "", "", MsgTooShort, MsgTooCommon)
}

func TestUsernameContainment(t *testing.T) {
	p := newTestPolicy()
	check(t, p, "xxALICEyy12", "alice", "", MsgHasUsername)
	check(t, p, "xxaliceyy12", "ALICE", "", MsgHasUsername)
	check(t, p, "Zq7#aliceZZ", "Alice", "", MsgHasUsername)
	// Exactly 3 characters: checked.
	check(t, p, "my-bob-secret-9", "bob", "", MsgHasUsername)
	// Fewer than 3 characters: not checked.
	check(t, p, "al-secret-9Z", "al", "")
	// Characters, not bytes: "ñé" is 4 bytes but 2 characters, so it is not checked;
	// "ñoé" has 3 characters and is.
	check(t, p, "xxñéyy-Zq7#", "ñé", "")
	check(t, p, "xxÑOÉyy-Zq7#", "ñoé", "", MsgHasUsername)
	// Not contained.
	check(t, p, "Zq7#kLm9", "alice", "")
	// Empty username: skipped.
	check(t, p, "Zq7#kLm9", "", "")
}

func TestEmailContainment(t *testing.T) {
	p := newTestPolicy()
	check(t, p, "CAROL.SMITH-2024x", "", "carol.smith@example.com", MsgHasEmailLocal)
	check(t, p, "xxcarol.smithyy", "", "Carol.Smith@Example.com", MsgHasEmailLocal)
	// Exactly 3 characters: checked.
	check(t, p, "my-bob-secret-9", "", "bob@example.com", MsgHasEmailLocal)
	// Fewer than 3 characters: not checked.
	check(t, p, "cd-secret-9Zq", "", "cd@example.com")
	// Only the local part: the domain may appear.
	check(t, p, "example.com-Zq7#", "", "carol@example.com")
	// Not contained / empty.
	check(t, p, "Zq7#kLm9", "", "carol@example.com")
	check(t, p, "Zq7#kLm9", "", "")
}

func TestMultipleFailuresInTableOrder(t *testing.T) {
	p := newTestPolicy()
	check(t, p, "admin", "admin", "admin@example.com",
		MsgTooShort, MsgHasUsername, MsgHasEmailLocal, MsgTooCommon)
	long := "alice-" + strings.Repeat("Zq7#kLm9", 8) + "-carol"
	check(t, p, long, "alice", "carol@example.com",
		MsgTooLong, MsgHasUsername, MsgHasEmailLocal)
	check(t, p, "xalice1", "alice", "", MsgTooShort, MsgHasUsername)
}

// hibpServer answers the range API from a set of breached passwords.
type hibpServer struct {
	*httptest.Server
	requests atomic.Int32
	paths    chan string
}

func newHIBPServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *hibpServer {
	t.Helper()
	s := &hibpServer{paths: make(chan string, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		select {
		case s.paths <- r.URL.Path:
		default:
		}
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func breachedHandler(breached ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		// A padded row that must not match anything, then the real rows.
		fmt.Fprintf(w, "%s:0\r\n", strings.Repeat("0", 35))
		for _, pw := range breached {
			h := sha1Hex(pw)
			if h[:5] == prefix {
				fmt.Fprintf(w, "%s:%d\r\n", h[5:], 42)
			}
		}
	}
}

func hibpPolicy(url string, timeout time.Duration) *Policy {
	cfg := config.Default()
	cfg.HIBPEnabled = true
	cfg.HIBPTimeout = timeout
	p := NewPolicy(cfg)
	p.HIBPURL = url
	return p
}

func TestHIBPFound(t *testing.T) {
	const pw = "Correct-Horse-9"
	srv := newHIBPServer(t, breachedHandler(pw))
	p := hibpPolicy(srv.URL, 2*time.Second)

	check(t, p, pw, "", "", MsgPwned)
	// k-anonymity: only the 5-character prefix is sent.
	if path := <-srv.paths; path != "/range/"+sha1Hex(pw)[:5] {
		t.Errorf("request path %q", path)
	}
	// Not breached (same server, other password).
	check(t, p, "Zq7#kLm9-unique", "", "")
	// Order: HIBP comes last.
	check(t, p, "admin", "admin", "", MsgTooShort, MsgHasUsername, MsgTooCommon)
	srv2 := newHIBPServer(t, breachedHandler("admin"))
	p.HIBPURL = srv2.URL
	check(t, p, "admin", "admin", "admin@example.com",
		MsgTooShort, MsgHasUsername, MsgHasEmailLocal, MsgTooCommon, MsgPwned)
	// Empty password: rule 1 only, no request.
	before := srv2.requests.Load()
	check(t, p, "", "admin", "", MsgRequired)
	if srv2.requests.Load() != before {
		t.Error("HIBP queried for an empty password")
	}
}

func TestHIBPPaddingRowIsNotABreach(t *testing.T) {
	const pw = "Correct-Horse-9"
	srv := newHIBPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Add-Padding") != "true" {
			t.Error("no Add-Padding header")
		}
		fmt.Fprintf(w, "%s:0\n", sha1Hex(pw)[5:])
	})
	check(t, hibpPolicy(srv.URL, 2*time.Second), pw, "", "")
}

func TestHIBPFailOpen(t *testing.T) {
	const pw = "Correct-Horse-9"

	t.Run("server error", func(t *testing.T) {
		srv := newHIBPServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		})
		check(t, hibpPolicy(srv.URL, 2*time.Second), pw, "", "")
		if srv.requests.Load() != 1 {
			t.Errorf("requests = %d, want 1", srv.requests.Load())
		}
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := newHIBPServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			breachedHandler(pw)(w, r)
		})
		defer close(release)
		start := time.Now()
		check(t, hibpPolicy(srv.URL, 150*time.Millisecond), pw, "", "")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Check took %v with a 150ms HIBP timeout", d)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		check(t, hibpPolicy(url, 2*time.Second), pw, "", "")
	})

	t.Run("cancelled context", func(t *testing.T) {
		srv := newHIBPServer(t, breachedHandler(pw))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := hibpPolicy(srv.URL, 2*time.Second).Check(ctx, pw, "", "")
		if got != nil {
			t.Errorf("got %q, want nil", got)
		}
	})
}

func TestHIBPDisabledMakesNoRequest(t *testing.T) {
	const pw = "Correct-Horse-9"
	srv := newHIBPServer(t, breachedHandler(pw))
	p := NewPolicy(config.Default()) // HIBP_ENABLED defaults to false
	if p.HIBPEnabled {
		t.Fatal("HIBP enabled by default")
	}
	p.HIBPURL = srv.URL
	check(t, p, pw, "", "")
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("%d HIBP requests with HIBP disabled", n)
	}
}

func TestNewPolicyDefaults(t *testing.T) {
	p := NewPolicy(nil)
	if p.MinChars != 8 || p.MaxBytes != 71 || p.HIBPEnabled || p.HIBPTimeout != 5*time.Second || p.HIBPURL != DefaultHIBPURL {
		t.Errorf("defaults: %+v", p)
	}
}
