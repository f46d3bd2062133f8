package secondfactor

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

const testJTI = "0123456789abcdef0123456789abcdef"

func TestCreateAndLoadChallenge(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	ch, err := CreateChallenge(app, cfg, realm.TypeStaff, u.Id, []string{"totp"}, testJTI, "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	stored := testkit.Reload(t, app, ch)
	if stored.GetString("jti_hash") != sha256Hex(testJTI) || stored.GetString("jti_hash") == testJTI {
		t.Fatalf("jti_hash %q", stored.GetString("jti_hash"))
	}
	for _, f := range []string{"jti_hash", "ip", "user", "methods", "id"} {
		if stored.GetString(f) == testJTI {
			t.Fatalf("%s holds the jti", f)
		}
	}
	if d := time.Until(stored.GetDateTime("expires_at").Time()); d < cfg.MFATokenTTL-time.Minute || d > cfg.MFATokenTTL {
		t.Fatalf("expires in %v", d)
	}
	if stored.GetString("ip") != "203.0.113.9" || stored.GetString("user_type") != "staff" {
		t.Fatal("ip/user_type not stored")
	}

	got, err := LoadChallenge(app, cfg, testJTI)
	if err != nil || got.Id != ch.Id {
		t.Fatalf("load: %v", err)
	}
	if typ, id := ChallengePrincipal(got); typ != realm.TypeStaff || id != u.Id {
		t.Fatalf("principal %s/%s", typ, id)
	}
	if m := ChallengeMethods(got); !slices.Equal(m, []string{"totp"}) {
		t.Fatalf("methods %v", m)
	}
	if _, err := LoadChallenge(app, cfg, "ffffffffffffffffffffffffffffffff"); !errors.Is(err, ErrChallengeInvalid) {
		t.Fatalf("unknown jti: %v", err)
	}
	if _, err := LoadChallenge(app, cfg, ""); !errors.Is(err, ErrChallengeInvalid) {
		t.Fatalf("empty jti: %v", err)
	}

	e := newEmployee(t, app)
	ech, err := CreateChallenge(app, cfg, realm.TypeEmployee, e.Id, []string{"email"}, "e-"+testJTI, "")
	if err != nil {
		t.Fatal(err)
	}
	if typ, id := ChallengePrincipal(ech); typ != realm.TypeEmployee || id != e.Id {
		t.Fatalf("employee principal %s/%s", typ, id)
	}
}

func TestChallengeWrongCodeLimit(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	ch, err := CreateChallenge(app, cfg, realm.TypeStaff, u.Id, []string{"totp"}, testJTI, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := LoadChallenge(app, cfg, testJTI); err != nil {
			t.Fatalf("challenge unusable after %d wrong codes: %v", i-1, err)
		}
		if ok, err := ReserveCode(app, cfg, ch); err != nil || !ok {
			t.Fatalf("code %d: reserved=%v err=%v", i, ok, err)
		}
	}
	if ch.GetInt("failed_attempts") != 5 || testkit.Reload(t, app, ch).GetInt("failed_attempts") != 5 {
		t.Fatalf("failed_attempts %d", ch.GetInt("failed_attempts"))
	}
	if ok, err := ReserveCode(app, cfg, ch); err != nil || ok {
		t.Fatalf("6th code reserved: ok=%v err=%v", ok, err)
	}
	if _, err := LoadChallenge(app, cfg, testJTI); !errors.Is(err, ErrChallengeInvalid) {
		t.Fatalf("dead challenge loaded: %v", err)
	}
}

// 25 codes at once on one token: exactly 5 are reserved (compared), whatever the interleaving.
func TestChallengeReserveUnderBurst(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	ch, _ := CreateChallenge(app, cfg, realm.TypeStaff, u.Id, []string{"totp"}, testJTI, "")
	wins := testkit.Concurrently(t, 25, func() (bool, error) {
		own, err := app.FindRecordById(colMFAChallenges, ch.Id)
		if err != nil {
			return false, err
		}
		return ReserveCode(app, cfg, own)
	})
	if wins != cfg.MFAMaxWrongCodes {
		t.Fatalf("%d of 25 concurrent codes reserved, want %d", wins, cfg.MFAMaxWrongCodes)
	}
}

func TestChallengeSingleUse(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	ch, _ := CreateChallenge(app, cfg, realm.TypeStaff, u.Id, []string{"totp"}, testJTI, "")
	if ok, err := ReserveCode(app, cfg, ch); err != nil || !ok {
		t.Fatalf("reserve: ok=%v err=%v", ok, err)
	}
	if ok, err := ConsumeChallenge(app, cfg, ch); err != nil || !ok {
		t.Fatalf("first consume: ok=%v err=%v", ok, err)
	}
	// the right code's reservation is given back
	if n := testkit.Reload(t, app, ch).GetInt("failed_attempts"); n != 0 {
		t.Fatalf("failed_attempts after a right code: %d", n)
	}
	if ok, err := ConsumeChallenge(app, cfg, ch); err != nil || ok {
		t.Fatalf("second consume: ok=%v err=%v", ok, err)
	}
	if _, err := LoadChallenge(app, cfg, testJTI); !errors.Is(err, ErrChallengeInvalid) {
		t.Fatalf("consumed challenge loaded: %v", err)
	}
	// No code is reserved (compared) on a consumed challenge.
	if ok, err := ReserveCode(app, cfg, ch); err != nil || ok {
		t.Fatalf("reserve on a consumed challenge: ok=%v err=%v", ok, err)
	}
}

func TestChallengeConcurrentConsume(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	ch, _ := CreateChallenge(app, cfg, realm.TypeStaff, u.Id, []string{"totp"}, testJTI, "")
	wins := testkit.Concurrently(t, 16, func() (bool, error) {
		own, err := app.FindRecordById(colMFAChallenges, ch.Id)
		if err != nil {
			return false, err
		}
		if ok, err := ReserveCode(app, cfg, own); err != nil || !ok {
			return false, err
		}
		return ConsumeChallenge(app, cfg, own)
	})
	if wins != 1 {
		t.Fatalf("%d concurrent consumes passed, want 1", wins)
	}
}

func TestChallengeExpiry(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	u := newStaff(t, app)
	ch, _ := CreateChallenge(app, cfg, realm.TypeStaff, u.Id, []string{"email"}, testJTI, "")
	testkit.SetField(t, app, ch, "expires_at", time.Now().Add(-time.Second))
	if _, err := LoadChallenge(app, cfg, testJTI); !errors.Is(err, ErrChallengeInvalid) {
		t.Fatalf("expired challenge loaded: %v", err)
	}
	if ok, _ := ConsumeChallenge(app, cfg, ch); ok {
		t.Fatal("expired challenge consumed")
	}
}
