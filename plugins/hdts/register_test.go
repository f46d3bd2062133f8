package hdts_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/captcha"
	"gatehouse/plugins/config"
)

const registerURL = "/api/v1/hdts/employees/api/register/"

func TestRegisterEmployee(t *testing.T) {
	t.Parallel()
	run(t, []scenario{
		{
			name:   "201 EmployeeProfile: Pending, EM id, derived username, normalised phone; welcome email; audit; no tokens",
			method: http.MethodPost, url: registerURL,
			body: `{"email": " New.Employee@Example.com ", "password": "violet-harbor-42", "first_name": "New", "middle_name": "Q",
				"last_name": "Employee", "phone_number": "0917 123 4567", "department": "IT Department", "suffix": "Jr.",
				"status": "Approved", "company_id": "EM9999", "otp_enabled": true, "is_superuser": true}`,
			status: http.StatusCreated,
			content: []string{
				`"email":"new.employee@example.com","username":"new.employee","first_name":"New","middle_name":"Q","last_name":"Employee","suffix":"Jr.","phone_number":"+639171234567","company_id":"EM0004","department":"IT Department","status":"Pending","profile_picture":null,"otp_enabled":false,"otp_method":null,"last_login":null,`,
				`"full_name":"New Q Employee","system_roles":[{"id":"`, `"system_slug":"hdts","role_id":null,"role_name":"Employee",`,
			},
			not: []string{"Set-Cookie", `"access"`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				emp, err := app.FindAuthRecordByEmail("employees", "new.employee@example.com")
				if err != nil {
					tb.Fatal(err)
				}
				if emp.GetString("status") != "Pending" || emp.GetBool("verified") || emp.GetBool("otp_enabled") || !emp.ValidatePassword("violet-harbor-42") {
					tb.Errorf("stored employee: %v", emp.PublicExport())
				}
				if got := outbox(tb, app, "new.employee@example.com"); !slices.Equal(got, []string{"employee_welcome"}) {
					tb.Errorf("emails: %v", got)
				}
				if n := count(tb, app, "audit_log", dbx.HashExp{"event": "employee.registered", "target_id": emp.Id, "target_type": "employee"}); n != 1 {
					tb.Errorf("%d employee.registered rows", n)
				}
				if n := count(tb, app, "sessions", dbx.HashExp{"employee": emp.Id}); n != 0 {
					tb.Errorf("%d sessions", n)
				}
				// a staff account with the same email is not created
				if _, err := app.FindAuthRecordByEmail("users", "new.employee@example.com"); err == nil {
					tb.Error("a users record was created")
				}
			},
		},
		{
			name:   "an email of a staff user is free among employees (separate populations)",
			method: http.MethodPost, url: registerURL,
			before: func(tb testing.TB, app *tests.TestApp, f *fixtures) {
				f.plain.SetEmail("shared@example.com")
				if err := app.Save(f.plain); err != nil {
					tb.Fatal(err)
				}
			},
			body:   `{"email": "shared@example.com", "password": "violet-harbor-42"}`,
			status: http.StatusCreated, content: []string{`"email":"shared@example.com","username":"shared"`},
		},
		{
			name:   "taken email, username and phone among employees, weak password: every message; the IP's failure recorded",
			method: http.MethodPost, url: registerURL,
			before: func(tb testing.TB, app *tests.TestApp, f *fixtures) {
				f.approved.Set("phone_number", "+639171234567")
				f.approved.Set("username", "takenname")
				f.approved.SetEmail("taken@example.com")
				if err := app.Save(f.approved); err != nil {
					tb.Fatal(err)
				}
			},
			body:   `{"email": "TAKEN@example.com", "password": "password123", "username": "TakenName", "phone_number": "09171234567"}`,
			status: http.StatusBadRequest,
			exact: invalid(`{"email":["An employee with this email already exists."],"password":["Password is too common."],` +
				`"phone_number":["An employee with this phone number already exists."],"username":["This username is already taken. Please choose a different one."]}`),
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if n := count(tb, app, "auth_failures", dbx.HashExp{"email": "", "principal_id": ""}); n != 1 {
					tb.Errorf("%d IP failures recorded, want 1", n)
				}
				if n := count(tb, app, "employees", dbx.NewExp("1=1")); n != 3 {
					tb.Errorf("%d employees", n)
				}
			},
		},
		{
			name:   "missing fields and bad values (JSON)",
			method: http.MethodPost, url: registerURL,
			body:   `{"email": "not-an-email", "username": "bad name!", "suffix": "Esq.", "department": "Sales", "phone_number": "123", "notified": "yes", "first_name": 5}`,
			status: http.StatusBadRequest,
			exact: invalid(`{"department":["\"Sales\" is not a valid choice."],"email":["Enter a valid email address."],` +
				`"first_name":["Not a valid string."],"notified":["Must be a valid boolean."],"password":["This field is required."],` +
				`"phone_number":["Phone number must be in E.164 format (e.g., +15551234567) or 11 digits starting with 09 (e.g., 09123456789)."],` +
				`"suffix":["\"Esq.\" is not a valid choice."],"username":["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}`),
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if n := count(tb, app, "auth_failures", dbx.NewExp("1=1")); n != 0 {
					tb.Errorf("a plain validation failure recorded %d failures", n)
				}
			},
		},
		{
			name:   "the password must not contain the (derived) username or the email's local part",
			method: http.MethodPost, url: registerURL,
			body:   `{"email": "harborview@example.com", "password": "my-harborview-99"}`,
			status: http.StatusBadRequest,
			exact:  invalid(`{"password":["Password must not contain your username.","Password must not contain part of your email address."]}`),
		},
		{
			name:   "415 for a url-encoded body; 405 for GET",
			method: http.MethodPost, url: registerURL, contentType: "application/x-www-form-urlencoded",
			body:   "email=a%40b.c",
			status: http.StatusUnsupportedMediaType,
			exact:  `{"detail":"Unsupported media type \"application/x-www-form-urlencoded\" in request.","code":"unsupported_media_type"}`,
		},
		{
			name:   "GET is 405 with Allow: POST",
			method: http.MethodGet, url: strings.TrimSuffix(registerURL, "/"),
			status: http.StatusMethodNotAllowed,
			exact:  `{"detail":"Method \"GET\" not allowed.","code":"method_not_allowed"}`,
		},
		{
			name:   "while the IP is in the CAPTCHA state, a registration without a CAPTCHA is refused before validation",
			method: http.MethodPost, url: registerURL,
			mutate: func(cfg *config.Config) { cfg.CaptchaIPThreshold = 1 },
			before: func(tb testing.TB, app *tests.TestApp, f *fixtures) {
				if _, err := captcha.RecordPasswordFailure(app, testConfig(), "", httptestIP, "", ""); err != nil {
					tb.Fatal(err)
				}
			},
			body:   `{"email": "bad"}`,
			status: http.StatusBadRequest,
			exact:  `{"detail":"CAPTCHA verification required.","code":"captcha_required"}`,
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				if n := count(tb, app, "employees", dbx.NewExp("1=1")); n != 3 {
					tb.Errorf("%d employees", n)
				}
			},
		},
	})
}

