package iam_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"customs/iam"
)

func newTestCipher(t *testing.T) (*iam.Cipher, []byte) {
	t.Helper()
	key := make([]byte, iam.KeySize)
	rand.Read(key)
	c, err := iam.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestCipherRoundTrip(t *testing.T) {
	c, _ := newTestCipher(t)
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"password", []byte("registry-password")},
		{"binary 4 KiB", bytes.Repeat([]byte{0, 1, 2, 255}, 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := c.Seal(tt.plaintext)
			if err != nil {
				t.Fatal(err)
			}
			if want := 12 + len(tt.plaintext) + 16; len(sealed) != want {
				t.Errorf("len(Seal()) = %d, want %d (nonce + plaintext + tag)", len(sealed), want)
			}
			if len(tt.plaintext) > 0 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("Seal() output contains the plaintext")
			}
			got, err := c.Open(sealed)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.plaintext, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Open(Seal()) mismatch (-want +got):\n%s", diff)
			}
			again, err := c.Seal(tt.plaintext)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again, sealed) {
				t.Error("two Seal() of one plaintext are equal: the nonce is not random")
			}
		})
	}
}

func TestCipherOpenRefuses(t *testing.T) {
	c, _ := newTestCipher(t)
	other, _ := newTestCipher(t)
	sealed, err := c.Seal([]byte("registry-password"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		cipher *iam.Cipher
		data   []byte
	}{
		{"wrong key", other, sealed},
		{"altered nonce", c, flip(0)},
		{"altered ciphertext", c, flip(12)},
		{"altered tag", c, flip(len(sealed) - 1)},
		{"truncated", c, sealed[:len(sealed)-1]},
		{"extended", c, append(bytes.Clone(sealed), 0)},
		{"shorter than nonce and tag", c, sealed[:27]},
		{"empty", c, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cipher.Open(tt.data)
			if err == nil {
				t.Errorf("Open() = %q, nil; want an error", got)
			}
		})
	}
}

func TestNewCipherKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := iam.NewCipher(make([]byte, n)); err == nil {
			t.Errorf("NewCipher(%d-byte key) succeeded; want an error (AES-256 needs 32 bytes)", n)
		}
	}
	if _, err := iam.NewCipher(make([]byte, 32)); err != nil {
		t.Errorf("NewCipher(32-byte key) = %v", err)
	}
}
