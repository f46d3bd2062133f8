package accounts_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"gatehouse/hooks"
	"gatehouse/plugins/accounts"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/config"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/signin"
	"gatehouse/testkit"
)

const (
	testAppURL = "https://auth.example.com"

	plainID    = "plainuser000001" // a staff user without is_staff
	staffID    = "staffuser000001" // a staff user with is_staff
	employeeID = "employee0000001"

	plainPassword = "Correct-Horse-1"
	staffPassword = "Staff-Secret-77"

	currentSID = "sessioncurrent1" // the staff user's session of the request (Bearer staff:<id>:<sid>)
	otherSID   = "sessionother001" // another session of the staff user
	plainSID   = "sessionplain001" // a session of the plain user (never touched)
)

// profileAuth is a fake apikit.Authenticator: "staff:<id>[:<sid>]" is the users record <id>,
// "employee:<id>[:<sid>]" the employees record <id>; the session id defaults to "sid-test".
type profileAuth struct{}

func (profileAuth) AccessToken(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	parts := strings.Split(raw, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, apikit.TokenNotValid()
	}
	sid := "sid-test"
	if len(parts) == 3 {
		sid = parts[2]
	}
	var kind apikit.PrincipalKind
	var collection string
	switch parts[0] {
	case "staff":
		kind, collection = apikit.KindStaff, "users"
	case "employee":
		kind, collection = apikit.KindEmployee, "employees"
	default:
		return nil, apikit.TokenNotValid()
	}
	rec, err := e.App.FindRecordById(collection, parts[1])
	if err != nil {
		return nil, apikit.TokenNotValid()
	}
	return &apikit.Caller{Kind: kind, Record: rec, SessionID: sid}, nil
}

func (profileAuth) APIKey(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	return nil, apikit.InvalidAPIKey()
}

// appOpts tunes a test app.
type appOpts struct {
	noFixtures bool
	mutate     func(*config.Config)
	seed       func(tb testing.TB, app core.App)
}

// newFactory returns a TestAppFactory: our schema, the record hooks, the mailer, the accounts
// routes with the fake authenticator, and (unless noFixtures) the fixtures of seedFixtures.
func newFactory(opts appOpts) func(testing.TB) *tests.TestApp {
	return func(tb testing.TB) *tests.TestApp {
		return testkit.NewAppNoCleanup(tb, func(app *tests.TestApp) {
			cfg := testkit.Config()
			cfg.AppURLOverride = testAppURL
			if opts.mutate != nil {
				opts.mutate(cfg)
			}
			hooks.Register(app)
			mail := mailer.Register(app, cfg)
			pool := passwords.NewPool(cfg)
			if !opts.noFixtures {
				seedFixtures(tb, app)
			}
			if opts.seed != nil {
				opts.seed(tb, app)
			}
			kit := apikit.New(app, cfg)
			kit.SetAuthenticator(profileAuth{})
			app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Func: func(se *core.ServeEvent) error {
				kit.BindGuards(se.Router)
				flows, err := signin.New(se.App, signin.Deps{Kit: kit, Pool: pool, Mailer: mail, Attempts: captcha.NewAttempts()}, signin.Staff)
				if err != nil {
					return err
				}
				if err := accounts.Register(se, accounts.Deps{Kit: kit, Pool: pool, Mailer: mail, Flows: flows}); err != nil {
					return err
				}
				kit.MountAPIFallbacks(se.Router)
				return se.Next()
			}})
		})
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// seedFixtures creates: the plain user (MA0001), the staff user (MA0002) with three
// assignments (hdts/Ticket Coordinator inactive, tts/Asset Manager and tts/Admin active) and
// two sessions, a session of the plain user, and an approved employee (EM0001).
func seedFixtures(tb testing.TB, app core.App) {
	tb.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	must(tb, err)

	plain := core.NewRecord(users)
	plain.Id = plainID
	plain.SetEmail("plain@example.com")
	plain.SetPassword(plainPassword)
	plain.Set("username", "plain")
	plain.Set("first_name", "Plain")
	plain.Set("last_name", "User")
	plain.Set("status", "Approved")
	plain.Set("is_active", true)
	must(tb, app.Save(plain))

	staff := core.NewRecord(users)
	staff.Id = staffID
	staff.SetEmail("staff@example.com")
	staff.SetVerified(true)
	staff.SetPassword(staffPassword)
	staff.Set("username", "staffer")
	staff.Set("first_name", "Staff")
	staff.Set("last_name", "Person")
	staff.Set("phone_number", "+639170000001")
	staff.Set("status", "Approved")
	staff.Set("is_active", true)
	staff.Set("is_staff", true)
	must(tb, app.Save(staff))

	assignRole(tb, app, staffID, "tts", "Asset Manager", true)
	assignRole(tb, app, staffID, "hdts", "Ticket Coordinator", false)
	assignRole(tb, app, staffID, "tts", "Admin", true)

	sessions, err := app.FindCollectionByNameOrId("sessions")
	must(tb, err)
	for _, s := range []struct{ id, user string }{{currentSID, staffID}, {otherSID, staffID}, {plainSID, plainID}} {
		r := core.NewRecord(sessions)
		r.Id = s.id
		r.Set("user_type", "staff")
		r.Set("user", s.user)
		r.Set("refresh_jti_hash", "hash-"+s.id)
		must(tb, app.Save(r))
	}

	employees, err := app.FindCollectionByNameOrId("employees")
	must(tb, err)
	emp := core.NewRecord(employees)
	emp.Id = employeeID
	emp.SetEmail("emp@example.com")
	emp.SetPassword("Employee-Pass-9")
	emp.Set("username", "emp")
	emp.Set("first_name", "Emp")
	emp.Set("middle_name", "M")
	emp.Set("last_name", "Loyee")
	emp.Set("status", "Approved")
	must(tb, app.Save(emp))
}

