package iam

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"customs"
)

// KeySize is the length in bytes of a secret-encryption key (AES-256).
const KeySize = 32

// Cipher encrypts small secrets (registry passwords, secret keys) at rest
// with AES-256-GCM. A sealed secret is the 12-byte random nonce followed by
// the ciphertext and its 16-byte tag.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("new cipher: key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// Seal encrypts plaintext under a fresh random nonce.
func (c *Cipher) Seal(plaintext []byte) ([]byte, error) {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	return c.aead.Seal(nonce, nonce, plaintext, nil), nil
}

// Open decrypts what Seal returned. It fails when the ciphertext was altered
// or sealed under another key.
func (c *Cipher) Open(ciphertext []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(ciphertext) < n+c.aead.Overhead() {
		return nil, fmt.Errorf("open secret: %d bytes is shorter than nonce and tag (%d)", len(ciphertext), n+c.aead.Overhead())
	}
	plaintext, err := c.aead.Open(nil, ciphertext[:n], ciphertext[n:], nil)
	if err != nil {
		return nil, fmt.Errorf("open secret (wrong key or altered data): %w", err)
	}
	return plaintext, nil
}

// LoadOrCreateKey returns the secret-encryption key. A non-empty explicit
// value (the CUSTOMS_SECRET_KEY setting) is the key as 64 hexadecimal
// characters or as the base64 of 32 bytes. Otherwise the key is read from
// the file at path, which holds it as 64 hexadecimal characters; a missing
// file is created, with permissions 0600, holding a new random key.
//
// Losing the key makes every stored secret unreadable, so it must be backed
// up; but not beside the database, or one stolen backup yields both.
func LoadOrCreateKey(path, explicit string) ([]byte, error) {
	if explicit != "" {
		return parseExplicitKey(explicit)
	}
	if path == "" {
		return nil, customs.Errorf(customs.EINVALID, "No secret key: set CUSTOMS_SECRET_KEY or give the path of a key file.")
	}
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKeyFile(path); err != nil {
		return nil, err
	}
	return readKeyFile(path)
}

func parseExplicitKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.Strict().DecodeString(s); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	// The value is a secret: say how long it is, never what it is.
	return nil, customs.Errorf(customs.EINVALID,
		"CUSTOMS_SECRET_KEY must be 64 hexadecimal characters or the base64 encoding of 32 bytes; the value given has %d characters and is neither.", len(s))
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	s := strings.TrimSpace(string(b))
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != KeySize {
		return nil, customs.Errorf(customs.EINVALID,
			"The secret key file %s must hold 64 hexadecimal characters (32 bytes); it holds %d characters that are not such a key. Restore the right file or set CUSTOMS_SECRET_KEY; a new key cannot read secrets sealed with the old one.", path, len(s))
	}
	return key, nil
}

// createKeyFile writes a new random key to path unless a file appears there
// first. It writes a temporary file and links it into place, so a crash or a
// concurrent start never leaves a partial key file behind.
func createKeyFile(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	defer os.Remove(tmp.Name()) // CreateTemp made it 0600
	if _, err := tmp.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("create secret key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("create secret key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	// Link, unlike rename, fails when path exists: the first key written wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create secret key: %w", err)
	}
	return nil
}
