package secondfactor

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

func codeRows(t *testing.T, app core.App, principalType, principalID string) []*core.Record {
	t.Helper()
	exp, err := principalExp(principalType, principalID)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := app.FindAllRecords(colOTPCodes, exp)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestIssueEmailCodeStoresOnlyMAC(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)

	code, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil || throttled {
		t.Fatalf("issue: throttled=%v err=%v", throttled, err)
	}
	if !isDigits(code, 6) {
		t.Fatalf("code %q is not 6 digits", code)
	}
	rows := codeRows(t, app, realm.TypeStaff, u.Id)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.GetString("purpose") != "login" || r.GetString("user_type") != "staff" || r.GetString("user") != u.Id ||
		r.GetString("employee") != "" || r.GetInt("attempts") != 0 || !r.GetDateTime("used_at").IsZero() {
		t.Fatalf("row %v", r.PublicExport())
	}
	if d := time.Until(r.GetDateTime("expires_at").Time()); d < cfg.EmailOTPTTL-time.Minute || d > cfg.EmailOTPTTL {
		t.Fatalf("expires in %v", d)
	}
	hash := r.GetString("code_hash")
	if len(hash) != 64 {
		t.Fatalf("code_hash %q", hash)
	}
	for _, k := range []string{"purpose", "user_type", "user", "employee", "expires_at", "used_at", "code_hash", "id"} {
		if r.GetString(k) == code {
			t.Fatalf("field %s holds the plaintext code", k)
		}
	}
	if hash != cfg.Secret.MAC("otp", emailCodeMACInput(realm.TypeStaff, u.Id, PurposeLogin, code)) {
		t.Fatal("code_hash is not the principal-bound MAC of the code")
	}
}

func TestRandomDigitsUniformAndPadded(t *testing.T) {
	t.Parallel()
	leading := 0
	for i := 0; i < 3000; i++ {
		c, err := randomDigits(6)
		if err != nil {
			t.Fatal(err)
		}
		if !isDigits(c, 6) {
			t.Fatalf("%q", c)
		}
		if c[0] == '0' {
			leading++
		}
	}
	// ~10% of uniform 6-digit codes start with 0 (mean 300, sd ~16).
	if leading < 200 || leading > 400 {
		t.Fatalf("%d of 3000 codes start with 0; not uniform or not padded", leading)
	}
}

func TestVerifyEmailCodeSingleUse(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	e := newEmployee(t, app)
	code, _, err := IssueEmailCode(app, cfg, realm.TypeEmployee, e.Id, PurposeSetup)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyEmailCode(app, cfg, realm.TypeEmployee, e.Id, PurposeSetup, code); err != nil || !ok {
		t.Fatalf("right code refused: ok=%v err=%v", ok, err)
	}
	if ok, err := VerifyEmailCode(app, cfg, realm.TypeEmployee, e.Id, PurposeSetup, code); err != nil || ok {
		t.Fatalf("code used twice: ok=%v err=%v", ok, err)
	}
	if codeRows(t, app, realm.TypeEmployee, e.Id)[0].GetDateTime("used_at").IsZero() {
		t.Fatal("used_at not set")
	}
	// Once the code is used it is no longer live: a new one is issued at once (no cooldown).
	code2, throttled, err := IssueEmailCode(app, cfg, realm.TypeEmployee, e.Id, PurposeSetup)
	if err != nil || throttled || code2 == "" {
		t.Fatalf("reissue after use: throttled=%v err=%v", throttled, err)
	}
}

func TestVerifyEmailCodeConcurrentSingleUse(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	code, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil {
		t.Fatal(err)
	}
	wins := testkit.Concurrently(t, 16, func() (bool, error) {
		return VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, code)
	})
	if wins != 1 {
		t.Fatalf("%d concurrent uses passed, want 1", wins)
	}
}

func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestVerifyEmailCodeDiesAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	code, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if ok, err := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, wrongCode(code)); err != nil || ok {
			t.Fatalf("wrong code %d: ok=%v err=%v", i, ok, err)
		}
	}
	if got := codeRows(t, app, realm.TypeStaff, u.Id)[0].GetInt("attempts"); got != 4 {
		t.Fatalf("attempts = %d, want 4", got)
	}
	if live, _ := HasLiveEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin); !live {
		t.Fatal("code dead after 4 wrong attempts")
	}
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, wrongCode(code)); ok {
		t.Fatal("5th wrong code accepted")
	}
	if got := codeRows(t, app, realm.TypeStaff, u.Id)[0].GetInt("attempts"); got != 5 {
		t.Fatalf("attempts = %d, want 5", got)
	}
	if ok, err := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, code); err != nil || ok {
		t.Fatalf("right code accepted after 5 wrong attempts: ok=%v err=%v", ok, err)
	}
	if live, _ := HasLiveEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin); live {
		t.Fatal("dead code still live")
	}
	// Further wrong tries do not touch the dead code.
	_, _ = VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, wrongCode(code))
	if got := codeRows(t, app, realm.TypeStaff, u.Id)[0].GetInt("attempts"); got != 5 {
		t.Fatalf("attempts = %d after death, want 5", got)
	}
	// A dead code does not hold the cooldown.
	if _, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin); err != nil || throttled {
		t.Fatalf("reissue after death: throttled=%v err=%v", throttled, err)
	}
}

func TestVerifyEmailCodeRightAfterSomeWrong(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	code, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage)
	for i := 0; i < 4; i++ {
		_, _ = VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage, wrongCode(code))
	}
	if ok, err := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage, code); err != nil || !ok {
		t.Fatalf("right code after 4 wrong refused: ok=%v err=%v", ok, err)
	}
}

