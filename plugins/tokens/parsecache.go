package tokens

import (
	"time"

	"gatehouse/plugins/prepared"
)

// parseCache remembers fully verified token parses (signature, kid, iss, aud) by the exact
// token string, so a token presented again skips the Ed25519 verification and the JSON decode.
// Time validity (exp, nbf) is re-checked on every hit; the database checks (session, principal)
// always run. The cache is cleared whenever the keyring is reloaded, so a deleted key's tokens
// stop verifying at once, and when it grows past 20000 tokens.
type parseCache struct {
	m prepared.HotMap[*Claims] // at most 20000 tokens
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
	if c := s.parsed.get(raw); c != nil {
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
