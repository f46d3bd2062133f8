package signin_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/hooks"
	"gatehouse/plugins/apikit"
	"gatehouse/plugins/captcha"
	"gatehouse/plugins/config"
	"gatehouse/plugins/mailer"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/signin"
	"gatehouse/plugins/tokens"
	"gatehouse/testkit"
)

// The flow tests of issue 12: every sign-in flow runs for both realms against the foundation
// package, mounted on test paths /api/v1/t/<realm type>/... (the real paths belong to the
// feature plugins). Only what a realm's Spec makes differ is looked up in realmCase.

const (
	appURL        = "http://gatehouse.test"
	flowPassword  = "correct horse battery"
	newPassword1  = "amber-lantern-77x"
	newPassword2  = "silver-meadow-93q"
	badCredential = `{"detail":"Invalid email or password.","code":"invalid_credentials"}`
	captchaNeeded = `{"detail":"CAPTCHA verification required.","code":"captcha_required"}`
	tokenInvalid  = `{"detail":"Token is invalid or expired.","code":"token_not_valid"}`
)

// realmCase is what the contract makes differ per realm, as the tests see it.
type realmCase struct {
	spec                       *signin.Spec
	realm                      *realm.Realm
	profileKey                 string // the token answer's principal object
	changeCurrent, changeNew   string
	changeConfirm, changeDone  string
	resetPassword, resetConfir string
	resetDone, forgotDone      string
	logoutDone, resetLink      string
}

var realmCases = []realmCase{
	{
		spec: signin.Staff, realm: realm.Staff, profileKey: "user",
		changeCurrent: "current_password", changeNew: "new_password", changeConfirm: "new_password_confirm",
		changeDone:    `{"detail":"Password changed successfully."}`,
		resetPassword: "password", resetConfir: "password_confirm",
		resetDone:  `{"success":true,"message":"Password has been reset successfully. You can now log in with your new password."}`,
		forgotDone: `{"message":"If an account with that email exists, a password reset link has been sent."}`,
		logoutDone: `{"message":"Logout successful"}`,
		resetLink:  appURL + "/api/v1/users/password/reset/#token=",
	},
	{
		spec: signin.Employee, realm: realm.Employee, profileKey: "employee",
		changeCurrent: "old_password", changeNew: "new_password", changeConfirm: "confirm_password",
		changeDone:    `{"message":"Password changed successfully"}`,
		resetPassword: "new_password", resetConfir: "confirm_password",
		resetDone:  `{"success":true,"message":"Password reset successfully. Please log in with your new password."}`,
		forgotDone: `{"success":true,"message":"If an account with that email exists, you will receive password reset instructions."}`,
		logoutDone: `{"message":"Successfully logged out"}`,
		resetLink:  appURL + "/reset-password/?kind=employee#token=",
	},
}

type harness struct {
	t   *testing.T
	app *tests.TestApp
	c   testkit.Client
}

// newHarness serves both realms' flows on one app, sharing one token service and one
// captcha.Attempts as the binary does.
func newHarness(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = appURL
		if mutate != nil {
			mutate(cfg)
		}
		hooks.Register(app)
		kit := apikit.New(app, cfg)
		tok := tokens.New(app, kit)
		deps := signin.Deps{Kit: kit, Tokens: tok, Pool: passwords.NewPool(cfg), Mailer: mailer.Register(app, cfg), Attempts: captcha.NewAttempts()}
		app.OnServe().BindFunc(func(se *core.ServeEvent) error {
			kit.BindGuards(se.Router)
			for _, spec := range []*signin.Spec{signin.Staff, signin.Employee} {
				f, err := signin.New(se.App, deps, spec)
				if err != nil {
					return err
				}
				if err := kit.Mount(se.Router, testRoutes(f)); err != nil {
					return err
				}
			}
			kit.MountAPIFallbacks(se.Router)
			return se.Next()
		})
	})
	return &harness{t: t, app: app, c: testkit.Client{TB: t, URL: testkit.Serve(t, app).URL}}
}

