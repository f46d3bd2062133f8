package apidocs_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apidocs"
	"gatehouse/plugins/apikit"
	"gatehouse/server"
	"gatehouse/testkit"
)

const appURL = "https://auth.gatehouse.test"

// fullApp is the binary's wiring (server.Register) with the repository's pb_public, served on a
// real listener, and its kit (whose Routes are what was mounted).
func fullApp(t *testing.T) (string, *apikit.Kit) {
	t.Helper()
	var kit *apikit.Kit
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = appURL
		kit = server.Register(app, cfg, server.Options{Public: os.DirFS("../../pb_public")}).Kit
	})
	srv := testkit.Serve(t, app)
	return srv.URL, kit
}

func get(t *testing.T, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

type document struct {
	OpenAPI    string                               `json:"openapi"`
	Servers    []map[string]string                  `json:"servers"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas         map[string]any            `json:"schemas"`
		SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

func fetchDoc(t *testing.T, base string) (document, []byte) {
	t.Helper()
	res, body := get(t, base+"/api/v1/openapi.json")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" ||
		res.Header.Get("Cache-Control") != "public, max-age=300" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("openapi.json: %d %v %s", res.StatusCode, res.Header, body)
	}
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc, body
}

// Every mounted route is in the document, every operation of the document is a mounted route
// that the router serves, and the document holds the three security schemes of §5.15.7.
func TestOpenAPIListsExactlyTheMountedRoutes(t *testing.T) {
	t.Parallel()
	base, kit := fullApp(t)
	_, problems := apidocs.Build(kit)
	for _, p := range problems {
		t.Errorf("every mounted route needs a complete apikit.Doc: %v", p)
	}
	doc, raw := fetchDoc(t, base)
	// .ci/run lints the document with a standard validator (redocly) from this file.
	if out := os.Getenv("GATEHOUSE_OPENAPI_OUT"); out != "" {
		if err := os.WriteFile(out, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0]["url"] != appURL {
		t.Fatalf("header: %s %v", doc.OpenAPI, doc.Servers)
	}
	for name, want := range map[string]map[string]any{
		"bearerAuth": {"type": "http", "scheme": "bearer"},
		"cookieAuth": {"type": "apiKey", "in": "cookie", "name": "access_token"},
		"apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
	} {
		for k, v := range want {
			if doc.Components.SecuritySchemes[name][k] != v {
				t.Errorf("security scheme %s: %s = %v, want %v", name, k, doc.Components.SecuritySchemes[name][k], v)
			}
		}
	}

	mounted := map[string]apikit.MountedRoute{}
	for _, rt := range kit.Routes() {
		mounted[rt.Method+" "+rt.Path] = rt
	}
	documented := map[string]map[string]any{}
	for path, item := range doc.Paths {
		for method, op := range item {
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	for key := range mounted {
		if documented[key] == nil {
			t.Errorf("mounted but not in the document: %s", key)
		}
	}
	for key := range documented {
		if _, ok := mounted[key]; !ok {
			t.Errorf("in the document but not mounted: %s", key)
		}
	}
	// The contract's pages and the discovery, token and sign-in endpoints are among them.
	for _, key := range []string{"GET /login/", "GET /reset-password/", "GET /two-factor/", "GET /api/v1/docs/",
		"GET /api/v1/openapi.json", "POST /api/v1/users/login/", "GET /api/", "GET /.well-known/jwks.json"} {
		if documented[key] == nil {
			t.Errorf("%s is not documented", key)
		}
	}

	// Each operation is served by the router: a request with its method reaches a handler of
	// ours (never a 405 of another method, never the 404 of an unknown path).
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	for key, op := range documented {
		method, path, _ := strings.Cut(key, " ")
		req, _ := http.NewRequest(method, base+param.ReplaceAllString(path, "abc"), nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 405 || res.StatusCode == 404 && strings.Contains(string(body), `"detail":"Not found."`) {
			t.Errorf("%s: %d %s", key, res.StatusCode, body)
		}
		// Operations carry their security: none for PUBLIC, token schemes otherwise.
		sec, _ := op["security"].([]any)
		rt := mounted[key]
		if rt.Access.IsPublic() != (len(sec) == 0) {
			t.Errorf("%s: security %v for access %+v", key, sec, rt.Access)
		}
		if _, ok := op["responses"].(map[string]any)["200"]; !ok && method == http.MethodGet {
			t.Errorf("%s: no 200 answer documented", key)
		}
	}

	// Every $ref points at a defined component.
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if doc.Components.Schemas[m[1]] == nil {
			t.Errorf("$ref to an undefined schema %s", m[1])
		}
	}
}

// A route without documentation makes the document fail (and so this package's tests), so the
// document cannot fall behind the route tables.
func TestBuildReportsAnUndocumentedRoute(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	kit := apikit.New(app, testkit.Config())
	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(*core.RequestEvent) error { return nil }
	if err := kit.Mount(r, []apikit.Route{
		{Method: http.MethodGet, Path: "/api/v1/documented/", Handler: ok, Doc: &apikit.Doc{Tag: "T", Summary: "S",
			Responses: []apikit.Response{apikit.OK("fine", nil)}}},
		{Method: http.MethodPost, Path: "/api/v1/undocumented/", Handler: ok},
	}); err != nil {
		t.Fatal(err)
	}
	doc, problems := apidocs.Build(kit)
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "POST /api/v1/undocumented/ has no documentation") {
		t.Fatalf("Build: %v", problems)
	}
	// The document still lists the route (a placeholder), so it never hides a served path.
	paths := doc["paths"].(map[string]map[string]any)
	if paths["/api/v1/undocumented/"]["post"] == nil || paths["/api/v1/documented/"]["get"] == nil {
		t.Fatalf("paths: %v", paths)
	}
	if _, err := apikit.WithDocs(nil, map[string]*apikit.Doc{"GET /api/v1/typo/": {}}); err == nil {
		t.Fatal("WithDocs accepted a doc for no route")
	}
}

// The docs page is HTML with the headers of §1.11 and loads only its own assets.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	base, _ := fullApp(t)
	for _, path := range []string{"/api/v1/docs/", "/api/v1/docs"} {
		res, body := get(t, base+path, "Accept", "text/html")
		h := res.Header
		if res.StatusCode != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" ||
			h.Get("Content-Security-Policy") != apikit.PageCSP || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %v", path, res.StatusCode, h)
		}
		html := string(body)
		if !strings.Contains(html, `<script src="/assets/docs.js" defer></script>`) || !strings.Contains(html, `href="/assets/app.css"`) ||
			regexp.MustCompile(`https?://|<style|\sstyle=|\son[a-z]+=`).MatchString(html) {
			t.Fatalf("%s: the page must load only its own assets:\n%s", path, html)
		}
	}
	for _, asset := range []string{"/assets/docs.js", "/assets/app.css"} {
		res, body := get(t, base+asset)
		if res.StatusCode != 200 || len(body) == 0 || regexp.MustCompile(`https?://`).Match(body) {
			t.Errorf("%s: %d", asset, res.StatusCode)
		}
	}
}

