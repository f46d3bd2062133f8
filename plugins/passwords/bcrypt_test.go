package passwords

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Our chunked comparison answers exactly as x/crypto's for matching, wrong, long (> 72 bytes),
// empty and non-ASCII passwords, every version prefix, and malformed hashes.
func TestCompareHashMatchesXCrypto(t *testing.T) {
	t.Parallel()
	passwords := [][]byte{[]byte(""), []byte("a"), []byte("violet-harbor-42"), []byte("pässwörd ✓"), make([]byte, 72), make([]byte, 73), make([]byte, 100)}
	for _, p := range passwords[4:] {
		_, _ = rand.Read(p)
		for i := range p {
			if p[i] == 0 {
				p[i] = 1
			}
		}
	}
	for _, p := range passwords {
		src := p
		if len(src) > 72 {
			src = src[:72] // GenerateFromPassword refuses longer ones; comparisons still take them
		}
		h, err := bcrypt.GenerateFromPassword(src, 4)
		if err != nil {
			t.Fatal(err)
		}
		variants := [][]byte{h, append([]byte("$2b"), h[3:]...), append([]byte("$2y"), h[3:]...), append([]byte("$2x"), h[3:]...)}
		for _, hash := range variants {
			for _, try := range [][]byte{p, src, append(append([]byte{}, p...), 'x'), []byte("wrong")} {
				want := bcrypt.CompareHashAndPassword(hash, try)
				calls := 0
				got := compareHash(hash, try, func(time.Duration) { calls++ })
				if (got == nil) != (want == nil) || errors.Is(want, bcrypt.ErrMismatchedHashAndPassword) != errors.Is(got, bcrypt.ErrMismatchedHashAndPassword) {
					t.Fatalf("hash %s password %q: got %v, x/crypto %v", hash, try, got, want)
				}
				if want := (1<<4)/paceRounds - 1; calls != want { // no pause after the last chunk
					t.Fatalf("pace called %d times, want %d", calls, want)
				}
			}
		}
	}
	good, _ := bcrypt.GenerateFromPassword([]byte("x"), 4)
	for _, bad := range [][]byte{nil, []byte("$2a$04$short"), []byte("$3a$04$" + string(good[7:])), []byte("$2a$99$" + string(good[7:])), append([]byte{}, good[:59]...)} {
		if compareHash(bad, []byte("x"), nil) == nil {
			t.Fatalf("malformed hash %q accepted", bad)
		}
		if bcrypt.CompareHashAndPassword(bad, []byte("x")) == nil {
			t.Fatalf("x/crypto accepts %q", bad)
		}
	}
}

// At a real cost the pace callback sees every chunk, and the time it makes the caller wait
// adds to the comparison.
func TestCompareHashPaces(t *testing.T) {
	t.Parallel()
	h, _ := bcrypt.GenerateFromPassword([]byte("violet-harbor-42"), 8)
	calls := 0
	start := time.Now()
	err := compareHash(h, []byte("violet-harbor-42"), func(time.Duration) {
		calls++
		time.Sleep(time.Millisecond)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (1<<8)/paceRounds - 1; calls != want {
		t.Fatalf("pace called %d times, want %d", calls, want)
	}
	if time.Since(start) < time.Duration(calls)*time.Millisecond {
		t.Fatal("the pace waits did not hold the comparison")
	}
}
