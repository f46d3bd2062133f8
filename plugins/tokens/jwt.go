package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/dbx"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/realm"
)

// Token types of §3.2.
const (
	TypeAccess     = "access"
	TypeRefresh    = "refresh"
	TypeMFAPending = "mfa_pending"
)

// Audience is this service's own audience (§1.5: aud must contain "auth").
const Audience = "auth"

// hs256Kid marks the compatibility copy (§3.1); a token with this kid is never accepted here.
const hs256Kid = "hs256"

// RoleClaim is one element of the roles claim.
type RoleClaim struct {
	System string `json:"system"`
	Role   string `json:"role"`
}

// Claims are the claims of §3.2. The profile claims (email, username, full_name, roles) exist
// only on access tokens: Profile is nil on refresh and mfa_pending tokens.
type Claims struct {
	Issuer     string
	Subject    string
	Audience   []string
	ExpiresAt  int64
	IssuedAt   int64
	NotBefore  int64
	ID         string
	TokenType  string
	SessionID  string
	UserType   string
	Profile    *ProfileClaims
	employeeID string
}

// ProfileClaims are the access-token-only claims.
type ProfileClaims struct {
	Email    string      `json:"email"`
	Username string      `json:"username"`
	FullName string      `json:"full_name"`
	Roles    []RoleClaim `json:"roles"`
}

// wireClaims is the JSON form, in the order of §3.2.
type wireClaims struct {
	Iss        string      `json:"iss"`
	Sub        string      `json:"sub"`
	Aud        []string    `json:"aud"`
	Exp        int64       `json:"exp"`
	Iat        int64       `json:"iat"`
	Nbf        int64       `json:"nbf"`
	Jti        string      `json:"jti"`
	TokenType  string      `json:"token_type"`
	Sid        string      `json:"sid,omitempty"`
	UserID     string      `json:"user_id"`
	UserType   string      `json:"user_type"`
	EmployeeID string      `json:"employee_id,omitempty"`
	Email      *string     `json:"email,omitempty"`
	Username   *string     `json:"username,omitempty"`
	FullName   *string     `json:"full_name,omitempty"`
	Roles      []RoleClaim `json:"roles,omitempty"`
}

// MarshalJSON writes the claims with the presence rules of §3.2, in the order of wireClaims,
// byte for byte what json.Marshal writes for them (every token is signed over this, so it is
// written by hand: no reflection, one allocation).
func (c Claims) MarshalJSON() ([]byte, error) {
	size := 320
	if c.Profile != nil {
		size += 96 + len(c.Profile.Email) + len(c.Profile.Username) + len(c.Profile.FullName) + 64*len(c.Profile.Roles)
	}
	return c.appendJSON(make([]byte, 0, size)), nil
}