func TestVerifyEmailCodeExpiry(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	code, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	row := codeRows(t, app, realm.TypeStaff, u.Id)[0]
	row.Set("expires_at", time.Now().Add(-time.Second))
	if err := app.Save(row); err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, code); err != nil || ok {
		t.Fatalf("expired code accepted: ok=%v err=%v", ok, err)
	}
	// An expired code is not live: a new one is issued at once.
	if _, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin); err != nil || throttled {
		t.Fatalf("reissue after expiry: throttled=%v err=%v", throttled, err)
	}
}

func TestIssueEmailCodeCooldown(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	first, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil {
		t.Fatal(err)
	}
	code, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil || !throttled || code != "" {
		t.Fatalf("second issue within the cooldown: code=%q throttled=%v err=%v", code, throttled, err)
	}
	if n := len(codeRows(t, app, realm.TypeStaff, u.Id)); n != 1 {
		t.Fatalf("%d rows after a throttled issue", n)
	}
	// The cooldown is per purpose.
	if _, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage); err != nil || throttled {
		t.Fatalf("other purpose throttled: %v %v", throttled, err)
	}

	// 61 s later (issue instant = expires_at − TTL, moved through expires_at) a new code is
	// issued and the old one stops working.
	exp, _ := principalExp(realm.TypeStaff, u.Id)
	testkit.ShiftDates(t, app, colOTPCodes, "expires_at", -61*time.Second, dbx.And(exp, dbx.HashExp{"purpose": "login"}))
	second, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	if err != nil || throttled || second == "" {
		t.Fatalf("issue after the cooldown: throttled=%v err=%v", throttled, err)
	}
	if first != second {
		if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, first); ok {
			t.Fatal("superseded code accepted")
		}
	}
	if ok, err := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, second); err != nil || !ok {
		t.Fatalf("new code refused: ok=%v err=%v", ok, err)
	}
	live := 0
	for _, r := range codeRows(t, app, realm.TypeStaff, u.Id) {
		if r.GetString("purpose") == "login" && r.GetDateTime("used_at").IsZero() {
			live++
		}
	}
	if live != 0 {
		t.Fatalf("%d unused login codes left", live)
	}
}

func TestIssueEmailCodeConcurrentOneLive(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	issued := testkit.Concurrently(t, 8, func() (bool, error) {
		code, throttled, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
		return code != "" && !throttled, err
	})
	if issued != 1 {
		t.Fatalf("%d codes issued concurrently, want 1 (the rest throttled)", issued)
	}
}

func TestEmailCodeBoundToPrincipalAndPurpose(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	a := newStaff(t, app)
	b := newStaff(t, app)
	emp := newEmployee(t, app)

	codeA, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, a.Id, PurposeLogin)
	codeB, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, b.Id, PurposeLogin)
	codeAManage, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, a.Id, PurposeManage)
	codeE, _, _ := IssueEmailCode(app, cfg, realm.TypeEmployee, emp.Id, PurposeLogin)

	// A's login code against B's live code; against A's manage code; against an employee.
	if codeA != codeB {
		if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, b.Id, PurposeLogin, codeA); ok {
			t.Fatal("A's code accepted for B")
		}
	}
	if codeA != codeAManage {
		if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, a.Id, PurposeManage, codeA); ok {
			t.Fatal("login code accepted for manage")
		}
	}
	// Independently of the random draw, the MAC binding makes equal codes differ per principal
	// and purpose.
	macA := cfg.Secret.MAC("otp", emailCodeMACInput(realm.TypeStaff, a.Id, PurposeLogin, "123456"))
	for _, other := range []string{
		emailCodeMACInput(realm.TypeStaff, b.Id, PurposeLogin, "123456"),
		emailCodeMACInput(realm.TypeStaff, a.Id, PurposeManage, "123456"),
		emailCodeMACInput(realm.TypeEmployee, a.Id, PurposeLogin, "123456"),
	} {
		if cfg.Secret.MAC("otp", other) == macA {
			t.Fatal("MAC not bound to principal and purpose")
		}
	}
	// A's own codes still work (B's attempt counted on B's row, not A's).
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, a.Id, PurposeLogin, codeA); !ok {
		t.Fatal("A's login code refused")
	}
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, a.Id, PurposeManage, codeAManage); !ok {
		t.Fatal("A's manage code refused")
	}
	// A staff code does not verify for an employee with the same purpose.
	if codeB != codeE {
		if ok, _ := VerifyEmailCode(app, cfg, realm.TypeEmployee, emp.Id, PurposeLogin, codeB); ok {
			t.Fatal("staff code accepted for an employee")
		}
	}
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, b.Id, PurposeLogin, codeB); !ok {
		t.Fatal("B's own code refused")
	}
}

func TestInvalidateEmailCodes(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	login, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin)
	manage, _, _ := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage)
	if err := InvalidateEmailCodes(app, realm.TypeStaff, u.Id, PurposeLogin); err != nil {
		t.Fatal(err)
	}
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeLogin, login); ok {
		t.Fatal("invalidated login code accepted")
	}
	if err := InvalidateEmailCodes(app, realm.TypeStaff, u.Id); err != nil {
		t.Fatal(err)
	}
	if ok, _ := VerifyEmailCode(app, cfg, realm.TypeStaff, u.Id, PurposeManage, manage); ok {
		t.Fatal("invalidated manage code accepted")
	}
}

func TestEmailCodeArgumentValidation(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	if _, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, u.Id, "reset"); err == nil {
		t.Fatal("unknown purpose accepted")
	}
	if _, _, err := IssueEmailCode(app, cfg, "admin", u.Id, PurposeLogin); err == nil {
		t.Fatal("unknown principal type accepted")
	}
	if _, _, err := IssueEmailCode(app, cfg, realm.TypeStaff, "", PurposeLogin); err == nil {
		t.Fatal("empty principal accepted")
	}
}
