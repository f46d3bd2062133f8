package secondfactor

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pquerna/otp/totp"

	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

func setup(t *testing.T) (*tests.TestApp, *config.Config) {
	t.Helper()
	return testkit.NewApp(t), testkit.Config()
}

func newStaff(t *testing.T, app core.App) *core.Record    { return newPrincipal(t, app, "users") }
func newEmployee(t *testing.T, app core.App) *core.Record { return newPrincipal(t, app, "employees") }

// codeAt is the TOTP code of secret at t, computed independently by pquerna/otp.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// waitForFreshStep sleeps until at least 8 s of the current 30-s step remain, so a test that
// uses the real clock cannot cross a step boundary by accident.
func waitForFreshStep() time.Time {
	for {
		now := time.Now()
		left := TOTPPeriod - now.Unix()%TOTPPeriod
		if left >= 8 {
			return now
		}
		time.Sleep(time.Duration(left)*time.Second + 50*time.Millisecond)
	}
}

// enableTOTP gives the principal an active TOTP secret through the public setup API.
func enableTOTP(t *testing.T, app core.App, cfg *config.Config, p *core.Record) string {
	t.Helper()
	secret, _, _, err := BeginTOTPSetup(app, cfg, p, "Gatehouse", p.GetString("email"))
	if err != nil {
		t.Fatal(err)
	}
	now := waitForFreshStep()
	ok, err := ConfirmTOTPSetup(app, cfg, p, codeAt(t, secret, now))
	if err != nil || !ok {
		t.Fatalf("confirm: ok=%v err=%v", ok, err)
	}
	return secret
}

// Shared record helpers (testkit), under this package's names.
func newPrincipal(t *testing.T, app core.App, collection string) *core.Record {
	t.Helper()
	return testkit.NewPrincipal(t, app, collection, "person")
}
