package passwords

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Django password hashes (the original service's `password` columns), verified once at an
// imported account's first login and then replaced by bcrypt (plugins/importer, Pool.Verify).
// Supported: Django's Argon2PasswordHasher (argon2id and argon2i, version 19, the account's own
// m/t/p), PBKDF2PasswordHasher (pbkdf2_sha256), PBKDF2SHA1PasswordHasher (pbkdf2_sha1),
// BCryptSHA256PasswordHasher (bcrypt_sha256) and BCryptPasswordHasher (bcrypt). An unusable
// password (Django's "!" prefix, or empty) never matches anything.

// LegacyHashField is the hidden text field of users and employees holding an imported Django
// hash until the account's first successful login (migration 1764115400). While it is set the
// record's own bcrypt password is a random unusable hash.
const LegacyHashField = "legacy_password_hash"

var (
	// ErrUnusableHash: Django's unusable password ("!…") or an empty one; nothing matches it.
	ErrUnusableHash = errors.New("passwords: unusable password")
	// ErrUnsupportedHash: a hash of an algorithm or version we do not verify (never matches).
	ErrUnsupportedHash = errors.New("passwords: unsupported password hash")
)

// Bounds on the work one legacy hash may ask for (a hash outside them is unsupported, so an
// imported row can never make a login allocate gigabytes or spin for minutes).
const (
	MaxArgon2MemoryKiB = 256 * 1024 // 256 MiB; Django's default is 102400 KiB (100 MiB)
	maxArgon2Time      = 16
	maxPBKDF2Iter      = 20_000_000 // Django 5.2 uses 1,000,000
	maxLegacyBcrypt    = 16         // Django uses 12
)

// DjangoHash is a parsed Django password hash.
type DjangoHash struct {
	Algorithm string // "argon2", "pbkdf2_sha256", "pbkdf2_sha1", "bcrypt_sha256", "bcrypt"

	// argon2
	variant    string // "argon2id" or "argon2i"
	memoryKiB  uint32
	timeCost   uint32
	threads    uint8
	salt, want []byte

	// pbkdf2
	iterations int

	// bcrypt, bcrypt_sha256: the "$2b$12$…" part
	bcryptHash []byte
}

// ParseDjangoHash parses an encoded Django hash. Errors: ErrUnusableHash, or ErrUnsupportedHash
// (wrapped with the reason) for anything else we cannot verify.
func ParseDjangoHash(encoded string) (*DjangoHash, error) {
	if encoded == "" || strings.HasPrefix(encoded, "!") {
		return nil, ErrUnusableHash
	}
	algo, rest, ok := strings.Cut(encoded, "$")
	if !ok {
		return nil, unsupported("no algorithm prefix")
	}
	switch algo {
	case "argon2":
		return parseArgon2(rest)
	case "pbkdf2_sha256", "pbkdf2_sha1":
		return parsePBKDF2(algo, rest)
	case "bcrypt_sha256", "bcrypt":
		// Django stores algorithm + "$" + bcrypt's own "$2b$12$…".
		h := []byte(rest)
		cost, err := bcrypt.Cost(h)
		if err != nil {
			return nil, unsupported("%s: %v", algo, err)
		}
		if cost > maxLegacyBcrypt {
			return nil, unsupported("%s: cost %d above %d", algo, cost, maxLegacyBcrypt)
		}
		if len(h) != 60 {
			return nil, unsupported("%s: malformed hash", algo)
		}
		return &DjangoHash{Algorithm: algo, bcryptHash: h}, nil
	default:
		return nil, unsupported("algorithm %q", algo)
	}
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupportedHash, fmt.Sprintf(format, a...))
}

