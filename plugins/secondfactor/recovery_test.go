package secondfactor

import (
	"regexp"
	"strings"
	"testing"

	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

var recoveryFormat = regexp.MustCompile(`^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{5}-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{5}$`)

func TestGenerateRecoveryCodes(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	codes, err := GenerateRecoveryCodes(app, cfg, realm.TypeStaff, u.Id)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryFormat.MatchString(c) {
			t.Fatalf("code %q does not match XXXXX-XXXXX over the alphabet", c)
		}
		if seen[c] {
			t.Fatalf("duplicate code %q", c)
		}
		seen[c] = true
	}

	exp, _ := principalExp(realm.TypeStaff, u.Id)
	rows, err := app.FindAllRecords(colRecoveryCodes, exp)
	if err != nil || len(rows) != 10 {
		t.Fatalf("%d rows (%v)", len(rows), err)
	}
	hashes := map[string]bool{}
	for _, r := range rows {
		h := r.GetString("code_hash")
		hashes[h] = true
		for _, c := range codes {
			norm := strings.ReplaceAll(c, "-", "")
			for _, field := range []string{"code_hash", "id", "user", "user_type", "used_at"} {
				v := r.GetString(field)
				if strings.Contains(v, c) || strings.Contains(v, norm) {
					t.Fatalf("row field %s contains the plaintext code", field)
				}
			}
		}
	}
	for _, c := range codes {
		if !hashes[sha256Hex(strings.ReplaceAll(c, "-", ""))] {
			t.Fatalf("no row holds SHA-256 of the normalised %q", c)
		}
	}
}

func TestRandomStringAlphabet(t *testing.T) {
	t.Parallel()
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		s, err := randomString(RecoveryAlphabet, RecoveryCodeLength)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s {
			counts[r]++
		}
	}
	if len(counts) != len(RecoveryAlphabet) {
		t.Fatalf("%d distinct characters seen, want %d", len(counts), len(RecoveryAlphabet))
	}
	// 20,000 draws over 32 symbols: mean 625 each.
	for r, n := range counts {
		if !strings.ContainsRune(RecoveryAlphabet, r) {
			t.Fatalf("character %q outside the alphabet", r)
		}
		if n < 450 || n > 800 {
			t.Fatalf("character %q drawn %d times; distribution looks biased", r, n)
		}
	}
}

func TestUseRecoveryCode(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	codes, err := GenerateRecoveryCodes(app, cfg, realm.TypeStaff, u.Id)
	if err != nil {
		t.Fatal(err)
	}

	lowerNoHyphen := strings.ToLower(strings.ReplaceAll(codes[0], "-", ""))
	ok, remaining, err := UseRecoveryCode(app, realm.TypeStaff, u.Id, lowerNoHyphen)
	if err != nil || !ok || remaining != 9 {
		t.Fatalf("lower-case code without hyphen: ok=%v remaining=%d err=%v", ok, remaining, err)
	}
	ok, remaining, err = UseRecoveryCode(app, realm.TypeStaff, u.Id, codes[0])
	if err != nil || ok || remaining != 9 {
		t.Fatalf("reused code: ok=%v remaining=%d err=%v", ok, remaining, err)
	}
	ok, remaining, _ = UseRecoveryCode(app, realm.TypeStaff, u.Id, strings.ToLower(codes[1]))
	if !ok || remaining != 8 {
		t.Fatalf("lower-case code with hyphen: ok=%v remaining=%d", ok, remaining)
	}
	ok, remaining, _ = UseRecoveryCode(app, realm.TypeStaff, u.Id, strings.ReplaceAll(codes[2], "-", ""))
	if !ok || remaining != 7 {
		t.Fatalf("upper-case code without hyphen: ok=%v remaining=%d", ok, remaining)
	}
	for _, bad := range []string{"", "AAAAA-AAAAA", "ABCDE", codes[3] + "X", "IIIII-OOOOO"} {
		if ok, remaining, _ := UseRecoveryCode(app, realm.TypeStaff, u.Id, bad); ok || remaining != 7 {
			t.Fatalf("bad input %q: ok=%v remaining=%d", bad, ok, remaining)
		}
	}
	if n, _ := CountRecoveryCodes(app, realm.TypeStaff, u.Id); n != 7 {
		t.Fatalf("count %d", n)
	}

	// Another principal cannot use them.
	other := newStaff(t, app)
	if _, err := GenerateRecoveryCodes(app, cfg, realm.TypeStaff, other.Id); err != nil {
		t.Fatal(err)
	}
	if ok, remaining, _ := UseRecoveryCode(app, realm.TypeStaff, other.Id, codes[4]); ok || remaining != 10 {
		t.Fatalf("A's code used by B: ok=%v remaining=%d", ok, remaining)
	}
}

func TestRegenerateAndDeleteRecoveryCodes(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	e := newEmployee(t, app)
	old, err := GenerateRecoveryCodes(app, cfg, realm.TypeEmployee, e.Id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := UseRecoveryCode(app, realm.TypeEmployee, e.Id, old[0]); !ok {
		t.Fatal("fresh code refused")
	}
	fresh, err := GenerateRecoveryCodes(app, cfg, realm.TypeEmployee, e.Id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := CountRecoveryCodes(app, realm.TypeEmployee, e.Id); n != 10 {
		t.Fatalf("%d codes after regeneration", n)
	}
	exp, _ := principalExp(realm.TypeEmployee, e.Id)
	if rows, _ := app.FindAllRecords(colRecoveryCodes, exp); len(rows) != 10 {
		t.Fatalf("%d rows after regeneration (old ones not deleted)", len(rows))
	}
	for _, c := range old[1:] {
		if ok, _, _ := UseRecoveryCode(app, realm.TypeEmployee, e.Id, c); ok {
			t.Fatal("old code works after regeneration")
		}
	}
	if ok, remaining, _ := UseRecoveryCode(app, realm.TypeEmployee, e.Id, fresh[9]); !ok || remaining != 9 {
		t.Fatalf("new code: ok=%v remaining=%d", ok, remaining)
	}
	if err := DeleteRecoveryCodes(app, realm.TypeEmployee, e.Id); err != nil {
		t.Fatal(err)
	}
	if rows, _ := app.FindAllRecords(colRecoveryCodes, exp); len(rows) != 0 {
		t.Fatalf("%d rows after delete", len(rows))
	}
	if ok, remaining, _ := UseRecoveryCode(app, realm.TypeEmployee, e.Id, fresh[0]); ok || remaining != 0 {
		t.Fatalf("deleted code: ok=%v remaining=%d", ok, remaining)
	}
}

func TestUseRecoveryCodeConcurrent(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	codes, err := GenerateRecoveryCodes(app, cfg, realm.TypeStaff, u.Id)
	if err != nil {
		t.Fatal(err)
	}
	wins := testkit.Concurrently(t, 12, func() (bool, error) {
		ok, _, err := UseRecoveryCode(app, realm.TypeStaff, u.Id, codes[5])
		return ok, err
	})
	if wins != 1 {
		t.Fatalf("%d concurrent uses passed, want 1", wins)
	}
}
