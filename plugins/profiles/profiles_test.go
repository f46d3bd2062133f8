package profiles_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/hooks"
	"gatehouse/plugins/config"
	"gatehouse/plugins/profiles"
	"gatehouse/testkit"
)

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func newApp(t *testing.T) *tests.TestApp {
	return testkit.NewApp(t, func(app *tests.TestApp) { hooks.Register(app) })
}

func TestTimestamps(t *testing.T) {
	t.Parallel()
	dt, err := types.ParseDateTime("2026-11-26 04:27:13.512Z")
	must(t, err)
	if got := profiles.Timestamp(dt); got != "2026-11-26T04:27:13.512Z" {
		t.Errorf("Timestamp = %q", got)
	}
	if got := profiles.NullTimestamp(dt); got == nil || *got != "2026-11-26T04:27:13.512Z" {
		t.Errorf("NullTimestamp = %v", got)
	}
	if profiles.Timestamp(types.DateTime{}) != "" || profiles.NullTimestamp(types.DateTime{}) != nil {
		t.Error("zero DateTime must give \"\" / nil")
	}
	loc := time.FixedZone("X", 8*3600)
	if got := profiles.FormatTime(time.Date(2026, 1, 2, 8, 0, 0, 5_000_000, loc)); got != "2026-01-02T00:00:00.005Z" {
		t.Errorf("FormatTime = %q", got)
	}
	if profiles.NullString("") != nil || *profiles.NullString("a") != "a" {
		t.Error("NullString")
	}
	if u := profiles.FileURL("https://a.example/", "users", "abc", "p_1.png"); u == nil || *u != "https://a.example/api/files/users/abc/p_1.png" {
		t.Errorf("FileURL = %v", u)
	}
	if profiles.FileURL("https://a.example", "users", "abc", "") != nil {
		t.Error("FileURL of no file must be nil")
	}
}

type fixture struct {
	user       *core.Record
	systems    map[string]*core.Record
	assignment map[string]*core.Record // "slug/role"
}

func seed(t *testing.T, app core.App) fixture {
	t.Helper()
	f := fixture{systems: map[string]*core.Record{}, assignment: map[string]*core.Record{}}
	users, err := app.FindCollectionByNameOrId("users")
	must(t, err)
	f.user = core.NewRecord(users)
	f.user.SetEmail("Agent.One@Example.com")
	f.user.SetPassword("irrelevant-pw-1")
	f.user.Set("first_name", "Agent")
	f.user.Set("last_name", "One")
	f.user.Set("is_active", true)
	f.user.Set("otp_enabled", true)
	f.user.Set("otp_method", "totp")
	f.user.Set("last_login", "2026-11-26 08:02:41.006Z")
	must(t, app.Save(f.user))

	systems, err := app.FindCollectionByNameOrId("systems")
	must(t, err)
	ams := core.NewRecord(systems)
	ams.Set("name", "Asset Management System")
	ams.Set("slug", "ams")
	ams.Set("url", "https://ams.example.com")
	must(t, app.Save(ams)) // the hook adds its Admin role

	for _, slug := range []string{"hdts", "tts", "ams"} {
		s, err := app.FindFirstRecordByData("systems", "slug", slug)
		must(t, err)
		f.systems[slug] = s
	}
	tts := f.systems["tts"]
	tts.Set("url", "https://tts.example.com")
	must(t, app.Save(tts))

	col, err := app.FindCollectionByNameOrId("user_system_roles")
	must(t, err)
	assign := func(slug, role string, active bool, assignedAt string) {
		r, err := app.FindFirstRecordByFilter("roles", "system = {:s} && name = {:n}", dbx.Params{"s": f.systems[slug].Id, "n": role})
		must(t, err)
		a := core.NewRecord(col)
		a.Set("user", f.user.Id)
		a.Set("system", f.systems[slug].Id)
		a.Set("role", r.Id)
		a.Set("is_active", active)
		must(t, app.Save(a))
		// assigned_at is an autodate: move it with SQL to control the order.
		_, err = app.DB().Update("user_system_roles", dbx.Params{"assigned_at": assignedAt}, dbx.HashExp{"id": a.Id}).Execute()
		must(t, err)
		f.assignment[slug+"/"+role] = a
	}
	assign("tts", "Budget Manager", true, "2026-01-03 00:00:00.000Z")
	assign("tts", "Admin", true, "2026-01-02 00:00:00.000Z")
	assign("hdts", "Employee", true, "2026-01-02 00:00:00.000Z")
	assign("ams", "Admin", false, "2026-01-01 00:00:00.000Z") // earliest, but inactive
	_, err = app.DB().Update("user_system_roles", dbx.Params{"last_logged_on": "2026-11-26 08:02:41.006Z"},
		dbx.HashExp{"id": f.assignment["tts/Admin"].Id}).Execute()
	must(t, err)
	return f
}

