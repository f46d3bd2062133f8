package tokens

import (
	"gatehouse/plugins/writeepoch"
	"time"
)

// parseCache remembers fully verified token parses (signature, kid, iss, aud) by the exact
// token string, so a token presented again skips the Ed25519 verification and the JSON decode.
// Time validity (exp, nbf) and the issuer (the application URL may change) are re-checked on
// every hit; the database checks (session, principal) always run. The cache is cleared whenever the keyring is reloaded, so a deleted key's tokens
// stop verifying at once, and when it grows past 20000 tokens.
type parseCache struct {
	m writeepoch.HotMap[*Claims] // at most 20000 tokens
}

func (c *parseCache) get(raw string) *Claims {
	claims, _ := c.m.Get(raw)
	return claims
}

func (c *parseCache) put(raw string, claims *Claims) {
	c.m.Put(raw, claims)
}

func (c *parseCache) clear() { c.m.Clear() }

// parseCached is Parse with the cache; returned claims must be treated as read-only.
func (s *Service) parseCached(raw string) (*Claims, error) {
	if c := s.parsed.get(raw); c != nil && c.Issuer == s.cfg.Issuer(s.app) {
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
	s.parsed.put(raw, c)
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
