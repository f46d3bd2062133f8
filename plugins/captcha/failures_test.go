package captcha

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

func record(t *testing.T, app core.App, cfg *config.Config, email, ip, userType, principalID string) bool {
	t.Helper()
	started, err := RecordPasswordFailure(app, cfg, email, ip, userType, principalID)
	if err != nil {
		t.Fatal(err)
	}
	return started
}

func required(t *testing.T, app core.App, cfg *config.Config, email, ip string) bool {
	t.Helper()
	r, err := Required(app, cfg, email, ip)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRequiredByEmail(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	const email = "ghost@example.com" // no such account

	record(t, app, cfg, "Ghost@Example.com", "10.0.0.1", "staff", "")
	record(t, app, cfg, email, "10.0.0.2", "employee", "")
	if required(t, app, cfg, email, "10.0.0.9") {
		t.Fatal("required after 2 failures")
	}
	record(t, app, cfg, email, "10.0.0.3", "staff", "")
	if !required(t, app, cfg, email, "10.0.0.9") || !required(t, app, cfg, "GHOST@example.com ", "10.0.0.9") {
		t.Fatal("not required after 3 failures for the email (any case)")
	}
	if required(t, app, cfg, "other@example.com", "10.0.0.9") || required(t, app, cfg, "", "10.0.0.1") {
		t.Fatal("email state leaked to another email or to the IPs")
	}
	rows, _ := app.FindAllRecords(colAuthFailures, dbx.HashExp{"email": email})
	if len(rows) != 3 || rows[0].GetString("kind") != "password" || rows[0].GetString("principal_id") != "" {
		t.Fatalf("%d rows stored under the lower-cased email", len(rows))
	}

	// The window is sliding on occurred_at: 16 minutes back, the state ends (§8.4 st. 81).
	testkit.ShiftDates(t, app, colAuthFailures, "occurred_at", -16*time.Minute, dbx.HashExp{"email": email})
	if required(t, app, cfg, email, "10.0.0.9") {
		t.Fatal("still required with all failures 16 minutes old")
	}
	// Two old + one new failure: not required.
	record(t, app, cfg, email, "10.0.0.3", "staff", "")
	if required(t, app, cfg, email, "10.0.0.9") {
		t.Fatal("old failures counted")
	}
}

func TestRequiredByIP(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	const ip = "198.51.100.20"
	for i := 0; i < 9; i++ {
		record(t, app, cfg, fmt.Sprintf("u%d@example.com", i), ip, "staff", "")
	}
	if required(t, app, cfg, "new@example.com", ip) {
		t.Fatal("required after 9 IP failures")
	}
	record(t, app, cfg, "u9@example.com", ip, "staff", "")
	if !required(t, app, cfg, "new@example.com", ip) || !required(t, app, cfg, "", ip) {
		t.Fatal("not required after 10 failures from the IP")
	}
	if r, _ := RequiredForIP(app, cfg, ip); !r {
		t.Fatal("RequiredForIP false")
	}
	if required(t, app, cfg, "new@example.com", "198.51.100.21") {
		t.Fatal("IP state leaked to another IP")
	}
	testkit.ShiftDates(t, app, colAuthFailures, "occurred_at", -16*time.Minute, dbx.HashExp{"ip": ip})
	if required(t, app, cfg, "", ip) {
		t.Fatal("IP state survived 16 minutes")
	}
}

func TestRegistrationFailuresCountForIPOnly(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	const ip = "192.0.2.77"
	const taken = "taken@example.com"
	for i := 0; i < 10; i++ {
		// A rejected registration: empty email, no account (§6.1, §8.4 st. 80).
		record(t, app, cfg, "", ip, "employee", "")
	}
	if r, _ := RequiredForIP(app, cfg, ip); !r {
		t.Fatal("IP not in the CAPTCHA state after 10 rejected registrations")
	}
	if r, _ := RequiredForEmail(app, cfg, taken); r {
		t.Fatal("taken email in the CAPTCHA state")
	}
	if r, _ := RequiredForEmail(app, cfg, ""); r {
		t.Fatal("empty email in the CAPTCHA state")
	}
	if required(t, app, cfg, taken, "192.0.2.78") {
		t.Fatal("taken email required from another IP")
	}
}

func TestPasswordVerifiedResetsEmailCounter(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newPrincipal(t, app, "users")
	email := u.GetString("email")
	record(t, app, cfg, email, "10.1.0.1", "staff", u.Id)
	record(t, app, cfg, email, "10.1.0.1", "staff", u.Id)
	if err := PasswordVerified(app, u); err != nil {
		t.Fatal(err)
	}
	record(t, app, cfg, email, "10.1.0.1", "staff", u.Id)
	if r, _ := RequiredForEmail(app, cfg, email); r {
		t.Fatal("failures before the successful verification still count for the email")
	}
	record(t, app, cfg, email, "10.1.0.2", "staff", u.Id)
	record(t, app, cfg, email, "10.1.0.2", "staff", u.Id)
	if r, _ := RequiredForEmail(app, cfg, email); !r {
		t.Fatal("3 failures after the verification do not count")
	}
	// The IP state keeps every failure.
	n, _ := app.CountRecords(colAuthFailures, dbx.HashExp{"ip": "10.1.0.1", "kind": "password"})
	if n != 3 {
		t.Fatalf("%d IP rows, want 3", n)
	}
	if testkit.Reload(t, app, u).GetDateTime("lock_counter_reset_at").IsZero() {
		t.Fatal("lock_counter_reset_at not set")
	}
}

func TestLockoutAtTenthFailure(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newPrincipal(t, app, "users")
	email := u.GetString("email")
	for i := 1; i <= 9; i++ {
		if record(t, app, cfg, email, fmt.Sprintf("10.2.0.%d", i), "staff", u.Id) {
			t.Fatalf("lock started at failure %d", i)
		}
	}
	if IsLocked(testkit.Reload(t, app, u)) {
		t.Fatal("locked after 9 failures")
	}
	if !record(t, app, cfg, email, "10.2.0.10", "staff", u.Id) {
		t.Fatal("10th failure did not start a lock")
	}
	fresh := testkit.Reload(t, app, u)
	if !IsLocked(fresh) {
		t.Fatal("not locked")
	}
	until := fresh.GetDateTime("locked_until").Time()
	if d := time.Until(until); d < cfg.LockDuration-time.Minute || d > cfg.LockDuration {
		t.Fatalf("locked for %v", d)
	}

	// While locked: failures are recorded (CAPTCHA counters) but neither extend the lock nor
	// start another one.
	for i := 0; i < 12; i++ {
		if record(t, app, cfg, email, "10.2.1.1", "staff", u.Id) {
			t.Fatal("lock started while locked")
		}
	}
	if !testkit.Reload(t, app, u).GetDateTime("locked_until").Time().Equal(until) {
		t.Fatal("lock extended")
	}
	if r, _ := RequiredForIP(app, cfg, "10.2.1.1"); !r {
		t.Fatal("failures during the lock not recorded for the IP")
	}

	// The lock ends when locked_until passes; failures during the lock do not count toward
	// the next one, so 9 new failures do not lock and the 10th does.
	// Simulate time passing: every failure so far moves 2 minutes back (still inside the
	// 15-minute window) and the lock ended 1 minute ago, after all of them.
	testkit.ShiftDates(t, app, colAuthFailures, "occurred_at", -2*time.Minute, dbx.HashExp{"principal_id": u.Id})
	testkit.SetField(t, app, u, "locked_until", time.Now().Add(-time.Minute))
	if IsLocked(testkit.Reload(t, app, u)) {
		t.Fatal("still locked")
	}
	for i := 0; i < 9; i++ {
		if record(t, app, cfg, email, "10.2.2.1", "staff", u.Id) {
			t.Fatalf("failures of the previous lock counted (lock at %d)", i+1)
		}
	}
	if !record(t, app, cfg, email, "10.2.2.1", "staff", u.Id) {
		t.Fatal("no second lock at the 10th failure after the first lock")
	}
}

func TestLockoutWindowAndResetAt(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)

	// Failures older than 15 minutes do not count.
	u := newPrincipal(t, app, "users")
	for i := 0; i < 9; i++ {
		record(t, app, cfg, u.GetString("email"), "10.3.0.1", "staff", u.Id)
	}
	testkit.ShiftDates(t, app, colAuthFailures, "occurred_at", -16*time.Minute, dbx.HashExp{"principal_id": u.Id})
	for i := 0; i < 9; i++ {
		if record(t, app, cfg, u.GetString("email"), "10.3.0.1", "staff", u.Id) {
			t.Fatal("failures older than the window counted")
		}
	}
	if !record(t, app, cfg, u.GetString("email"), "10.3.0.1", "staff", u.Id) {
		t.Fatal("10 failures within the window did not lock")
	}

	// Failures before lock_counter_reset_at (a successful verification) do not count.
	e := newPrincipal(t, app, "employees")
	for i := 0; i < 5; i++ {
		record(t, app, cfg, e.GetString("email"), "10.3.0.2", "employee", e.Id)
	}
	if err := PasswordVerified(app, e); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // occurred_at has millisecond precision
	for i := 0; i < 9; i++ {
		if record(t, app, cfg, e.GetString("email"), "10.3.0.2", "employee", e.Id) {
			t.Fatal("failures before lock_counter_reset_at counted")
		}
	}
	if !record(t, app, cfg, e.GetString("email"), "10.3.0.2", "employee", e.Id) {
		t.Fatal("employee not locked at the 10th failure after the reset")
	}

	// lock_counter_reset_at set directly (as a superuser edit would) is honoured too.
	v := newPrincipal(t, app, "users")
	for i := 0; i < 9; i++ {
		record(t, app, cfg, v.GetString("email"), "10.3.0.3", "staff", v.Id)
	}
	testkit.SetField(t, app, v, "lock_counter_reset_at", time.Now())
	time.Sleep(5 * time.Millisecond)
	if record(t, app, cfg, v.GetString("email"), "10.3.0.3", "staff", v.Id) {
		t.Fatal("lock_counter_reset_at ignored")
	}
}

