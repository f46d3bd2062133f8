package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// createStaffUser makes an active staff user through PocketBase's superuser records API.
func createStaffUser(t *testing.T, s *Server, token, email, password string) string {
	t.Helper()
	st, _, body := s.Do(t, http.MethodPost, "/api/collections/users/records", map[string]any{
		"email": email, "password": password, "passwordConfirm": password, "is_active": true, "first_name": "Agent", "last_name": "One",
	}, "Authorization", token)
	if st != 200 {
		t.Fatalf("create user: %d %s", st, body)
	}
	var rec struct{ ID string }
	_ = json.Unmarshal(body, &rec)
	return rec.ID
}

// TestAccessTokenVerifiesWithJWKSOnly plays a downstream system: it knows nothing but the JWKS
// document fetched over HTTP, and verifies the Ed25519 signature with the standard library.
func TestAccessTokenVerifiesWithJWKSOnly(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Env: []string{"APP_URL=http://auth.example.test"}})
	su := s.SuperuserToken(t)
	userID := createStaffUser(t, s, su, "agent.one@example.com", "violet-harbor-42")

	st, _, body := s.Do(t, http.MethodPost, "/api/v1/users/login/", map[string]string{"email": "agent.one@example.com", "password": "violet-harbor-42"})
	if st != 200 {
		t.Fatalf("login: %d %s", st, body)
	}
	var login struct{ Access string }
	_ = json.Unmarshal(body, &login)

	st, h, jwks := s.Do(t, http.MethodGet, "/.well-known/jwks.json", nil)
	if st != 200 || h.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("jwks: %d %v", st, h)
	}
	var doc struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use, D string }
	}
	if err := json.Unmarshal(jwks, &doc); err != nil || len(doc.Keys) == 0 || strings.Contains(string(jwks), `"d"`) {
		t.Fatalf("jwks document: %v %s", err, jwks)
	}

	parts := strings.Split(login.Access, ".")
	var header struct{ Alg, Kid string }
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(raw, &header)
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	verified := false
	for _, k := range doc.Keys {
		if k.Kid != header.Kid {
			continue
		}
		pub, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != header.Alg || header.Alg != "EdDSA" {
			t.Fatalf("key %+v for header %+v", k, header)
		}
		verified = ed25519.Verify(ed25519.PublicKey(pub), []byte(parts[0]+"."+parts[1]), sig)
	}
	if !verified {
		t.Fatalf("the access token does not verify with the JWKS key %s", header.Kid)
	}
	raw, _ = base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m["iss"] != "http://auth.example.test" || m["sub"] != userID || m["token_type"] != "access" {
		t.Fatalf("claims = %v", m)
	}

	// a tampered payload does not verify
	tampered := strings.Replace(parts[1], parts[1][:4], "eyJ4", 1)
	if pub, _ := base64.RawURLEncoding.DecodeString(doc.Keys[0].X); ed25519.Verify(ed25519.PublicKey(pub), []byte(parts[0]+"."+tampered), sig) {
		t.Fatal("a tampered token verified")
	}
}
