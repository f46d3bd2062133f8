// Package config holds every tunable of Gatehouse in one struct: the defaults are the numbers of
// spec/API.md (§1.14 and the limits table of §7.1); the variables of §1.14 override them from the
// environment. Every plugin receives the same *Config, so a test can shorten a TTL in one place.
package config

import (
	"fmt"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Config is the whole runtime configuration. Durations are time.Duration, counts are ints.
type Config struct {
	// §1.14 environment variables.
	AppURLOverride      string         // APP_URL; empty = PocketBase's Application URL setting
	JWTIssuer           string         // JWT_ISSUER; empty = the effective APP_URL
	AccessTokenTTL      time.Duration  // ACCESS_TOKEN_TTL
	RefreshTokenTTL     time.Duration  // REFRESH_TOKEN_TTL
	SessionMaxAge       time.Duration  // SESSION_MAX_AGE
	MFATokenTTL         time.Duration  // MFA_TOKEN_TTL
	KeyRotationAge      time.Duration  // JWT_KEY_ROTATION_DAYS
	HS256Secret         []byte         // JWT_HS256_SECRET (compatibility mode when set)
	CookieSecure        bool           // COOKIE_SECURE
	CookieDomain        string         // COOKIE_DOMAIN
	CORSAllowedOrigins  []string       // CORS_ALLOWED_ORIGINS
	TrustedProxies      []netip.Prefix // TRUSTED_PROXIES
	RegistrationEnabled bool           // REGISTRATION_ENABLED
	DefaultSystemURL    string         // DEFAULT_SYSTEM_URL; empty = the effective APP_URL
	HIBPEnabled         bool           // HIBP_ENABLED
	RateLimitsEnabled   bool           // RATE_LIMITS_ENABLED (seeds the PocketBase setting once)
	CaptchaTestAnswer   string         // CAPTCHA_TEST_ANSWER (honoured only with --dev)

	// SMTP overrides of PocketBase's mail settings (plugins/mailer). Each one wins over the
	// dashboard setting when set; SMTP counts as configured when SMTPHost is set or the
	// dashboard's SMTP switch is on.
	SMTPHost     string        // SMTP_HOST
	SMTPPort     int           // SMTP_PORT; 0 = the dashboard port, or 465/587 when SMTP_HOST is set
	SMTPUsername string        // SMTP_USERNAME
	SMTPPassword string        // SMTP_PASSWORD
	SMTPTLS      *bool         // SMTP_TLS (implicit TLS); nil = the dashboard's TLS switch
	SMTPStartTLS string        // SMTP_STARTTLS without implicit TLS: "mandatory", "opportunistic" (default) or "none"
	MailFrom     string        // MAIL_FROM ("Name <addr>" or "addr"); empty = the dashboard's sender
	SMTPTimeout  time.Duration // one SMTP conversation (dial to QUIT), not an environment variable

	// Secret is the server secret (GATEHOUSE_SECRET or the generated file), set at bootstrap.
	Secret *Secret

	// Fixed limits of §7.1 (not environment variables; tests may change them on their copy).
	MFAMaxWrongCodes       int
	RefreshGrace           time.Duration
	KeyRotationCheck       time.Duration
	TOTPPendingTTL         time.Duration
	TOTPSkewSteps          uint
	EmailOTPTTL            time.Duration
	EmailOTPMaxAttempts    int
	OTPResendCooldown      time.Duration
	RecoveryCodeCount      int
	MFALockFailures        int
	MFALockWindow          time.Duration
	MFALockMaxWindow       time.Duration
	CaptchaTTL             time.Duration
	CaptchaSolvedTTL       time.Duration
	CaptchaEmailThreshold  int
	CaptchaIPThreshold     int
	CaptchaWindow          time.Duration
	LockoutFailures        int
	LockoutWindow          time.Duration
	LockDuration           time.Duration
	PasswordMinChars       int
	PasswordMaxBytes       int
	BcryptCost             int
	HashConcurrency        int
	HashWait               time.Duration
	HIBPTimeout            time.Duration
	ResetTokenTTL          time.Duration
	ResetEmailsPerHour     int
	InvitationTTL          time.Duration
	InvitationEmailsPerHr  int
	MaxJSONBody            int64
	MaxMultipartBody       int64
	DefaultPageSize        int
	MaxPageSize            int
	MaxSearchLength        int
	MaxUserAgent           int
	APIKeyTouchInterval    time.Duration
	CORSMaxAge             time.Duration
	OutboxRetryDelays      []time.Duration
	OutboxBodyRetention    time.Duration
	AuthFailureRetention   time.Duration
	ExpiredRowRetention    time.Duration
	InvitationRetention    time.Duration
	SessionRetention       time.Duration
	AuditRetention         time.Duration
	RefreshAuditSampling   time.Duration
	MaxProfilePictureBytes int64
	MaxProfilePicturePx    int
	MaxUsersInfoIDs        int
	MaxAvailableUsers      int
}

// Default returns the configuration with every default of the contract and no environment applied.
func Default() *Config {
	return &Config{
		AccessTokenTTL:      300 * time.Second,
		RefreshTokenTTL:     604800 * time.Second,
		SessionMaxAge:       2592000 * time.Second,
		MFATokenTTL:         300 * time.Second,
		KeyRotationAge:      30 * 24 * time.Hour,
		RegistrationEnabled: true,
		RateLimitsEnabled:   true,

		MFAMaxWrongCodes:       5,
		RefreshGrace:           10 * time.Second,
		KeyRotationCheck:       time.Hour,
		TOTPPendingTTL:         600 * time.Second,
		TOTPSkewSteps:          1,
		EmailOTPTTL:            300 * time.Second,
		EmailOTPMaxAttempts:    5,
		OTPResendCooldown:      60 * time.Second,
		RecoveryCodeCount:      10,
		MFALockFailures:        10,
		MFALockWindow:          15 * time.Minute,
		MFALockMaxWindow:       24 * time.Hour,
		CaptchaTTL:             300 * time.Second,
		CaptchaSolvedTTL:       120 * time.Second,
		CaptchaEmailThreshold:  3,
		CaptchaIPThreshold:     10,
		CaptchaWindow:          15 * time.Minute,
		LockoutFailures:        10,
		LockoutWindow:          15 * time.Minute,
		LockDuration:           15 * time.Minute,
		PasswordMinChars:       8,
		PasswordMaxBytes:       71,
		BcryptCost:             12,
		HashConcurrency:        2 * runtime.NumCPU(),
		HashWait:               5 * time.Second,
		HIBPTimeout:            5 * time.Second,
		ResetTokenTTL:          3600 * time.Second,
		ResetEmailsPerHour:     3,
		InvitationTTL:          72 * time.Hour,
		InvitationEmailsPerHr:  50,
		MaxJSONBody:            1 << 20,
		MaxMultipartBody:       3 << 20,
		DefaultPageSize:        50,
		MaxPageSize:            200,
		MaxSearchLength:        100,
		MaxUserAgent:           512,
		APIKeyTouchInterval:    time.Minute,
		CORSMaxAge:             600 * time.Second,
		OutboxRetryDelays:      []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour},
		OutboxBodyRetention:    7 * 24 * time.Hour,
		SMTPStartTLS:           "opportunistic",
		SMTPTimeout:            10 * time.Second,
		AuthFailureRetention:   24 * time.Hour,
		ExpiredRowRetention:    24 * time.Hour,
		InvitationRetention:    30 * 24 * time.Hour,
		SessionRetention:       30 * 24 * time.Hour,
		AuditRetention:         180 * 24 * time.Hour,
		RefreshAuditSampling:   time.Minute,
		MaxProfilePictureBytes: 2 << 20,
		MaxProfilePicturePx:    1024,
		MaxUsersInfoIDs:        200,
		MaxAvailableUsers:      200,
	}
}

