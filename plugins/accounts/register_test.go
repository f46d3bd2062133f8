package accounts_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/config"
	"gatehouse/plugins/passwords"
	"gatehouse/testkit"
)

const registerURL = "/api/v1/users/register/"

// invalid is the compact 400 body with the given compact errors object.
func invalid(errors string) string {
	return `{"detail":"Invalid input.","code":"invalid","errors":` + errors + `}`
}

func TestRegisterSuccess(t *testing.T) {
	t.Parallel()
	scenarios := []tests.ApiScenario{
		{
			Name:   "spec example: 201 UserProfile, derived username, normalised phone, MA0001",
			Method: http.MethodPost, URL: registerURL,
			Body: jsonBody(`{"email": "Agent.One@Example.com", "password": "violet-harbor-42", "first_name": "Agent",
				"last_name": "One", "phone_number": "09171234567", "department": "IT Department"}`),
			TestAppFactory: newFactory(appOpts{noFixtures: true}),
			ExpectedStatus: http.StatusCreated,
			ExpectedContent: []string{
				`"email":"agent.one@example.com","username":"agent.one","first_name":"Agent","middle_name":null,"last_name":"One","suffix":null,"phone_number":"+639171234567","company_id":"MA0001","department":"IT Department","status":"Pending","notified":false,"is_active":true,"is_staff":false,"is_superuser":false,"is_locked":false,"profile_picture":null,"date_joined":"`,
				`"last_login":null,"otp_enabled":false,"otp_method":null,"system_roles":[]}`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				m := checkUserProfile(tb, readBody(tb, res))
				user := findUser(tb, app, m["id"].(string))
				if !user.GetBool("is_active") || user.GetString("status") != "Pending" || user.GetBool("verified") {
					tb.Errorf("stored user: is_active=%v status=%q verified=%v", user.GetBool("is_active"), user.GetString("status"), user.GetBool("verified"))
				}
				ok, _, err := passwords.NewPool(testkit.Config()).Verify(context.Background(), user, "violet-harbor-42")
				if err != nil || !ok {
					tb.Errorf("stored password does not verify: ok=%v err=%v", ok, err)
				}
				if n := countRows(tb, app, "audit_log", dbx.HashExp{"event": "user.registered", "target_id": user.Id, "actor_type": "anonymous"}); n != 1 {
					tb.Errorf("user.registered audit rows = %d", n)
				}
				if n := countRows(tb, app, "sessions", dbx.HashExp{"user": user.Id}); n != 0 {
					tb.Errorf("registration created %d sessions", n)
				}
				if n := countRows(tb, app, "email_outbox", dbx.NewExp("1=1")); n != 0 {
					tb.Errorf("registration queued %d emails", n)
				}
			},
		},
		{
			Name:   "privileged and unknown keys are ignored",
			Method: http.MethodPost, URL: registerURL,
			Body: jsonBody(`{"email": "new@example.com", "password": "violet-harbor-42", "username": "Newbie",
				"is_superuser": true, "is_staff": true, "is_active": false, "status": "Approved", "company_id": "MA9999",
				"otp_enabled": true, "password2": "nope", "Email": "other@example.com", "notified": true,
				"middle_name": null, "suffix": "Jr.", "phone_number": null}`),
			TestAppFactory: newFactory(appOpts{}),
			ExpectedStatus: http.StatusCreated,
			ExpectedContent: []string{
				`"email":"new@example.com","username":"Newbie",`, `"suffix":"Jr.","phone_number":null,"company_id":"MA0003",`,
				`"status":"Pending","notified":true,"is_active":true,"is_staff":false,"is_superuser":false,`,
				`"otp_enabled":false,"otp_method":null,"system_roles":[]}`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				m := checkUserProfile(tb, readBody(tb, res))
				u := findUser(tb, app, m["id"].(string))
				if u.GetBool("is_superuser") || u.GetBool("is_staff") || u.GetBool("otp_enabled") || u.GetString("company_id") != "MA0003" {
					tb.Errorf("ignored keys were stored: %v", u.PublicExport())
				}
			},
		},
		{
			Name:   "derived username skips a taken base",
			Method: http.MethodPost, URL: registerURL,
			Body:            jsonBody(`{"email": "Plain@Other.org", "password": "violet-harbor-42"}`),
			TestAppFactory:  newFactory(appOpts{}),
			ExpectedStatus:  http.StatusCreated,
			ExpectedContent: []string{`"email":"plain@other.org","username":"plain2",`},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestRegisterRejections(t *testing.T) {
	t.Parallel()
	fixtures := newFactory(appOpts{})
	noUsersCreated := func(want int) func(testing.TB, *tests.TestApp, *http.Response) {
		return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
			if n := countRows(tb, app, "users", dbx.NewExp("1=1")); n != want {
				tb.Errorf("users = %d, want %d", n, want)
			}
		}
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	scenarios := []tests.ApiScenario{
		{
			Name: "registration disabled", Method: http.MethodPost, URL: registerURL,
			Body:            jsonBody(`{"email": "x@example.com", "password": "violet-harbor-42"}`),
			TestAppFactory:  newFactory(appOpts{noFixtures: true, mutate: func(c *config.Config) { c.RegistrationEnabled = false }}),
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`{"detail":"Self-registration is disabled.","code":"permission_denied"}`},
			AfterTestFunc:   noUsersCreated(0),
		},
		{
			Name: "registration disabled wins over a bad body", Method: http.MethodPost, URL: registerURL,
			Body:            jsonBody(`{not json`),
			TestAppFactory:  newFactory(appOpts{noFixtures: true, mutate: func(c *config.Config) { c.RegistrationEnabled = false }}),
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`"Self-registration is disabled."`},
		},
		{
			Name: "missing required fields", Method: http.MethodPost, URL: registerURL,
			Body: jsonBody(`{}`), TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["This field is required."],"password":["This field is required."]}`)},
			AfterTestFunc:   noUsersCreated(2),
		},
		{
			Name: "empty body", Method: http.MethodPost, URL: registerURL,
			Body: nil, TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["This field is required."],"password":["This field is required."]}`)},
		},
		{
			Name: "null and empty values", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": null, "password": "", "username": "", "first_name": null}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["This field is required."],"first_name":["This field is required."],"password":["This field is required."],"username":["This field may not be blank."]}`)},
		},
		{
			Name: "type errors", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": 5, "password": true, "username": ["x"], "notified": "yes", "phone_number": 9171234567}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["Not a valid string."],"notified":["Must be a valid boolean."],"password":["Not a valid string."],"phone_number":["Not a valid string."],"username":["Not a valid string."]}`)},
		},
		{
			Name: "format rules of every field", Method: http.MethodPost, URL: registerURL,
			Body: jsonBody(`{"email": "not-an-email", "password": "violet-harbor-42", "username": "bad name!",
				"first_name": "` + long(101) + `", "middle_name": "` + long(101) + `", "last_name": "` + long(101) + `",
				"suffix": "Esq.", "department": "HR", "phone_number": "12345"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"department":["\"HR\" is not a valid choice."],` +
				`"email":["Enter a valid email address."],` +
				`"first_name":["Ensure this field has no more than 100 characters."],` +
				`"last_name":["Ensure this field has no more than 100 characters."],` +
				`"middle_name":["Ensure this field has no more than 100 characters."],` +
				`"phone_number":["Phone number must be in E.164 format (e.g., +15551234567) or 11 digits starting with 09 (e.g., 09123456789)."],` +
				`"suffix":["\"Esq.\" is not a valid choice."],` +
				`"username":["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}`)},
			AfterTestFunc: noUsersCreated(2),
		},
		{
			Name: "long email and username", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "` + long(250) + `@example.com", "password": "violet-harbor-42", "username": "` + long(151) + `"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["Ensure this field has no more than 254 characters."],"username":["Ensure this field has no more than 150 characters."]}`)},
		},
		{
			Name: "an address PocketBase refuses is an invalid email, never a 500", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "someone@localhost", "password": "violet-harbor-42"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["Enter a valid email address."]}`)},
			AfterTestFunc:   noUsersCreated(2),
		},
		{
			Name: "password policy: short, common", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "someone@example.com", "password": "qwerty"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"password":["Password must be at least 8 characters long.","Password is too common."]}`)},
		},
		{
			Name: "password policy: too long in bytes", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "someone@example.com", "password": "` + strings.Repeat("é", 36) + `"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"password":["Password must be at most 71 bytes long."]}`)},
		},
		{
			Name: "password policy with the derived username and the email", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "Agent.One@Example.com", "password": "xxAGENT.ONExx"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"password":["Password must not contain your username.","Password must not contain part of your email address."]}`)},
		},
		{
			Name: "password policy with the submitted username", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "zz@example.com", "username": "Bobby", "password": "my-bobby-rocks-1"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"password":["Password must not contain your username."]}`)},
		},
		{
			Name: "spec example error: duplicate email and weak password", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": " PLAIN@example.com ", "password": "password"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"email":["A user with this email already exists."],"password":["Password is too common."]}`)},
			AfterTestFunc:   noUsersCreated(2),
		},
		{
			Name: "duplicate username (case-insensitive) and phone (after normalisation)", Method: http.MethodPost, URL: registerURL,
			Body:           jsonBody(`{"email": "fresh@example.com", "password": "violet-harbor-42", "username": "STAFFER", "phone_number": "0917-000-0001"}`),
			TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"phone_number":["A user with this phone number already exists."],"username":["This username is already taken. Please choose a different one."]}`)},
			AfterTestFunc:   noUsersCreated(2),
		},
		{
			Name: "an employee's email is not a staff user's", Method: http.MethodPost, URL: registerURL,
			Body:            jsonBody(`{"email": "emp@example.com", "password": "violet-harbor-42"}`),
			TestAppFactory:  fixtures,
			ExpectedStatus:  http.StatusCreated,
			ExpectedContent: []string{`"email":"emp@example.com","username":"emp",`},
		},
		{
			Name: "malformed JSON", Method: http.MethodPost, URL: registerURL,
			Body: jsonBody(`{"email":`), TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"non_field_errors":["Malformed JSON request body."]}`)},
		},
		{
			Name: "JSON array body", Method: http.MethodPost, URL: registerURL,
			Body: jsonBody(`[1]`), TestAppFactory: fixtures, ExpectedStatus: http.StatusBadRequest,
			ExpectedContent: []string{invalid(`{"non_field_errors":["Malformed JSON request body."]}`)},
		},
		{
			Name: "multipart is not accepted", Method: http.MethodPost, URL: registerURL,
			Body:            strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n--x--\r\n"),
			Headers:         map[string]string{"Content-Type": "multipart/form-data; boundary=x"},
			TestAppFactory:  fixtures,
			ExpectedStatus:  http.StatusUnsupportedMediaType,
			ExpectedContent: []string{`{"detail":"Unsupported media type \"multipart/form-data\" in request.","code":"unsupported_media_type"}`},
		},
		{
			Name: "no-slash path, GET is 405", Method: http.MethodGet, URL: "/api/v1/users/register",
			TestAppFactory: fixtures, ExpectedStatus: http.StatusMethodNotAllowed,
			ExpectedContent: []string{`{"detail":"Method \"GET\" not allowed.","code":"method_not_allowed"}`},
			AfterTestFunc: func(tb testing.TB, _ *tests.TestApp, res *http.Response) {
				if res.Header.Get("Allow") != "POST" {
					tb.Errorf("Allow = %q", res.Header.Get("Allow"))
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRegisterBearerIgnored: a PUBLIC endpoint does not evaluate credentials (§1.5).
func TestRegisterBearerIgnored(t *testing.T) {
	t.Parallel()
	s := tests.ApiScenario{
		Name: "invalid bearer on a public endpoint", Method: http.MethodPost, URL: registerURL,
		Body:            jsonBody(`{"email": "bearer@example.com", "password": "violet-harbor-42"}`),
		Headers:         auth("garbage"),
		TestAppFactory:  newFactory(appOpts{}),
		ExpectedStatus:  http.StatusCreated,
		ExpectedContent: []string{`"email":"bearer@example.com"`},
		AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
			var m map[string]any
			must(tb, json.Unmarshal(readBody(tb, res), &m))
			u := findUser(tb, app, m["id"].(string))
			if u.GetString("username") != "bearer" {
				tb.Errorf("username = %q", u.GetString("username"))
			}
		},
	}
	s.Test(t)
}
