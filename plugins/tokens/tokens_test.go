package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"gatehouse/plugins/apikit"
	"gatehouse/plugins/config"
	"gatehouse/plugins/realm"
	"gatehouse/testkit"
)

type env struct {
	app  *tests.TestApp
	svc  *Service
	url  string
	user *core.Record
}

// newEnv wires the token service on a test app with one protected route (/api/v1/probe/, STAFF).
func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	var svc *Service
	app := testkit.NewApp(t, func(app *tests.TestApp) {
		cfg := testkit.Config()
		cfg.AppURLOverride = "https://auth.example.com"
		if mutate != nil {
			mutate(cfg)
		}
		kit := apikit.New(app, cfg)
		svc = New(app, kit)
		app.OnServe().BindFunc(func(se *core.ServeEvent) error {
			probe := apikit.Route{Method: http.MethodGet, Path: "/api/v1/probe/", Access: apikit.Staff,
				Handler: func(e *core.RequestEvent) error {
					return apikit.WriteJSON(e, 200, map[string]string{"sid": apikit.CallerOf(e).SessionID})
				}}
			if err := kit.Mount(se.Router, append(svc.Routes(), probe)); err != nil {
				return err
			}
			return se.Next()
		})
	})
	srv := testkit.Serve(t, app)
	return &env{app: app, svc: svc, url: srv.URL, user: newUser(t, app, "agent.one@example.com")}
}

func newUser(t *testing.T, app core.App, email string) *core.Record {
	t.Helper()
	col, _ := app.FindCachedCollectionByNameOrId("users")
	u := core.NewRecord(col)
	u.SetEmail(email)
	u.SetPassword("violet-harbor-42")
	// no record hooks here (hooks imports this package): set what they would derive
	u.Set("username", strings.Split(email, "@")[0])
	u.Set("company_id", "MA"+strings.Split(email, "@")[0])
	u.Set("first_name", "Agent")
	u.Set("last_name", "One")
	u.Set("is_active", true)
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) login(t *testing.T) *Issued {
	t.Helper()
	issued, err := e.svc.StartSession(e.app, realm.TypeStaff, e.user, MethodPassword, "127.0.0.1", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	return issued
}

func (e *env) probe(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/api/v1/probe/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == 401 && string(body) != `{"detail":"Token is invalid or expired.","code":"token_not_valid"}` {
		t.Fatalf("401 body = %s", body)
	}
	return res.StatusCode
}

func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func header(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// forge signs arbitrary claims and headers with the given method and key.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessTokenClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	// an active and an inactive assignment: only the active one is in roles and aud
	tts, _ := e.app.FindFirstRecordByData("systems", "slug", "tts")
	hdts, _ := e.app.FindFirstRecordByData("systems", "slug", "hdts")
	assign := func(system *core.Record, role string, active bool) {
		r, err := e.app.FindFirstRecordByFilter("roles", "system = {:s} && name = {:n}", map[string]any{"s": system.Id, "n": role})
		if err != nil {
			t.Fatal(err)
		}
		col, _ := e.app.FindCachedCollectionByNameOrId("user_system_roles")
		a := core.NewRecord(col)
		a.Set("user", e.user.Id)
		a.Set("system", system.Id)
		a.Set("role", r.Id)
		a.Set("is_active", active)
		if err := e.app.Save(a); err != nil {
			t.Fatal(err)
		}
	}
	assign(tts, "Admin", true)
	assign(tts, "Asset Manager", true)
	assign(hdts, "Ticket Coordinator", false)

	issued := e.login(t)
	c := payload(t, issued.Access)
	h := header(t, issued.Access)
	if h["alg"] != "EdDSA" || h["typ"] != "JWT" || !regexp.MustCompile(`^k\d{8}[a-z]+$`).MatchString(h["kid"].(string)) {
		t.Fatalf("header = %v", h)
	}
	want := map[string]any{"iss": "https://auth.example.com", "sub": e.user.Id, "token_type": "access", "user_id": e.user.Id,
		"user_type": "staff", "email": "agent.one@example.com", "username": "agent.one", "full_name": "Agent One", "sid": issued.SessionID}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if aud, _ := json.Marshal(c["aud"]); string(aud) != `["auth","tts"]` {
		t.Errorf("aud = %s", aud)
	}
	if roles, _ := json.Marshal(c["roles"]); string(roles) != `[{"role":"Admin","system":"tts"},{"role":"Asset Manager","system":"tts"}]` {
		t.Errorf("roles = %s", roles)
	}
	if c["exp"].(float64)-c["iat"].(float64) != 300 || c["nbf"] != c["iat"] || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c["jti"].(string)) {
		t.Errorf("times/jti: %v", c)
	}
	if _, ok := c["employee_id"]; ok {
		t.Error("staff token carries employee_id")
	}

	r := payload(t, issued.Refresh)
	for _, k := range []string{"email", "username", "full_name", "roles"} {
		if _, ok := r[k]; ok {
			t.Errorf("refresh token carries %s", k)
		}
	}
	if r["token_type"] != "refresh" || r["sid"] != issued.SessionID || r["exp"].(float64)-r["iat"].(float64) != 604800 {
		t.Errorf("refresh claims = %v", r)
	}
	if e.probe(t, issued.Access) != 200 {
		t.Fatal("a fresh access token must be accepted")
	}
}