func TestUnlock(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newPrincipal(t, app, "users")
	for i := 0; i < 10; i++ {
		record(t, app, cfg, u.GetString("email"), "10.4.0.1", "staff", u.Id)
	}
	fresh := testkit.Reload(t, app, u)
	if !IsLocked(fresh) {
		t.Fatal("not locked")
	}
	if err := Unlock(app, fresh); err != nil {
		t.Fatal(err)
	}
	if IsLocked(fresh) || IsLocked(testkit.Reload(t, app, u)) {
		t.Fatal("still locked after Unlock")
	}
	time.Sleep(5 * time.Millisecond)
	for i := 0; i < 9; i++ {
		if record(t, app, cfg, u.GetString("email"), "10.4.0.1", "staff", u.Id) {
			t.Fatal("failures before the unlock counted")
		}
	}
}

func TestUnknownAccountNeverLocks(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	for i := 0; i < 12; i++ {
		if record(t, app, cfg, "nobody@example.com", "10.5.0.1", "staff", "") {
			t.Fatal("lock started without an account")
		}
	}
	// A principal id that does not exist (deleted account) does not fail.
	if record(t, app, cfg, "gone@example.com", "10.5.0.1", "staff", "doesnotexist123") {
		t.Fatal("lock started for a missing account")
	}
	if _, err := RecordPasswordFailure(app, cfg, "x@example.com", "10.5.0.1", "admin", ""); err == nil {
		t.Fatal("invalid user type accepted")
	}
}

func TestConcurrentFailuresStartOneLock(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newPrincipal(t, app, "users")
	for i := 0; i < 8; i++ {
		record(t, app, cfg, u.GetString("email"), "10.6.0.1", "staff", u.Id)
	}
	starts := testkit.Concurrently(t, 8, func() (bool, error) {
		return RecordPasswordFailure(app, cfg, u.GetString("email"), "10.6.0.1", "staff", u.Id)
	})
	if starts != 1 {
		t.Fatalf("%d lock starts, want 1", starts)
	}
}
