// Package captcha implements the self-hosted image CAPTCHA of spec/API.md §5.8 (challenges in
// captcha_challenges, §2.13) and the persisted password-failure counters of §6.1 (auth_failures
// rows of kind "password", §2.15): the CAPTCHA requirement per email and per client IP, and the
// per-account password lockout.
//
// Challenge text: 6 characters from Alphabet = "ACDEFGHJKLMNPQRUVWXYZ23456789" (the 29
// characters of §5.8: A–Z without B, I, O, S, T and the digits 2–9, i.e. without the
// look-alike pairs B/8, I/1, O/0, S/5, T/7, and without 0 and 1), drawn on a 200×60 PNG (see
// render.go for how github.com/dchest/captcha is used). Only the HMAC of the upper-cased
// answer is stored. Every state change that must happen once (the one guess, the one
// redemption, the start of a lock) is a conditional UPDATE whose affected-row count decides.
package captcha

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/config"
)

// Challenge parameters (§7.1).
const (
	Alphabet    = "ACDEFGHJKLMNPQRUVWXYZ23456789"
	Length      = 6
	ImageWidth  = 200
	ImageHeight = 60
)

const (
	colChallenges = "captcha_challenges"
	macPurpose    = "captcha"
)

// ErrInvalidTestAnswer is returned by Generate in dev mode when cfg.CaptchaTestAnswer is set
// but is not 6 characters of Alphabet (case-insensitive).
var ErrInvalidTestAnswer = errors.New("captcha: CAPTCHA_TEST_ANSWER must be 6 characters from " + Alphabet)

// ErrNoSecretKey is returned when cfg.Secret is not set.
var ErrNoSecretKey = errors.New("captcha: server secret not configured")

// ValidTestAnswer reports whether s (any case) can serve as CAPTCHA_TEST_ANSWER: Length
// characters of Alphabet.
func ValidTestAnswer(s string) bool {
	s = normalizeAnswer(strings.TrimSpace(s)) // a configuration value: surrounding spaces are not part of it
	return len(s) == Length && strings.Trim(s, Alphabet) == ""
}

// Answers are compared case-insensitively but otherwise exactly as sent (§1.4: CAPTCHA answers
// are not trimmed).
func normalizeAnswer(s string) string { return strings.ToUpper(s) }

// Generate creates a challenge for client ip and returns its id and the image as a
// data:image/png;base64 URL (200×60). The answer is 6 characters drawn uniformly from Alphabet
// with crypto/rand — or, when the app runs with --dev (app.IsDev()) and cfg.CaptchaTestAnswer
// is set, that value upper-cased (§1.15). The record stores answer_hash =
// cfg.Secret.MAC("captcha", answer), expires_at = now + cfg.CaptchaTTL and ip.
func Generate(app core.App, cfg *config.Config, ip string) (id string, pngDataURL string, err error) {
	return generate(app, cfg, ip, app.IsDev())
}

func generate(app core.App, cfg *config.Config, ip string, dev bool) (string, string, error) {
	if cfg.Secret == nil {
		return "", "", ErrNoSecretKey
	}
	answer, err := randomAnswer()
	if err != nil {
		return "", "", err
	}
	if dev && cfg.CaptchaTestAnswer != "" {
		if !ValidTestAnswer(cfg.CaptchaTestAnswer) {
			return "", "", ErrInvalidTestAnswer
		}
		answer = normalizeAnswer(strings.TrimSpace(cfg.CaptchaTestAnswer))
	}
	img, err := renderPNG(answer, ImageWidth, ImageHeight)
	if err != nil {
		return "", "", err
	}
	col, err := app.FindCachedCollectionByNameOrId(colChallenges)
	if err != nil {
		return "", "", err
	}
	r := core.NewRecord(col)
	r.Set("answer_hash", cfg.Secret.MAC(macPurpose, answer))
	r.Set("expires_at", dbTime(time.Now().Add(cfg.CaptchaTTL)))
	r.Set("ip", ip)
	if err := app.Save(r); err != nil {
		return "", "", err
	}
	return r.Id, "data:image/png;base64," + base64.StdEncoding.EncodeToString(img), nil
}

