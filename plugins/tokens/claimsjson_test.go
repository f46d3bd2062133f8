package tokens

import (
	"encoding/json"
	"gatehouse/plugins/realm"
	"math/rand/v2"
	"testing"
)

// marshalClaimsReflect is what Claims.MarshalJSON wrote before it was written by hand:
// encoding/json over wireClaims. The hand-written form must match it byte for byte.
func marshalClaimsReflect(c Claims) ([]byte, error) {
	w := wireClaims{Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience, Exp: c.ExpiresAt, Iat: c.IssuedAt, Nbf: c.NotBefore,
		Jti: c.ID, TokenType: c.TokenType, Sid: c.SessionID, UserID: c.Subject, UserType: c.UserType}
	if c.UserType == realm.TypeEmployee {
		w.EmployeeID = c.Subject
	}
	if c.Profile == nil {
		return json.Marshal(w)
	}
	w.Email, w.Username, w.FullName = &c.Profile.Email, &c.Profile.Username, &c.Profile.FullName
	roles := c.Profile.Roles
	if roles == nil {
		roles = []RoleClaim{}
	}
	type withRoles struct {
		wireClaims
		Roles []RoleClaim `json:"roles"`
	}
	return json.Marshal(withRoles{wireClaims: w, Roles: roles})
}

func TestClaimsJSONMatchesEncodingJSON(t *testing.T) {
	words := []string{"", "abc123", "Ana <Admin> & Co", `quo"te`, "ünïcödé", "tab\there", "bad\xffbyte",
		"line\u2028sep", "http://127.0.0.1:8090", "staff", "employee", "k9f2", "a.b+c@example.com"}
	r := rand.New(rand.NewPCG(5, 6))
	w := func() string { return words[r.IntN(len(words))] }
	n := func() int64 { return r.Int64N(4e9) - 1e9 }
	for i := range 3000 {
		c := Claims{Issuer: w(), Subject: w(), ExpiresAt: n(), IssuedAt: n(), NotBefore: n(), ID: w(),
			TokenType: w(), SessionID: w(), UserType: w()}
		switch i % 3 {
		case 0:
			c.Audience = []string{Audience}
		case 1:
			c.Audience = []string{w(), w()}
		}
		if i%4 == 0 {
			c.UserType = realm.TypeEmployee
		}
		if i%2 == 0 {
			c.Profile = &ProfileClaims{Email: w(), Username: w(), FullName: w()}
			for range r.IntN(3) {
				c.Profile.Roles = append(c.Profile.Roles, RoleClaim{System: w(), Role: w()})
			}
			if i%6 == 0 {
				c.Profile.Roles = []RoleClaim{}
			}
		}
		got, err := c.MarshalJSON()
		want, werr := marshalClaimsReflect(c)
		if err != nil || werr != nil || string(got) != string(want) {
			t.Fatalf("claims %+v:\n got  %s (%v)\n want %s (%v)", c, got, err, want, werr)
		}
		var back Claims
		if err := json.Unmarshal(got, &back); err != nil && c.Audience != nil {
			t.Fatalf("written claims do not read back: %v\n%s", err, got)
		}
	}
}
