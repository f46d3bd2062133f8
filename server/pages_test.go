package server_test

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/server"
	"gatehouse/testkit"
)

// pbPublic is the repository's pb_public folder, the tree main.go embeds.
var pbPublic = os.DirFS("../pb_public")

func pagesFactory(tb testing.TB) *tests.TestApp {
	return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = "https://auth.example.com"
		server.Register(app, cfg, server.Options{Public: pbPublic})
	})
}

// checkPageAnswer asserts the headers of §1.11 on an HTML answer, the page file as its body
// (none for HEAD), Vary: Accept on a page endpoint, and that nothing was written (no audit row).
func checkPageAnswer(file string, pageEndpoint, head bool) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(t testing.TB, app *tests.TestApp, res *http.Response) {
		want, err := fs.ReadFile(pbPublic, file)
		if err != nil {
			t.Fatal(err)
		}
		h := res.Header
		if h.Get("Content-Type") != "text/html; charset=utf-8" ||
			h.Get("Content-Security-Policy") != "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" ||
			h.Get("Content-Security-Policy") != apikit.PageCSP ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("page headers: %v", h)
		}
		if pageEndpoint && !strings.Contains(strings.Join(h.Values("Vary"), ","), "Accept") {
			t.Errorf("no Vary: Accept: %v", h)
		}
		body, _ := io.ReadAll(res.Body)
		if head {
			want = nil
		}
		if string(body) != string(want) {
			t.Errorf("body is not %s: %.300s", file, body)
		}
		if n := countRecords(t, app, "audit_log"); n != 0 {
			t.Errorf("a page wrote %d audit rows", n)
		}
	}
}

// §1.11, §5.5.1, §5.5.3, §5.13.2, §5.13.4, §5.13.5, §5.14.4, §5.15.5, §5.15.8: with Accept:
// text/html every page endpoint answers 200 with its page of pb_public (no authentication, both
// slash forms, the query ignored) and the headers of §1.11; HEAD the same headers without a body;
// without text/html the JSON variant keeps its authentication.
func TestPageEndpointsServeTheirPages(t *testing.T) {
	t.Parallel()
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	pages := []struct {
		path, file, marker string
		endpoint           bool
	}{
		{"/api/v1/users/invite-agent/", "invite-agent.html", `<script src="/assets/invite-agent.js" defer></script>`, true},
		{"/api/v1/users/management/invite_agent/", "invite-agent.html", `<h1 id="title">Invite an agent</h1>`, true},
		{"/api/v1/invitations/accept/", "accept-invitation/index.html", `<script src="/assets/accept-invitation.js" defer></script>`, true},
		{"/accept-invitation/", "accept-invitation/index.html", `<h1 id="title">Accept your invitation</h1>`, false},
		{"/api/v1/tts/assign-agent-to-role/", "tts/assign-agent-to-role/index.html", `data-api="/api/v1/tts/assign-agent-to-role/"`, true},
		{"/api/v1/tts/assign-role/", "tts/assign-role/index.html", `data-api="/api/v1/tts/assign-role/"`, true},
		{"/assign-role/", "tts/assign-role/index.html", `<script src="/assets/tts-assign.js" defer></script>`, true},
		{"/api/v1/tts/create-role/", "tts/create-role/index.html", `<script src="/assets/tts-create-role.js" defer></script>`, true},
	}
	for _, p := range pages {
		for _, path := range []string{p.path, strings.TrimSuffix(p.path, "/"), p.path + "?system=tts&token=abc"} {
			s := tests.ApiScenario{
				Name: "GET " + path, Method: http.MethodGet, URL: path, Headers: map[string]string{"Accept": browser},
				ExpectedStatus: 200, ExpectedContent: []string{p.marker, `<link rel="stylesheet" href="/assets/app.css">`, `<script src="/assets/app.js" defer></script>`},
				NotExpectedContent: []string{"not built yet", "comes later"},
				TestAppFactory:     pagesFactory, AfterTestFunc: checkPageAnswer(p.file, p.endpoint, false),
			}
			s.Test(t)
		}
		head := tests.ApiScenario{
			Name: "HEAD " + p.path, Method: http.MethodHead, URL: p.path, Headers: map[string]string{"Accept": "text/html"},
			ExpectedStatus: 200, TestAppFactory: pagesFactory, AfterTestFunc: checkPageAnswer(p.file, p.endpoint, true),
		}
		head.Test(t)
	}

	// The JSON variants (no Accept, */*, application/json) keep their authentication.
	const notAuth = `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`
	for _, p := range pages {
		if !p.endpoint {
			continue
		}
		for _, accept := range []string{"", "*/*", "application/json"} {
			want, status := notAuth, 401
			if p.path == "/api/v1/invitations/accept/" {
				want, status = `{"detail":"Invalid input.","code":"invalid","errors":{"token":["This field is required."]}}`, 400
			}
			s := tests.ApiScenario{
				Name: "JSON " + p.path + " Accept=" + accept, Method: http.MethodGet, URL: p.path, Headers: map[string]string{"Accept": accept},
				ExpectedStatus: status, ExpectedContent: []string{want}, NotExpectedContent: []string{"<html"},
				TestAppFactory: pagesFactory,
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
					if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Accept") {
						t.Errorf("JSON variant headers: %v", res.Header)
					}
					if n := countRecords(t, app, "audit_log"); n != 0 {
						t.Errorf("a refused page request wrote %d audit rows", n)
					}
				},
			}
			s.Test(t)
		}
	}
}
