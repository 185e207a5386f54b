package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"customs"
)

// Config is the whole configuration of the program. It comes from the
// defaults, then an optional file of CUSTOMS_*=value lines (--config), then
// the CUSTOMS_* environment, then command-line flags.
type Config struct {
	DataDir             string        // CUSTOMS_DATA
	Addr                string        // CUSTOMS_ADDR
	Region              string        // CUSTOMS_REGION
	AdminPassword       string        // CUSTOMS_ADMIN_PASSWORD: the first start's admin password
	SecretKey           string        // CUSTOMS_SECRET_KEY: hex or base64 of 32 bytes; else DataDir/secret.key
	SyncInterval        time.Duration // CUSTOMS_SYNC_INTERVAL: periodic synchronization; 0 turns it off
	SyncConcurrency     int           // CUSTOMS_SYNC_CONCURRENCY: repositories (and tags in each) worked on at once
	RegistryConcurrency int           // CUSTOMS_REGISTRY_CONCURRENCY: requests in flight to one registry
	LogLevel            slog.Level    // CUSTOMS_LOG_LEVEL: debug, info, warn, error
	LogFormat           string        // CUSTOMS_LOG_FORMAT: text or json

	ScanWorkers   int                // CUSTOMS_SCAN_WORKERS: scans run at once by serve; 0 runs none
	ScanOnSync    bool               // CUSTOMS_SCAN_ON_SYNC: queue scans of what synchronization finds new
	ScanCacheSize int64              // CUSTOMS_SCAN_CACHE_SIZE: bytes of layers kept in DataDir/cache
	ScanLimits    customs.ScanLimits // CUSTOMS_SCAN_MAX_IMAGE_SIZE, _MAX_LAYERS, _MAX_FILE_SIZE, _MAX_RATIO, _MAX_PATH, _MAX_ENTRIES, _TIMEOUT
	Clamd         string             // CUSTOMS_CLAMD: unix:/path/clamd.ctl or tcp:host:port, to scan files with clamd too
	VulnDBMaxAge  time.Duration      // CUSTOMS_VULNDB_MAX_AGE: warn when the advisories are older; 0 never warns
}

// DefaultConfig returns the embedded defaults: everything in ./customs-data,
// the API on loopback.
func DefaultConfig() Config {
	return Config{
		DataDir:             "./customs-data",
		Addr:                "127.0.0.1:8080",
		Region:              "local-1",
		SyncInterval:        time.Hour,
		SyncConcurrency:     8,
		RegistryConcurrency: 8,
		LogLevel:            slog.LevelInfo,
		LogFormat:           "text",
		ScanWorkers:         2,
		ScanOnSync:          true,
		ScanCacheSize:       5 << 30,
		ScanLimits:          customs.DefaultScanLimits,
		VulnDBMaxAge:        7 * 24 * time.Hour,
	}
}

// settings maps each CUSTOMS_* name to the field it sets.
func (c *Config) settings() map[string]func(string) error {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *int, min int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < min {
				return fmt.Errorf("want an integer of at least %d", min)
			}
			*p = n
			return nil
		}
	}
	size := func(p *int64) func(string) error {
		return func(v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			*p = n
			return nil
		}
	}
	duration := func(p *time.Duration, min time.Duration, zero bool) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || (d == 0 && !zero) || (d > 0 && d < min) {
				if zero {
					return fmt.Errorf("want a duration such as 30m or 6h (at least %s), or 0 to turn it off", min)
				}
				return fmt.Errorf("want a duration such as 30m or 6h (at least %s)", min)
			}
			*p = d
			return nil
		}
	}
	int64Num := func(p *int64, min int64) func(string) error {
		return func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < min {
				return fmt.Errorf("want an integer of at least %d", min)
			}
			*p = n
			return nil
		}
	}
	l := &c.ScanLimits
	return map[string]func(string) error{
		"CUSTOMS_SCAN_WORKERS":        num(&c.ScanWorkers, 0),
		"CUSTOMS_SCAN_CACHE_SIZE":     size(&c.ScanCacheSize),
		"CUSTOMS_SCAN_MAX_IMAGE_SIZE": size(&l.ImageSize),
		"CUSTOMS_SCAN_MAX_LAYERS":     num(&l.Layers, 1),
		"CUSTOMS_SCAN_MAX_FILE_SIZE":  size(&l.FileSize),
		"CUSTOMS_SCAN_MAX_RATIO":      int64Num(&l.Ratio, 2),
		"CUSTOMS_SCAN_MAX_PATH":       num(&l.PathLength, 256),
		"CUSTOMS_SCAN_MAX_ENTRIES":    num(&l.Entries, 1000),
		"CUSTOMS_SCAN_TIMEOUT":        duration(&l.Time, time.Second, false),
		"CUSTOMS_VULNDB_MAX_AGE":      duration(&c.VulnDBMaxAge, time.Hour, true),
		"CUSTOMS_SCAN_ON_SYNC": func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			c.ScanOnSync = b
			return nil
		},
		"CUSTOMS_CLAMD": func(v string) error {
			network, addr, ok := strings.Cut(v, ":")
			if !ok || addr == "" || (network != "unix" && network != "tcp") {
				return fmt.Errorf("want unix:/path/to/clamd.ctl or tcp:host:port")
			}
			c.Clamd = v
			return nil
		},
		"CUSTOMS_DATA":                 str(&c.DataDir),
		"CUSTOMS_ADDR":                 str(&c.Addr),
		"CUSTOMS_REGION":               str(&c.Region),
		"CUSTOMS_ADMIN_PASSWORD":       str(&c.AdminPassword),
		"CUSTOMS_SECRET_KEY":           str(&c.SecretKey),
		"CUSTOMS_SYNC_CONCURRENCY":     num(&c.SyncConcurrency, 1),
		"CUSTOMS_REGISTRY_CONCURRENCY": num(&c.RegistryConcurrency, 1),
		"CUSTOMS_SYNC_INTERVAL": func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || (d > 0 && d < time.Minute) {
				return fmt.Errorf("want a duration such as 30m or 6h (at least 1m), or 0 to turn periodic synchronization off")
			}
			c.SyncInterval = d
			return nil
		},
		"CUSTOMS_LOG_LEVEL": func(v string) error { return c.LogLevel.UnmarshalText([]byte(v)) },
		"CUSTOMS_LOG_FORMAT": func(v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("want text or json")
			}
			c.LogFormat = v
			return nil
		},
	}
}

// parseSize reads a byte count: an integer with an optional unit, KiB, MiB,
// GiB or TiB (or K, M, G, T for the same).
func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"K", 10}, {"M", 20}, {"G", 30}, {"T", 40}}
	num, shift := v, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 1 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("want a size such as 512MiB or 10GiB")
	}
	return n << shift, nil
}

// Set sets one CUSTOMS_* setting.
func (c *Config) Set(name, value string) error {
	set, ok := c.settings()[name]
	if !ok {
		return fmt.Errorf("unknown setting %s", name)
	}
	if err := set(value); err != nil {
		return fmt.Errorf("%s=%q: %w", name, value, err)
	}
	return nil
}

// LoadFile applies a file of CUSTOMS_*=value lines; blank lines and lines
// starting with # are skipped.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: want NAME=value", path, n)
		}
		if err := c.Set(strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"'`)); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return s.Err()
}

// LoadEnv applies the CUSTOMS_* variables that getenv reports as set.
func (c *Config) LoadEnv(getenv func(string) string) error {
	for name := range c.settings() {
		if v := getenv(name); v != "" {
			if err := c.Set(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}