// Load returns Default() with the §1.14 variables read through lookup (os.LookupEnv in
// production). A malformed value is an error: the service refuses to start rather than guess.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	c := Default()
	r := reader{lookup: lookup}

	c.AppURLOverride = r.absoluteURL("APP_URL", false)
	c.JWTIssuer = r.str("JWT_ISSUER")
	r.seconds("ACCESS_TOKEN_TTL", &c.AccessTokenTTL)
	r.seconds("REFRESH_TOKEN_TTL", &c.RefreshTokenTTL)
	r.seconds("SESSION_MAX_AGE", &c.SessionMaxAge)
	r.seconds("MFA_TOKEN_TTL", &c.MFATokenTTL)
	if v, ok := r.boundedInt("JWT_KEY_ROTATION_DAYS", MaxDays, "days (100 years)"); ok {
		c.KeyRotationAge = time.Duration(v) * 24 * time.Hour
	}
	if s := r.str("JWT_HS256_SECRET"); s != "" {
		if len(s) < 32 {
			r.fail("JWT_HS256_SECRET must be at least 32 bytes long")
		}
		c.HS256Secret = []byte(s)
	}
	r.boolean("COOKIE_SECURE", &c.CookieSecure)
	c.CookieDomain = r.cookieDomain("COOKIE_DOMAIN")
	c.CORSAllowedOrigins = r.origins("CORS_ALLOWED_ORIGINS")
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES")
	r.boolean("REGISTRATION_ENABLED", &c.RegistrationEnabled)
	c.DefaultSystemURL = r.absoluteURL("DEFAULT_SYSTEM_URL", true)
	r.boolean("HIBP_ENABLED", &c.HIBPEnabled)
	r.boolean("RATE_LIMITS_ENABLED", &c.RateLimitsEnabled)
	c.CaptchaTestAnswer = r.str("CAPTCHA_TEST_ANSWER")

	c.SMTPHost = r.str("SMTP_HOST")
	if v, ok := r.positiveInt("SMTP_PORT"); ok {
		if v > 65535 {
			r.fail("SMTP_PORT must be a port number (1-65535), got %d", v)
		}
		c.SMTPPort = v
	}
	c.SMTPUsername = r.str("SMTP_USERNAME")
	if v, _ := r.lookup("SMTP_PASSWORD"); strings.TrimSpace(v) != "" {
		c.SMTPPassword = v // not trimmed: a password may start or end with a space
	}
	if r.str("SMTP_TLS") != "" {
		var tls bool
		r.boolean("SMTP_TLS", &tls)
		c.SMTPTLS = &tls
	}
	if s := strings.ToLower(r.str("SMTP_STARTTLS")); s != "" {
		switch s {
		case "mandatory", "opportunistic", "none":
			c.SMTPStartTLS = s
		default:
			r.fail("SMTP_STARTTLS must be mandatory, opportunistic or none, got %q", s)
		}
	}
	if s := r.str("MAIL_FROM"); s != "" {
		if _, err := mail.ParseAddress(s); err != nil {
			r.fail("MAIL_FROM must be an email address (optionally \"Name <addr>\"), got %q", s)
		}
		c.MailFrom = s
	}

	if r.err != nil {
		return nil, r.err
	}
	return c, nil
}

