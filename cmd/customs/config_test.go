package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	file := filepath.Join(t.TempDir(), "bad.env")
	os.WriteFile(file, []byte("CUSTOMS_ADDR\n"), 0o600)
	if err := c.LoadFile(file); err == nil || !strings.Contains(err.Error(), "bad.env:1") {
		t.Errorf("LoadFile of a line without '=': %v, want the file and line", err)
	}
}