func testRoutes(f *signin.Flows) []apikit.Route {
	own := apikit.Staff
	if f.Realm() == realm.Employee {
		own = apikit.Employee
	}
	base := "/api/v1/t/" + f.Realm().Type + "/"
	post := func(path string, access apikit.Access, h func(*core.RequestEvent) error) apikit.Route {
		return apikit.Route{Method: http.MethodPost, Path: base + path, Access: access, Handler: h}
	}
	return []apikit.Route{
		post("login/", apikit.Public, f.Login),
		post("verify-otp/", apikit.Public, f.VerifyOTP),
		post("logout/", apikit.Public, f.Logout),
		post("refresh/", apikit.Public, f.Refresh(f.Realm().Type)),
		post("2fa/enable/", own, f.Enable2FA),
		post("password/change/", own, f.ChangePassword),
		post("password/forgot/", apikit.Public, f.ForgotPassword),
		post("password/reset/", apikit.Public, f.ResetPassword),
	}
}

func (h *harness) path(rc realmCase, p string) string { return "/api/v1/t/" + rc.realm.Type + "/" + p }

// account creates an account of the realm that may sign in (staff active, employee approved).
func (h *harness) account(rc realmCase) *core.Record {
	h.t.Helper()
	r := testkit.NewPrincipal(h.t, h.app, rc.realm.Collection, "flow"+rc.realm.Type)
	if rc.realm == realm.Employee {
		testkit.SetField(h.t, h.app, r, "status", realm.StatusApproved)
	} else {
		testkit.SetField(h.t, h.app, r, "is_active", true)
	}
	return r
}

func (h *harness) login(rc realmCase, email, password string) testkit.Reply {
	h.t.Helper()
	return h.c.Do(http.MethodPost, h.path(rc, "login/"), map[string]string{"email": email, "password": password})
}

// tokens logs in and expects the realm's token answer.
func (h *harness) tokens(rc realmCase, email, password string) testkit.Reply {
	h.t.Helper()
	r := h.login(rc, email, password)
	if r.Status != 200 || r.Str("access") == "" || r.Str("refresh") == "" || r.JSON[rc.profileKey] == nil {
		h.t.Fatalf("%s login: %d %s", rc.realm.Type, r.Status, r.Body)
	}
	return r
}

func (h *harness) count(collection string, where dbx.Expression) int {
	h.t.Helper()
	var n int
	if err := h.app.DB().Select("COUNT(*)").From(collection).Where(where).Row(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// lastMail returns the text body of the newest outbox message to email.
func (h *harness) lastMail(email string) string {
	h.t.Helper()
	signin.SettleAfterAnswer(h.app)
	rows, err := h.app.FindRecordsByFilter("email_outbox", "to = {:to}", "-created", 1, 0, dbx.Params{"to": email})
	if err != nil || len(rows) == 0 {
		h.t.Fatalf("no mail to %s: %v", email, err)
	}
	return rows[0].GetString("text_body")
}

// enableTOTP turns TOTP on through 2fa/enable (start, confirm with the current step's code) and
// returns a code generator and the 10 recovery codes.
func (h *harness) enableTOTP(rc realmCase, auth []string) (code func(time.Time) string, recovery []any) {
	h.t.Helper()
	start := h.c.Do(http.MethodPost, h.path(rc, "2fa/enable/"), map[string]string{"password": flowPassword}, auth...)
	secret := start.Str("secret")
	if start.Status != 200 || secret == "" {
		h.t.Fatalf("2fa/enable start: %d %s", start.Status, start.Body)
	}
	code = func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			h.t.Fatal(err)
		}
		return c
	}
	confirm := h.c.Do(http.MethodPost, h.path(rc, "2fa/enable/"), map[string]string{"password": flowPassword, "otp_code": code(time.Now())}, auth...)
	recovery, _ = confirm.JSON["recovery_codes"].([]any)
	if confirm.Status != 200 || confirm.Str("status") != "enabled" || len(recovery) != 10 {
		h.t.Fatalf("2fa/enable confirm: %d %s", confirm.Status, confirm.Body)
	}
	return code, recovery
}

