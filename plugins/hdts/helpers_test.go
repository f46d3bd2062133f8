package hdts_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/config"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
	"gatehouse/server"
	"gatehouse/testkit"
)

// The HDTS tests run on the full wiring (server.Register: both realms, real EdDSA tokens,
// the record hooks, the mailer writing to email_outbox), like the binary.

const (
	testAppURL = "https://auth.example.com"
	password   = "correct horse battery" // testkit.NewPrincipal's password
	newPass    = "amber-lantern-77x"

	tokenInvalid     = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
	notAuthenticated = `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`
	denied           = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`
	badCredentials   = `{"detail":"Invalid email or password.","code":"invalid_credentials"}`
)

func invalid(errors string) string {
	return `{"detail":"Invalid input.","code":"invalid","errors":` + errors + `}`
}

// fixtures are the people of a test app.
type fixtures struct {
	hdtsAdmin  *core.Record // staff, active Admin assignment in hdts
	hdtsMember *core.Record // staff, Ticket Coordinator in hdts
	inactiveAd *core.Record // staff, inactive Admin assignment in hdts (not an admin, not a member)
	ttsAdmin   *core.Record // staff, Admin in tts only
	plain      *core.Record // staff without assignments
	superuser  *core.Record // staff is_superuser
	pending    *core.Record // employees by status
	approved   *core.Record
	rejected   *core.Record
	key        string // an API key made by a scenario's before (useKey sends it)
}

func newApp(tb testing.TB, mutate func(*config.Config)) (*tests.TestApp, *fixtures) {
	tb.Helper()
	f := &fixtures{}
	app := testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = testAppURL
		if mutate != nil {
			mutate(cfg)
		}
		svc := server.Register(app, cfg, server.Options{})
		app.Store().Set(tokensKey, svc.Tokens) // for login()
		*f = seed(tb, app)
	})
	return app, f
}

// Fixture ids (fixed, so that scenario URLs can name them).
const (
	idAdmin    = "hdtsadmin000001"
	idMember   = "hdtsmember00001"
	idFormer   = "hdtsformer00001"
	idTTSAdmin = "ttsadmin0000001"
	idPlain    = "plainuser000001"
	idSuper    = "superuser000001"
	idPending  = "emppending00001"
	idApproved = "empapproved0001"
	idRejected = "emprejected0001"
)

func principal(tb testing.TB, app core.App, collection, id, email string, fields map[string]any) *core.Record {
	tb.Helper()
	col, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		tb.Fatal(err)
	}
	r := core.NewRecord(col)
	r.Id = id
	r.SetEmail(email)
	r.SetPassword(password)
	for k, v := range fields {
		r.Set(k, v)
	}
	if err := app.Save(r); err != nil {
		tb.Fatal(err)
	}
	return r
}

func staff(tb testing.TB, app core.App, id, name string, fields map[string]any) *core.Record {
	tb.Helper()
	if fields == nil {
		fields = map[string]any{}
	}
	fields["is_active"], fields["first_name"], fields["last_name"] = true, "Agent", name
	return principal(tb, app, realm.CollectionStaff, id, strings.ToLower(name)+"@example.com", fields)
}

func employee(tb testing.TB, app core.App, id, name, status string) *core.Record {
	tb.Helper()
	return principal(tb, app, realm.CollectionEmployee, id, strings.ToLower(name)+"@example.com",
		map[string]any{"status": status, "first_name": "Emp", "last_name": name})
}

func assign(tb testing.TB, app core.App, user *core.Record, slug, roleName string, active bool) *core.Record {
	tb.Helper()
	sys, err := app.FindFirstRecordByData("systems", "slug", slug)
	if err != nil {
		tb.Fatal(err)
	}
	role, err := app.FindFirstRecordByFilter("roles", "system = {:s} && name = {:n}", dbx.Params{"s": sys.Id, "n": roleName})
	if err != nil {
		tb.Fatal(err)
	}
	return testkit.Assign(tb, app, user, role, active)
}

func seed(tb testing.TB, app core.App) fixtures {
	tb.Helper()
	var f fixtures
	f.hdtsAdmin = staff(tb, app, idAdmin, "Hadmin", nil)
	assign(tb, app, f.hdtsAdmin, "hdts", "Admin", true)
	f.hdtsMember = staff(tb, app, idMember, "Hmember", nil)
	assign(tb, app, f.hdtsMember, "hdts", "Ticket Coordinator", true)
	f.inactiveAd = staff(tb, app, idFormer, "Hformer", nil)
	assign(tb, app, f.inactiveAd, "hdts", "Admin", false)
	f.ttsAdmin = staff(tb, app, idTTSAdmin, "Tadmin", nil)
	assign(tb, app, f.ttsAdmin, "tts", "Admin", true)
	f.plain = staff(tb, app, idPlain, "Plain", nil)
	f.superuser = staff(tb, app, idSuper, "Root", map[string]any{"is_superuser": true})
	f.pending = employee(tb, app, idPending, "Pend", "Pending")
	f.approved = employee(tb, app, idApproved, "Appr", realm.StatusApproved)
	f.rejected = employee(tb, app, idRejected, "Reje", "Rejected")
	return f
}

const tokensKey = "hdts_test.tokens"

// login starts a session for rec as a login would and returns its tokens.
func login(tb testing.TB, app core.App, rec *core.Record) *tokens.Issued {
	tb.Helper()
	r, err := realm.Of(rec)
	if err != nil {
		tb.Fatal(err)
	}
	svc, _ := app.Store().Get(tokensKey).(*tokens.Service)
	if svc == nil {
		tb.Fatal("no token service")
	}
	issued, err := svc.StartSession(app, r.Type, rec, "password", "127.0.0.1", "test")
	if err != nil {
		tb.Fatal(err)
	}
	return issued
}

// scenario is a tests.ApiScenario on a fresh app with the fixtures, whose caller (as) gets a
// real access token minted on that app.
type scenario struct {
	name        string
	method, url string
	body        string
	contentType string                       // default application/json
	as          func(*fixtures) *core.Record // nil: no credentials
	headers     map[string]string
	mutate      func(*config.Config)
	before      func(tb testing.TB, app *tests.TestApp, f *fixtures)
	status      int
	content     []string // expected substrings of the compact body
	exact       string   // the whole compact body, when set
	not         []string
	after       func(tb testing.TB, app *tests.TestApp, f *fixtures, body string)
	useKey      bool // send fixtures.key as X-API-Key
}

func (s scenario) apiScenario() tests.ApiScenario {
	var f *fixtures
	headers := map[string]string{}
	for k, v := range s.headers {
		headers[k] = v
	}
	if s.contentType != "" {
		headers["Content-Type"] = s.contentType
	}
	content := s.content
	if s.exact != "" {
		content = append([]string{s.exact}, content...)
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	return tests.ApiScenario{
		Name: s.name, Method: s.method, URL: s.url, Body: body, Headers: headers,
		TestAppFactory: func(tb testing.TB) *tests.TestApp {
			app, fx := newApp(tb, s.mutate)
			f = fx
			return app
		},
		BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
			if s.before != nil {
				s.before(tb, app, f)
			}
			if s.useKey {
				headers["X-API-Key"] = f.key
			}
			if s.as != nil {
				headers["Authorization"] = "Bearer " + login(tb, app, s.as(f)).Access
			}
		},
		ExpectedStatus:     s.status,
		ExpectedContent:    content,
		NotExpectedContent: s.not,
		AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
			signin.SettleAfterAnswer(app)
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				tb.Fatal(err)
			}
			captured := string(raw)
			if s.exact != "" && compact(captured) != s.exact {
				tb.Errorf("body:\n got %s\nwant %s", compact(captured), s.exact)
			}
			if s.after != nil {
				s.after(tb, app, f, compact(captured))
			}
		},
	}
}

func run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, s := range scenarios {
		sc := s.apiScenario()
		sc.Test(t)
	}
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return strings.TrimSpace(s)
	}
	return b.String()
}

func count(tb testing.TB, app core.App, collection string, where dbx.Expression) int {
	tb.Helper()
	var n int
	if err := app.DB().Select("COUNT(*)").From(collection).Where(where).Row(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func reload(tb testing.TB, app core.App, r *core.Record) *core.Record {
	return testkit.Reload(tb, app, r)
}

// outbox returns the templates queued to an address, oldest first.
func outbox(tb testing.TB, app core.App, to string) []string {
	tb.Helper()
	rows, err := app.FindRecordsByFilter("email_outbox", "to = {:to}", "created", 0, 0, dbx.Params{"to": to})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.GetString("template"))
	}
	return out
}

// multipartBody builds a multipart body of text fields and an optional PNG of w×h pixels.
func multipartBody(tb testing.TB, fields map[string]string, pictureW, pictureH int) (string, string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	if pictureW > 0 {
		part, err := w.CreateFormFile("profile_picture", "me.png")
		if err != nil {
			tb.Fatal(err)
		}
		if err := png.Encode(part, image.NewRGBA(image.Rect(0, 0, pictureW, pictureH))); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

func testConfig() *config.Config { return testkit.Config() }

// serve runs app's router on a test server for multi-request flows.
func serve(t *testing.T, app *tests.TestApp) testkit.Client {
	t.Helper()
	return testkit.Client{TB: t, URL: testkit.Serve(t, app).URL}
}

// httptestIP is the client IP of tests.ApiScenario's requests (httptest.NewRequest).
const httptestIP = "192.0.2.1"
