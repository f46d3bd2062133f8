package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

const keysTable = "signing_keys"

// signingKey is one row of signing_keys in memory. priv is set only for the active key.
type signingKey struct {
	kid       string
	pub       ed25519.PublicKey
	priv      ed25519.PrivateKey
	active    bool
	retiredAt time.Time
	activated time.Time

	headerOnce sync.Once
	headerB64  string
}

// keyring is an immutable snapshot of the keys; the service swaps snapshots atomically.
type keyring struct {
	active *signingKey
	byKid  map[string]*signingKey
	order  []*signingKey // JWKS order: active first, then retired by retirement time, newest first
}

// keyState guards reloading: a token with an unknown kid may trigger a reload (another process,
// e.g. `keys rotate`, may have added a key), but at most once per minReloadInterval.
type keyState struct {
	mu         sync.Mutex
	lastReload time.Time
}

const minReloadInterval = 5 * time.Second

// loadKeyring reads every key; the active key's private half is decrypted with the server secret.
func (s *Service) loadKeyring(app core.App) (*keyring, error) {
	rows, err := app.FindAllRecords(keysTable)
	if err != nil {
		return nil, err
	}
	kr := &keyring{byKid: make(map[string]*signingKey, len(rows))}
	var retired []*signingKey
	for _, r := range rows {
		pub, err := base64.RawURLEncoding.DecodeString(r.GetString("public_key"))
		if err != nil || len(pub) != ed25519.PublicKeySize {
			app.Logger().Error("signing key with a malformed public key ignored", "kid", r.GetString("kid"))
			continue
		}
		k := &signingKey{kid: r.GetString("kid"), pub: ed25519.PublicKey(pub),
			retiredAt: r.GetDateTime("retired_at").Time(), activated: r.GetDateTime("activated_at").Time()}
		if r.GetString("status") == "active" {
			seed, err := s.cfg.Secret.Open(r.GetString("private_key"))
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, fmt.Errorf("tokens: cannot decrypt the active signing key %s (was GATEHOUSE_SECRET changed?)", k.kid)
			}
			k.priv = ed25519.NewKeyFromSeed(seed)
			k.active = true
			if kr.active != nil && kr.active.activated.After(k.activated) {
				k.priv, k.active = nil, false // two actives (never written by us): the newest signs
			} else {
				if kr.active != nil {
					kr.active.priv, kr.active.active = nil, false
					retired = append(retired, kr.active)
				}
				kr.active = k
			}
		} else {
			retired = append(retired, k)
		}
		kr.byKid[k.kid] = k
	}
	if kr.active != nil {
		kr.order = append(kr.order, kr.active)
	}
	sortRetired(retired)
	kr.order = append(kr.order, retired...)
	return kr, nil
}

func sortRetired(ks []*signingKey) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j].retiredAt.After(ks[j-1].retiredAt); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

// reloadKeys refreshes the in-memory keyring from the database.
func (s *Service) reloadKeys() error {
	kr, err := s.loadKeyring(s.app)
	if err != nil {
		return err
	}
	s.keys.Store(kr)
	s.parsed.clear() // a removed key's tokens must stop verifying at once
	s.keyState.mu.Lock()
	s.keyState.lastReload = time.Now()
	s.keyState.mu.Unlock()
	return nil
}

// keyFor returns the verification key of kid, reloading once when kid is unknown.
func (s *Service) keyFor(kid string) *signingKey {
	if kr := s.keys.Load(); kr != nil {
		if k := kr.byKid[kid]; k != nil {
			return k
		}
	}
	s.keyState.mu.Lock()
	stale := time.Since(s.keyState.lastReload) >= minReloadInterval
	s.keyState.mu.Unlock()
	if stale && s.reloadKeys() == nil {
		if k := s.keys.Load().byKid[kid]; k != nil {
			return k
		}
	}
	return nil
}

// activeKey returns the signing key, loading the keyring on first use.
func (s *Service) activeKey() (*signingKey, error) {
	kr := s.keys.Load()
	if kr == nil || kr.active == nil {
		if err := s.reloadKeys(); err != nil {
			return nil, err
		}
		kr = s.keys.Load()
	}
	if kr.active == nil {
		return nil, errors.New("tokens: no active signing key")
	}
	return kr.active, nil
}