func forBothRealms(t *testing.T, fn func(t *testing.T, rc realmCase)) {
	for _, rc := range realmCases {
		t.Run(rc.realm.Type, func(t *testing.T) {
			t.Parallel()
			fn(t, rc)
		})
	}
}

func TestLoginRefreshLogout(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		if r := h.login(rc, acct.Email(), "wrong-password-1"); r.Status != 400 || string(r.Body) != badCredential {
			t.Fatalf("wrong password: %d %s", r.Status, r.Body)
		}
		if r := h.login(rc, "nobody@example.com", flowPassword); r.Status != 400 || string(r.Body) != badCredential {
			t.Fatalf("unknown email: %d %s", r.Status, r.Body)
		}
		login := h.tokens(rc, acct.Email(), flowPassword)
		if got := login.JSON[rc.profileKey].(map[string]any)["id"]; got != acct.Id {
			t.Fatalf("%s.id = %v", rc.profileKey, got)
		}
		if rc.realm == realm.Employee {
			// §5.12.4: the EmployeeProfile of the answer shows this login's last_login
			shown := login.JSON["employee"].(map[string]any)
			stored := testkit.Reload(t, h.app, acct).GetDateTime("last_login")
			items, _ := shown["system_roles"].([]any)
			if stored.IsZero() || shown["last_login"] != stored.Time().UTC().Format("2006-01-02T15:04:05.000Z") ||
				len(items) != 1 || items[0].(map[string]any)["last_logged_on"] != shown["last_login"] {
				t.Fatalf("last_login in the answer %v, stored %v", shown["last_login"], stored)
			}
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id, "revoked_at": ""}); n != 1 {
			t.Fatalf("%d live sessions", n)
		}
		// the failure counters restart after a proven password
		if n := h.count("auth_failures", dbx.HashExp{"email": acct.Email()}); n != 0 {
			t.Fatalf("%d email failures still counted", n)
		}

		// refresh on the realm's path; the other realm's path refuses it without reuse detection
		other := realmCases[0]
		if rc.realm == realm.Staff {
			other = realmCases[1]
		}
		if r := h.c.Do(http.MethodPost, h.path(other, "refresh/"), map[string]string{"refresh": login.Str("refresh")}); r.Status != 401 || string(r.Body) != tokenInvalid {
			t.Fatalf("refresh on the other realm's path: %d %s", r.Status, r.Body)
		}
		ref := h.c.Do(http.MethodPost, h.path(rc, "refresh/"), map[string]string{"refresh": login.Str("refresh")})
		if ref.Status != 200 || ref.Str("user_type") != rc.realm.Type || ref.Str("refresh") == "" {
			t.Fatalf("refresh: %d %s", ref.Status, ref.Body)
		}

		out := h.c.Do(http.MethodPost, h.path(rc, "logout/"), map[string]string{"refresh": ref.Str("refresh")})
		if out.Status != 200 || string(out.Body) != rc.logoutDone {
			t.Fatalf("logout: %d %s", out.Status, out.Body)
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id, "revoked_at": ""}); n != 0 {
			t.Fatalf("%d live sessions after logout", n)
		}
		if r := h.c.Do(http.MethodPost, h.path(rc, "refresh/"), map[string]string{"refresh": ref.Str("refresh")}); r.Status != 401 {
			t.Fatalf("refresh after logout: %d %s", r.Status, r.Body)
		}
	})
}