func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.HS256Secret = []byte(strings.Repeat("h", 32)) })
	issued := e.login(t)
	good := payload(t, issued.Access)
	kid := header(t, issued.Access)["kid"].(string)
	active, err := e.svc.activeKey()
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mut func(map[string]any)) map[string]any {
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		if mut != nil {
			mut(c)
		}
		return c
	}
	now := time.Now().Unix()
	_, attackerKey, _ := ed25519.GenerateKey(rand.Reader)
	attackerJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerKey.Public().(ed25519.PublicKey))}

	// a correctly forged control token proves the forging itself works
	if e.probe(t, forge(t, jwt.SigningMethodEdDSA, active.priv, claims(nil), map[string]any{"kid": kid})) != 200 {
		t.Fatal("control token refused")
	}

	unsignedNone := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + kid + `"}`))
		p, _ := json.Marshal(claims(nil))
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}

	cases := map[string]string{
		"alg none": unsignedNone(),
		"HS256 with the compat secret and kid hs256": forge(t, jwt.SigningMethodHS256, e.svc.cfg.HS256Secret, claims(nil), map[string]any{"kid": "hs256"}),
		"HS256 with the compat secret and our kid":   forge(t, jwt.SigningMethodHS256, e.svc.cfg.HS256Secret, claims(nil), map[string]any{"kid": kid}),
		"HS256 keyed with the public key bytes":      forge(t, jwt.SigningMethodHS256, []byte(active.pub), claims(nil), map[string]any{"kid": kid}),
		"HS256 keyed with the base64 public key":     forge(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(active.pub)), claims(nil), map[string]any{"kid": kid}),
		"the access_hs256 copy itself":               issued.AccessHS256,
		"a key not in signing_keys":                  forge(t, jwt.SigningMethodEdDSA, attackerKey, claims(nil), map[string]any{"kid": kid}),
		"an unknown kid":                             forge(t, jwt.SigningMethodEdDSA, active.priv, claims(nil), map[string]any{"kid": "k19990101a"}),
		"no kid":                                     forge(t, jwt.SigningMethodEdDSA, active.priv, claims(nil), nil),
		"jwk header with the attacker's key":         forge(t, jwt.SigningMethodEdDSA, attackerKey, claims(nil), map[string]any{"kid": kid, "jwk": attackerJWK}),
		"jku header":                                 forge(t, jwt.SigningMethodEdDSA, attackerKey, claims(nil), map[string]any{"kid": kid, "jku": "https://evil.example/jwks.json"}),
		"crit header":                                forge(t, jwt.SigningMethodEdDSA, active.priv, claims(nil), map[string]any{"kid": kid, "crit": []string{"exp"}}),
		"expired":                                    forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["exp"] = now - 1 }), map[string]any{"kid": kid}),
		"not yet valid":                              forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["nbf"] = now + 60 }), map[string]any{"kid": kid}),
		"wrong issuer":                               forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), map[string]any{"kid": kid}),
		"audience without auth":                      forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["aud"] = []string{"tts"} }), map[string]any{"kid": kid}),
		"user_id differs from sub":                   forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["user_id"] = "someoneelse0000" }), map[string]any{"kid": kid}),
		"employee user_type on a staff session":      forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["user_type"] = "employee" }), map[string]any{"kid": kid}),
		"a session of nobody":                        forge(t, jwt.SigningMethodEdDSA, active.priv, claims(func(c map[string]any) { c["sid"] = "nosuchsession00" }), map[string]any{"kid": kid}),
		"a refresh token as access":                  issued.Refresh,
		"garbage":                                    "not.a.jwt",
	}
	mfa, _, err := e.svc.MintMFAPending(realm.TypeStaff, e.user.Id)
	if err != nil {
		t.Fatal(err)
	}
	cases["an mfa_pending token"] = mfa
	for name, token := range cases {
		if got := e.probe(t, token); got != 401 {
			t.Errorf("%s: status %d, want 401", name, got)
		}
	}
	// compat mode's copy really is an HS256 token with the same claims
	if h := header(t, issued.AccessHS256); h["alg"] != "HS256" || h["kid"] != "hs256" || payload(t, issued.AccessHS256)["jti"] != good["jti"] {
		t.Errorf("access_hs256 = %v %v", h, payload(t, issued.AccessHS256))
	}
}

