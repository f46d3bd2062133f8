package captcha

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/testkit"
)

const testAnswer = "ACDEFG"

// newChallenge generates a challenge whose answer is known (the dev-mode test answer path).
func newChallenge(t *testing.T, app core.App, cfg *config.Config) string {
	t.Helper()
	c := *cfg
	c.CaptchaTestAnswer = strings.ToLower(testAnswer)
	id, _, err := generate(app, &c, "192.0.2.1", true)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func challenge(t *testing.T, app core.App, id string) *core.Record {
	t.Helper()
	r, err := app.FindRecordById(colChallenges, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAlphabet(t *testing.T) {
	t.Parallel()
	if len(Alphabet) != 29 {
		t.Fatalf("alphabet has %d characters, want 29", len(Alphabet))
	}
	seen := map[rune]bool{}
	for _, r := range Alphabet {
		if seen[r] {
			t.Fatalf("duplicate %q", r)
		}
		seen[r] = true
		if strings.ContainsRune("BIOST01", r) {
			t.Fatalf("ambiguous character %q in the alphabet", r)
		}
		if _, ok := glyphs[byte(r)]; !ok {
			t.Fatalf("no glyph for %q", r)
		}
	}
	counts := map[byte]int{}
	for i := 0; i < 1000; i++ {
		a, err := randomAnswer()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidTestAnswer(a) {
			t.Fatalf("answer %q not 6 alphabet characters", a)
		}
		for j := 0; j < len(a); j++ {
			counts[a[j]]++
		}
	}
	// 6000 draws over 29 symbols: mean ~207 each.
	if len(counts) != 29 {
		t.Fatalf("%d distinct characters drawn", len(counts))
	}
	for c, n := range counts {
		if n < 120 || n > 300 {
			t.Fatalf("%q drawn %d times; biased", c, n)
		}
	}
}

func TestGenerateImageAndRecord(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	id, dataURL, err := Generate(app, cfg, "203.0.113.5")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "data:image/png;base64,"
	if id == "" || !strings.HasPrefix(dataURL, prefix) {
		t.Fatalf("id %q, image %.40s", id, dataURL)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, prefix))
	if err != nil {
		t.Fatal(err)
	}
	cfgImg, err := png.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if cfgImg.Width != 200 || cfgImg.Height != 60 {
		t.Fatalf("image %d×%d, want 200×60", cfgImg.Width, cfgImg.Height)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ink := 0
	for y := 0; y < 60; y++ {
		for x := 0; x < 200; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0 {
				ink++
			}
		}
	}
	if ink < 500 {
		t.Fatalf("only %d drawn pixels", ink)
	}

	r := challenge(t, app, id)
	if len(r.GetString("answer_hash")) != 64 || r.GetString("ip") != "203.0.113.5" {
		t.Fatalf("record %v", r.PublicExport())
	}
	if d := time.Until(r.GetDateTime("expires_at").Time()); d < cfg.CaptchaTTL-time.Minute || d > cfg.CaptchaTTL {
		t.Fatalf("expires in %v", d)
	}
	for _, f := range []string{"guessed_at", "solved_at", "redeemed_at"} {
		if !r.GetDateTime(f).IsZero() {
			t.Fatalf("%s set on a new challenge", f)
		}
	}
}

func TestGenerateTestAnswer(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)

	id := newChallenge(t, app, cfg)
	r := challenge(t, app, id)
	if r.GetString("answer_hash") != cfg.Secret.MAC("captcha", testAnswer) {
		t.Fatal("answer_hash is not the MAC of the upper-cased test answer")
	}
	// No stored field holds the plaintext answer (§8.5 statement 49).
	for _, f := range []string{"id", "answer_hash", "ip", "expires_at", "guessed_at", "solved_at", "redeemed_at"} {
		if v := strings.ToUpper(r.GetString(f)); strings.Contains(v, testAnswer) {
			t.Fatalf("field %s contains the answer", f)
		}
	}
	if ok, err := Verify(app, cfg, id, testAnswer); err != nil || !ok {
		t.Fatalf("test answer refused: ok=%v err=%v", ok, err)
	}

	// Without --dev the variable is ignored.
	c := *cfg
	c.CaptchaTestAnswer = testAnswer
	prodID, _, err := Generate(app, &c, "192.0.2.1") // test apps are not dev apps
	if err != nil {
		t.Fatal(err)
	}
	if challenge(t, app, prodID).GetString("answer_hash") == cfg.Secret.MAC("captcha", testAnswer) {
		t.Fatal("CAPTCHA_TEST_ANSWER honoured outside dev mode")
	}

	// An invalid test answer is an error in dev mode.
	for _, bad := range []string{"ABCDEF", "ACDEF", "ACDEFGH", "acde1g"} {
		c.CaptchaTestAnswer = bad
		if _, _, err := generate(app, &c, "", true); !errors.Is(err, ErrInvalidTestAnswer) {
			t.Fatalf("test answer %q: %v", bad, err)
		}
	}
	if !ValidTestAnswer("acdefg") || !ValidTestAnswer(" 23456Z ") {
		t.Fatal("valid test answers refused")
	}
}

func TestVerifyOneGuess(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)

	// Wrong first guess burns the challenge: the right answer afterwards is invalid.
	id := newChallenge(t, app, cfg)
	if ok, err := Verify(app, cfg, id, "ZZZZZZ"); err != nil || ok {
		t.Fatalf("wrong answer: ok=%v err=%v", ok, err)
	}
	r := challenge(t, app, id)
	if r.GetDateTime("guessed_at").IsZero() || !r.GetDateTime("solved_at").IsZero() {
		t.Fatal("wrong guess: guessed_at not set or solved_at set")
	}
	if ok, _ := Verify(app, cfg, id, testAnswer); ok {
		t.Fatal("right answer accepted after a wrong guess")
	}
	if ok, _ := Redeem(app, cfg, id); ok {
		t.Fatal("unsolved challenge redeemed")
	}

	// Answers are used exactly as sent (§1.4): surrounding spaces make an answer wrong.
	id = newChallenge(t, app, cfg)
	if ok, _ := Verify(app, cfg, id, " acdefg "); ok {
		t.Fatal("a padded answer must not match")
	}

	// Right answer, any case: solved; a second guess, even right, is invalid.
	id = newChallenge(t, app, cfg)
	if ok, err := Verify(app, cfg, id, "acdefg"); err != nil || !ok {
		t.Fatalf("right lower-case answer: ok=%v err=%v", ok, err)
	}
	r = challenge(t, app, id)
	if r.GetDateTime("guessed_at").IsZero() || r.GetDateTime("solved_at").IsZero() || !r.GetDateTime("redeemed_at").IsZero() {
		t.Fatal("solved challenge fields wrong")
	}
	if ok, _ := Verify(app, cfg, id, testAnswer); ok {
		t.Fatal("second guess accepted")
	}

	// Unknown and expired challenges.
	if ok, err := Verify(app, cfg, "nosuchchallenge", testAnswer); err != nil || ok {
		t.Fatalf("unknown id: ok=%v err=%v", ok, err)
	}
	if ok, err := Verify(app, cfg, "", testAnswer); err != nil || ok {
		t.Fatalf("empty id: ok=%v err=%v", ok, err)
	}
	id = newChallenge(t, app, cfg)
	testkit.SetField(t, app, challenge(t, app, id), "expires_at", time.Now().Add(-time.Second))
	if ok, _ := Verify(app, cfg, id, testAnswer); ok {
		t.Fatal("expired challenge solved")
	}
	if !challenge(t, app, id).GetDateTime("guessed_at").IsZero() {
		t.Fatal("guess recorded on an expired challenge")
	}
}