func TestUserProfile(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	f := seed(t, app)
	user, err := app.FindRecordById("users", f.user.Id)
	must(t, err)

	p, err := profiles.UserProfile(app, "https://auth.example.com", user, "")
	must(t, err)
	raw, err := json.Marshal(p)
	must(t, err)
	want := `{"id":"` + user.Id + `","email":"agent.one@example.com","username":"agent.one","first_name":"Agent",` +
		`"middle_name":null,"last_name":"One","suffix":null,"phone_number":null,"company_id":"MA0001","department":null,` +
		`"status":"Pending","notified":false,"is_active":true,"is_staff":false,"is_superuser":false,"is_locked":false,` +
		`"profile_picture":null,"date_joined":"` + profiles.Timestamp(user.GetDateTime("created")) + `",` +
		`"last_login":"2026-11-26T08:02:41.006Z","otp_enabled":true,"otp_method":"totp","system_roles":[` +
		item(f, "ams", "Admin", "2026-01-01T00:00:00.000Z", "null", false) + `,` +
		item(f, "hdts", "Employee", "2026-01-02T00:00:00.000Z", "null", true) + `,` +
		item(f, "tts", "Admin", "2026-01-02T00:00:00.000Z", `"2026-11-26T08:02:41.006Z"`, true) + `,` +
		item(f, "tts", "Budget Manager", "2026-01-03T00:00:00.000Z", "null", true) + `]}`
	if string(raw) != want {
		t.Errorf("UserProfile =\n%s\nwant\n%s", raw, want)
	}

	// ?system= filter; unknown slug → empty list (never null).
	p, err = profiles.UserProfile(app, "https://auth.example.com", user, "tts")
	must(t, err)
	if len(p.SystemRoles) != 2 || p.SystemRoles[0].RoleName != "Admin" || p.SystemRoles[1].RoleName != "Budget Manager" {
		t.Errorf("tts filter: %+v", p.SystemRoles)
	}
	p, err = profiles.UserProfile(app, "https://auth.example.com", user, "nope")
	must(t, err)
	if raw, _ := json.Marshal(p.SystemRoles); string(raw) != "[]" {
		t.Errorf("unknown slug: %s", raw)
	}

	// is_locked and profile_picture.
	user.Set("locked_until", types.NowDateTime().Add(time.Minute))
	user.Set("profile_picture", "avatar_x81kq2.png")
	p, err = profiles.UserProfile(app, "https://auth.example.com", user, "")
	must(t, err)
	if !p.IsLocked || p.ProfilePicture == nil || *p.ProfilePicture != "https://auth.example.com/api/files/users/"+user.Id+"/avatar_x81kq2.png" {
		t.Errorf("locked=%v picture=%v", p.IsLocked, p.ProfilePicture)
	}
	user.Set("locked_until", types.NowDateTime().Add(-time.Second))
	if p, _ = profiles.UserProfile(app, "", user, ""); p.IsLocked {
		t.Error("a past locked_until must not lock")
	}
}

func item(f fixture, slug, role, assigned, lastLogged string, active bool) string {
	a := f.assignment[slug+"/"+role]
	act := "false"
	if active {
		act = "true"
	}
	return `{"id":"` + a.Id + `","system_id":"` + f.systems[slug].Id + `","system_name":"` + f.systems[slug].GetString("name") +
		`","system_slug":"` + slug + `","role_id":"` + a.GetString("role") + `","role_name":"` + role +
		`","assigned_at":"` + assigned + `","last_logged_on":` + lastLogged + `,"is_active":` + act + `}`
}

