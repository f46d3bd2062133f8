package passwords

import (
	"errors"
	"strings"
	"testing"
)

// Vectors made by Django itself (or checked against Django), never by this package:
//
//   - [fixture] /work/shared/fixtures/original-auth/db.sqlite3, users_user and hdts_employees:
//     made by the original service's seed code with Django's Argon2PasswordHasher (passwords
//     from the fixture README).
//   - [django] django/django tests/auth_tests/test_hashers.py (test_pbkdf2,
//     test_low_level_pbkdf2, test_low_level_pbkdf2_sha1, test_argon2,
//     test_argon2_version_upgrade): literal hashes Django's test suite asserts make_password
//     produces or check_password accepts.
//   - [passlib] passlib tests/test_handlers_django.py, django_bcrypt_test and
//     django_bcrypt_sha256_test known_correct_hashes: passlib's test_90_django_reference checks
//     each of them with Django's own check_password. Django's suite has no fixed bcrypt vector
//     (its bcrypt tests use random salts), hence this source.
const (
	letmein = "l\u00e8tmein" // Django's "lètmein"
	// passlib's UPASS_TABLE
	upassTable = "t\u00e1\u0411\u2113\u0259"
)

var djangoVectors = []struct {
	src, password, encoded string
}{
	{"fixture admin@example.com", "Password123!", "argon2$argon2id$v=19$m=102400,t=2,p=8$dXo2d3BKN0FhNGhSOGlJNVVvTGNycQ$CIWJULriD0wgEVeO2k8qvA"},
	{"fixture adminhdts@example.com", "admin", "argon2$argon2id$v=19$m=102400,t=2,p=8$MWltWGZWMHQ5ZFlqd3BMZzJVcW5DQQ$t5AeDS55RXcQ9kBK/6oXiA"},
	{"fixture john.doe@gmail.com (employee)", "TestPassword123!", "argon2$argon2id$v=19$m=102400,t=2,p=8$UXhJb2I2R0N1TXlENldRSHRXQnlCUw$3wie1bC7kQnzuOTouMmYCg"},
	{"django test_argon2_version_upgrade", "secret", "argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw"},
	{"django test_argon2 (argon2i with version)", "secret", "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q"},
	{"django test_pbkdf2", letmein, "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="},
	{"django test_low_level_pbkdf2", letmein, "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8="},
	{"django test_low_level_pbkdf2_sha1", letmein, "pbkdf2_sha1$390000$seasalt2$aDapRanzW8aHTz97v2TcfHzWD+I="},
	{"passlib django_bcrypt ''", "", "bcrypt$$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."},
	{"passlib django_bcrypt a-z", "abcdefghijklmnopqrstuvwxyz", "bcrypt$$2a$10$fVH8e28OQRj9tqiDXs1e1uxpsjN0c7II7YPKXua2NAKYvM6iQk7dq"},
	{"passlib django_bcrypt UPASS_TABLE", upassTable, "bcrypt$$2a$05$Z17AXnnlpzddNUvnC6cZNOSwMA/8oNiKnHTHTwLlBijfucQQlHjaG"},
	{"passlib django_bcrypt_sha256 ''", "", "bcrypt_sha256$$2a$06$/3OeRpbOf8/l6nPPRdZPp.nRiyYqPobEZGdNRBWihQhiFDh1ws1tu"},
	{"passlib django_bcrypt_sha256 lètmein", letmein, "bcrypt_sha256$$2a$08$NDjSAIcas.EcoxCRiArvT.MkNiPYVhrsrnJsRkLueZOoV1bsQqlmC"},
	{"passlib django_bcrypt_sha256 UPASS_TABLE", upassTable, "bcrypt_sha256$$2a$06$kCXUnRFQptGg491siDKNTu8RxjBGSjALHRuvhPYNFsa4Ea5d9M48u"},
	// Past bcrypt's 72 bytes: the SHA-256 pre-hash makes the tail count.
	{"passlib django_bcrypt_sha256 72+qwr", strings.Repeat("abc123", 12) + "qwr", "bcrypt_sha256$$2a$06$Tg/oYyZTyAf.Nb3qSgN61Ocy0BEz1RK6xslSNi8PlaLX2pe7x/KQG"},
	{"passlib django_bcrypt_sha256 72+xyz", strings.Repeat("abc123", 12) + "xyz", "bcrypt_sha256$$2a$06$Tg/oYyZTyAf.Nb3qSgN61OvY2zoRVUa2Pugv2ExVOUT2YmhvxUFUa"},
}

