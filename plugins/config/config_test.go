package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestLoadDefaultsAndOverrides(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenTTL != 300*time.Second || c.RefreshTokenTTL != 604800*time.Second || c.SessionMaxAge != 2592000*time.Second ||
		c.MFATokenTTL != 300*time.Second || c.KeyRotationAge != 30*24*time.Hour || !c.RegistrationEnabled || !c.RateLimitsEnabled ||
		c.BcryptCost != 12 || c.MaxJSONBody != 1<<20 || c.MaxMultipartBody != 3<<20 || c.DefaultPageSize != 50 || c.MaxPageSize != 200 {
		t.Fatalf("defaults differ from the contract: %+v", c)
	}

	c, err = Load(env(map[string]string{
		"APP_URL": "https://auth.example.com/", "ACCESS_TOKEN_TTL": "2", "SESSION_MAX_AGE": "5", "JWT_KEY_ROTATION_DAYS": "7",
		"COOKIE_SECURE": "true", "CORS_ALLOWED_ORIGINS": "https://a.example, https://B.example/",
		"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1, ::1/128", "REGISTRATION_ENABLED": "false", "RATE_LIMITS_ENABLED": "false",
		"JWT_HS256_SECRET": strings.Repeat("s", 32),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AppURLOverride != "https://auth.example.com" || c.AccessTokenTTL != 2*time.Second || c.SessionMaxAge != 5*time.Second ||
		c.KeyRotationAge != 7*24*time.Hour || !c.CookieSecure || c.RegistrationEnabled || c.RateLimitsEnabled || len(c.HS256Secret) != 32 {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if got := strings.Join(c.CORSAllowedOrigins, ","); got != "https://a.example,https://b.example" {
		t.Fatalf("origins = %q", got)
	}
	if len(c.TrustedProxies) != 3 || c.TrustedProxies[1].String() != "127.0.0.1/32" {
		t.Fatalf("trusted proxies = %v", c.TrustedProxies)
	}
}

func TestLoadRejectsMalformedValues(t *testing.T) {
	for name, value := range map[string]string{
		"ACCESS_TOKEN_TTL": "five", "REFRESH_TOKEN_TTL": "-1", "COOKIE_SECURE": "maybe",
		"TRUSTED_PROXIES": "not-a-cidr", "CORS_ALLOWED_ORIGINS": "example.com", "JWT_HS256_SECRET": "short",
	} {
		if _, err := Load(env(map[string]string{name: value})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v, want an error naming the variable", name, value, err)
		}
	}
}

func TestSecretFileIsGeneratedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	s1, fromFile, err := LoadSecret(env(nil), dir)
	if err != nil || !fromFile {
		t.Fatalf("first load: %v fromFile=%v", err, fromFile)
	}
	info, err := os.Stat(filepath.Join(dir, SecretFileName))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", info.Mode().Perm())
	}
	content, _ := os.ReadFile(filepath.Join(dir, SecretFileName))
	s2, _, err := LoadSecret(env(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	if s1.MAC("otp", "123456") != s2.MAC("otp", "123456") {
		t.Fatal("the reused file must give the same secret")
	}
	again, _ := os.ReadFile(filepath.Join(dir, SecretFileName))
	if !bytes.Equal(content, again) {
		t.Fatal("the secret file must not be rewritten")
	}
}

func TestSecretFromEnvWinsAndCreatesNoFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadSecret(env(map[string]string{"GATEHOUSE_SECRET": "too-short"}), dir); err == nil {
		t.Fatal("a secret under 32 bytes must be refused")
	}
	s, fromFile, err := LoadSecret(env(map[string]string{"GATEHOUSE_SECRET": strings.Repeat("k", 32)}), dir)
	if err != nil || fromFile || s == nil {
		t.Fatalf("env secret: %v fromFile=%v", err, fromFile)
	}
	if _, err := os.Stat(filepath.Join(dir, SecretFileName)); !os.IsNotExist(err) {
		t.Fatalf("no file may be created when GATEHOUSE_SECRET is set (stat err %v)", err)
	}
}

func TestSealOpenAndMAC(t *testing.T) {
	a, _ := NewSecret([]byte(strings.Repeat("a", 32)))
	b, _ := NewSecret([]byte(strings.Repeat("b", 32)))
	plain := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	sealed, err := a.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, string(plain)) {
		t.Fatal("sealed value holds the clear text")
	}
	if sealed2, _ := a.Seal(plain); sealed2 == sealed {
		t.Fatal("two seals of one value must differ (random nonce)")
	}
	if got, err := a.Open(sealed); err != nil || string(got) != string(plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := b.Open(sealed); err == nil {
		t.Fatal("another secret must not open the value")
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	if _, err := a.Open(string(tampered)); err == nil {
		t.Fatal("a tampered value must not open")
	}
	if a.MAC("otp", "123456") == a.MAC("captcha", "123456") || a.MAC("otp", "1") == b.MAC("otp", "1") {
		t.Fatal("MACs must depend on purpose and secret")
	}
	if !a.EqualMAC("otp", "123456", a.MAC("otp", "123456")) || a.EqualMAC("otp", "123457", a.MAC("otp", "123456")) {
		t.Fatal("EqualMAC")
	}
}

// Two first starts at once (issue 12): every loader gets the same secret, none an error, and
// no temporary file is left behind.
func TestSecretConcurrentFirstStarts(t *testing.T) {
	for round := 0; round < 20; round++ {
		dir := t.TempDir()
		const n = 8
		macs := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s, _, err := LoadSecret(env(nil), dir)
				errs[i] = err
				if err == nil {
					macs[i] = s.MAC("otp", "123456")
				}
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || macs[i] != macs[0] {
				t.Fatalf("round %d loader %d: err=%v, same secret=%v", round, i, errs[i], macs[i] == macs[0])
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != SecretFileName {
			t.Fatalf("round %d: data dir holds %v", round, entries)
		}
	}
}

// Lifetimes whose time.Duration would overflow (or exceed 100 years) stop start-up with an
// error naming the variable, instead of a negative TTL or rotation age; 100 years is accepted.
func TestLoadBoundsTheDurations(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "SESSION_MAX_AGE", "MFA_TOKEN_TTL"} {
		for _, value := range []string{"10000000000", "3153600001", "9223372036854775807"} {
			c, err := Load(env(map[string]string{name: value}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: err = %v, config %+v; want an error naming the variable", name, value, err, c)
			}
		}
		c, err := Load(env(map[string]string{name: "3153600000"}))
		if err != nil {
			t.Errorf("%s=3153600000 (100 years): %v", name, err)
			continue
		}
		for _, d := range []time.Duration{c.AccessTokenTTL, c.RefreshTokenTTL, c.SessionMaxAge, c.MFATokenTTL} {
			if d <= 0 || d+24*time.Hour <= 0 {
				t.Errorf("%s=3153600000: a lifetime is %v", name, d)
			}
		}
	}
	for _, value := range []string{"200000", "36501", "106751991167301"} {
		c, err := Load(env(map[string]string{"JWT_KEY_ROTATION_DAYS": value}))
		if err == nil || !strings.Contains(err.Error(), "JWT_KEY_ROTATION_DAYS") {
			t.Errorf("JWT_KEY_ROTATION_DAYS=%s: err = %v, config %+v; want an error naming the variable", value, err, c)
		}
	}
	if c, err := Load(env(map[string]string{"JWT_KEY_ROTATION_DAYS": "36500"})); err != nil || c.KeyRotationAge != 36500*24*time.Hour {
		t.Errorf("JWT_KEY_ROTATION_DAYS=36500 (100 years): %v %v", err, c)
	}
}

// APP_URL and DEFAULT_SYSTEM_URL must be absolute http(s) URLs, COOKIE_DOMAIN a bare host name:
// anything else stops start-up with an error naming the variable.
func TestLoadValidatesURLsAndCookieDomain(t *testing.T) {
	t.Parallel()
	bad := map[string][]string{
		"APP_URL": {"auth.example.com", "ftp://auth.example.com", "https://", "https:///path", "//auth.example.com",
			"https://user:pw@auth.example.com", "https://auth.example.com/#x", "https://auth.example.com/?a=b",
			"https://auth example.com", "mailto:a@example.com", "https://auth.example.com:port", "/relative"},
		"DEFAULT_SYSTEM_URL": {"app.example.com", "javascript:alert(1)", "https://", "https://app.example.com/#frag", "app.example.com/path"},
		"COOKIE_DOMAIN":      {"https://example.com", "example.com:8443", "example.com/path", "exa mple.com", "-example.com", "example..com"},
	}
	for name, values := range bad {
		for _, value := range values {
			c, err := Load(env(map[string]string{name: value}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err = %v (config %v); want an error naming the variable", name, value, err, c)
			}
		}
	}

	c, err := Load(env(map[string]string{
		"APP_URL": "HTTPS://auth.example.com:8443/gate/", "DEFAULT_SYSTEM_URL": "http://app.example.com/home/?from=auth",
		"COOKIE_DOMAIN": ".example.com",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AppURLOverride != "https://auth.example.com:8443/gate" || c.DefaultSystemURL != "http://app.example.com/home/?from=auth" ||
		c.CookieDomain != ".example.com" {
		t.Fatalf("valid values not kept: %q %q %q", c.AppURLOverride, c.DefaultSystemURL, c.CookieDomain)
	}
	for _, d := range []string{"example.com", "localhost", "auth.example.co.uk"} {
		if c, err := Load(env(map[string]string{"COOKIE_DOMAIN": d})); err != nil || c.CookieDomain != d {
			t.Errorf("COOKIE_DOMAIN=%q: %v", d, err)
		}
	}
}