// Multipart registration with a profile picture (§1.2, §1.16).
func TestRegisterEmployeeMultipart(t *testing.T) {
	t.Parallel()
	ok, okType := multipartBody(t, map[string]string{"email": "pic@example.com", "password": "violet-harbor-42", "notified": "true"}, 8, 8)
	big, bigType := multipartBody(t, map[string]string{"email": "big@example.com", "password": "violet-harbor-42"}, 1025, 4)
	run(t, []scenario{
		{
			name: "201 with the picture stored", method: http.MethodPost, url: registerURL, body: ok, contentType: okType,
			status:  http.StatusCreated,
			content: []string{`"email":"pic@example.com"`, `"profile_picture":"` + testAppURL + `/api/files/employees/`},
			after: func(tb testing.TB, app *tests.TestApp, f *fixtures, body string) {
				emp, err := app.FindAuthRecordByEmail("employees", "pic@example.com")
				if err != nil || emp.GetString("profile_picture") == "" || !emp.GetBool("notified") {
					tb.Fatalf("stored: %v %v", err, emp)
				}
			},
		},
		{
			name: "a picture over 1024 px is refused", method: http.MethodPost, url: registerURL, body: big, contentType: bigType,
			status: http.StatusBadRequest,
			exact:  invalid(`{"profile_picture":["Image dimensions must not exceed 1024x1024 pixels."]}`),
		},
	})
}

// §8.4 statement 80: ten employee registrations rejected for a taken value put the IP in the
// CAPTCHA state, without putting the taken email in it.
func TestRegistrationProbesPutTheIPInTheCaptchaState(t *testing.T) {
	t.Parallel()
	app, f := newApp(t, nil)
	defer app.Cleanup()
	app.Settings().RateLimits.Enabled = false
	c := serve(t, app)
	for i := range 10 {
		r := c.Do(http.MethodPost, registerURL, map[string]string{"email": f.approved.Email(), "password": "violet-harbor-42"})
		if r.Status != 400 || !strings.Contains(string(r.Body), "An employee with this email already exists.") {
			t.Fatalf("probe %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := c.Do(http.MethodGet, "/api/v1/users/captcha/required/", nil); string(r.Body) != `{"required":true}` {
		t.Fatalf("IP state: %s", r.Body)
	}
	if r := c.Do(http.MethodGet, "/api/v1/users/captcha/required/?email="+f.approved.Email(), nil, "X-Forwarded-For", "10.9.9.9"); r.Status != 200 {
		t.Fatalf("email state: %d %s", r.Status, r.Body)
	}
	if required, err := captcha.RequiredForEmail(app, testConfig(), f.approved.Email()); err != nil || required {
		t.Fatalf("the taken email is in the CAPTCHA state: %v %v", required, err)
	}
	if r := c.Do(http.MethodPost, registerURL, map[string]string{"email": "fresh@example.com", "password": "violet-harbor-42"}); r.Status != 400 ||
		string(r.Body) != `{"detail":"CAPTCHA verification required.","code":"captcha_required"}` {
		t.Fatalf("11th registration: %d %s", r.Status, r.Body)
	}
}
