package accounts_test

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

const pwHTMLAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// pwCheckHTML asserts a 200 text/html answer with the headers of §1.11.
func pwCheckHTML(t *testing.T, name string, r reply, vary bool) {
	t.Helper()
	h := r.header
	if r.status != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Content-Security-Policy") != apikit.PageCSP ||
		h.Get("Content-Security-Policy") != "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Location") != "" || (vary && !pwVaryAccept(h)) {
		t.Errorf("%s: %d %v", name, r.status, h)
	}
}

// §1.11, §5.6.3, §5.15.8: the HTML variant is the embedded reset page, in both slash forms,
// without a redirect, with the page headers; HEAD has the same headers and no body.
func TestResetPageHTMLVariant(t *testing.T) {
	t.Parallel()
	page, err := fs.ReadFile(pbPublic, "reset-password/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]pwOpts{
		"pb_public given to server.Register": {public: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newPwFlow(t, o)
			for _, path := range []string{pwResetPath, strings.TrimSuffix(pwResetPath, "/"), pwResetPath + "?token=abc&kind=x"} {
				r := f.do(http.MethodGet, path, nil, "Accept", pwHTMLAccept)
				pwCheckHTML(t, path, r, true)
				if string(r.body) != string(page) {
					t.Errorf("%s: body is not the reset page: %.200s", path, r.body)
				}
			}
			r := f.do(http.MethodHead, pwResetPath, nil, "Accept", "text/html")
			pwCheckHTML(t, "HEAD", r, true)
			if len(r.body) != 0 {
				t.Errorf("HEAD body: %q", r.body)
			}
			// the static page itself (§5.15.8) is the same file
			r = f.do(http.MethodGet, "/reset-password/", nil)
			pwCheckHTML(t, "/reset-password/", r, false)
			if string(r.body) != string(page) {
				t.Errorf("/reset-password/ body differs")
			}
		})
	}

	// Without pb_public at all the HTML variant is an opaque 500; the JSON variant still works.
	f := newPwFlow(t, pwOpts{})
	r := f.do(http.MethodGet, pwResetPath, nil, "Accept", "text/html")
	if r.status != 500 || string(r.body) != `{"detail":"A server error occurred.","code":"server_error"}` || !pwVaryAccept(r.header) {
		t.Errorf("no pb_public: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, pwResetPath+"?token=x", nil, "Accept", "application/json"); r.status != 200 || string(r.body) != `{"valid":false}` {
		t.Errorf("JSON without pb_public: %d %s", r.status, r.body)
	}
}

// §1.11, §8.6 statement 88: both variants clear the query string right after reading token,
// so what PocketBase's activity logger sees (the request URL after the handlers) never holds it.
func TestResetPageClearsTheQueryString(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	f := newPwFlow(t, pwOpts{public: true, observe: func(e *core.RequestEvent) {
		if strings.HasPrefix(e.Request.URL.Path, "/api/v1/users/password/reset") {
			mu.Lock()
			seen = append(seen, e.Request.Method+" "+e.Request.URL.RequestURI()+" "+e.Request.RequestURI)
			mu.Unlock()
		}
	}})
	u := f.user("agent@example.com", pwOldPassword, true)
	token := f.pwForgot(u.Email())
	if r := f.do(http.MethodGet, pwResetPath+"?token="+token, nil); string(r.body) != `{"valid":true}` {
		t.Fatalf("JSON check: %s", r.body)
	}
	if r := f.do(http.MethodGet, strings.TrimSuffix(pwResetPath, "/")+"?kind=employee&token="+token, nil, "Accept", "text/html"); r.status != 200 {
		t.Fatalf("HTML variant: %d", r.status)
	}
	if r := f.do(http.MethodGet, pwResetPath+"?token=", nil); r.status != 400 {
		t.Fatalf("missing token: %d", r.status)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"GET /api/v1/users/password/reset/ /api/v1/users/password/reset/",
		"GET /api/v1/users/password/reset /api/v1/users/password/reset",
		"GET /api/v1/users/password/reset/ /api/v1/users/password/reset/",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("request URLs after the handlers:\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// Every page of pb_public works under the CSP of §1.11: no inline script or style, no external
// resource; its scripts and stylesheet are served from pb_public/assets.
func TestPagesRespectTheCSP(t *testing.T) {
	t.Parallel()
	var pages []string // every HTML file of pb_public, also in subfolders (tts/create-role/index.html)
	err := fs.WalkDir(pbPublic, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".html") {
			pages = append(pages, path)
		}
		return err
	})
	if err != nil || len(pages) < 9 {
		t.Fatalf("pages: %v %v", pages, err)
	}
	f := newPwFlow(t, pwOpts{public: true})
	for _, name := range pages {
		page, err := fs.ReadFile(pbPublic, name)
		if err != nil {
			t.Fatal(err)
		}
		html := string(page)
		for _, re := range []string{`<style`, `\sstyle=`, `\son[a-z]+=`, `https?://`, `javascript:`} {
			if regexp.MustCompile(`(?i)` + re).MatchString(html) {
				t.Errorf("%s matches %s", name, re)
			}
		}
		scripts := regexp.MustCompile(`(?is)<script[^>]*>.*?</script>`).FindAllString(html, -1)
		var assets []string
		for _, m := range regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`).FindAllStringSubmatch(html, -1) {
			assets = append(assets, m[1])
		}
		for _, s := range scripts {
			m := regexp.MustCompile(`^<script src="(/assets/[a-z-]+\.js)" defer></script>$`).FindStringSubmatch(s)
			if m == nil {
				t.Errorf("%s: inline or external script: %s", name, s)
				continue
			}
			assets = append(assets, m[1])
		}
		// The pages share the stylesheet and the script of the API envelope (all but the plain
		// index.html).
		if name != "index.html" &&
			(!strings.Contains(html, `<script src="/assets/app.js" defer></script>`) || !strings.Contains(html, `<link rel="stylesheet" href="/assets/app.css">`)) {
			t.Errorf("%s does not load the shared script and stylesheet", name)
		}
		for _, path := range assets {
			ctype := "text/javascript; charset=utf-8"
			if strings.HasSuffix(path, ".css") {
				ctype = "text/css; charset=utf-8"
			}
			r := f.do(http.MethodGet, path, nil)
			if r.status != 200 || r.header.Get("Content-Type") != ctype || len(r.body) == 0 {
				t.Errorf("%s: %d %q", path, r.status, r.header.Get("Content-Type"))
			}
			if regexp.MustCompile(`https?://`).Match(r.body) {
				t.Errorf("%s refers to an external resource", path)
			}
			if !strings.Contains(html, path) {
				t.Errorf("%s does not load %s", name, path)
			}
		}
	}
}
