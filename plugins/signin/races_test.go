package signin_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

// Writes committed while a flow compares a password or a code, and flows whose own writes fail
// half-way: the flow answers as the account is now, and what it writes is all or nothing.

// A login proves the password against the hash read before its bcrypt; a reset committed during
// it revoked every session and cancelled pending challenges, so the old password must not start
// a new session, nor (2FA on) get a challenge created after it: its code would start one (§3.5,
// §5.6.4).
func TestLoginRefusesAPasswordReplacedDuringIt(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		for _, twoFactor := range []bool{false, true} {
			acct := h.account(rc)
			if twoFactor {
				testkit.SetField(t, h.app, acct, "otp_enabled", true)
				testkit.SetField(t, h.app, acct, "otp_method", "email")
			}
			var r testkit.Reply
			testkit.ChangeDuring(t, h.app, rc.realm.Collection, acct.Id, func(a *core.Record) { a.SetPassword(newPassword1) },
				300*time.Millisecond, func() { r = h.login(rc, acct.Email(), flowPassword) })
			if r.Status != 400 || string(r.Body) != badCredential || len(r.Header.Values("Set-Cookie")) != 0 {
				t.Fatalf("2FA %v, old password during the reset: %d %s, cookies %v", twoFactor, r.Status, r.Body, r.Header.Values("Set-Cookie"))
			}
			for table, where := range map[string]dbx.Expression{
				"sessions":       dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id},
				"mfa_challenges": dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id},
				"email_outbox":   dbx.HashExp{"to": acct.Email(), "template": "otp_code"},
			} {
				if n := h.count(table, where); n != 0 {
					t.Fatalf("2FA %v: %d %s rows for the old password", twoFactor, n, table)
				}
			}
			if r := h.login(rc, acct.Email(), newPassword1); r.Status != 200 || (twoFactor && r.Str("temporary_token") == "") || (!twoFactor && r.Str("access") == "") {
				t.Fatalf("2FA %v, the new password: %d %s", twoFactor, r.Status, r.Body)
			}
		}
	})
}

// A password change hashes the new password after proving the current one; a reset committed
// meanwhile must not be overwritten by the change (the reset's password stays, §3.5).
func TestPasswordChangeLosesToAResetDuringIt(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		access := h.tokens(rc, acct.Email(), flowPassword).Str("access")
		var r testkit.Reply
		testkit.ChangeDuring(t, h.app, rc.realm.Collection, acct.Id, func(a *core.Record) { a.SetPassword(newPassword2) },
			300*time.Millisecond, func() {
				r = h.c.Do(http.MethodPost, h.path(rc, "password/change/"), map[string]string{
					rc.changeCurrent: flowPassword, rc.changeNew: newPassword1, rc.changeConfirm: newPassword1,
				}, "Authorization", "Bearer "+access)
			})
		errs, _ := r.JSON["errors"].(map[string]any)
		if r.Status != 400 || errs[rc.changeCurrent] == nil {
			t.Fatalf("change during the reset: %d %s", r.Status, r.Body)
		}
		if !testkit.Reload(t, h.app, acct).ValidatePassword(newPassword2) {
			t.Fatal("the reset's password was overwritten")
		}
		if n := h.count("email_outbox", dbx.HashExp{"to": acct.Email(), "template": "password_changed"}); n != 0 {
			t.Fatalf("%d password_changed emails for a change that did not happen", n)
		}
	})
}

