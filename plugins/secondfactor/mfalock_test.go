package secondfactor

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

func otpFailureExp(p *core.Record) dbx.Expression {
	typ, _ := PrincipalType(p)
	return dbx.HashExp{"user_type": typ, "principal_id": p.Id, "kind": "otp"}
}

// moveFailures moves every OTP failure of p by d (negative = into the past), through app.Save.
func moveFailures(t *testing.T, app core.App, p *core.Record, d time.Duration) {
	t.Helper()
	testkit.ShiftDates(t, app, colAuthFailures, "occurred_at", d, otpFailureExp(p))
}

func fail(t *testing.T, app core.App, cfg *config.Config, p *core.Record, times int) (started bool, window int) {
	t.Helper()
	for i := 0; i < times; i++ {
		s, w, err := RecordOTPFailure(app, cfg, p, "198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		if s && i != times-1 {
			t.Fatalf("lock started at failure %d of %d", i+1, times)
		}
		started, window = s, w
	}
	return started, window
}

func locked(t *testing.T, app core.App, cfg *config.Config, p *core.Record) bool {
	t.Helper()
	l, err := MFALocked(app, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestMFALockAfterTenFailures(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)

	if started, _ := fail(t, app, cfg, u, 9); started || locked(t, app, cfg, u) {
		t.Fatal("locked after 9 failures")
	}
	started, window := fail(t, app, cfg, u, 1)
	if !started || window != 15 {
		t.Fatalf("10th failure: started=%v window=%d, want true/15", started, window)
	}
	if !locked(t, app, cfg, u) {
		t.Fatal("not locked after 10 failures")
	}
	fresh := testkit.Reload(t, app, u)
	if fresh.GetDateTime("mfa_lock_started_at").IsZero() || fresh.GetInt("mfa_lock_window") != 15 {
		t.Fatalf("lock fields: started=%v window=%d", fresh.GetDateTime("mfa_lock_started_at"), fresh.GetInt("mfa_lock_window"))
	}
	// A further failure while locked does not start another lock (one email per lock).
	if started, _ := fail(t, app, cfg, u, 1); started {
		t.Fatal("second lock started while locked")
	}
	if testkit.Reload(t, app, u).GetInt("mfa_lock_window") != 15 {
		t.Fatal("window changed while locked")
	}

	rows, err := app.FindAllRecords(colAuthFailures, otpFailureExp(u))
	if err != nil || len(rows) != 11 {
		t.Fatalf("%d failure rows (%v)", len(rows), err)
	}
	r := rows[0]
	if r.GetString("email") != u.GetString("email") || r.GetString("ip") != "198.51.100.7" ||
		r.GetString("user_type") != "staff" || r.GetDateTime("occurred_at").IsZero() {
		t.Fatalf("failure row %v", r.PublicExport())
	}

	// The lock is sliding on occurred_at: 16 minutes later it is over.
	moveFailures(t, app, u, -16*time.Minute)
	if locked(t, app, cfg, u) {
		t.Fatal("still locked with all failures 16 minutes old")
	}
}

func TestMFALockWindowDoubles(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)

	if started, w := fail(t, app, cfg, u, 10); !started || w != 15 {
		t.Fatalf("first lock: %v %d", started, w)
	}
	moveFailures(t, app, u, -16*time.Minute)
	if locked(t, app, cfg, u) {
		t.Fatal("first lock did not end")
	}

	// Second lock within 24 h: 30-minute window (§8.5 statement 85).
	if started, w := fail(t, app, cfg, u, 10); !started || w != 30 {
		t.Fatalf("second lock: started=%v window=%d, want true/30", started, w)
	}
	if got := testkit.Reload(t, app, u).GetInt("mfa_lock_window"); got != 30 {
		t.Fatalf("mfa_lock_window %d", got)
	}
	moveFailures(t, app, u, -16*time.Minute)
	if !locked(t, app, cfg, u) {
		t.Fatal("second lock over after 16 minutes; its window is 30")
	}
	moveFailures(t, app, u, -15*time.Minute) // 31 minutes in total
	if locked(t, app, cfg, u) {
		t.Fatal("second lock still on after 31 minutes")
	}

	// Third lock: 60 minutes.
	if started, w := fail(t, app, cfg, u, 10); !started || w != 60 {
		t.Fatalf("third lock: started=%v window=%d, want true/60", started, w)
	}
	moveFailures(t, app, u, -59*time.Minute)
	if !locked(t, app, cfg, u) {
		t.Fatal("third lock over after 59 minutes")
	}
	moveFailures(t, app, u, -2*time.Minute)
	if locked(t, app, cfg, u) {
		t.Fatal("third lock on after 61 minutes")
	}
}