// EnsureActiveKey creates the first signing key when none is active (§3.1: at start-up).
func (s *Service) EnsureActiveKey() error {
	err := s.app.RunInTransaction(func(tx core.App) error {
		n, err := tx.CountRecords(keysTable, dbxStatus("active"))
		if err != nil || n > 0 {
			return err
		}
		return s.createActiveKey(tx, time.Now().UTC())
	})
	if err != nil {
		return err
	}
	return s.reloadKeys()
}

// Rotate makes a new key active and retires the current one; retired keys older than
// REFRESH_TOKEN_TTL + 1 day are deleted (§3.1). It is what `keys rotate` and the cron job run.
// The new key is written before the old one is retired: no single write leaves the table
// without an active key, which the signing-key guard of hooks/ refuses (§2.19).
func (s *Service) Rotate() (newKid string, err error) {
	now := time.Now().UTC()
	err = s.app.RunInTransaction(func(tx core.App) error {
		actives, err := tx.FindAllRecords(keysTable, dbxStatus("active"))
		if err != nil {
			return err
		}
		if err := s.createActiveKey(tx, now); err != nil {
			return err
		}
		for _, r := range actives {
			r.Set("status", "retired")
			r.Set("retired_at", now)
			if err := tx.Save(r); err != nil {
				return err
			}
		}
		rec, err := tx.FindFirstRecordByData(keysTable, "status", "active")
		if err != nil {
			return err
		}
		newKid = rec.GetString("kid")
		return s.deleteExpiredKeys(tx, now)
	})
	if err != nil {
		return "", err
	}
	return newKid, s.reloadKeys()
}

// RotateIfDue rotates when the active key is older than JWT_KEY_ROTATION_DAYS, and deletes
// expired retired keys; the hourly job calls it.
func (s *Service) RotateIfDue() error {
	active, err := s.activeKey()
	if err != nil {
		return err
	}
	if time.Since(active.activated) >= s.cfg.KeyRotationAge {
		_, err := s.Rotate()
		return err
	}
	return s.app.RunInTransaction(func(tx core.App) error { return s.deleteExpiredKeys(tx, time.Now().UTC()) })
}

func (s *Service) deleteExpiredKeys(tx core.App, now time.Time) error {
	cutoff := now.Add(-(s.cfg.RefreshTokenTTL + 24*time.Hour))
	retired, err := tx.FindAllRecords(keysTable, dbxStatus("retired"))
	if err != nil {
		return err
	}
	for _, r := range retired {
		if at := r.GetDateTime("retired_at"); !at.IsZero() && at.Time().Before(cutoff) {
			if err := tx.Delete(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) createActiveKey(tx core.App, now time.Time) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	sealed, err := s.cfg.Secret.Seal(priv.Seed())
	if err != nil {
		return err
	}
	kid, err := freeKid(tx, now)
	if err != nil {
		return err
	}
	col, err := tx.FindCachedCollectionByNameOrId(keysTable)
	if err != nil {
		return err
	}
	r := core.NewRecord(col)
	r.Set("kid", kid)
	r.Set("alg", "EdDSA")
	r.Set("public_key", base64.RawURLEncoding.EncodeToString(pub))
	r.Set("private_key", sealed)
	r.Set("status", "active")
	r.Set("activated_at", types.NowDateTime())
	return tx.Save(r)
}

// freeKid returns k<YYYYMMDD><letter(s)>, the first unused of a, b, … z, za, zb, ….
func freeKid(tx core.App, now time.Time) (string, error) {
	base := "k" + now.Format("20060102")
	suffix := "a"
	for range 1000 {
		n, err := tx.CountRecords(keysTable, dbxKid(base+suffix))
		if err != nil {
			return "", err
		}
		if n == 0 {
			return base + suffix, nil
		}
		last := suffix[len(suffix)-1]
		if last == 'z' {
			suffix += "a"
		} else {
			suffix = suffix[:len(suffix)-1] + string(last+1)
		}
	}
	return "", errors.New("tokens: no free kid")
}