// verify-otp checks and spends the code, consumes the challenge and starts the session in one
// transaction: a login refused at the end (the account stopped meanwhile) spends no recovery
// code and sends no recovery_code_used email.
func TestSecondFactorSpendsNothingWhenTheLoginIsRefused(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		access := h.tokens(rc, acct.Email(), flowPassword).Str("access")
		_, recovery := h.enableTOTP(rc, []string{"Authorization", "Bearer " + access})
		challenge := h.login(rc, acct.Email(), flowPassword).Str("temporary_token")
		if challenge == "" {
			t.Fatal("no temporary token")
		}
		var r testkit.Reply
		testkit.ChangeDuring(t, h.app, rc.realm.Collection, acct.Id, func(a *core.Record) {
			if rc.realm == realm.Employee {
				a.Set("status", "Rejected")
			} else {
				a.Set("is_active", false)
			}
		}, 300*time.Millisecond, func() {
			r = h.c.Do(http.MethodPost, h.path(rc, "verify-otp/"), map[string]string{"temporary_token": challenge, "recovery_code": recovery[0].(string)})
		})
		if r.Status != 401 || r.Str("code") != "token_not_valid" || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("verify-otp for a stopped account: %d %s (§5.1.3 step 1: 401)", r.Status, r.Body)
		}
		if n := h.count("recovery_codes", dbx.And(dbx.HashExp{rc.realm.Relation: acct.Id}, dbx.NewExp("used_at != ''"))); n != 0 {
			t.Fatalf("%d recovery codes spent by a refused login", n)
		}
		if n := h.count("email_outbox", dbx.HashExp{"to": acct.Email(), "template": "recovery_code_used"}); n != 0 {
			t.Fatalf("%d recovery_code_used emails for a refused login", n)
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id}); n != 1 {
			t.Fatalf("%d sessions, want only the one of the set-up", n)
		}
	})
}

// A failure that starts a lock writes the lock, its audit row and its email together: when the
// email cannot be queued nothing is written, rather than a lock whose (single) email is lost.
// And an email code exists only if its email was queued (its resend cooldown never holds back a
// code nobody received).
func TestLockAndCodeAreNeverWrittenWithoutTheirEmail(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, func(cfg *config.Config) {
			cfg.CaptchaEmailThreshold, cfg.CaptchaIPThreshold, cfg.LockoutFailures = 50, 50, 3
		})
		var refuse atomic.Bool
		h.app.OnRecordCreate("email_outbox").BindFunc(func(e *core.RecordEvent) error {
			if refuse.Load() {
				return errors.New("outbox unavailable")
			}
			return e.Next()
		})
		acct := h.account(rc)
		for range 2 {
			h.login(rc, acct.Email(), "wrong-password-1")
		}
		refuse.Store(true)
		if r := h.login(rc, acct.Email(), "wrong-password-1"); r.Status < 500 {
			t.Fatalf("the locking failure without an outbox: %d %s", r.Status, r.Body)
		}
		if until := testkit.Reload(t, h.app, acct).GetString("locked_until"); until != "" {
			t.Fatalf("locked (until %s) without the account_locked email", until)
		}
		if n := h.count("audit_log", dbx.HashExp{"event": "login.locked", "target_id": acct.Id}); n != 0 {
			t.Fatalf("%d login.locked entries", n)
		}
		refuse.Store(false)
		h.login(rc, acct.Email(), "wrong-password-1")
		if testkit.Reload(t, h.app, acct).GetString("locked_until") == "" || h.count("email_outbox", dbx.HashExp{"to": acct.Email(), "template": "account_locked"}) != 1 {
			t.Fatal("the next failure did not lock with its email")
		}

		// email codes
		other := testkit.NewPrincipal(t, h.app, rc.realm.Collection, "code"+rc.realm.Type)
		if rc.realm == realm.Employee {
			testkit.SetField(t, h.app, other, "status", realm.StatusApproved)
		} else {
			testkit.SetField(t, h.app, other, "is_active", true)
		}
		testkit.SetField(t, h.app, other, "otp_enabled", true)
		testkit.SetField(t, h.app, other, "otp_method", "email")
		refuse.Store(true)
		if r := h.login(rc, other.Email(), flowPassword); r.Status < 500 {
			t.Fatalf("login with email 2FA without an outbox: %d %s", r.Status, r.Body)
		}
		if n := h.count("otp_codes", dbx.HashExp{rc.realm.Relation: other.Id}); n != 0 {
			t.Fatalf("%d email codes written without their email", n)
		}
		refuse.Store(false)
		if r := h.login(rc, other.Email(), flowPassword); r.Status != 200 || r.Str("temporary_token") == "" {
			t.Fatalf("login with email 2FA: %d %s", r.Status, r.Body)
		}
		if n := h.count("email_outbox", dbx.HashExp{"to": other.Email(), "template": "otp_code"}); n != 1 {
			t.Fatalf("%d otp_code emails after the retry", n)
		}
	})
}