func TestLoginUserAndRedirect(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	f := seed(t, app)
	cfg := config.Default()
	cfg.AppURLOverride = "https://auth.example.com"

	lu, err := profiles.LoginUser(app, f.user)
	must(t, err)
	raw, _ := json.Marshal(lu)
	wantRoles := `"system_roles":[` +
		`{"system_name":"Help Desk and Ticketing System","system_slug":"hdts","role_name":"Employee","assigned_at":"2026-01-02T00:00:00.000Z"},` +
		`{"system_name":"Ticket Tracking System","system_slug":"tts","role_name":"Admin","assigned_at":"2026-01-02T00:00:00.000Z"},` +
		`{"system_name":"Ticket Tracking System","system_slug":"tts","role_name":"Budget Manager","assigned_at":"2026-01-03T00:00:00.000Z"}]}`
	if !strings.HasSuffix(string(raw), wantRoles) || !strings.HasPrefix(string(raw), `{"id":"`+f.user.Id+`","email":"agent.one@example.com","username":"agent.one","first_name":"Agent","middle_name":null,"last_name":"One","suffix":null,"phone_number":null,"company_id":"MA0001","department":null,"status":"Pending","notified":false,"is_staff":false,"is_superuser":false,"otp_enabled":true,"otp_method":"totp","date_joined":"`) {
		t.Errorf("LoginUser = %s", raw)
	}

	// hdts/Employee and tts/Admin share assigned_at: the lower assignment id wins.
	first := "hdts"
	if f.assignment["tts/Admin"].Id < f.assignment["hdts/Employee"].Id {
		first = "tts"
	}
	r, err := profiles.RedirectFor(app, cfg, f.user)
	must(t, err)
	urls := map[string]string{"hdts": "https://auth.example.com", "tts": "https://tts.example.com"}
	if r.PrimarySystem == nil || *r.PrimarySystem != first || r.URL != urls[first] {
		t.Errorf("Redirect primary = %v url = %q, want %s", r.PrimarySystem, r.URL, first)
	}
	raw, _ = json.Marshal(r.AvailableSystems)
	if string(raw) != `{"hdts":"https://auth.example.com","tts":"https://tts.example.com"}` {
		t.Errorf("available_systems = %s", raw)
	}

	cfg.DefaultSystemURL = "https://portal.example.com"
	lu2, r2, err := profiles.ForLogin(app, cfg, f.user)
	must(t, err)
	if len(lu2.SystemRoles) != 3 || r2.AvailableSystems["hdts"] != "https://portal.example.com" {
		t.Errorf("ForLogin: %+v %+v", lu2.SystemRoles, r2)
	}

	// No active assignment: null primary, fallback URL, {}.
	_, err = app.DB().Update("user_system_roles", dbx.Params{"is_active": false}, dbx.HashExp{"user": f.user.Id}).Execute()
	must(t, err)
	r, err = profiles.RedirectFor(app, cfg, f.user)
	must(t, err)
	raw, _ = json.Marshal(r)
	if string(raw) != `{"primary_system":null,"url":"https://portal.example.com","available_systems":{}}` {
		t.Errorf("empty Redirect = %s", raw)
	}
	lu, _ = profiles.LoginUser(app, f.user)
	if raw, _ := json.Marshal(lu.SystemRoles); string(raw) != "[]" {
		t.Errorf("LoginUser roles = %s", raw)
	}
}

func TestEmployeeProfile(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	col, err := app.FindCollectionByNameOrId("employees")
	must(t, err)
	emp := core.NewRecord(col)
	emp.Id = "employee0000001"
	emp.SetEmail("emp@example.com")
	emp.SetPassword("Employee-Pass-9")
	emp.Set("first_name", " Emp ")
	emp.Set("last_name", "Loyee")
	emp.Set("status", "Approved")
	emp.Set("profile_picture", "me_abc.webp")
	must(t, app.UnsafeWithoutHooks().Save(emp)) // no hooks: keeps company_id empty and the raw picture name
	emp, err = app.FindRecordById("employees", emp.Id)
	must(t, err)
	hdts, err := app.FindFirstRecordByData("systems", "slug", "hdts")
	must(t, err)

	p, err := profiles.EmployeeProfile(app, "https://auth.example.com", emp)
	must(t, err)
	raw, _ := json.Marshal(p)
	created := profiles.Timestamp(emp.GetDateTime("created"))
	want := `{"id":"` + emp.Id + `","email":"emp@example.com","username":"","first_name":" Emp ","middle_name":null,` +
		`"last_name":"Loyee","suffix":null,"phone_number":null,"company_id":"","department":null,"status":"Approved",` +
		`"profile_picture":"https://auth.example.com/api/files/employees/` + emp.Id + `/me_abc.webp","otp_enabled":false,"otp_method":null,` +
		`"last_login":null,"created_at":"` + created + `","updated_at":"` + profiles.Timestamp(emp.GetDateTime("updated")) + `",` +
		`"full_name":"Emp Loyee","system_roles":[{"id":"` + emp.Id + `","system_id":"` + hdts.Id + `",` +
		`"system_name":"Help Desk and Ticketing System","system_slug":"hdts","role_id":null,"role_name":"Employee",` +
		`"assigned_at":"` + created + `","last_logged_on":null,"is_active":true}]}`
	if string(raw) != want {
		t.Errorf("EmployeeProfile =\n%s\nwant\n%s", raw, want)
	}
}

