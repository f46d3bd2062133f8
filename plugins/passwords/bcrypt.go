package passwords

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"time"

	"golang.org/x/crypto/bcrypt"
	//lint:ignore SA1019 bcrypt is built on Blowfish; compareHash is x/crypto's bcrypt in chunks, kept after the issue 17 A/B against stock bcrypt (bench/README "Tricks: A/B")
	"golang.org/x/crypto/blowfish"
)

// compareHash is bcrypt.CompareHashAndPassword computed in chunks: after each chunk of the
// expensive key schedule it calls pace with the time the chunk took, and pace may make the
// caller wait (the pool's pacer lets hashing yield the CPU to token checks). The result is the
// same as x/crypto's for every input (TestCompareHashMatchesXCrypto): same parsing, same
// EksBlowfish setup, same 64 encryptions of "OrpheanBeholderScryDoubt", constant-time compare.
func compareHash(hash, password []byte, pace func(time.Duration)) error {
	cost, err := bcrypt.Cost(hash) // validates the version and the cost like x/crypto
	if err != nil {
		return err
	}
	// "$2a$12$" (or "$2$12$"): the salt (22) and the checksum (31) follow the third "$".
	rest := hash
	for i := 0; i < 3; i++ {
		j := bytes.IndexByte(rest, '$')
		if j < 0 {
			return bcrypt.ErrHashTooShort
		}
		rest = rest[j+1:]
	}
	if len(rest) < saltChars+sumChars {
		return bcrypt.ErrHashTooShort
	}
	salt, err := bcryptB64.DecodeString(string(rest[:saltChars]))
	if err != nil {
		return err
	}
	sum := rest[saltChars : saltChars+sumChars]

	// As x/crypto: the key includes its trailing NUL; copied so password is not changed.
	key := append(password[:len(password):len(password)], 0)
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return err
	}
	rounds := uint64(1) << uint(cost)
	start := time.Now()
	for i := uint64(1); i <= rounds; i++ {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
		if pace != nil && i%paceRounds == 0 && i < rounds {
			now := time.Now()
			pace(now.Sub(start))
			start = time.Now()
		}
	}
	data := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < len(data); i += 8 {
		for j := 0; j < 64; j++ {
			c.Encrypt(data[i:i+8], data[i:i+8])
		}
	}
	got := make([]byte, bcryptB64.EncodedLen(len(data)-1)) // bcrypt encodes 23 of the 24 bytes
	bcryptB64.Encode(got, data[:len(data)-1])
	if subtle.ConstantTimeCompare(got, sum) == 1 {
		return nil
	}
	return bcrypt.ErrMismatchedHashAndPassword
}

const (
	saltChars = 22
	sumChars  = 31
	// paceRounds: rounds of the key schedule between two pace calls (~0.3 ms here): short
	// enough that a token check queued behind a chunk waits little.
	paceRounds = 4
)

var bcryptB64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)