func auth(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

// multipartBody builds a multipart body: files maps a field to (filename, content); fields are
// text parts.
type filePart struct {
	field, filename string
	content         []byte
}

func multipartBody(tb testing.TB, fields map[string]string, files ...filePart) (io.Reader, map[string]string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		must(tb, w.WriteField(k, v))
	}
	for _, f := range files {
		fw, err := w.CreateFormFile(f.field, f.filename)
		must(tb, err)
		_, err = fw.Write(f.content)
		must(tb, err)
	}
	must(tb, w.Close())
	return &buf, map[string]string{"Content-Type": w.FormDataContentType()}
}

func withHeaders(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// pngImage encodes a w×h PNG.
func pngImage(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	must(tb, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

// readBody returns the response body (the recorder's buffered copy).
func readBody(tb testing.TB, res *http.Response) []byte {
	tb.Helper()
	b, err := io.ReadAll(res.Body)
	must(tb, err)
	return b
}

// objectKeys returns the keys of a JSON object in document order.
func objectKeys(tb testing.TB, raw []byte) []string {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		tb.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		must(tb, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		must(tb, dec.Decode(&skip))
	}
	return keys
}

var userProfileKeyOrder = []string{"id", "email", "username", "first_name", "middle_name", "last_name", "suffix",
	"phone_number", "company_id", "department", "status", "notified", "is_active", "is_staff", "is_superuser",
	"is_locked", "profile_picture", "date_joined", "last_login", "otp_enabled", "otp_method", "system_roles"}

var systemRoleKeyOrder = []string{"id", "system_id", "system_name", "system_slug", "role_id", "role_name",
	"assigned_at", "last_logged_on", "is_active"}

var tsRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// checkUserProfile asserts the §4.1 shape of raw (key order, timestamp formats) and returns it
// decoded.
func checkUserProfile(tb testing.TB, raw []byte) map[string]any {
	tb.Helper()
	if keys := objectKeys(tb, raw); !slices.Equal(keys, userProfileKeyOrder) {
		tb.Errorf("UserProfile keys = %v\nwant %v", keys, userProfileKeyOrder)
	}
	var m map[string]any
	must(tb, json.Unmarshal(raw, &m))
	if s, _ := m["date_joined"].(string); !tsRe.MatchString(s) {
		tb.Errorf("date_joined = %v", m["date_joined"])
	}
	var wrapper struct {
		SystemRoles []json.RawMessage `json:"system_roles"`
	}
	must(tb, json.Unmarshal(raw, &wrapper))
	if wrapper.SystemRoles == nil {
		tb.Errorf("system_roles is not an array: %s", raw)
	}
	for _, item := range wrapper.SystemRoles {
		if keys := objectKeys(tb, item); !slices.Equal(keys, systemRoleKeyOrder) {
			tb.Errorf("SystemRoleItem keys = %v", keys)
		}
	}
	return m
}

// roleList summarises system_roles as "slug/role/active".
func roleList(m map[string]any) []string {
	var out []string
	items, _ := m["system_roles"].([]any)
	for _, it := range items {
		o := it.(map[string]any)
		active := "inactive"
		if o["is_active"] == true {
			active = "active"
		}
		out = append(out, o["system_slug"].(string)+"/"+o["role_name"].(string)+"/"+active)
	}
	return out
}

func findUser(tb testing.TB, app core.App, id string) *core.Record {
	tb.Helper()
	r, err := app.FindRecordById("users", id)
	must(tb, err)
	return r
}

func countRows(tb testing.TB, app core.App, table string, where dbx.Expression) int {
	tb.Helper()
	var n struct {
		N int `db:"n"`
	}
	must(tb, app.DB().Select("COUNT(*) AS n").From(table).Where(where).One(&n))
	return n.N
}
