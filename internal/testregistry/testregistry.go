// Package testregistry runs the CNCF Distribution registry as a process for
// integration tests, so that they talk to the registry most production
// registries are built on: real catalog paging, real htpasswd authentication,
// real filesystem storage.
//
// It is imported only by _test.go files. It is not a registry implementation
// (unit tests use go-containerregistry's in-process pkg/registry) and it does
// not push content: tests push with go-containerregistry.
//
// The binary is found through CUSTOMS_TEST_REGISTRY_BIN, then "registry" on
// PATH, then $(go env GOPATH)/bin/registry. When it is missing the test is
// skipped with instructions, or fails when CUSTOMS_TEST_REGISTRY=require (as
// CI sets it).
package testregistry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Install is the command that installs the registry binary these tests run.
const Install = "go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2"

// startTimeout bounds how long the registry may take to answer GET /v2/.
const startTimeout = 30 * time.Second

// Registry is a running Distribution registry.
type Registry struct {
	Addr     string // host:port on 127.0.0.1
	Username string // set by WithHtpasswd; empty for an anonymous registry
	Password string
}

// URL is the registry's base URL, "http://host:port".
func (r *Registry) URL() string { return "http://" + r.Addr }

// Option configures Start.
type Option func(*config)

type config struct {
	username, password string
}

// WithHtpasswd protects the registry with htpasswd basic authentication
// accepting one user.
func WithHtpasswd(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// Start runs a registry with empty storage in a temporary directory and
// returns once it answers. It is stopped when the test ends; its log is shown
// if the test failed.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin := findBinary(t)
	dir := t.TempDir()

	// Another process can take the free port between our check and the
	// registry's bind; the registry then exits and we try another port.
	var lastErr error
	for range 3 {
		r, err := start(t, bin, dir, cfg)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("start registry: %v", lastErr)
	return nil
}

func findBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("CUSTOMS_TEST_REGISTRY_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			missing(t, fmt.Sprintf("CUSTOMS_TEST_REGISTRY_BIN=%s: %v", bin, err))
		}
		return bin
	}
	if bin, err := exec.LookPath("registry"); err == nil {
		return bin
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, p := range filepath.SplitList(strings.TrimSpace(string(out))) {
			bin := filepath.Join(p, "bin", "registry")
			if _, err := os.Stat(bin); err == nil {
				return bin
			}
		}
	}
	missing(t, "the Distribution registry binary is not installed")
	return ""
}

func missing(t testing.TB, why string) {
	t.Helper()
	msg := fmt.Sprintf("%s; install it with `%s` (or set CUSTOMS_TEST_REGISTRY_BIN)", why, Install)
	if os.Getenv("CUSTOMS_TEST_REGISTRY") == "require" {
		t.Fatal(msg + "; CUSTOMS_TEST_REGISTRY=require makes this test mandatory")
	}
	t.Skip("SKIP integration test: " + msg)
}

// start runs one registry process on a free port. It returns an error when
// the process exits before answering, so the caller can retry.
func start(t testing.TB, bin, dir string, cfg config) (*Registry, error) {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runDir, err := os.MkdirTemp(dir, "registry-")
	if err != nil {
		return nil, err
	}
	conf, err := writeConfig(runDir, addr, cfg)
	if err != nil {
		return nil, err
	}

	stderr := &syncBuffer{}
	cmd := exec.Command(bin, "serve", conf)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	// The registry exports traces by default; tests have no collector.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if err := waitReady(t.Context(), addr, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("%w\nregistry output:\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("registry %s output:\n%s", addr, stderr.String())
		}
	})
	return &Registry{Addr: addr, Username: cfg.username, Password: cfg.password}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func writeConfig(dir, addr string, cfg config) (string, error) {
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		return "", err
	}
	var auth string
	if cfg.username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(cfg.password), bcrypt.MinCost)
		if err != nil {
			return "", fmt.Errorf("hash password: %w", err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", cfg.username, hash), 0o600); err != nil {
			return "", err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: customs-test\n    path: %q\n", htpasswd)
	}
	yaml := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: customs-test
health:
  storagedriver:
    enabled: false
%s`, storage, addr, auth)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// waitReady polls GET /v2/ until the registry answers 200 or 401.
func waitReady(ctx context.Context, addr string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("registry exited before answering on %s: %v", addr, err)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("registry did not answer GET http://%s/v2/ within %v", addr, startTimeout)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// syncBuffer collects the process output, written by exec's copying goroutine
// and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
