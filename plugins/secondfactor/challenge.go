package secondfactor

import (
	"database/sql"
	"errors"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
)

// ErrChallengeInvalid is returned by LoadChallenge for an unknown, expired, consumed or dead
// (cfg.MFAMaxWrongCodes wrong codes) challenge: the mfa_pending token is not valid.
var ErrChallengeInvalid = errors.New("secondfactor: mfa challenge is not valid")

// CreateChallenge stores a pending second-factor login (§2.8) for the mfa_pending token whose
// jti is given: jti_hash = SHA-256(jti) (the jti itself is never stored), methods offered,
// expires_at = now + cfg.MFATokenTTL, the client IP.
func CreateChallenge(app core.App, cfg *config.Config, principalType, principalID string, methods []string, jti, ip string) (*core.Record, error) {
	if jti == "" {
		return nil, errors.New("secondfactor: empty jti")
	}
	col, err := app.FindCachedCollectionByNameOrId(colMFAChallenges)
	if err != nil {
		return nil, err
	}
	r := core.NewRecord(col)
	if err := setPrincipal(r, principalType, principalID); err != nil {
		return nil, err
	}
	if methods == nil {
		methods = []string{}
	}
	r.Set("jti_hash", sha256Hex(jti))
	r.Set("methods", methods)
	r.Set("failed_attempts", 0)
	r.Set("expires_at", dbTime(time.Now().Add(cfg.MFATokenTTL)))
	r.Set("ip", ip)
	if err := app.Save(r); err != nil {
		return nil, err
	}
	return r, nil
}

// LoadChallenge returns the challenge of an mfa_pending token's jti when it is usable: known,
// unexpired, not consumed and with fewer than cfg.MFAMaxWrongCodes wrong codes. Otherwise it
// returns ErrChallengeInvalid (other errors are database failures).
func LoadChallenge(app core.App, cfg *config.Config, jti string) (*core.Record, error) {
	if jti == "" {
		return nil, ErrChallengeInvalid
	}
	r, err := app.FindFirstRecordByData(colMFAChallenges, "jti_hash", sha256Hex(jti))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrChallengeInvalid
	}
	if err != nil {
		return nil, err
	}
	if !challengeUsable(cfg, r, time.Now()) {
		return nil, ErrChallengeInvalid
	}
	return r, nil
}

func challengeUsable(cfg *config.Config, r *core.Record, now time.Time) bool {
	exp := r.GetDateTime("expires_at")
	return r.GetDateTime("consumed_at").IsZero() &&
		!exp.IsZero() && exp.Time().After(now) &&
		r.GetInt("failed_attempts") < cfg.MFAMaxWrongCodes
}

// ChallengePrincipal returns the principal type and id a challenge belongs to.
func ChallengePrincipal(challenge *core.Record) (principalType, principalID string) {
	principalType = challenge.GetString("user_type")
	field, err := relationField(principalType)
	if err != nil {
		return principalType, ""
	}
	return principalType, challenge.GetString(field)
}

// ChallengeMethods returns the methods stored on a challenge.
func ChallengeMethods(challenge *core.Record) []string {
	var methods []string
	_ = challenge.UnmarshalJSONField("methods", &methods)
	return methods
}

// ReserveCode counts one code against the challenge BEFORE it is compared (failed_attempts + 1,
// only while the challenge is unconsumed, unexpired and has fewer than cfg.MFAMaxWrongCodes
// codes counted), so however many codes arrive at once, at most cfg.MFAMaxWrongCodes are ever
// compared (§6.2). false: the challenge is not usable (the token answers 401). A wrong code
// keeps its count; a right one gives it back in ConsumeChallenge. The in-memory record gets the
// new count.
func ReserveCode(app core.App, cfg *config.Config, challenge *core.Record) (bool, error) {
	now := time.Now()
	n, err := exec(app,
		"UPDATE {{"+colMFAChallenges+"}} SET [[failed_attempts]] = [[failed_attempts]] + 1 "+
			"WHERE [[id]] = {:id} AND [[consumed_at]] = '' AND [[expires_at]] > {:now} AND [[failed_attempts]] < {:max}",
		dbx.Params{"id": challenge.Id, "now": dbTime(now), "max": cfg.MFAMaxWrongCodes})
	if err != nil || n != 1 {
		return false, err
	}
	challenge.Set("failed_attempts", challenge.GetInt("failed_attempts")+1)
	return true, nil
}

// ConsumeChallenge spends the challenge after a right code reserved with ReserveCode: consumed_at
// is set and the reserved count given back, with a conditional UPDATE that requires it to be
// unconsumed and unexpired, so of two concurrent uses exactly one gets true.
func ConsumeChallenge(app core.App, cfg *config.Config, challenge *core.Record) (bool, error) {
	now := time.Now()
	n, err := exec(app,
		"UPDATE {{"+colMFAChallenges+"}} SET [[consumed_at]] = {:now}, [[failed_attempts]] = MAX([[failed_attempts]] - 1, 0) "+
			"WHERE [[id]] = {:id} AND [[consumed_at]] = '' AND [[expires_at]] > {:now}",
		dbx.Params{"id": challenge.Id, "now": dbTime(now)})
	if err != nil || n != 1 {
		return false, err
	}
	challenge.Set("consumed_at", dbTime(now))
	return true, nil
}

// CancelChallenges ends every pending second-factor login of a principal (their mfa_pending
// tokens stop working). A password reset or change calls it: a login that passed the password
// step with the old password must not complete afterwards.
func CancelChallenges(app core.App, principalType, principalID string) error {
	col, err := relationField(principalType)
	if err != nil {
		return err
	}
	_, err = updateRow(app, colMFAChallenges, dbx.Params{"consumed_at": dbTime(time.Now())},
		dbx.HashExp{"user_type": principalType, col: principalID, "consumed_at": ""})
	return err
}