func TestVerifyConcurrentGuesses(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	id := newChallenge(t, app, cfg)
	wins := testkit.Concurrently(t, 12, func() (bool, error) { return Verify(app, cfg, id, testAnswer) })
	if wins != 1 {
		t.Fatalf("%d concurrent right guesses passed, want 1", wins)
	}
}

func TestRedeem(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	id := newChallenge(t, app, cfg)
	if ok, _ := Redeem(app, cfg, id); ok {
		t.Fatal("unguessed challenge redeemed")
	}
	if ok, _ := Verify(app, cfg, id, testAnswer); !ok {
		t.Fatal("solve failed")
	}
	if ok, err := Redeem(app, cfg, id); err != nil || !ok {
		t.Fatalf("solved challenge not redeemable: ok=%v err=%v", ok, err)
	}
	if challenge(t, app, id).GetDateTime("redeemed_at").IsZero() {
		t.Fatal("redeemed_at not set")
	}
	if ok, _ := Redeem(app, cfg, id); ok {
		t.Fatal("challenge redeemed twice")
	}

	// Within 120 s of solving: fine; 121 s: refused.
	late := newChallenge(t, app, cfg)
	_, _ = Verify(app, cfg, late, testAnswer)
	testkit.SetField(t, app, challenge(t, app, late), "solved_at", time.Now().Add(-121*time.Second))
	if ok, _ := Redeem(app, cfg, late); ok {
		t.Fatal("challenge redeemed 121 s after solving")
	}
	inTime := newChallenge(t, app, cfg)
	_, _ = Verify(app, cfg, inTime, testAnswer)
	testkit.SetField(t, app, challenge(t, app, inTime), "solved_at", time.Now().Add(-115*time.Second))
	if ok, _ := Redeem(app, cfg, inTime); !ok {
		t.Fatal("challenge refused 115 s after solving")
	}

	// Concurrent redemptions: one wins.
	conc := newChallenge(t, app, cfg)
	_, _ = Verify(app, cfg, conc, testAnswer)
	if wins := testkit.Concurrently(t, 12, func() (bool, error) { return Redeem(app, cfg, conc) }); wins != 1 {
		t.Fatalf("%d concurrent redemptions, want 1", wins)
	}
	if ok, err := Redeem(app, cfg, "nosuchchallenge"); err != nil || ok {
		t.Fatalf("unknown id: ok=%v err=%v", ok, err)
	}
}

