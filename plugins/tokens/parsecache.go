package tokens

import (
	"sync"
	"time"
)

// parseCache remembers fully verified token parses (signature, kid, iss, aud) by the exact
// token string, so a token presented again skips the Ed25519 verification and the JSON decode.
// Time validity (exp, nbf) is re-checked on every hit; the database checks (session, principal)
// always run. The cache is cleared whenever the keyring is reloaded, so a deleted key's tokens
// stop verifying at once, and when it grows past maxParsedTokens.
type parseCache struct {
	mu sync.RWMutex
	m  map[string]*Claims
}

const maxParsedTokens = 20000

func (c *parseCache) get(raw string) *Claims {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[raw]
}

func (c *parseCache) put(raw string, claims *Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxParsedTokens {
		c.m = make(map[string]*Claims, 1024)
	}
	c.m[raw] = claims
}

func (c *parseCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

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
