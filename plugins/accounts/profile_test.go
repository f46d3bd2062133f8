package accounts_test

import (
	"encoding/json"
	"gatehouse/testkit"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/filesystem"
	"github.com/pocketbase/pocketbase/tools/types"
)

const profileURL = "/api/v1/users/profile/"

const (
	bodyNotAuthenticated = `{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}`
	bodyTokenNotValid    = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
	allowedPlain         = "You can only update: username, phone_number, profile_picture. Attempted to update restricted fields: "
	allowedStaff         = "You can only update: username, phone_number, profile_picture, first_name, middle_name, last_name, suffix, email. Attempted to update restricted fields: "
)

func forbidden(detail string) string {
	b, _ := json.Marshal(map[string]string{"detail": detail})
	return strings.TrimSuffix(string(b), "}") + `,"code":"permission_denied"}`
}

// unchanged asserts that the user's stored fields equal the fixture's and no audit row exists.
func unchanged(id string, fields map[string]any) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		u := findUser(tb, app, id)
		for k, want := range fields {
			if got := u.Get(k); got != want {
				tb.Errorf("%s = %v, want %v", k, got, want)
			}
		}
		if n := countRows(tb, app, "audit_log", dbx.HashExp{"event": "user.profile_updated"}); n != 0 {
			tb.Errorf("profile_updated audit rows = %d, want 0", n)
		}
	}
}

