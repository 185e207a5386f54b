package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// Settings come from the defaults, then the file, then the environment,
// then flags; bad values are refused with the setting's name.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "customs.env")
	os.WriteFile(file, []byte("# a comment\n\nCUSTOMS_REGION=file-region\nCUSTOMS_ADDR = \"0.0.0.0:9000\"\nCUSTOMS_SYNC_INTERVAL=30m\n"), 0o600)
	env := map[string]string{"CUSTOMS_ADDR": "127.0.0.1:7000", "CUSTOMS_LOG_LEVEL": "debug"}
	m, _ := newMain(t, t.TempDir())
	m.Config = DefaultConfig()
	m.Getenv = func(k string) string { return env[k] }
	dir := t.TempDir()
	if err := m.Run(t.Context(), []string{"migrate", "--config", file, "--data", dir}); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.DataDir, want.Region, want.Addr, want.SyncInterval, want.LogLevel = dir, "file-region", "127.0.0.1:7000", 30*time.Minute, slog.LevelDebug
	if diff := cmp.Diff(want, m.Config); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"CUSTOMS_SYNC_INTERVAL", "10s", "CUSTOMS_SYNC_INTERVAL"},
		{"CUSTOMS_SYNC_INTERVAL", "soon", "CUSTOMS_SYNC_INTERVAL"},
		{"CUSTOMS_SYNC_CONCURRENCY", "0", "CUSTOMS_SYNC_CONCURRENCY"},
		{"CUSTOMS_LOG_FORMAT", "xml", "CUSTOMS_LOG_FORMAT"},
		{"CUSTOMS_LOG_LEVEL", "loud", "CUSTOMS_LOG_LEVEL"},
		{"CUSTOMS_NOPE", "x", "unknown setting"},
		{"CUSTOMS_SCAN_CACHE_SIZE", "lots", "512MiB"},
		{"CUSTOMS_SCAN_CACHE_SIZE", "0", "CUSTOMS_SCAN_CACHE_SIZE"},
		{"CUSTOMS_SCAN_MAX_IMAGE_SIZE", "-1GiB", "CUSTOMS_SCAN_MAX_IMAGE_SIZE"},
		{"CUSTOMS_SCAN_MAX_LAYERS", "0", "at least 1"},
		{"CUSTOMS_SCAN_MAX_RATIO", "1", "at least 2"},
		{"CUSTOMS_SCAN_TIMEOUT", "0", "CUSTOMS_SCAN_TIMEOUT"},
		{"CUSTOMS_SCAN_WORKERS", "-1", "at least 0"},
		{"CUSTOMS_SCAN_ON_SYNC", "maybe", "true or false"},
		{"CUSTOMS_CLAMD", "/run/clamd.ctl", "unix:/path"},
		{"CUSTOMS_CLAMD", "udp:1.2.3.4:3310", "tcp:host:port"},
		{"CUSTOMS_VULNDB_MAX_AGE", "1m", "CUSTOMS_VULNDB_MAX_AGE"},
	} {
		c := DefaultConfig()
		if err := c.Set(tc.name, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%s, %q) = %v, want an error naming %s", tc.name, tc.value, err, tc.want)
		}
	}
	c := DefaultConfig()
	if err := c.Set("CUSTOMS_SYNC_INTERVAL", "0"); err != nil || c.SyncInterval != 0 {
		t.Errorf("CUSTOMS_SYNC_INTERVAL=0: %v, %v; want periodic synchronization off", err, c.SyncInterval)
	}
	for _, tc := range []struct {
		name, value string
		got         func(Config) any
		want        any
	}{
		{"CUSTOMS_SCAN_CACHE_SIZE", "2GiB", func(c Config) any { return c.ScanCacheSize }, int64(2 << 30)},
		{"CUSTOMS_SCAN_MAX_FILE_SIZE", "64M", func(c Config) any { return c.ScanLimits.FileSize }, int64(64 << 20)},
		{"CUSTOMS_SCAN_MAX_IMAGE_SIZE", "123456", func(c Config) any { return c.ScanLimits.ImageSize }, int64(123456)},
		{"CUSTOMS_SCAN_TIMEOUT", "5m", func(c Config) any { return c.ScanLimits.Time }, 5 * time.Minute},
		{"CUSTOMS_SCAN_ON_SYNC", "false", func(c Config) any { return c.ScanOnSync }, false},
		{"CUSTOMS_CLAMD", "tcp:127.0.0.1:3310", func(c Config) any { return c.Clamd }, "tcp:127.0.0.1:3310"},
		{"CUSTOMS_VULNDB_MAX_AGE", "0", func(c Config) any { return c.VulnDBMaxAge }, time.Duration(0)},
	} {
		c := DefaultConfig()
		if err := c.Set(tc.name, tc.value); err != nil || tc.got(c) != tc.want {
			t.Errorf("Set(%s, %q): %v, %v; want %v", tc.name, tc.value, err, tc.got(c), tc.want)
		}
	}
	file := filepath.Join(t.TempDir(), "bad.env")
	os.WriteFile(file, []byte("CUSTOMS_ADDR\n"), 0o600)
	if err := c.LoadFile(file); err == nil || !strings.Contains(err.Error(), "bad.env:1") {
		t.Errorf("LoadFile of a line without '=': %v, want the file and line", err)
	}
}

func TestStaleAdvisories(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	fresh := []customs.EcosystemStatus{{Ecosystem: "Go", ImportedAt: now.Add(-48 * time.Hour)}, {Ecosystem: "Debian:12", ImportedAt: now.Add(-time.Hour)}}
	old := []customs.EcosystemStatus{{Ecosystem: "Go", ImportedAt: now.Add(-10 * 24 * time.Hour)}}
	for _, tc := range []struct {
		name   string
		st     []customs.EcosystemStatus
		maxAge time.Duration
		want   string
	}{
		{"none", nil, 7 * 24 * time.Hour, "no vulnerability advisories"},
		{"fresh by the latest import", fresh, 24 * time.Hour, ""},
		{"old", old, 7 * 24 * time.Hour, "last updated 240h0m0s ago"},
		{"old, never warned", old, 0, ""},
	} {
		got := staleAdvisories(tc.st, tc.maxAge, now)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