func TestCaptchaAndLockout(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		for i := range 3 {
			if r := h.login(rc, acct.Email(), "wrong-password-1"); string(r.Body) != badCredential {
				t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		if r := h.login(rc, acct.Email(), flowPassword); r.Status != 400 || string(r.Body) != captchaNeeded {
			t.Fatalf("4th attempt: %d %s", r.Status, r.Body)
		}
		if n := h.count("auth_failures", dbx.HashExp{"user_type": rc.realm.Type, "principal_id": acct.Id}); n != 3 {
			t.Fatalf("%d failures recorded for the account", n)
		}
	})
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		// lockout without the CAPTCHA in the way: thresholds raised, lock at 3
		h := newHarness(t, func(cfg *config.Config) {
			cfg.CaptchaEmailThreshold, cfg.CaptchaIPThreshold, cfg.LockoutFailures = 50, 50, 3
		})
		acct := h.account(rc)
		for range 3 {
			h.login(rc, acct.Email(), "wrong-password-1")
		}
		locked := testkit.Reload(t, h.app, acct)
		if until := locked.GetDateTime("locked_until"); until.IsZero() || time.Until(until.Time()) < 10*time.Minute {
			t.Fatalf("not locked: %v", locked.Get("locked_until"))
		}
		if r := h.login(rc, acct.Email(), flowPassword); r.Status != 400 || string(r.Body) != badCredential {
			t.Fatalf("right password while locked: %d %s", r.Status, r.Body)
		}
		if n := h.count("audit_log", dbx.HashExp{"event": "login.locked", "target_id": acct.Id}); n != 1 {
			t.Fatalf("%d login.locked entries", n)
		}
	})
}

var sixDigitCode = regexp.MustCompile(`\b(\d{6})\b`)

func TestSecondFactor(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		access := h.tokens(rc, acct.Email(), flowPassword).Str("access")
		auth := []string{"Authorization", "Bearer " + access}

		code, recovery := h.enableTOTP(rc, auth)

		challenge := func() string {
			t.Helper()
			r := h.login(rc, acct.Email(), flowPassword)
			if r.Status != 200 || r.JSON["otp_required"] != true || r.Str("temporary_token") == "" {
				t.Fatalf("login with 2FA: %d %s", r.Status, r.Body)
			}
			return r.Str("temporary_token")
		}
		verify := func(body map[string]string) testkit.Reply {
			t.Helper()
			return h.c.Do(http.MethodPost, h.path(rc, "verify-otp/"), body)
		}
		// a TOTP code of the next step (the current one was used by the confirmation)
		if r := verify(map[string]string{"temporary_token": challenge(), "otp_code": code(time.Now().Add(30 * time.Second))}); r.Status != 200 || r.JSON[rc.profileKey] == nil {
			t.Fatalf("verify-otp with TOTP: %d %s", r.Status, r.Body)
		}
		// a recovery code
		if r := verify(map[string]string{"temporary_token": challenge(), "recovery_code": recovery[0].(string)}); r.Status != 200 || r.JSON[rc.profileKey] == nil {
			t.Fatalf("verify-otp with a recovery code: %d %s", r.Status, r.Body)
		}
		// the other realm's verify-otp refuses this realm's temporary token (§8.42)
		other := realmCases[0]
		if rc.realm == realm.Staff {
			other = realmCases[1]
		}
		if r := h.c.Do(http.MethodPost, h.path(other, "verify-otp/"), map[string]string{"temporary_token": challenge(), "recovery_code": recovery[1].(string)}); r.Status != 401 || string(r.Body) != tokenInvalid {
			t.Fatalf("other realm's verify-otp: %d %s", r.Status, r.Body)
		}

		// email codes
		testkit.SetField(t, h.app, acct, "otp_method", "email")
		token := challenge()
		emailed := sixDigitCode.FindStringSubmatch(h.lastMail(acct.Email()))
		if emailed == nil {
			t.Fatal("no code in the mail")
		}
		if r := verify(map[string]string{"temporary_token": token, "otp_code": emailed[1]}); r.Status != 200 || r.JSON[rc.profileKey] == nil {
			t.Fatalf("verify-otp with the emailed code: %d %s", r.Status, r.Body)
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id}); n != 4 {
			t.Fatalf("%d sessions, want 4 (password + 3 second-factor logins)", n)
		}
	})
}