func TestGetProfile(t *testing.T) {
	t.Parallel()
	f := newFactory(appOpts{})
	scenarios := []tests.ApiScenario{
		{
			Name: "staff: every key, all assignments sorted by slug then role", Method: http.MethodGet, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f, ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`{"id":"staffuser000001","email":"staff@example.com","username":"staffer","first_name":"Staff","middle_name":null,"last_name":"Person","suffix":null,"phone_number":"+639170000001","company_id":"MA0002","department":null,"status":"Approved","notified":false,"is_active":true,"is_staff":true,"is_superuser":false,"is_locked":false,"profile_picture":null,"date_joined":"`,
				`"last_login":null,"otp_enabled":false,"otp_method":null,"system_roles":[{"id":"`,
				`"system_name":"Help Desk and Ticketing System","system_slug":"hdts","role_id":"`,
				`"role_name":"Ticket Coordinator","assigned_at":"`,
				`"last_logged_on":null,"is_active":false}`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				m := checkUserProfile(tb, readBody(tb, res))
				want := []string{"hdts/Ticket Coordinator/inactive", "tts/Admin/active", "tts/Asset Manager/active"}
				if got := roleList(m); !slices.Equal(got, want) {
					tb.Errorf("system_roles = %v, want %v", got, want)
				}
			},
		},
		{
			Name: "?system= filters, no-slash path", Method: http.MethodGet, URL: "/api/v1/users/profile?system=tts",
			Headers: auth("staff:" + staffID), TestAppFactory: f, ExpectedStatus: http.StatusOK,
			ExpectedContent:    []string{`"system_slug":"tts"`},
			NotExpectedContent: []string{`"hdts"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				if got := roleList(checkUserProfile(tb, readBody(tb, res))); !slices.Equal(got, []string{"tts/Admin/active", "tts/Asset Manager/active"}) {
					tb.Errorf("system_roles = %v", got)
				}
			},
		},
		{
			Name: "unknown ?system= gives an empty list", Method: http.MethodGet, URL: profileURL + "?system=nope",
			Headers: auth("staff:" + staffID), TestAppFactory: f, ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{`"system_roles":[]}`},
		},
		{
			Name: "locked user and picture URL", Method: http.MethodGet, URL: profileURL,
			Headers: auth("staff:" + plainID), ExpectedStatus: http.StatusOK,
			TestAppFactory: newFactory(appOpts{seed: func(tb testing.TB, app core.App) {
				u := findUser(tb, app, plainID)
				u.Set("locked_until", types.NowDateTime().Add(time.Hour))
				u.Set("last_login", "2026-11-26 08:02:41.006Z")
				file, err := filesystem.NewFileFromBytes(pngImage(tb, 2, 2), "avatar.png")
				must(tb, err)
				u.Set("profile_picture", file)
				must(tb, app.Save(u))
			}}),
			ExpectedContent: []string{`"is_locked":true,"profile_picture":"https://auth.example.com/api/files/users/plainuser000001/avatar_`,
				`.png","date_joined":"`, `"last_login":"2026-11-26T08:02:41.006Z"`, `"system_roles":[]}`},
		},
		{
			Name: "no credentials", Method: http.MethodGet, URL: profileURL, TestAppFactory: f,
			ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyNotAuthenticated},
		},
		{
			Name: "employee token is not valid here", Method: http.MethodGet, URL: profileURL, Headers: auth("employee:" + employeeID),
			TestAppFactory: f, ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyTokenNotValid},
		},
		{
			Name: "bad token", Method: http.MethodGet, URL: profileURL, Headers: auth("staff:nosuchuser00000"),
			TestAppFactory: f, ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyTokenNotValid},
		},
		{
			Name: "DELETE is 405 with Allow", Method: http.MethodDelete, URL: profileURL, Headers: auth("staff:" + staffID),
			TestAppFactory: f, ExpectedStatus: http.StatusMethodNotAllowed,
			ExpectedContent: []string{`{"detail":"Method \"DELETE\" not allowed.","code":"method_not_allowed"}`},
			AfterTestFunc: func(tb testing.TB, _ *tests.TestApp, res *http.Response) {
				if res.Header.Get("Allow") != "GET, PUT, PATCH" {
					tb.Errorf("Allow = %q", res.Header.Get("Allow"))
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestUpdateProfileFields(t *testing.T) {
	t.Parallel()
	f := newFactory(appOpts{})
	plainBefore := map[string]any{"username": "plain", "first_name": "Plain", "is_superuser": false, "is_staff": false, "status": "Approved", "phone_number": ""}
	staffBefore := map[string]any{"username": "staffer", "email": "staff@example.com", "status": "Approved", "company_id": "MA0002", "is_superuser": false}
	scenarios := []tests.ApiScenario{
		{
			Name: "PATCH: a plain user updates username and phone", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:           jsonBody(`{"username": " plain.new ", "phone_number": "(0917) 555-1234", "current_password": "ignored"}`),
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{`"id":"plainuser000001","email":"plain@example.com","username":"plain.new","first_name":"Plain",`,
				`"phone_number":"+639175551234","company_id":"MA0001",`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				checkUserProfile(tb, readBody(tb, res))
				u := findUser(tb, app, plainID)
				if u.GetString("username") != "plain.new" || u.GetString("phone_number") != "+639175551234" {
					tb.Errorf("stored: %q %q", u.GetString("username"), u.GetString("phone_number"))
				}
				rows, err := app.FindAllRecords("audit_log", dbx.HashExp{"event": "user.profile_updated"})
				must(tb, err)
				if len(rows) != 1 || rows[0].GetString("actor_id") != plainID || rows[0].GetString("target_id") != plainID ||
					rows[0].GetString("actor_type") != "staff" || !strings.Contains(rows[0].GetString("details"), `"username"`) {
					tb.Errorf("audit rows = %v", rows)
				}
				if n := countRows(tb, app, "sessions", dbx.NewExp("[[revoked_at]] != ''")); n != 0 {
					tb.Errorf("%d sessions revoked without an email change", n)
				}
			},
		},
		{
			Name: "PATCH: is_staff user updates names, suffix; null clears", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"first_name": "  Stef ", "middle_name": "Q", "last_name": "", "suffix": "III", "phone_number": null}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"first_name":"Stef","middle_name":"Q","last_name":"","suffix":"III","phone_number":null,`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				u := findUser(tb, app, staffID)
				if u.GetString("phone_number") != "" || u.GetString("suffix") != "III" || u.GetString("last_name") != "" {
					tb.Errorf("stored: %v", u.PublicExport())
				}
			},
		},
		{
			Name: "PATCH: the same email needs no password", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "STAFF@example.com", "suffix": ""}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"email":"staff@example.com"`, `"suffix":null`},
			AfterTestFunc:   unchanged(staffID, map[string]any{"email": "staff@example.com", "verified": true}),
		},
		{
			Name: "PATCH: empty body changes nothing", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f, ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{`"username":"plain"`},
			AfterTestFunc:   unchanged(plainID, plainBefore),
		},
		{
			Name: "§8.7 st. 93: case-variant keys are unknown keys", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"Is_Superuser": true, "IS_STAFF": true}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"is_staff":false,"is_superuser":false`},
			AfterTestFunc:   unchanged(plainID, plainBefore),
		},
		{
			Name: "a repeated key binds its last value", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"username": "first", "username": "second"}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"username":"second"`},
		},
		{
			Name: "forbidden keys (plain user): 403, sorted, nothing changes", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"username": "hacker", "is_superuser": true, "first_name": "X", "email": "x@example.com", "password": "p", "Is_Staff": true}`),
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{forbidden(allowedPlain + "email, first_name, is_superuser, password")},
			AfterTestFunc:   unchanged(plainID, plainBefore),
		},
		{
			Name: "forbidden keys (is_staff user): read-only fields even when unchanged", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"status": "Approved", "company_id": "MA0002", "id": "staffuser000001", "otp_enabled": false, "department": null, "system_roles": [], "first_name": "ok"}`),
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{forbidden(allowedStaff + "company_id, department, id, otp_enabled, status, system_roles")},
			AfterTestFunc:   unchanged(staffID, staffBefore),
		},
		{
			Name: "forbidden keys are checked before validation", Method: http.MethodPut, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"is_locked": false, "phone_number": "bad"}`),
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{forbidden(allowedPlain + "is_locked")},
		},
		{
			Name: "forbidden keys in a multipart body", Method: http.MethodPatch, URL: profileURL,
			TestAppFactory: f, ExpectedStatus: http.StatusForbidden,
			ExpectedContent: []string{forbidden(allowedPlain + "notified")},
		},
		{
			Name: "PUT without username", Method: http.MethodPut, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"phone_number": "+15551234567"}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"username":["This field is required."]}`)},
			AfterTestFunc:   unchanged(plainID, plainBefore),
		},
		{
			Name: "PUT with username", Method: http.MethodPut, URL: "/api/v1/users/profile",
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"username": "plain", "phone_number": "+15551234567"}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"username":"plain",`, `"phone_number":"+15551234567",`},
		},
		{
			Name: "field rules", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body: jsonBody(`{"username": "no spaces", "phone_number": "555", "first_name": "` + strings.Repeat("x", 101) + `",
				"middle_name": 7, "suffix": "Esq.", "email": "nope", "profile_picture": "data:image/png;base64,AAAA"}`),
			ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["Enter a valid email address."],` +
				`"first_name":["Ensure this field has no more than 100 characters."],` +
				`"middle_name":["Not a valid string."],` +
				`"phone_number":["Phone number must be in E.164 format (e.g., +15551234567) or 11 digits starting with 09 (e.g., 09123456789)."],` +
				`"profile_picture":["Invalid image file."],` +
				`"suffix":["\"Esq.\" is not a valid choice."],` +
				`"username":["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}`)},
			AfterTestFunc: unchanged(staffID, staffBefore),
		},
		{
			Name: "blank username", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:            jsonBody(`{"username": "   "}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"username":["This field may not be blank."]}`)},
		},
		{
			Name: "uniqueness excludes the caller, is case-insensitive", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + plainID), TestAppFactory: f,
			Body:           jsonBody(`{"username": "STAFFER", "phone_number": "09170000001"}`),
			ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"phone_number":["A user with this phone number already exists."],` +
				`"username":["This username is already taken. Please choose a different one."]}`)},
			AfterTestFunc: unchanged(plainID, plainBefore),
		},
		{
			Name: "own username in another case is fine", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"username": "Staffer", "phone_number": "+639170000001"}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"username":"Staffer"`},
		},
		{
			Name: "employee token: 401", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("employee:" + employeeID), TestAppFactory: f,
			Body:           jsonBody(`{"is_superuser": true}`),
			ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyTokenNotValid},
		},
		{
			Name: "no credentials: 401 before the forbidden-key check", Method: http.MethodPut, URL: profileURL,
			TestAppFactory: f, Body: jsonBody(`{"is_superuser": true}`),
			ExpectedStatus: http.StatusUnauthorized, ExpectedContent: []string{bodyNotAuthenticated},
		},
		{
			Name: "url-encoded body is 415", Method: http.MethodPatch, URL: profileURL,
			Headers:        withHeaders(auth("staff:"+plainID), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}),
			TestAppFactory: f, Body: strings.NewReader("username=x"),
			ExpectedStatus:  http.StatusUnsupportedMediaType,
			ExpectedContent: []string{`"code":"unsupported_media_type"`},
		},
	}
	// The multipart forbidden-key scenario needs its body and headers built here.
	for i := range scenarios {
		if scenarios[i].Name == "forbidden keys in a multipart body" {
			body, h := multipartBody(t, map[string]string{"username": "mp", "notified": "true"})
			scenarios[i].Body, scenarios[i].Headers = body, withHeaders(auth("staff:"+plainID), h)
			scenarios[i].AfterTestFunc = unchanged(plainID, plainBefore)
		}
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestUpdateProfileEmail(t *testing.T) {
	t.Parallel()
	f := newFactory(appOpts{})
	staffBefore := map[string]any{"email": "staff@example.com", "verified": true}
	noFailureSideEffects := func(tb testing.TB, app *tests.TestApp, res *http.Response) {
		unchanged(staffID, staffBefore)(tb, app, res)
		if n := countRows(tb, app, "sessions", dbx.NewExp("[[revoked_at]] != ''")); n != 0 {
			tb.Errorf("%d sessions revoked", n)
		}
		if n := countRows(tb, app, "email_outbox", dbx.NewExp("1=1")); n != 0 {
			tb.Errorf("%d emails queued", n)
		}
	}
	scenarios := []tests.ApiScenario{
		{
			Name: "email change without current_password", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID + ":" + currentSID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "new@example.com"}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"current_password":["Current password is required to change the email address."]}`)},
			AfterTestFunc:   noFailureSideEffects,
		},
		{
			Name: "email change with a null current_password", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "new@example.com", "current_password": null}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"current_password":["Current password is required to change the email address."]}`)},
		},
		{
			Name: "email change with an empty current_password", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "new@example.com", "current_password": ""}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"current_password":["This field may not be blank."]}`)},
		},
		{
			Name: "email change with a wrong current_password", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID + ":" + currentSID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "new@example.com", "current_password": "wrong-password"}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"current_password":["Current password is incorrect."]}`)},
			AfterTestFunc:   noFailureSideEffects,
		},
		{
			Name: "locked account: the right password is answered as incorrect", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), ExpectedStatus: http.StatusBadRequest,
			TestAppFactory: newFactory(appOpts{seed: func(tb testing.TB, app core.App) {
				u := findUser(tb, app, staffID)
				u.Set("locked_until", types.NowDateTime().Add(10*time.Minute))
				must(tb, app.Save(u))
			}}),
			Body:            jsonBody(`{"email": "new@example.com", "current_password": "` + staffPassword + `"}`),
			ExpectedContent: []string{invalid(`{"current_password":["Current password is incorrect."]}`)},
			AfterTestFunc:   noFailureSideEffects,
		},
		{
			Name: "a password reset committed during the check: the old password moves no email (§3.5)", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID + ":" + currentSID), TestAppFactory: f,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				testkit.HoldChange(tb, app, "users", staffID, func(u *core.Record) { u.SetPassword("reset-meanwhile-42") }, 300*time.Millisecond)
			},
			Body:            jsonBody(`{"email": "new@example.com", "current_password": "` + staffPassword + `"}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"current_password":["Current password is incorrect."]}`)},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				noFailureSideEffects(tb, app, res)
				if !findUser(tb, app, staffID).ValidatePassword("reset-meanwhile-42") {
					tb.Error("the reset's password is gone")
				}
			},
		},
		{
			Name: "an address PocketBase refuses: 400, and the transaction leaves nothing behind", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID + ":" + currentSID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "staff@localhost", "first_name": "Changed", "current_password": "` + staffPassword + `"}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["Enter a valid email address."]}`)},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				noFailureSideEffects(tb, app, res)
				if u := findUser(tb, app, staffID); u.GetString("first_name") != "Staff" {
					tb.Errorf("first_name = %q", u.GetString("first_name"))
				}
			},
		},
		{
			Name: "email taken by another user", Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID), TestAppFactory: f,
			Body:            jsonBody(`{"email": "Plain@Example.com", "current_password": "` + staffPassword + `"}`),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["A user with this email already exists."]}`)},
			AfterTestFunc:   noFailureSideEffects,
		},
		{
			Name:   "email change with the right password: verified false, other sessions revoked, email to the old address",
			Method: http.MethodPatch, URL: profileURL,
			Headers: auth("staff:" + staffID + ":" + currentSID), TestAppFactory: f,
			Body:            jsonBody(`{"email": " New.Address@Example.com ", "current_password": "` + staffPassword + `"}`),
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"id":"staffuser000001","email":"new.address@example.com","username":"staffer",`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				checkUserProfile(tb, readBody(tb, res))
				u := findUser(tb, app, staffID)
				if u.Email() != "new.address@example.com" || u.Verified() {
					tb.Errorf("stored email = %q verified = %v", u.Email(), u.Verified())
				}
				sessions, err := app.FindAllRecords("sessions")
				must(tb, err)
				for _, s := range sessions {
					revoked := !s.GetDateTime("revoked_at").IsZero()
					wantRevoked := s.Id == otherSID
					if revoked != wantRevoked || (revoked && s.GetString("revoked_reason") != "security_change") {
						tb.Errorf("session %s revoked=%v reason=%q", s.Id, revoked, s.GetString("revoked_reason"))
					}
				}
				mails, err := app.FindAllRecords("email_outbox")
				must(tb, err)
				if len(mails) != 1 || mails[0].GetString("to") != "staff@example.com" || mails[0].GetString("template") != "email_changed" ||
					!strings.Contains(mails[0].GetString("text_body"), "new.address@example.com") {
					tb.Errorf("outbox = %v", mails)
				}
				if n := countRows(tb, app, "audit_log", dbx.HashExp{"event": "user.profile_updated", "target_id": staffID}); n != 1 {
					tb.Errorf("audit rows = %d", n)
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestUpdateProfilePicture(t *testing.T) {
	t.Parallel()
	f := newFactory(appOpts{})
	withPicture := newFactory(appOpts{seed: func(tb testing.TB, app core.App) {
		u := findUser(tb, app, plainID)
		file, err := filesystem.NewFileFromBytes(pngImage(tb, 2, 2), "old.png")
		must(tb, err)
		u.Set("profile_picture", file)
		must(tb, app.Save(u))
	}})
	type pic struct {
		name     string
		factory  func(testing.TB) *tests.TestApp
		fields   map[string]string
		files    []filePart
		json     string
		status   int
		contains []string
		after    func(testing.TB, *tests.TestApp, *http.Response)
	}
	storedPicture := func(want string) func(testing.TB, *tests.TestApp, *http.Response) {
		return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
			got := findUser(tb, app, plainID).GetString("profile_picture")
			switch want {
			case "":
				if got != "" {
					tb.Errorf("profile_picture = %q, want none", got)
				}
			case "old":
				if !strings.HasPrefix(got, "old_") {
					tb.Errorf("profile_picture = %q, want the old one", got)
				}
			default:
				if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ".png") {
					tb.Errorf("profile_picture = %q, want %s*.png", got, want)
				}
			}
		}
	}
	cases := []pic{
		{name: "valid PNG is stored and returned as an absolute URL", factory: f,
			files:    []filePart{{"profile_picture", "avatar.png", pngImage(t, 1024, 1024)}},
			fields:   map[string]string{"username": "plain"},
			status:   http.StatusOK,
			contains: []string{`"profile_picture":"https://auth.example.com/api/files/users/plainuser000001/avatar_`, `.png","date_joined"`},
			after:    storedPicture("avatar_")},
		{name: "a PNG with a wrong extension is stored as .png", factory: f,
			files:  []filePart{{"profile_picture", "avatar.gif", pngImage(t, 8, 8)}},
			status: http.StatusOK, contains: []string{`/api/files/users/plainuser000001/avatar_`},
			after: storedPicture("avatar_")},
		{name: "an animated PNG: 400, not the 500 of PocketBase's file field refusing image/apng", factory: withPicture,
			files:    []filePart{{"profile_picture", "anim.png", testkit.AnimatedPNG(pngImage(t, 4, 4))}},
			status:   http.StatusBadRequest,
			contains: []string{invalid(`{"profile_picture":["Invalid image file."]}`)},
			after:    storedPicture("old")},
		{name: "over 2 MiB", factory: withPicture,
			files:    []filePart{{"profile_picture", "big.png", append(pngImage(t, 1, 1), make([]byte, 2<<20)...)}},
			status:   http.StatusBadRequest,
			contains: []string{invalid(`{"profile_picture":["Profile picture file size must be less than 2MB."]}`)},
			after:    storedPicture("old")},
		{name: "bad bytes", factory: withPicture,
			files:    []filePart{{"profile_picture", "x.png", []byte("definitely not a png")}},
			status:   http.StatusBadRequest,
			contains: []string{invalid(`{"profile_picture":["Invalid image file."]}`)},
			after:    storedPicture("old")},
		{name: "1025 px wide", factory: withPicture,
			files:    []filePart{{"profile_picture", "wide.png", pngImage(t, 1025, 10)}},
			status:   http.StatusBadRequest,
			contains: []string{invalid(`{"profile_picture":["Image dimensions must not exceed 1024x1024 pixels."]}`)},
			after:    storedPicture("old")},
		{name: "a text value is not a file", factory: withPicture,
			fields:   map[string]string{"profile_picture": "hello"},
			status:   http.StatusBadRequest,
			contains: []string{invalid(`{"profile_picture":["Invalid image file."]}`)},
			after:    storedPicture("old")},
		{name: "an empty multipart part clears", factory: withPicture,
			files:  []filePart{{"profile_picture", "", nil}},
			status: http.StatusOK, contains: []string{`"profile_picture":null`},
			after: storedPicture("")},
		{name: "an empty text part clears", factory: withPicture,
			fields: map[string]string{"profile_picture": ""},
			status: http.StatusOK, contains: []string{`"profile_picture":null`},
			after: storedPicture("")},
		{name: "JSON null clears", factory: withPicture,
			json:   `{"profile_picture": null}`,
			status: http.StatusOK, contains: []string{`"profile_picture":null`},
			after: storedPicture("")},
		{name: "an invalid picture blocks the other changes too", factory: withPicture,
			fields:   map[string]string{"username": "changed"},
			files:    []filePart{{"profile_picture", "x.png", []byte("nope")}},
			status:   http.StatusBadRequest,
			contains: []string{invalid(`{"profile_picture":["Invalid image file."]}`)},
			after:    unchanged(plainID, map[string]any{"username": "plain"})},
	}
	for _, c := range cases {
		s := tests.ApiScenario{
			Name: c.name, Method: http.MethodPatch, URL: profileURL, TestAppFactory: c.factory,
			ExpectedStatus: c.status, ExpectedContent: c.contains, AfterTestFunc: c.after,
		}
		if c.json != "" {
			s.Body, s.Headers = jsonBody(c.json), auth("staff:"+plainID)
		} else {
			body, h := multipartBody(t, c.fields, c.files...)
			s.Body, s.Headers = body, withHeaders(auth("staff:"+plainID), h)
		}
		s.Test(t)
	}
}