func randomAnswer() (string, error) {
	b := make([]byte, Length)
	n := big.NewInt(int64(len(Alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", err
		}
		b[i] = Alphabet[v.Int64()]
	}
	return string(b), nil
}

// Verify takes the one guess of a challenge (§5.8.3). If the challenge exists, is unexpired and
// was never guessed, guessed_at is set — atomically, so of concurrent guesses only one
// counts — and, when answer matches (case-insensitively, constant-time MAC comparison),
// solved_at too; the result is true only in that case. Unknown, expired or already guessed
// challenges give false, even with the right answer.
func Verify(app core.App, cfg *config.Config, id, answer string) (bool, error) {
	return guess(app, cfg, id, answer, false)
}

// VerifyAndRedeem is the one-shot form of the CAPTCHA gate (§5.1.2 step 2, captcha_id +
// captcha_answer): like Verify, but a right answer also redeems the challenge at once
// (guessed_at, solved_at and redeemed_at are set by one conditional UPDATE).
func VerifyAndRedeem(app core.App, cfg *config.Config, id, answer string) (bool, error) {
	return guess(app, cfg, id, answer, true)
}

func guess(app core.App, cfg *config.Config, id, answer string, redeem bool) (bool, error) {
	if cfg.Secret == nil {
		return false, ErrNoSecretKey
	}
	if id == "" {
		return false, nil
	}
	rec, err := app.FindRecordById(colChallenges, id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	right := cfg.Secret.EqualMAC(macPurpose, normalizeAnswer(answer), rec.GetString("answer_hash"))
	now := dbTime(time.Now())
	params := dbx.Params{"guessed_at": now}
	if right {
		params["solved_at"] = now
		if redeem {
			params["redeemed_at"] = now
		}
	}
	n, err := updateRow(app, colChallenges, params, dbx.And(
		dbx.HashExp{"id": id, "guessed_at": ""},
		dbx.NewExp("[[expires_at]] > {:now}", dbx.Params{"now": now}),
	))
	if err != nil {
		return false, err
	}
	return right && n == 1, nil
}

// Redeem uses a solved challenge for one request (§2.13): it succeeds once, while solved_at is
// set, redeemed_at is not and now < solved_at + cfg.CaptchaSolvedTTL (one conditional UPDATE).
func Redeem(app core.App, cfg *config.Config, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	now := time.Now()
	n, err := updateRow(app, colChallenges, dbx.Params{"redeemed_at": dbTime(now)}, dbx.And(
		dbx.HashExp{"id": id, "redeemed_at": ""},
		dbx.NewExp("[[solved_at]] != '' AND [[solved_at]] > {:since}",
			dbx.Params{"since": dbTime(now.Add(-cfg.CaptchaSolvedTTL))}),
	))
	return n == 1, err
}

// Satisfy implements the CAPTCHA gate of §5.1.2 step 2 for a request carrying captchaID and
// possibly captchaAnswer: a solved, redeemable challenge is redeemed (whatever the answer
// field holds); otherwise, with an answer, the challenge's one guess is taken and a right
// answer redeems it at once. It returns false for missing, unknown, expired, already guessed,
// wrong or already redeemed challenges. (Whether the CAPTCHA is required at all is Required /
// RequiredForIP; a missing captcha_id is the caller's "CAPTCHA verification required.".)
func Satisfy(app core.App, cfg *config.Config, captchaID, captchaAnswer string) (bool, error) {
	if captchaID == "" {
		return false, nil
	}
	ok, err := Redeem(app, cfg, captchaID)
	if err != nil || ok {
		return ok, err
	}
	if strings.TrimSpace(captchaAnswer) == "" {
		return false, nil
	}
	return VerifyAndRedeem(app, cfg, captchaID, captchaAnswer)
}

// dbTime formats t like PocketBase stores date fields ("2006-01-02 15:04:05.000Z", UTC), so
// SQL string comparisons order dates correctly.
func dbTime(t time.Time) string {
	return t.UTC().Format(types.DefaultDateLayout)
}

func updateRow(app core.App, table string, params dbx.Params, where dbx.Expression) (int64, error) {
	res, err := app.DB().Update(table, params, where).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