func TestVerifyAndRedeemAndSatisfy(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)

	id := newChallenge(t, app, cfg)
	if ok, err := VerifyAndRedeem(app, cfg, id, "acdefg"); err != nil || !ok {
		t.Fatalf("one-shot: ok=%v err=%v", ok, err)
	}
	r := challenge(t, app, id)
	if r.GetDateTime("solved_at").IsZero() || r.GetDateTime("redeemed_at").IsZero() {
		t.Fatal("one-shot did not solve and redeem")
	}
	if ok, _ := Redeem(app, cfg, id); ok {
		t.Fatal("one-shot challenge redeemed again")
	}

	// Satisfy: a solved challenge once (whatever the answer field says).
	solved := newChallenge(t, app, cfg)
	_, _ = Verify(app, cfg, solved, testAnswer)
	if ok, _ := Satisfy(app, cfg, solved, "garbage"); !ok {
		t.Fatal("solved challenge did not satisfy the gate")
	}
	if ok, _ := Satisfy(app, cfg, solved, testAnswer); ok {
		t.Fatal("solved challenge satisfied the gate twice")
	}
	// Unsolved + right answer: its one guess, redeemed at once.
	fresh := newChallenge(t, app, cfg)
	if ok, _ := Satisfy(app, cfg, fresh, ""); ok {
		t.Fatal("unsolved challenge without answer satisfied the gate")
	}
	if ok, _ := Satisfy(app, cfg, fresh, testAnswer); !ok {
		t.Fatal("unsolved challenge with the right answer refused")
	}
	if ok, _ := Satisfy(app, cfg, fresh, testAnswer); ok {
		t.Fatal("one-shot challenge satisfied the gate twice")
	}
	// Unsolved + wrong answer burns it.
	burnt := newChallenge(t, app, cfg)
	if ok, _ := Satisfy(app, cfg, burnt, "ZZZZZZ"); ok {
		t.Fatal("wrong answer satisfied the gate")
	}
	if ok, _ := Satisfy(app, cfg, burnt, testAnswer); ok {
		t.Fatal("burnt challenge satisfied the gate")
	}
	if ok, _ := Satisfy(app, cfg, "", testAnswer); ok {
		t.Fatal("missing id satisfied the gate")
	}
}

func TestNoPlaintextAnswerStored(t *testing.T) {
	t.Parallel()
	app, cfg := setup(t)
	for i := 0; i < 3; i++ {
		id := newChallenge(t, app, cfg)
		_, _ = Verify(app, cfg, id, testAnswer)
	}
	var rows []dbx.NullStringMap
	if err := app.DB().NewQuery("SELECT * FROM captcha_challenges").All(&rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, row := range rows {
		for col, v := range row {
			if strings.Contains(strings.ToUpper(v.String), testAnswer) {
				t.Fatalf("column %s contains the answer", col)
			}
		}
	}
}
