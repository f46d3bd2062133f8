package tokens

import (
	"encoding/base64"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// Routes is the tokens plugin's path table: the JWKS document and its alias (§5.15.1).
func (s *Service) Routes() []apikit.Route {
	doc := &apikit.Doc{Tag: "Tokens", Summary: "The public signing keys (JWKS, §5.15.1)",
		Description: "One entry per active or retired signing key; `Cache-Control: public, max-age=300`.",
		Responses:   []apikit.Response{apikit.OK("The key set.", apikit.Ref("JWKS"))}}
	return []apikit.Route{
		{Method: http.MethodGet, Path: "/.well-known/jwks.json", SkipSuccessLog: true, Handler: s.jwks, Doc: doc},
		{Method: http.MethodGet, Path: "/api/v1/token/jwks/", Handler: s.jwks, Doc: doc},
	}
}

// jwks publishes the public half of every active and retired key (never a private part, never
// the HS256 secret). Consumers may cache it for 300 s.
func (s *Service) jwks(e *core.RequestEvent) error {
	if _, err := s.activeKey(); err != nil {
		return err
	}
	kr := s.keys.Load()
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(kr.order))}
	for _, k := range kr.order {
		doc.Keys = append(doc.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.kid, Alg: "EdDSA", Use: "sig"})
	}
	e.Response.Header().Set("Cache-Control", "public, max-age=300")
	return apikit.WriteJSON(e, http.StatusOK, doc)
}
