package config

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SecretFileName is the file in the data directory that holds the generated server secret.
const SecretFileName = ".gatehouse_secret"

// Secret is the server secret of §1.14. It keys the HMACs of low-entropy secrets (OTP codes,
// CAPTCHA answers) and encrypts TOTP secrets and signing keys with AES-GCM. Separate keys are
// derived per purpose so that a MAC key is never also an encryption key.
type Secret struct {
	macKey []byte
	encKey []byte
	aead   cipher.AEAD
}

// NewSecret derives the working keys from raw secret material (at least 32 bytes).
func NewSecret(raw []byte) (*Secret, error) {
	if len(raw) < 32 {
		return nil, errors.New("config: GATEHOUSE_SECRET must be at least 32 bytes long")
	}
	s := &Secret{macKey: derive(raw, "gatehouse/mac/v1"), encKey: derive(raw, "gatehouse/aes-gcm/v1")}
	block, err := aes.NewCipher(s.encKey)
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return s, nil
}

func derive(raw []byte, purpose string) []byte {
	m := hmac.New(sha256.New, raw)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// LoadSecret returns the server secret: GATEHOUSE_SECRET when set (the file is then neither read
// nor created), else the content of <dataDir>/.gatehouse_secret, generated (mode 0600) on first
// use. generated reports that the file path was used, so the caller can log the §1.14 warning.
func LoadSecret(lookup func(string) (string, bool), dataDir string) (secret *Secret, fromFile bool, err error) {
	if v, ok := lookup("GATEHOUSE_SECRET"); ok && v != "" {
		s, err := NewSecret([]byte(v))
		return s, false, err
	}

	path := filepath.Join(dataDir, SecretFileName)
	content, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, true, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, true, err
		}
		encoded := base64.RawURLEncoding.EncodeToString(raw)
		// O_EXCL: two processes starting at once must not write two different secrets.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(encoded + "\n")
			cerr := f.Close()
			if werr != nil || cerr != nil {
				return nil, true, errors.Join(werr, cerr)
			}
			s, err := NewSecret(raw)
			return s, true, err
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, true, err
		}
		content, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, true, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(content)))
	if err != nil {
		return nil, true, fmt.Errorf("config: %s is corrupt: %w", path, err)
	}
	s, err := NewSecret(raw)
	return s, true, err
}

// MAC returns the hex HMAC-SHA256 of value under the server secret, scoped by purpose
// (e.g. "otp", "captcha") so that a value hashed for one use never matches another.
func (s *Secret) MAC(purpose, value string) string {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// EqualMAC compares a stored MAC with the MAC of a candidate value in constant time.
func (s *Secret) EqualMAC(purpose, candidate, stored string) bool {
	return hmac.Equal([]byte(s.MAC(purpose, candidate)), []byte(stored))
}

// Seal encrypts plaintext with AES-256-GCM; the output is base64url(nonce || ciphertext).
func (s *Secret) Seal(plaintext []byte) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, nil)), nil
}

// Open reverses Seal. It fails on any tampering or on a value sealed under another secret.
func (s *Secret) Open(sealed string) ([]byte, error) {
	data, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(data) < s.aead.NonceSize() {
		return nil, errors.New("config: sealed value is malformed")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, data[:n], data[n:], nil)
}