func TestDjangoHashersAcceptDjangoVectors(t *testing.T) {
	t.Parallel()
	for _, v := range djangoVectors {
		h, err := ParseDjangoHash(v.encoded)
		if err != nil {
			t.Fatalf("%s: parse: %v", v.src, err)
		}
		if !h.Verify(v.password, nil) {
			t.Errorf("%s: the right password does not verify", v.src)
		}
		// Django's tests: a mangled password (and a trailing space) must fail.
		for _, wrong := range []string{v.password + "z", "x" + v.password, v.password + " "} {
			if h.Verify(wrong, nil) {
				t.Errorf("%s: wrong password %q verifies", v.src, wrong)
			}
		}
	}
}

func TestDjangoBcryptSHA256UsesTheWholePassword(t *testing.T) {
	t.Parallel()
	// Same salt, passwords equal in their first 72 bytes: only one of them matches each hash.
	a := "bcrypt_sha256$$2a$06$Tg/oYyZTyAf.Nb3qSgN61Ocy0BEz1RK6xslSNi8PlaLX2pe7x/KQG"
	if CheckDjangoPassword(a, strings.Repeat("abc123", 12)+"xyz") || CheckDjangoPassword(a, strings.Repeat("abc123", 12)) {
		t.Fatal("bcrypt_sha256 truncated the password")
	}
}

func TestDjangoHashMemory(t *testing.T) {
	t.Parallel()
	h, err := ParseDjangoHash(djangoVectors[0].encoded)
	if err != nil || h.MemoryKiB() != 102400 || h.IsBcrypt() {
		t.Fatalf("argon2: %v %d", err, h.MemoryKiB())
	}
	h, _ = ParseDjangoHash(djangoVectors[5].encoded)
	if h.MemoryKiB() != 0 || h.IsBcrypt() {
		t.Fatal("pbkdf2 asks for memory")
	}
	h, _ = ParseDjangoHash(djangoVectors[8].encoded)
	if !h.IsBcrypt() {
		t.Fatal("bcrypt not recognised")
	}
}

func TestDjangoUnusableAndUnsupportedNeverMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		encoded string
		want    error
	}{
		{"", ErrUnusableHash},
		{"!", ErrUnusableHash},
		{"!Zx6SduMBgdW4w5g8Fs7Xc0Xpt0RBrSGRCP8g0lb5", ErrUnusableHash},
		// Django test_argon2 "old hashes without version attribute": Argon2 1.0, not in x/crypto.
		{"argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg", ErrUnsupportedHash},
		{"argon2$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", ErrUnsupportedHash},
		{"argon2$argon2id$v=19$m=1048576,t=2,p=8$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", ErrUnsupportedHash}, // 1 GiB
		{"argon2$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", ErrUnsupportedHash},
		{"argon2$argon2id$v=19$m=8,t=1,p=1$$YC9+jJCrQhs5R6db7LlN8Q", ErrUnsupportedHash},
		{"pbkdf2_sha256$0$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", ErrUnsupportedHash},
		{"pbkdf2_sha256$390000$seasalt", ErrUnsupportedHash},
		{"pbkdf2_sha256$390000$seasalt$not base64!", ErrUnsupportedHash},
		{"bcrypt$$2a$31$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.", ErrUnsupportedHash},
		{"bcrypt$$2a$06$DCq7YPn5Rq63x1Lad4cll", ErrUnsupportedHash},
		{"sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8", ErrUnsupportedHash},
		{"88a434c88cca4e900f7874cd98123f43", ErrUnsupportedHash},
	}
	for _, c := range cases {
		if _, err := ParseDjangoHash(c.encoded); !errors.Is(err, c.want) {
			t.Errorf("%q: err %v, want %v", c.encoded, err, c.want)
		}
		for _, p := range []string{"", "secret", c.encoded} {
			if CheckDjangoPassword(c.encoded, p) {
				t.Errorf("%q matched %q", c.encoded, p)
			}
		}
	}
}