// A login chooses its step (password only, or a second factor) by the account it read before
// its bcrypt; 2FA turned on meanwhile must not yield a session without a second factor (§6.2),
// and 2FA turned off meanwhile must not yield a challenge no code can complete.
func TestLoginFollowsATwoFactorChangeDuringIt(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		sessions := func(acct *core.Record) int {
			return h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id})
		}
		challenges := func(acct *core.Record) int {
			return h.count("mfa_challenges", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: acct.Id})
		}

		// turned on: the login gets the challenge, and the code emailed to the account
		on := h.account(rc)
		var r testkit.Reply
		testkit.ChangeDuring(t, h.app, rc.realm.Collection, on.Id, func(a *core.Record) {
			a.Set("otp_enabled", true)
			a.Set("otp_method", "email")
		}, 300*time.Millisecond, func() { r = h.login(rc, on.Email(), flowPassword) })
		if r.Status != 200 || r.JSON["otp_required"] != true || r.Str("temporary_token") == "" || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("2FA turned on during the login: %d %s, cookies %v", r.Status, r.Body, r.Header.Values("Set-Cookie"))
		}
		if methods, _ := r.JSON["methods"].([]any); len(methods) != 1 || methods[0] != "email" {
			t.Fatalf("methods %v", r.JSON["methods"])
		}
		if n := sessions(on); n != 0 {
			t.Fatalf("%d sessions without the second factor", n)
		}
		if n := challenges(on); n != 1 {
			t.Fatalf("%d challenges", n)
		}
		if n := h.count("email_outbox", dbx.HashExp{"to": on.Email(), "template": "otp_code"}); n != 1 {
			t.Fatalf("%d otp_code emails", n)
		}

		// turned off: the password alone signs in
		off := h.account(rc)
		testkit.SetField(t, h.app, off, "otp_enabled", true)
		testkit.SetField(t, h.app, off, "otp_method", "email")
		testkit.ChangeDuring(t, h.app, rc.realm.Collection, off.Id, func(a *core.Record) {
			a.Set("otp_enabled", false)
			a.Set("otp_method", "")
		}, 300*time.Millisecond, func() { r = h.login(rc, off.Email(), flowPassword) })
		if r.Status != 200 || r.Str("access") == "" || r.JSON["otp_required"] != nil || len(r.Header.Values("Set-Cookie")) != 2 {
			t.Fatalf("2FA turned off during the login: %d %s", r.Status, r.Body)
		}
		if n := h.count("sessions", dbx.HashExp{"user_type": rc.realm.Type, rc.realm.Relation: off.Id, "login_method": "password"}); n != 1 {
			t.Fatalf("%d password sessions", n)
		}
		if n := challenges(off); n != 0 {
			t.Fatalf("%d challenges for an account without 2FA", n)
		}
		if n := h.count("email_outbox", dbx.HashExp{"to": off.Email(), "template": "otp_code"}); n != 0 {
			t.Fatalf("%d otp_code emails for an account without 2FA", n)
		}
	})
}

// A login and a 2FA change are changes of the account's record: its updated date moves with
// them, although they are written with targeted UPDATEs (§2.1: updated is an auto date;
// §5.12.4: the employee's updated_at is the login's time).
func TestAccountWritesMoveUpdated(t *testing.T) {
	t.Parallel()
	forBothRealms(t, func(t *testing.T, rc realmCase) {
		h := newHarness(t, nil)
		acct := h.account(rc)
		before := testkit.Reload(t, h.app, acct).GetString("updated")
		time.Sleep(5 * time.Millisecond)
		r := h.tokens(rc, acct.Email(), flowPassword)
		stored := testkit.Reload(t, h.app, acct)
		if got := stored.GetString("updated"); got == before || got != stored.GetString("last_login") {
			t.Fatalf("after the login: updated %s (before %s), last_login %s", got, before, stored.GetString("last_login"))
		}
		if rc.realm == realm.Employee {
			profile := r.JSON["employee"].(map[string]any)
			if profile["updated_at"] != profile["last_login"] {
				t.Fatalf("the answer's updated_at %v, last_login %v", profile["updated_at"], profile["last_login"])
			}
		}
		before = stored.GetString("updated")
		time.Sleep(5 * time.Millisecond)
		h.enableTOTP(rc, []string{"Authorization", "Bearer " + r.Str("access")})
		if got := testkit.Reload(t, h.app, acct).GetString("updated"); got == before {
			t.Fatalf("2FA enabled, updated still %s", got)
		}
	})
}
