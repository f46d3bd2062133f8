// Package passwords implements the password policy of spec/API.md §1.13 and the bounded
// bcrypt pool of §7.2 ("Limits independent of the limiter", password hashing).
//
// Every endpoint that sets a password runs Policy.Check first and reports the returned
// messages under its password field (apikit.FieldErrors); every bcrypt operation (hashing,
// comparison, the dummy comparison for unknown accounts) goes through a Pool, which lets at
// most Config.HashConcurrency of them run at once and answers 429 (Retry-After: 5) to a caller
// that cannot start within Config.HashWait.
package passwords

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/plugins/config"
)

// Messages of §1.13, in table order. MsgTooShort and MsgTooLong are the texts for the default
// limits (8 characters, 71 bytes); Check formats them from the configuration.
const (
	MsgRequired      = "This field is required."
	MsgTooShort      = "Password must be at least 8 characters long."
	MsgTooLong       = "Password must be at most 71 bytes long."
	MsgHasUsername   = "Password must not contain your username."
	MsgHasEmailLocal = "Password must not contain part of your email address."
	MsgTooCommon     = "Password is too common."
	MsgPwned         = "This password has been found in data breaches. Please choose a different password."
)

// minContainedChars is the length (in characters) from which the username and the email local
// part are checked for containment (rules 4 and 5).
const minContainedChars = 3

// DefaultHIBPURL is the base of the Have I Been Pwned range API (k-anonymity).
const DefaultHIBPURL = "https://api.pwnedpasswords.com"

// Policy checks new passwords against §1.13. It is safe for concurrent use; build it once with
// NewPolicy.
type Policy struct {
	MinChars int // rule 2, in Unicode code points
	MaxBytes int // rule 3, in UTF-8 bytes

	// HIBPEnabled turns rule 7 on (HIBP_ENABLED).
	HIBPEnabled bool
	// HIBPTimeout bounds one range request; any error or timeout passes the rule (fail-open).
	HIBPTimeout time.Duration
	// HIBPURL is the API base without a trailing slash; the request is GET HIBPURL/range/<5 hex>.
	// Tests point it at an httptest server.
	HIBPURL string
	// HTTPClient makes the range requests (http.DefaultClient when nil).
	HTTPClient *http.Client
}

// NewPolicy returns the policy configured by cfg (config.Default() when nil).
func NewPolicy(cfg *config.Config) *Policy {
	if cfg == nil {
		cfg = config.Default()
	}
	p := &Policy{
		MinChars:    cfg.PasswordMinChars,
		MaxBytes:    cfg.PasswordMaxBytes,
		HIBPEnabled: cfg.HIBPEnabled,
		HIBPTimeout: cfg.HIBPTimeout,
		HIBPURL:     DefaultHIBPURL,
	}
	if p.MinChars <= 0 {
		p.MinChars = 8
	}
	if p.MaxBytes <= 0 {
		p.MaxBytes = 71
	}
	if p.HIBPTimeout <= 0 {
		p.HIBPTimeout = 5 * time.Second
	}
	return p
}

// Check returns the policy messages for a new password, in the table order of §1.13 (nil =
// acceptable). username and email may be empty (rules 4/5 then skipped); containment is
// case-insensitive and only when that part has >= 3 characters.
//
// If the password is empty only MsgRequired is returned; otherwise every failing rule among
// 2-7 adds its message. Rule 7 (HIBP) runs only when HIBPEnabled and passes on any error.
func (p *Policy) Check(ctx context.Context, password, username, email string) []string {
	if password == "" {
		return []string{MsgRequired}
	}

	var msgs []string

	// Rule 2: Unicode code points.
	if utf8.RuneCountInString(password) < p.MinChars {
		msgs = append(msgs, fmt.Sprintf("Password must be at least %d characters long.", p.MinChars))
	}

	// Rule 3: UTF-8 bytes, never truncated (bcrypt reads at most 72 bytes including its NUL).
	if len(password) > p.MaxBytes {
		msgs = append(msgs, fmt.Sprintf("Password must be at most %d bytes long.", p.MaxBytes))
	}

	lower := strings.ToLower(password)

	// Rule 4: the username.
	if u := strings.ToLower(strings.TrimSpace(username)); utf8.RuneCountInString(u) >= minContainedChars &&
		strings.Contains(lower, u) {
		msgs = append(msgs, MsgHasUsername)
	}

	// Rule 5: the local part of the email (before the last "@"; the whole value when there is
	// no "@").
	if local := strings.ToLower(emailLocalPart(email)); utf8.RuneCountInString(local) >= minContainedChars &&
		strings.Contains(lower, local) {
		msgs = append(msgs, MsgHasEmailLocal)
	}

	// Rule 6: the embedded list (case-insensitive exact match).
	if IsCommon(password) {
		msgs = append(msgs, MsgTooCommon)
	}

	// Rule 7: Have I Been Pwned, fail-open.
	if p.HIBPEnabled && p.pwned(ctx, password) {
		msgs = append(msgs, MsgPwned)
	}

	return msgs
}

func emailLocalPart(email string) string {
	email = strings.TrimSpace(email)
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return email[:i]
	}
	return email
}