// fileHeader wraps content into a parsed multipart file part.
func fileHeader(t *testing.T, name string, content []byte) *multipart.FileHeader {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="profile_picture"; filename="`+name+`"`)
	h.Set("Content-Type", "application/octet-stream")
	pw, err := w.CreatePart(h)
	must(t, err)
	_, err = pw.Write(content)
	must(t, err)
	must(t, w.Close())
	form, err := multipart.NewReader(&buf, w.Boundary()).ReadForm(int64(len(content)) + 4096)
	must(t, err)
	return form.File["profile_picture"][0]
}

func encode(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	switch format {
	case "png":
		must(t, png.Encode(&buf, img))
	case "jpeg":
		must(t, jpeg.Encode(&buf, img, nil))
	case "gif":
		must(t, gif.Encode(&buf, img, nil))
	}
	return buf.Bytes()
}

// A 1×1 lossless WebP.
var tinyWebP = []byte{
	0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
	0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe,
	0x07, 0x00,
}

func TestCheckPicture(t *testing.T) {
	t.Parallel()
	const maxBytes, maxPx = 2 << 20, 1024
	pngOK := encode(t, "png", 1024, 1024)
	cases := []struct {
		name, filename string
		content        []byte
		wantMsg        string
		wantExt        string
	}{
		{"png at the limit", "avatar.png", pngOK, "", ".png"},
		{"jpeg", "photo.jpeg", encode(t, "jpeg", 64, 32), "", ".jpg"},
		{"gif", "anim.gif", encode(t, "gif", 8, 8), "", ".gif"},
		{"webp", "tiny.webp", tinyWebP, "", ".webp"},
		{"extension never decides: a PNG named .txt", "evil.txt", encode(t, "png", 4, 4), "", ".png"},
		{"too wide", "wide.png", encode(t, "png", 1025, 1), profiles.MsgPictureTooWide(1024), ""},
		{"too tall", "tall.png", encode(t, "png", 1, 1025), "Image dimensions must not exceed 1024x1024 pixels.", ""},
		{"not an image", "a.png", []byte("hello, this is text"), "Invalid image file.", ""},
		{"an animated PNG (image/apng to PocketBase's file field) is not accepted", "anim.png", testkit.AnimatedPNG(encode(t, "png", 4, 4)), "Invalid image file.", ""},
		{"svg is not accepted", "a.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>`), "Invalid image file.", ""},
		{"truncated png", "cut.png", pngOK[:len(pngOK)/2], "Invalid image file.", ""},
		{"too large", "big.png", append(encode(t, "png", 1, 1), make([]byte, maxBytes)...), "Profile picture file size must be less than 2MB.", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file, msg, err := profiles.CheckPicture(fileHeader(t, c.filename, c.content), maxBytes, maxPx)
			must(t, err)
			if msg != c.wantMsg {
				t.Fatalf("msg = %q, want %q", msg, c.wantMsg)
			}
			if c.wantMsg == "" && (file == nil || !strings.HasSuffix(file.Name, c.wantExt)) {
				t.Fatalf("file = %+v, want extension %s", file, c.wantExt)
			}
		})
	}
}

// AppendTime writes exactly what time's layout does, for any instant in range.
func TestAppendTimeMatchesLayout(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("X", -5*3600)
	for _, tm := range []time.Time{
		time.Date(2026, 11, 26, 4, 27, 13, 512_345_678, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, loc),
		time.Unix(0, 0),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := tm.UTC().Format(profiles.TimestampLayout)
		if got := string(profiles.AppendTime(nil, tm)); got != want {
			t.Errorf("AppendTime(%v) = %q, want %q", tm, got, want)
		}
		if got := profiles.FormatTime(tm); got != want {
			t.Errorf("FormatTime(%v) = %q, want %q", tm, got, want)
		}
	}
	for i := 0; i < 1000; i++ {
		tm := time.Unix(int64(i)*7919*86400+int64(i)*37, int64(i)*1_000_003)
		if got, want := string(profiles.AppendTime(nil, tm)), tm.UTC().Format(profiles.TimestampLayout); got != want {
			t.Fatalf("AppendTime(%v) = %q, want %q", tm, got, want)
		}
	}
}
