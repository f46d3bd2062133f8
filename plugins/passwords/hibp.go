package passwords

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxHIBPBody bounds the range response read (real answers are a few tens of KiB).
const maxHIBPBody = 4 << 20

// pwned reports whether the HIBP range API lists password with a positive count. Only the first
// five hex digits of the SHA-1 leave the process (k-anonymity). Any error — network, timeout,
// non-200 status, malformed body — returns false (the rule passes, §1.13).
func (p *Policy) pwned(ctx context.Context, password string) bool {
	sum := sha1.Sum([]byte(password))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := digest[:5], digest[5:]

	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, p.HIBPTimeout)
	defer cancel()

	base := strings.TrimRight(p.HIBPURL, "/")
	if base == "" {
		base = DefaultHIBPURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/range/"+prefix, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "gatehouse")
	// Padding hides the real number of suffixes from an observer; padded rows have count 0.
	req.Header.Set("Add-Padding", "true")

	client := p.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}

	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxHIBPBody))
	found := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		hashPart, countPart, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(hashPart), suffix) {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(countPart), 10, 64)
		if err == nil && n > 0 {
			found = true
		}
		break
	}
	if sc.Err() != nil {
		// A truncated or timed-out body is an error: fail open.
		return false
	}
	return found
}