// StatusCheckEnv names the file of statuses that a whole test run recorded (apikit.StatusLogEnv);
// .ci/run sets it after `go test ./...` to run TestDocumentedStatusesOccurInTests.
const StatusCheckEnv = "GATEHOUSE_STATUS_CHECK"

// Every status the document gives an operation was answered by that operation somewhere in the
// test suite (unit, API scenarios and the e2e tests on the built binary), so the document only
// promises answers that were seen.
func TestDocumentedStatusesOccurInTests(t *testing.T) {
	file := os.Getenv(StatusCheckEnv)
	if file == "" {
		t.Skip(StatusCheckEnv + " is not set: .ci/run sets it to the statuses recorded by the whole suite")
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		seen[sc.Text()] = true
	}
	base, _ := fullApp(t)
	doc, _ := fetchDoc(t, base)
	var missing []string
	total := 0
	for path, item := range doc.Paths {
		for method, op := range item {
			for status := range op["responses"].(map[string]any) {
				total++
				key := strings.ToUpper(method) + " " + path + " " + status
				if !seen[key] {
					missing = append(missing, key)
				}
			}
		}
	}
	sort.Strings(missing)
	missing = slices.Compact(missing)
	t.Logf("%d documented answers, %d seen in tests", total, total-len(missing))
	if len(missing) > 0 {
		t.Fatalf("documented answers no test produced (%d):\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// The document's server is the application URL of the moment: without APP_URL it follows the
// dashboard's Application URL setting like every other URL the service makes (§1.1); it was
// frozen at the first request.
func TestOpenAPIServerFollowsTheApplicationURL(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		server.Register(app, testkit.Config(), server.Options{Public: os.DirFS("../../pb_public")})
	})
	srv := testkit.Serve(t, app)
	for _, u := range []string{"https://first.example.com", "https://second.example.com"} {
		app.Settings().Meta.AppURL = u
		if err := app.Save(app.Settings()); err != nil {
			t.Fatal(err)
		}
		if doc, _ := fetchDoc(t, srv.URL); len(doc.Servers) != 1 || doc.Servers[0]["url"] != u {
			t.Fatalf("servers %v, want %s", doc.Servers, u)
		}
	}
}