func (c Claims) appendJSON(b []byte) []byte {
	b = appendStringField(append(b, '{'), "iss", c.Issuer)
	b = appendStringField(append(b, ','), "sub", c.Subject)
	b = append(b, `,"aud":`...)
	if c.Audience == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = apikit.AppendJSONString(b, a, true)
		}
		b = append(b, ']')
	}
	b = strconv.AppendInt(append(b, `,"exp":`...), c.ExpiresAt, 10)
	b = strconv.AppendInt(append(b, `,"iat":`...), c.IssuedAt, 10)
	b = strconv.AppendInt(append(b, `,"nbf":`...), c.NotBefore, 10)
	b = appendStringField(append(b, ','), "jti", c.ID)
	b = appendStringField(append(b, ','), "token_type", c.TokenType)
	if c.SessionID != "" {
		b = appendStringField(append(b, ','), "sid", c.SessionID)
	}
	b = appendStringField(append(b, ','), "user_id", c.Subject)
	b = appendStringField(append(b, ','), "user_type", c.UserType)
	if c.UserType == realm.TypeEmployee && c.Subject != "" {
		b = appendStringField(append(b, ','), "employee_id", c.Subject)
	}
	if p := c.Profile; p != nil {
		b = appendStringField(append(b, ','), "email", p.Email)
		b = appendStringField(append(b, ','), "username", p.Username)
		b = appendStringField(append(b, ','), "full_name", p.FullName)
		// an access token always carries roles, [] when there is none
		b = append(b, `,"roles":[`...)
		for i, r := range p.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStringField(append(b, '{'), "system", r.System)
			b = append(appendStringField(append(b, ','), "role", r.Role), '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendStringField appends "key":"value" (key needs no escaping).
func appendStringField(b []byte, key, value string) []byte {
	b = append(append(append(b, '"'), key...), `":`...)
	return apikit.AppendJSONString(b, value, true)
}

// UnmarshalJSON reads the claims; user_id and employee_id must equal sub when present.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var w struct {
		wireClaims
		Aud   json.RawMessage `json:"aud"`
		Roles *[]RoleClaim    `json:"roles"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if err := json.Unmarshal(w.Aud, &c.Audience); err != nil {
		return errors.New("tokens: aud must be a list")
	}
	if w.UserID != w.Sub || (w.EmployeeID != "" && w.EmployeeID != w.Sub) {
		return errors.New("tokens: inconsistent subject claims")
	}
	c.Issuer, c.Subject, c.ExpiresAt, c.IssuedAt, c.NotBefore = w.Iss, w.Sub, w.Exp, w.Iat, w.Nbf
	c.ID, c.TokenType, c.SessionID, c.UserType, c.employeeID = w.Jti, w.TokenType, w.Sid, w.UserType, w.EmployeeID
	if w.Email != nil || w.Username != nil || w.Roles != nil {
		c.Profile = &ProfileClaims{}
		if w.Email != nil {
			c.Profile.Email = *w.Email
		}
		if w.Username != nil {
			c.Profile.Username = *w.Username
		}
		if w.FullName != nil {
			c.Profile.FullName = *w.FullName
		}
		if w.Roles != nil {
			c.Profile.Roles = *w.Roles
		}
	}
	return nil
}

// jwt.Claims implementation (the parser validates exp/nbf/iss/aud through these).
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numeric(c.ExpiresAt), nil }
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error)       { return numeric(c.IssuedAt), nil }
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error)      { return numeric(c.NotBefore), nil }
func (c *Claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *Claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

func numeric(v int64) *jwt.NumericDate {
	if v == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(v, 0))
}

// newJTI returns 32 random hex characters (§3.2).
func newJTI() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// sign serialises claims with the active Ed25519 key and its kid.
//
// The compact JWS is assembled here rather than by golang-jwt (whose SignedString marshals a
// header map and re-encodes it for every token): the header segment of a key never changes.
// The output is what golang-jwt writes (header keys sorted, base64url without padding), and
// every test parses our tokens with golang-jwt's parser.
func (s *Service) sign(c *Claims) (string, error) {
	token, _, err := s.signWithKey(c)
	return token, err
}

// signWithKey is sign, also returning the key that signed.
func (s *Service) signWithKey(c *Claims) (string, *signingKey, error) {
	key, err := s.activeKey()
	if err != nil {
		return "", nil, err
	}
	payload, err := c.MarshalJSON()
	if err != nil {
		return "", nil, err
	}
	enc := base64.RawURLEncoding
	hdr := key.header()
	buf := make([]byte, 0, len(hdr)+enc.EncodedLen(len(payload))+enc.EncodedLen(ed25519.SignatureSize)+2)
	buf = append(buf, hdr...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig := ed25519.Sign(key.priv, buf)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), key, nil
}

// header is the key's encoded JWS header: {"alg":"EdDSA","kid":…,"typ":"JWT"}.
func (k *signingKey) header() string {
	k.headerOnce.Do(func() {
		h, _ := json.Marshal(map[string]string{"alg": jwt.SigningMethodEdDSA.Alg(), "kid": k.kid, "typ": "JWT"})
		k.headerB64 = base64.RawURLEncoding.EncodeToString(h)
	})
	return k.headerB64
}

// signHS256 is the compatibility copy of an access token (§3.1); never accepted by us.
func (s *Service) signHS256(c *Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = hs256Kid
	return t.SignedString(s.cfg.HS256Secret)
}

var errBadToken = errors.New("tokens: invalid token")

// Parse verifies a token completely (§3.1): EdDSA only, key chosen by kid among our own keys,
// no crit header, iss, aud ∋ "auth", exp > now ≥ nbf with no leeway. It does not look at the
// token type or the database.
func (s *Service) Parse(raw string) (*Claims, error) {
	claims := &Claims{}
	_, err := s.parser().ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if _, crit := t.Header["crit"]; crit {
			return nil, errBadToken
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" || kid == hs256Kid {
			return nil, errBadToken
		}
		k := s.keyFor(kid)
		if k == nil {
			return nil, errBadToken
		}
		return k.pub, nil
	})
	if err != nil {
		return nil, errBadToken
	}
	if claims.NotBefore == 0 || claims.IssuedAt == 0 || claims.ID == "" || claims.Subject == "" {
		return nil, errBadToken
	}
	return claims, nil
}

func (s *Service) parser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer(s.app)),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(0),
	)
}

func dbxStatus(status string) dbx.Expression { return dbx.HashExp{"status": status} }
func dbxKid(kid string) dbx.Expression       { return dbx.HashExp{"kid": kid} }