// FromEnv is Load(os.LookupEnv).
func FromEnv() (*Config, error) { return Load(os.LookupEnv) }

// IsTrustedProxy reports whether a socket peer address may set the forwarding header (§1.12).
func (c *Config) IsTrustedProxy(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

type reader struct {
	lookup func(string) (string, bool)
	err    error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("config: "+format, args...)
	}
}

func (r *reader) str(name string) string {
	v, _ := r.lookup(name)
	return strings.TrimSpace(v)
}

func (r *reader) positiveInt(name string) (int, bool) {
	s := r.str(name)
	if s == "" {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		r.fail("%s must be a positive integer, got %q", name, s)
		return 0, false
	}
	return v, true
}

// Upper bounds of the lifetime variables: 100 years. A time.Duration holds about 292 years, so
// a lifetime, and the sums the service makes of it (a retired signing key is kept
// REFRESH_TOKEN_TTL + 1 day), never overflow into a negative duration; a larger value is an
// error rather than a silently negative TTL or rotation age.
const (
	MaxSeconds = 100 * 365 * 24 * 3600 // ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL, SESSION_MAX_AGE, MFA_TOKEN_TTL
	MaxDays    = 100 * 365             // JWT_KEY_ROTATION_DAYS
)

// boundedInt is positiveInt with an upper bound (unit names the bound in the error).
func (r *reader) boundedInt(name string, max int, unit string) (int, bool) {
	v, ok := r.positiveInt(name)
	if ok && v > max {
		r.fail("%s must be at most %d %s, got %d", name, max, unit, v)
		return 0, false
	}
	return v, ok
}

