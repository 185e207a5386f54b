package iam_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
)

func TestLoadOrCreateKeyCreatesThenReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "secret.key")
	key, err := iam.LoadOrCreateKey(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 {
		t.Fatalf("LoadOrCreateKey() returned %d bytes, want 32", len(key))
	}
	if bytes.Equal(key, make([]byte, 32)) {
		t.Fatal("LoadOrCreateKey() returned a zero key")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file permissions = %v, want 0600", perm)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hex.EncodeToString(key)+"\n", string(content)); diff != "" {
		t.Errorf("key file content mismatch (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key file (no temporary file left)", len(entries))
	}

	again, err := iam.LoadOrCreateKey(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(key, again); diff != "" {
		t.Errorf("second LoadOrCreateKey() mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadOrCreateKeyExplicit(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	tests := []struct {
		name, value string
	}{
		{"hex", hex.EncodeToString(key)},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(key))},
		{"hex with newline", hex.EncodeToString(key) + "\n"},
		{"base64", base64.StdEncoding.EncodeToString(key)},
		{"unpadded base64", base64.RawStdEncoding.EncodeToString(key)},
		{"base64url", base64.URLEncoding.EncodeToString(key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret.key")
			got, err := iam.LoadOrCreateKey(path, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(key, got); diff != "" {
				t.Errorf("LoadOrCreateKey(%q) mismatch (-want +got):\n%s", tt.value, diff)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("key file exists after an explicit key (stat: %v); want none created", err)
			}
		})
	}
}

func TestLoadOrCreateKeyBadExplicit(t *testing.T) {
	tests := []struct{ name, value string }{
		{"short", "secret"},
		{"63 hex characters", strings.Repeat("a", 63)},
		{"65 hex characters", strings.Repeat("a", 65)},
		{"64 characters not hex", strings.Repeat("g", 64)},
		{"base64 of 16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16))},
		{"base64 of 33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret.key")
			key, err := iam.LoadOrCreateKey(path, tt.value)
			if code := customs.ErrorCode(err); code != customs.EINVALID {
				t.Fatalf("LoadOrCreateKey(%q) = %x, %v; want an %s error", tt.value, key, err, customs.EINVALID)
			}
			msg := customs.ErrorMessage(err)
			if !strings.Contains(msg, "CUSTOMS_SECRET_KEY") {
				t.Errorf("message %q does not name CUSTOMS_SECRET_KEY", msg)
			}
			if strings.Contains(msg, tt.value) {
				t.Errorf("message %q echoes the secret value", msg)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("key file exists after a bad explicit key (stat: %v); want none created", err)
			}
		})
	}
}

func TestLoadOrCreateKeyBadFile(t *testing.T) {
	tests := []struct{ name, content string }{
		{"empty", ""},
		{"short", hex.EncodeToString(make([]byte, 16)) + "\n"},
		{"long", hex.EncodeToString(make([]byte, 33)) + "\n"},
		{"not hex", strings.Repeat("z", 64) + "\n"},
		{"base64", base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := iam.LoadOrCreateKey(path, "")
			if code := customs.ErrorCode(err); code != customs.EINVALID {
				t.Fatalf("LoadOrCreateKey() = %x, %v; want an %s error", key, err, customs.EINVALID)
			}
			if msg := customs.ErrorMessage(err); !strings.Contains(msg, path) {
				t.Errorf("message %q does not name the file %s", msg, path)
			}
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.content, string(content)); diff != "" {
				t.Errorf("key file changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadOrCreateKeyUnreadable(t *testing.T) {
	path := t.TempDir() // a directory where the key file should be
	if key, err := iam.LoadOrCreateKey(path, ""); err == nil {
		t.Fatalf("LoadOrCreateKey(directory) = %x, nil; want an error", key)
	}
}

func TestLoadOrCreateKeyNoSource(t *testing.T) {
	key, err := iam.LoadOrCreateKey("", "")
	if code := customs.ErrorCode(err); code != customs.EINVALID {
		t.Fatalf("LoadOrCreateKey(\"\", \"\") = %x, %v; want an %s error", key, err, customs.EINVALID)
	}
}
