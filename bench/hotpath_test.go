// Package bench holds load benchmarks. hotpath_test.go drives the full router in-process so a
// CPU profile shows where a request's time goes:
//
//	go test ./bench/ -run XXX -bench Validate -cpuprofile /tmp/cpu.out && go tool pprof -top /tmp/cpu.out
package bench

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/server"
	"gatehouse/testkit"
)

func setup(b *testing.B) (url, access string) {
	srv, access := setupServer(b)
	return srv.URL, access
}

// setupServer: a served test app with one staff user and an access token of it.
func setupServer(b testing.TB) (*httptest.Server, string) {
	app := testkit.NewApp(b, func(app *tests.TestApp) {
		cfg := testkit.Config()
		server.Register(app, cfg, server.Options{})
	})
	app.Settings().RateLimits.Enabled = false
	col, _ := app.FindCachedCollectionByNameOrId("users")
	u := core.NewRecord(col)
	u.SetEmail("bench@example.com")
	u.SetPassword("violet-harbor-42")
	u.Set("is_active", true)
	if err := app.Save(u); err != nil {
		b.Fatal(err)
	}
	srv := testkit.Serve(b, app)
	access, _ := login(b, http.DefaultClient, srv.URL)
	return srv, access
}

// login signs the set-up user in (a new session) and returns its tokens.
func login(tb testing.TB, client *http.Client, url string) (access, refresh string) {
	tb.Helper()
	res, err := client.Post(url+"/api/v1/users/login/", "application/json",
		strings.NewReader(`{"email":"bench@example.com","password":"violet-harbor-42"}`))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Access, Refresh string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	if out.Access == "" || out.Refresh == "" {
		tb.Fatalf("login failed: %d", res.StatusCode)
	}
	return out.Access, out.Refresh
}

func benchGET(b *testing.B, path string) {
	url, access := setup(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	time.Sleep(1200 * time.Millisecond) // set-up writes settle: hot-path caches fill
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url+path, nil)
			req.Header.Set("Authorization", "Bearer "+access)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) { benchGET(b, "/api/v1/users/token/validate/") }
func BenchmarkProfile(b *testing.B)  { benchGET(b, "/api/v1/users/profile/") }

// BenchmarkRefresh: each parallel client rotates its own session (one login each).
func BenchmarkRefresh(b *testing.B) {
	url, _ := setup(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		var tok struct{ Refresh string }
		_, tok.Refresh = login(b, client, url)
		for pb.Next() {
			res, err := client.Post(url+"/api/v1/token/refresh/", "application/json",
				strings.NewReader(`{"refresh":"`+tok.Refresh+`"}`))
			if err != nil {
				b.Fatal(err)
			}
			_ = json.NewDecoder(res.Body).Decode(&tok)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}

// The signature work of one refresh, alone: verifying the presented EdDSA token and signing two
// new ones (what the contract requires), next to what PocketBase's auth-refresh does (HS256).
// go test ./bench/ -run XXX -bench Crypto
func BenchmarkCryptoRefreshEdDSA(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(nil)
	claims := jwt.MapClaims{"sub": "abcdefghijklmno", "sid": "abcdefghijklmno", "jti": "0123456789abcdef0123456789abcdef",
		"typ": "refresh", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "nbf": time.Now().Unix()}
	token, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(priv)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}))
	b.ResetTimer()
	for b.Loop() {
		if _, err := parser.Parse(token, func(*jwt.Token) (any, error) { return priv.Public(), nil }); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			if _, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(priv); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkCryptoRefreshHS256(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	claims := jwt.MapClaims{"id": "abcdefghijklmno", "type": "auth", "collectionId": "pbc_3142635823",
		"refreshable": true, "exp": time.Now().Add(time.Hour).Unix()}
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}))
	b.ResetTimer()
	for b.Loop() {
		if _, err := parser.Parse(token, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
			b.Fatal(err)
		}
		if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateHandler: the server's handler alone (fast lane included), no network and no
// client, so a CPU profile shows only Gatehouse's own work per validate.
func BenchmarkValidateHandler(b *testing.B) {
	srv, access := setupServer(b)
	handler := srv.Config.Handler
	time.Sleep(200 * time.Millisecond) // set-up writes settle: hot-path caches fill
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/users/token/validate/", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		for pb.Next() {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkRefreshHandler: rotations through the server's handler alone (no network, no
// client); each parallel goroutine rotates its own session.
func BenchmarkRefreshHandler(b *testing.B) {
	srv, _ := setupServer(b)
	handler := srv.Config.Handler
	do := func(path, body string) map[string]any {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: status %d %s", path, rec.Code, rec.Body)
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	b.ResetTimer()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		refresh, _ := do("/api/v1/users/login/", `{"email":"bench@example.com","password":"violet-harbor-42"}`)["refresh"].(string)
		for pb.Next() {
			refresh, _ = do("/api/v1/token/refresh/", `{"refresh":"`+refresh+`"}`)["refresh"].(string)
		}
	})
}