// parseArgon2 reads argon2-cffi's encoding after Django's "argon2" prefix:
// "argon2id$v=19$m=102400,t=2,p=8$<salt b64>$<hash b64>" (unpadded standard base64).
func parseArgon2(rest string) (*DjangoHash, error) {
	parts := strings.Split(rest, "$")
	if len(parts) == 4 {
		// Hashes without "v=" are Argon2 version 1.0 (0x10), which x/crypto does not implement.
		return nil, unsupported("argon2 version 1.0")
	}
	if len(parts) != 5 {
		return nil, unsupported("argon2: malformed hash")
	}
	h := &DjangoHash{Algorithm: "argon2", variant: parts[0]}
	if h.variant != "argon2id" && h.variant != "argon2i" {
		return nil, unsupported("argon2 variant %q", h.variant)
	}
	if parts[1] != "v=19" {
		return nil, unsupported("argon2 version %q", parts[1])
	}
	var m, t, p uint64
	seen := 0
	for _, kv := range strings.Split(parts[2], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, unsupported("argon2 parameter %q", kv)
		}
		switch k {
		case "m":
			m, seen = n, seen|1
		case "t":
			t, seen = n, seen|2
		case "p":
			p, seen = n, seen|4
		default:
			return nil, unsupported("argon2 parameter %q", kv)
		}
	}
	switch {
	case seen != 7:
		return nil, unsupported("argon2: missing m, t or p")
	case p < 1 || p > 255:
		return nil, unsupported("argon2: p=%d", p)
	case t < 1 || t > maxArgon2Time:
		return nil, unsupported("argon2: t=%d", t)
	case m < 8*p || m > MaxArgon2MemoryKiB:
		return nil, unsupported("argon2: m=%d KiB", m)
	}
	var err error
	if h.salt, err = decodeB64(parts[3]); err != nil || len(h.salt) < 1 {
		return nil, unsupported("argon2: salt")
	}
	if h.want, err = decodeB64(parts[4]); err != nil || len(h.want) < 4 || len(h.want) > 1024 {
		return nil, unsupported("argon2: hash")
	}
	h.memoryKiB, h.timeCost, h.threads = uint32(m), uint32(t), uint8(p)
	return h, nil
}

// decodeB64 decodes standard base64 with or without padding (argon2-cffi strips it).
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// parsePBKDF2 reads "<iterations>$<salt>$<hash b64>"; the salt is used as its UTF-8 text.
func parsePBKDF2(algo, rest string) (*DjangoHash, error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return nil, unsupported("%s: malformed hash", algo)
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > maxPBKDF2Iter {
		return nil, unsupported("%s: iterations %q", algo, parts[0])
	}
	want, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(want) < 8 || len(want) > 256 {
		return nil, unsupported("%s: hash", algo)
	}
	return &DjangoHash{Algorithm: algo, iterations: iter, salt: []byte(parts[1]), want: want}, nil
}

// MemoryKiB is the memory one verification needs beyond the usual, in KiB (argon2's m; 0 for
// the other algorithms).
func (h *DjangoHash) MemoryKiB() uint32 {
	if h.Algorithm == "argon2" {
		return h.memoryKiB
	}
	return 0
}

// IsBcrypt reports a bcrypt or bcrypt_sha256 hash.
func (h *DjangoHash) IsBcrypt() bool {
	return h.Algorithm == "bcrypt" || h.Algorithm == "bcrypt_sha256"
}

// Verify reports whether plain matches h, as Django's check_password does. pace (may be nil)
// is handed to the chunked bcrypt comparison (Pool pacing).
func (h *DjangoHash) Verify(plain string, pace func(time.Duration)) bool {
	switch h.Algorithm {
	case "argon2":
		var got []byte
		if h.variant == "argon2id" {
			got = argon2.IDKey([]byte(plain), h.salt, h.timeCost, h.memoryKiB, h.threads, uint32(len(h.want)))
		} else {
			got = argon2.Key([]byte(plain), h.salt, h.timeCost, h.memoryKiB, h.threads, uint32(len(h.want)))
		}
		return subtle.ConstantTimeCompare(got, h.want) == 1
	case "pbkdf2_sha256", "pbkdf2_sha1":
		var got []byte
		var err error
		if h.Algorithm == "pbkdf2_sha256" {
			got, err = pbkdf2.Key(sha256.New, plain, h.salt, h.iterations, len(h.want))
		} else {
			got, err = pbkdf2.Key(sha1.New, plain, h.salt, h.iterations, len(h.want))
		}
		return err == nil && subtle.ConstantTimeCompare(got, h.want) == 1
	case "bcrypt_sha256":
		// Django: bcrypt over the hex SHA-256 digest of the password (so no 72-byte limit).
		sum := sha256.Sum256([]byte(plain))
		return compareHash(h.bcryptHash, []byte(hex.EncodeToString(sum[:])), pace) == nil
	case "bcrypt":
		return compareHash(h.bcryptHash, []byte(plain), pace) == nil
	}
	return false
}

// CheckDjangoPassword parses encoded and verifies plain against it; false for any hash that
// does not parse (unusable or unsupported).
func CheckDjangoPassword(encoded, plain string) bool {
	h, err := ParseDjangoHash(encoded)
	return err == nil && h.Verify(plain, nil)
}