func TestPasswordChangeForgotReset(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		first := h.tokens(rc, acct.Email(), flowPassword)
		second := h.tokens(rc, acct.Email(), flowPassword)

		// change, with the realm's field names
		wrong := h.c.Do(http.MethodPost, h.path(rc, "password/change/"), map[string]string{
			rc.changeCurrent: "wrong-password-1", rc.changeNew: newPassword1, rc.changeConfirm: newPassword1,
		}, "Authorization", "Bearer "+first.Str("access"))
		if wrong.Status != 400 || wrong.JSON["errors"].(map[string]any)[rc.changeCurrent] == nil {
			t.Fatalf("wrong current password: %d %s", wrong.Status, wrong.Body)
		}
		ok := h.c.Do(http.MethodPost, h.path(rc, "password/change/"), map[string]string{
			rc.changeCurrent: flowPassword, rc.changeNew: newPassword1, rc.changeConfirm: newPassword1,
		}, "Authorization", "Bearer "+first.Str("access"))
		if ok.Status != 200 || string(ok.Body) != rc.changeDone {
			t.Fatalf("change: %d %s", ok.Status, ok.Body)
		}
		// the other session is revoked, the caller's is kept
		if r := h.c.Do(http.MethodPost, h.path(rc, "refresh/"), map[string]string{"refresh": second.Str("refresh")}); r.Status != 401 {
			t.Fatalf("other session after the change: %d %s", r.Status, r.Body)
		}
		if r := h.c.Do(http.MethodPost, h.path(rc, "refresh/"), map[string]string{"refresh": first.Str("refresh")}); r.Status != 200 {
			t.Fatalf("own session after the change: %d %s", r.Status, r.Body)
		}
		if r := h.login(rc, acct.Email(), flowPassword); string(r.Body) != badCredential {
			t.Fatalf("old password after the change: %d %s", r.Status, r.Body)
		}
		h.tokens(rc, acct.Email(), newPassword1)

		// forgot → link of the realm → reset with the realm's field names
		forgot := h.c.Do(http.MethodPost, h.path(rc, "password/forgot/"), map[string]string{"email": acct.Email()})
		if forgot.Status != 200 || string(forgot.Body) != rc.forgotDone {
			t.Fatalf("forgot: %d %s", forgot.Status, forgot.Body)
		}
		link := regexp.MustCompile(regexp.QuoteMeta(rc.resetLink) + `([A-Za-z0-9_-]+)`).FindStringSubmatch(h.lastMail(acct.Email()))
		if link == nil {
			t.Fatalf("no %s link in the mail", rc.resetLink)
		}
		reset := h.c.Do(http.MethodPost, h.path(rc, "password/reset/"), map[string]string{
			"token": link[1], rc.resetPassword: newPassword2, rc.resetConfir: newPassword2,
		})
		if reset.Status != 200 || string(reset.Body) != rc.resetDone {
			t.Fatalf("reset: %d %s", reset.Status, reset.Body)
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id, "revoked_at": ""}); n != 0 {
			t.Fatalf("%d live sessions after the reset", n)
		}
		if r := h.c.Do(http.MethodPost, h.path(rc, "password/reset/"), map[string]string{
			"token": link[1], rc.resetPassword: newPassword1, rc.resetConfir: newPassword1,
		}); r.Status != 400 {
			t.Fatalf("second use of the reset token: %d %s", r.Status, r.Body)
		}
		h.tokens(rc, acct.Email(), newPassword2)
	})
}

