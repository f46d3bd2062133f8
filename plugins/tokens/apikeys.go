package tokens

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"regexp"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

// apiKeyFormat is ak_ + 8 lowercase alphanumerics + _ + 32 base62 characters (§1.5).
var apiKeyFormat = regexp.MustCompile(`^ak_([a-z0-9]{8})_[A-Za-z0-9]{32}$`)

// HashAPIKey is how keys are stored (§2.14: SHA-256 of the full key).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// APIKey implements apikit.Authenticator for X-API-Key (§1.5): looked up by prefix, compared in
// constant time with the stored hash, active and unexpired; last_used_at is touched at most
// once per minute.
func (s *Service) APIKey(e *core.RequestEvent, raw string) (*apikit.Caller, error) {
	m := apiKeyFormat.FindStringSubmatch(raw)
	if m == nil {
		return nil, apikit.InvalidAPIKey()
	}
	rec, err := e.App.FindFirstRecordByData("api_keys", "key_prefix", m[1])
	if err != nil {
		return nil, apikit.InvalidAPIKey()
	}
	if subtle.ConstantTimeCompare([]byte(HashAPIKey(raw)), []byte(rec.GetString("key_hash"))) != 1 || !rec.GetBool("is_active") {
		return nil, apikit.InvalidAPIKeyOf(rec.Id)
	}
	now := time.Now()
	if exp := rec.GetDateTime("expires_at"); !exp.IsZero() && !now.Before(exp.Time()) {
		return nil, apikit.InvalidAPIKeyOf(rec.Id)
	}
	if last := rec.GetDateTime("last_used_at"); last.IsZero() || now.Sub(last.Time()) >= s.cfg.APIKeyTouchInterval {
		// at most once per interval also under parallel requests: only the request that still
		// finds the value it read writes (the others of a burst change no row)
		_, _ = e.App.DB().Update("api_keys", dbx.Params{"last_used_at": nowDT()},
			dbx.HashExp{"id": rec.Id, "last_used_at": rec.GetString("last_used_at")}).Execute()
	}
	return &apikit.Caller{Kind: apikit.KindService, Record: rec, Scopes: rec.GetStringSlice("scopes")}, nil
}