func TestAccessTokenDiesWithItsPrincipalAndSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.login(t)
	b := e.login(t)
	if e.probe(t, a.Access) != 200 || e.probe(t, b.Access) != 200 {
		t.Fatal("fresh tokens refused")
	}
	if ok, err := RevokeSession(e.app, a.SessionID, ReasonLogout); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if e.probe(t, a.Access) != 401 || e.probe(t, b.Access) != 200 {
		t.Fatal("only the revoked session's token must die")
	}
	e.user.Set("is_active", false)
	if err := e.app.Save(e.user); err != nil {
		t.Fatal(err)
	}
	if e.probe(t, b.Access) != 401 {
		t.Fatal("a deactivated user's token must be refused at once")
	}
}

func TestAccessTokenExpiresWithoutLeeway(t *testing.T) {
	t.Parallel()
	// exp counts whole seconds from a truncated iat, so a token of TTL n lives between n-1 and n
	// seconds: with 3 the fresh probe has at least 2 s (a 1 s TTL failed it under a loaded CI).
	e := newEnv(t, func(c *config.Config) { c.AccessTokenTTL = 3 * time.Second })
	a := e.login(t)
	if e.probe(t, a.Access) != 200 {
		t.Fatal("fresh token refused")
	}
	time.Sleep(3100 * time.Millisecond)
	if e.probe(t, a.Access) != 401 {
		t.Fatal("an expired access token must be refused")
	}
}

func TestSigningKeysAtRestRotationAndJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.login(t)
	firstKid := header(t, first.Access)["kid"].(string)

	rows, _ := e.app.FindAllRecords(keysTable)
	if len(rows) != 1 {
		t.Fatalf("%d keys, want 1", len(rows))
	}
	row := rows[0]
	pub, _ := base64.RawURLEncoding.DecodeString(row.GetString("public_key"))
	if raw, err := base64.RawURLEncoding.DecodeString(row.GetString("private_key")); err == nil {
		for i := 0; i+ed25519.SeedSize <= len(raw); i++ {
			if string(ed25519.NewKeyFromSeed(raw[i:i+ed25519.SeedSize]).Public().(ed25519.PublicKey)) == string(pub) {
				t.Fatal("private_key holds the clear seed")
			}
		}
	}

	newKid, err := e.svc.Rotate()
	if err != nil || newKid == firstKid {
		t.Fatalf("rotate: %v %s", err, newKid)
	}
	second := e.login(t)
	if header(t, second.Access)["kid"] != newKid {
		t.Fatal("new tokens must be signed with the new key")
	}
	if e.probe(t, first.Access) != 200 || e.probe(t, second.Access) != 200 {
		t.Fatal("tokens of the retired key must keep verifying")
	}

	res, err := http.Get(e.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("jwks: %d %v", res.StatusCode, res.Header)
	}
	var doc struct{ Keys []map[string]any }
	_ = json.Unmarshal(body, &doc)
	if len(doc.Keys) != 2 || doc.Keys[0]["kid"] != newKid || doc.Keys[1]["kid"] != firstKid {
		t.Fatalf("jwks = %s", body)
	}
	for _, k := range doc.Keys {
		if len(k) != 6 || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["x"] == "" {
			t.Fatalf("jwk members = %v", k)
		}
	}

	// A retired key older than REFRESH_TOKEN_TTL + 1 day is deleted; its tokens stop verifying.
	old, _ := e.app.FindFirstRecordByData(keysTable, "kid", firstKid)
	old.Set("retired_at", time.Now().Add(-(e.svc.cfg.RefreshTokenTTL + 25*time.Hour)))
	if err := e.app.Save(old); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RotateIfDue(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.FindFirstRecordByData(keysTable, "kid", firstKid); err == nil {
		t.Fatal("expired retired key not deleted")
	}
	if e.probe(t, first.Access) != 401 || e.probe(t, second.Access) != 200 {
		t.Fatal("only tokens of the deleted key must die")
	}
}

func TestRotationIsDueByAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login(t)
	before, _ := e.svc.activeKey()
	if err := e.svc.RotateIfDue(); err != nil {
		t.Fatal(err)
	}
	if k, _ := e.svc.activeKey(); k.kid != before.kid {
		t.Fatal("a fresh key must not rotate")
	}
	row, _ := e.app.FindFirstRecordByData(keysTable, "kid", before.kid)
	row.Set("activated_at", time.Now().Add(-31*24*time.Hour))
	if err := e.app.Save(row); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RotateIfDue(); err != nil {
		t.Fatal(err)
	}
	if k, _ := e.svc.activeKey(); k.kid == before.kid {
		t.Fatal("a 31-day-old key must rotate")
	}
}

func TestAnotherSecretCannotUseTheKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login(t)
	other, _ := config.NewSecret([]byte(strings.Repeat("x", 32)))
	svc := &Service{app: e.app, cfg: &config.Config{Secret: other}}
	if _, err := svc.loadKeyring(e.app); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET") {
		t.Fatalf("loading keys with another secret: %v", err)
	}
}

// The live-session cache must never outlive a change: once a check is served from the cache,
// every kind of write that ends the session's validity takes effect on the next request.
func TestLiveSessionCacheFollowsEveryWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cached := func(issued *Issued) bool {
		_, ok := e.svc.live.Get(e.app, realm.TypeStaff+"/"+e.user.Id+"/"+issued.SessionID)
		return ok
	}
	warm := func(issued *Issued) {
		t.Helper()
		time.Sleep(1100 * time.Millisecond) // let the last write settle
		if e.probe(t, issued.Access) != 200 || !cached(issued) {
			t.Fatal("the check was not cached")
		}
		if e.probe(t, issued.Access) != 200 {
			t.Fatal("a cached check must pass")
		}
	}

	// 1. revocation through the tokens package
	a := e.login(t)
	warm(a)
	if _, err := RevokeSession(e.app, a.SessionID, ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if e.probe(t, a.Access) != 401 {
		t.Fatal("revoked session still accepted (cache)")
	}

	// 2. a model save (the dashboard's path)
	b := e.login(t)
	warm(b)
	e.user.Set("is_active", false)
	if err := e.app.Save(e.user); err != nil {
		t.Fatal(err)
	}
	if e.probe(t, b.Access) != 401 {
		t.Fatal("deactivated user still accepted (cache)")
	}
	e.user.Set("is_active", true)
	if err := e.app.Save(e.user); err != nil {
		t.Fatal(err)
	}

	// 3. a raw UPDATE, autocommit
	c := e.login(t)
	warm(c)
	if _, err := e.app.DB().NewQuery("UPDATE sessions SET revoked_at = '2026-01-01 00:00:00.000Z' WHERE id = {:id}").
		Bind(map[string]any{"id": c.SessionID}).Execute(); err != nil {
		t.Fatal(err)
	}
	if e.probe(t, c.Access) != 401 {
		t.Fatal("raw revocation not seen (cache)")
	}

	// 4. a raw UPDATE inside a transaction
	d := e.login(t)
	warm(d)
	err := e.app.RunInTransaction(func(tx core.App) error {
		_, err := tx.DB().NewQuery("UPDATE users SET is_active = 0 WHERE id = {:id}").Bind(map[string]any{"id": e.user.Id}).Execute()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.probe(t, d.Access) != 401 {
		t.Fatal("transactional raw deactivation not seen (cache)")
	}
}

func TestLiveSessionCacheRespectsAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.SessionMaxAge = 2 * time.Second
		c.RefreshTokenTTL = time.Minute
		c.AccessTokenTTL = time.Minute
	})
	a := e.login(t)
	time.Sleep(1100 * time.Millisecond)
	if e.probe(t, a.Access) != 200 {
		t.Fatal("fresh")
	}
	time.Sleep(1000 * time.Millisecond)
	if e.probe(t, a.Access) != 401 {
		t.Fatal("a session past its absolute lifetime must be refused even from the cache")
	}
}

// §8.1 st. 11 and §7.1: the access_token cookie (name + value) of a user holding 20 active
// assignments stays within 4096 bytes (browsers drop larger cookies). Names of a realistic
// length: 20-character slugs, 40-character role names, a long email and full name.
func TestAccessCookieOfTwentyAssignmentsFits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := newUser(t, e.app, "firstname.middlename.lastname@department.example.com")
	systems, _ := e.app.FindCachedCollectionByNameOrId("systems")
	for i := range 20 {
		sys := core.NewRecord(systems)
		sys.Set("name", fmt.Sprintf("Internal Business System %02d", i))
		sys.Set("slug", fmt.Sprintf("internal-system-%04d", i))
		if err := e.app.Save(sys); err != nil {
			t.Fatal(err)
		}
		role := testkit.NewCustomRole(t, e.app, sys.Id, fmt.Sprintf("Regional Ticket Escalation Coordinator %02d", i))
		testkit.Assign(t, e.app, u, role, true)
	}
	issued, err := e.svc.StartSession(e.app, realm.TypeStaff, u, MethodPassword, "127.0.0.1", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	if roles, _ := payload(t, issued.Access)["roles"].([]any); len(roles) != 20 {
		t.Fatalf("%d roles in the token", len(roles))
	}
	n := len(apikit.AccessCookieName + "=" + issued.Access)
	if n > 4096 {
		t.Fatalf("access_token cookie of %d bytes", n)
	}
	t.Logf("access_token cookie: %d bytes", n)
}
