// Package bench holds load benchmarks. hotpath_test.go drives the full router in-process so a
// CPU profile shows where a request's time goes:
//
//	go test ./bench/ -run XXX -bench Validate -cpuprofile /tmp/cpu.out && go tool pprof -top /tmp/cpu.out
package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/server"
	"gatehouse/testkit"
)

func setup(b *testing.B) (url, access string) {
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
	res, err := http.Post(srv.URL+"/api/v1/users/login/", "application/json",
		strings.NewReader(`{"email":"bench@example.com","password":"violet-harbor-42"}`))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Access string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	if out.Access == "" {
		b.Fatal("login failed")
	}
	return srv.URL, out.Access
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
		res, err := client.Post(url+"/api/v1/users/login/", "application/json",
			strings.NewReader(`{"email":"bench@example.com","password":"violet-harbor-42"}`))
		if err != nil {
			b.Fatal(err)
		}
		var tok struct{ Refresh string }
		_ = json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
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