// §5.12.4: a pending or rejected employee learns its state only after proving the password,
// and gets no tokens.
func TestEmployeeApprovalGate(t *testing.T) {
	t.Parallel()
	rc := realmCases[1]
	h := newHarness(t, nil)
	for status, want := range map[string]string{
		"Pending":  `{"detail":"Your account is pending approval. Please wait for admin approval before logging in.","code":"account_pending"}`,
		"Rejected": `{"detail":"Your account has been rejected by the HDTS system administrator.","code":"account_rejected"}`,
	} {
		acct := h.account(rc)
		testkit.SetField(t, h.app, acct, "status", status)
		if r := h.login(rc, acct.Email(), "wrong-password-1"); r.Status != 400 || string(r.Body) != badCredential {
			t.Fatalf("%s, wrong password: %d %s", status, r.Status, r.Body)
		}
		if r := h.login(rc, acct.Email(), flowPassword); r.Status != 403 || string(r.Body) != want || r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("%s, right password: %d %s", status, r.Status, r.Body)
		}
		if n := h.count("sessions", dbx.HashExp{"employee": acct.Id}); n != 0 {
			t.Fatalf("%s: %d sessions", status, n)
		}
		// the password step failed (Appendix C: login.failure, reason pending/rejected), but
		// only the wrong password counts toward lockout and CAPTCHA (§6.1)
		reason := strings.ToLower(status)
		if n := h.count("audit_log", dbx.And(dbx.HashExp{"event": "login.failure", "target_id": acct.Id},
			dbx.NewExp("json_extract(details, '$.reason') = {:r}", dbx.Params{"r": reason}))); n != 1 {
			t.Fatalf("%s: %d login.failure entries with reason %s, want 1", status, n, reason)
		}
		if n := h.count("auth_failures", dbx.HashExp{"principal_id": acct.Id}); n != 1 {
			t.Fatalf("%s: %d failures recorded, want 1 (the wrong password only)", status, n)
		}
	}
	// and a staff user who is inactive is a plain failure
	staff := h.account(realmCases[0])
	testkit.SetField(t, h.app, staff, "is_active", false)
	if r := h.login(realmCases[0], staff.Email(), flowPassword); r.Status != 400 || string(r.Body) != badCredential {
		t.Fatalf("inactive staff: %d %s", r.Status, r.Body)
	}
}

// A staff access token on an employee endpoint and the reverse: 401 token_not_valid.
func TestTokensStayInTheirRealm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	staff, employee := realmCases[0], realmCases[1]
	staffAccess := h.tokens(staff, h.account(staff).Email(), flowPassword).Str("access")
	employeeAccess := h.tokens(employee, h.account(employee).Email(), flowPassword).Str("access")
	for _, c := range []struct {
		rc     realmCase
		access string
	}{{employee, staffAccess}, {staff, employeeAccess}} {
		r := h.c.Do(http.MethodPost, h.path(c.rc, "password/change/"), map[string]string{}, "Authorization", "Bearer "+c.access)
		if r.Status != 401 || string(r.Body) != tokenInvalid {
			t.Fatalf("%s endpoint with the other realm's token: %d %s", c.rc.realm.Type, r.Status, r.Body)
		}
	}
}

// A login reads the account before the password's bcrypt; a deactivation (staff) or rejection
// (employee) committed during it used to get a session, tokens and cookies anyway (§3.5,
// §5.12.4: "no tokens, no cookies"). The change's transaction here holds the write connection
// while the login reads, and commits after: the login answers as it would now.
func TestLoginRefusesAnAccountStoppedDuringIt(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		var r testkit.Reply
		testkit.ChangeDuring(t, h.app, rc.realm.Collection, acct.Id, func(a *core.Record) {
			if rc.realm == realm.Employee {
				a.Set("status", "Rejected")
			} else {
				a.Set("is_active", false)
			}
		}, 300*time.Millisecond, func() { r = h.login(rc, acct.Email(), flowPassword) })
		want, body := 400, badCredential
		if rc.realm == realm.Employee {
			want, body = 403, `{"detail":"Your account has been rejected by the HDTS system administrator.","code":"account_rejected"}`
		}
		if r.Status != want || string(r.Body) != body || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("login during the change: %d %s, cookies %v", r.Status, r.Body, r.Header.Values("Set-Cookie"))
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id}); n != 0 {
			t.Fatalf("%d sessions started", n)
		}
	})
}