func (r *reader) seconds(name string, dst *time.Duration) {
	if v, ok := r.boundedInt(name, MaxSeconds, "seconds (100 years)"); ok {
		*dst = time.Duration(v) * time.Second
	}
}

// absoluteURL reads an absolute http(s) URL: scheme, host, optional port and path, no user
// information or fragment, and a query only when allowQuery. The trailing slash is dropped
// (links are built as value + "/api/..."); the scheme is lower-cased.
func (r *reader) absoluteURL(name string, allowQuery bool) string {
	s := strings.TrimRight(r.str(name), "/")
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" ||
		u.User != nil || u.Fragment != "" || strings.Contains(s, "#") || (u.RawQuery != "" || u.ForceQuery) && !allowQuery ||
		strings.ContainsAny(s, " \t\n\r") {
		form := "http(s)://host[:port][/path]"
		if allowQuery {
			form = "http(s)://host[:port][/path][?query]"
		}
		r.fail("%s must be an absolute URL %s, got %q", name, form, s)
		return ""
	}
	return u.Scheme + s[len(u.Scheme):]
}

// cookieDomain reads a cookie Domain: a bare host name (an optional leading dot; no scheme,
// port or path), as net/http accepts it. net/http drops an invalid Domain with only a log line,
// which would silently make the access_token cookie host-only.
func (r *reader) cookieDomain(name string) string {
	s := r.str(name)
	if s == "" {
		return ""
	}
	if err := (&http.Cookie{Name: "access_token", Value: "x", Domain: s}).Valid(); err != nil {
		r.fail("%s must be a bare host name such as example.com (no scheme, port or path), got %q", name, s)
		return ""
	}
	return s
}

func (r *reader) boolean(name string, dst *bool) {
	s := r.str(name)
	if s == "" {
		return
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		r.fail("%s must be true or false, got %q", name, s)
		return
	}
	*dst = v
}

func (r *reader) origins(name string) []string {
	var out []string
	for _, part := range strings.Split(r.str(name), ",") {
		o := strings.TrimRight(strings.TrimSpace(part), "/")
		if o == "" {
			continue
		}
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			r.fail("%s: %q is not an http(s) origin", name, o)
			continue
		}
		out = append(out, strings.ToLower(o))
	}
	return out
}

func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, part := range strings.Split(r.str(name), ",") {
		s := strings.TrimSpace(part)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			r.fail("%s: %q is not a CIDR", name, s)
			continue
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// AppURL is APP_URL when set, else PocketBase's Application URL setting, without a trailing
// slash (§1.1).
func (c *Config) AppURL(app interface{ Settings() *core.Settings }) string {
	if c.AppURLOverride != "" {
		return c.AppURLOverride
	}
	return strings.TrimRight(app.Settings().Meta.AppURL, "/")
}

// Issuer is the value of the iss claim: JWT_ISSUER, else the application URL.
func (c *Config) Issuer(app interface{ Settings() *core.Settings }) string {
	if c.JWTIssuer != "" {
		return c.JWTIssuer
	}
	return c.AppURL(app)
}

// SystemFallbackURL is DEFAULT_SYSTEM_URL, else the application URL (§4.3).
func (c *Config) SystemFallbackURL(app interface{ Settings() *core.Settings }) string {
	if c.DefaultSystemURL != "" {
		return c.DefaultSystemURL
	}
	return c.AppURL(app)
}

// processors is the number of processors this process may use, as the Go runtime found it at
// start (GOMAXPROCS: the CPU count, or the container's CPU limit), before main raises the
// scheduler's P count (main.go): CPU shares (password hashing) and "busy" signals are measured
// against it.
var processors = runtime.GOMAXPROCS(0)

// Processors returns the processors this process may use (see processors).
func Processors() int { return processors }