func TestMFALockWindowCapAndReset(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)

	// A previous lock 1 hour ago with a 1000-minute window: the next one is capped at 1440.
	testkit.SetField(t, app, u, "mfa_lock_started_at", time.Now().Add(-time.Hour))
	testkit.SetField(t, app, u, "mfa_lock_window", 1000)
	if started, w := fail(t, app, cfg, u, 10); !started || w != 1440 {
		t.Fatalf("capped lock: started=%v window=%d, want true/1440", started, w)
	}
	moveFailures(t, app, u, -23*time.Hour)
	if !locked(t, app, cfg, u) {
		t.Fatal("24-h lock over after 23 h")
	}

	// The previous lock started more than 24 h ago: W is 15 minutes again, and a new lock
	// starts with 15 minutes.
	v := newStaff(t, app)
	testkit.SetField(t, app, v, "mfa_lock_started_at", time.Now().Add(-25*time.Hour))
	testkit.SetField(t, app, v, "mfa_lock_window", 240)
	fail(t, app, cfg, v, 10)
	if got := testkit.Reload(t, app, v).GetInt("mfa_lock_window"); got != 15 {
		t.Fatalf("window after an old lock %d, want 15", got)
	}
	moveFailures(t, app, v, -16*time.Minute)
	if locked(t, app, cfg, v) {
		t.Fatal("locked after 16 minutes although the previous lock was more than 24 h old")
	}

	// While the latest lock is recent, its window is the counting window: 10 failures 20
	// minutes old still lock an account whose last lock (30 min window) started an hour ago.
	w := newEmployee(t, app)
	testkit.SetField(t, app, w, "mfa_lock_started_at", time.Now().Add(-time.Hour))
	testkit.SetField(t, app, w, "mfa_lock_window", 30)
	fail(t, app, cfg, w, 9)
	moveFailures(t, app, w, -20*time.Minute)
	if locked(t, app, cfg, w) {
		t.Fatal("locked with 9 failures")
	}
	if started, win := fail(t, app, cfg, w, 1); !started || win != 60 {
		t.Fatalf("lock counting a 30-min window: started=%v window=%d, want true/60", started, win)
	}
}

func TestSuccessfulVerificationClearsOTPFailures(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	fail(t, app, cfg, u, 9)
	code, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, code); !ok {
		t.Fatal("code refused")
	}
	if n, _ := app.CountRecords(colAuthFailures, otpFailureExp(u)); n != 0 {
		t.Fatalf("%d OTP failures left after a successful verification", n)
	}
	if started, _ := fail(t, app, cfg, u, 9); started || locked(t, app, cfg, u) {
		t.Fatal("counter not reset by the successful verification")
	}

	// Recovery codes and TOTP clear failures too.
	codes, _ := GenerateRecoveryCodes(app, cfg, realm.TypeStaff, u.Id)
	if ok, _, _ := UseRecoveryCode(app, realm.TypeStaff, u.Id, codes[0]); !ok {
		t.Fatal("recovery code refused")
	}
	if n, _ := app.CountRecords(colAuthFailures, otpFailureExp(u)); n != 0 {
		t.Fatalf("%d OTP failures left after a recovery code", n)
	}
	fail(t, app, cfg, u, 3)
	secret := enableTOTP(t, app, cfg, u) // confirmation is a successful verification
	if n, _ := app.CountRecords(colAuthFailures, otpFailureExp(u)); n != 0 {
		t.Fatalf("%d OTP failures left after TOTP confirmation", n)
	}
	fail(t, app, cfg, u, 3)
	now := waitForFreshStep()
	if ok, _ := VerifyTOTP(app, cfg, u, codeAt(t, secret, now.Add(30*time.Second))); !ok {
		t.Fatal("TOTP refused")
	}
	if n, _ := app.CountRecords(colAuthFailures, otpFailureExp(u)); n != 0 {
		t.Fatalf("%d OTP failures left after TOTP", n)
	}
}

func TestMFALockIsPerAccount(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	e := newEmployee(t, app)
	fail(t, app, cfg, u, 10)
	if !locked(t, app, cfg, u) || locked(t, app, cfg, e) {
		t.Fatal("lock leaked between accounts")
	}
	if started, _ := fail(t, app, cfg, e, 10); !started || !locked(t, app, cfg, e) {
		t.Fatal("employee not locked after 10 failures")
	}
}

func TestRecordOTPFailureConcurrentStartsOneLock(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	fail(t, app, cfg, u, 8)
	starts := testkit.Concurrently(t, 6, func() (bool, error) {
		own, err := app.FindRecordById("users", u.Id)
		if err != nil {
			return false, err
		}
		s, _, err := RecordOTPFailure(app, cfg, own, "")
		return s, err
	})
	if starts != 1 {
		t.Fatalf("%d concurrent lock starts, want 1", starts)
	}
}
