package tokens

import (
	"gatehouse/plugins/writeepoch"
	"time"
)

// parseCache remembers fully verified token parses (signature, kid, iss, aud) by the exact
// token string, so a token presented again skips the Ed25519 verification and the JSON decode.
// Time validity (exp, nbf) and the issuer (the application URL may change) are re-checked on
// every hit; the database checks (session, principal) always run. Each entry remembers the
// keyring it was verified under and is used only while that keyring is still the service's, so
// a deleted key's tokens stop verifying at once — also a parse that raced with the reload and
// stored its entry after the reload's clear. The cache is cleared on every reload (memory) and
// when it grows past 20000 tokens.
type parseCache struct {
	m writeepoch.HotMap[parsedToken] // at most 20000 tokens
}

type parsedToken struct {
	claims *Claims
	keys   *keyring // the keyring the signature was verified under
}

func (c *parseCache) get(raw string, keys *keyring) *Claims {
	if p, ok := c.m.Get(raw); ok && p.keys == keys {
		return p.claims
	}
	return nil
}

func (c *parseCache) put(raw string, claims *Claims, keys *keyring) {
	c.m.Put(raw, parsedToken{claims: claims, keys: keys})
}

func (c *parseCache) clear() { c.m.Clear() }

// parseCached is Parse with the cache; returned claims must be treated as read-only.
func (s *Service) parseCached(raw string) (*Claims, error) {
	kr := s.keys.Load() // before Parse: an entry made under an older keyring than Parse used only misses
	if c := s.parsed.get(raw, kr); c != nil && c.Issuer == s.cfg.Issuer(s.app) {
		now := time.Now().Unix()
		if now < c.ExpiresAt && now >= c.NotBefore {
			return c, nil
		}
		return nil, errBadToken
	}
	c, err := s.Parse(raw)
	if err != nil {
		return nil, err
	}
	s.parsed.put(raw, c, kr)
	return c, nil
}

// issuedTokens remembers the refresh tokens this process signed, by their exact string, with
// their claims and the key object that signed them, until they are presented once.
//
// A token found here needs no signature verification: its bytes are the ones our signer produced
// with that key, so Ed25519 verification of them with the key's public half cannot fail (the
// signature is deterministic and was made by the matching private key). What a verification
// would still decide is re-checked on every hit: the key is still the one of this keyring
// (pointer identity: a reload, e.g. after a key was deleted, makes every entry miss), the issuer
// is still the configured one, exp > now ≥ nbf. A miss (another process, a restart, an overflow,
// the second presentation of a token) goes through the full Parse, so reuse detection, which
// needs the old token verified, is unchanged.
// At most maxIssued tokens (≈ 6 MB) are held; past that the memory starts over.
type issuedTokens struct {
	m writeepoch.HotMap[issuedToken]
}

const maxIssued = 10000

type issuedToken struct {
	claims *Claims
	key    *signingKey
}

func (t *issuedTokens) put(raw string, c *Claims, key *signingKey) {
	t.m.Put(raw, issuedToken{claims: c, key: key})
}

// take returns the claims of raw when this process signed it and they still verify now, and
// forgets the token either way.
func (s *Service) takeIssued(raw string) *Claims {
	it, ok := s.issuedRefresh.m.Take(raw)
	if !ok {
		return nil
	}
	kr := s.keys.Load()
	if kr == nil || it.key == nil || kr.byKid[it.key.kid] != it.key || it.claims.Issuer != s.cfg.Issuer(s.app) {
		return nil
	}
	now := time.Now().Unix()
	if now >= it.claims.ExpiresAt || now < it.claims.NotBefore {
		return nil
	}
	return it.claims
}

// parseRefresh is Parse for a presented refresh token, answered from issuedRefresh when this
// process signed it.
func (s *Service) parseRefresh(raw string) (*Claims, error) {
	if c := s.takeIssued(raw); c != nil {
		return c, nil
	}
	return s.Parse(raw)
}
