package oci_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"

	"customs"
	"customs/oci"
)

func TestNewRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name string
		reg  customs.Registry
		opts []oci.Option
		want string // in the message
	}{
		{name: "protocol", reg: customs.Registry{Protocol: "ftp", Addr: "r.example"}, want: `protocol "ftp"`},
		{name: "empty address", reg: customs.Registry{Protocol: "https"}, want: `address ""`},
		{name: "address with a path", reg: customs.Registry{Protocol: "https", Addr: "r.example/v2"}, want: `address "r.example/v2"`},
		{name: "concurrency", reg: customs.Registry{Protocol: "https", Addr: "r.example"}, opts: []oci.Option{oci.WithConcurrency(0)}, want: "concurrency 0"},
		{name: "page size", reg: customs.Registry{Protocol: "https", Addr: "r.example"}, opts: []oci.Option{oci.WithPageSize(-1)}, want: "page size -1"},
		{name: "retries", reg: customs.Registry{Protocol: "https", Addr: "r.example"}, opts: []oci.Option{oci.WithRetry(-1, time.Second, time.Second)}, want: "retries -1"},
		{name: "retry delays", reg: customs.Registry{Protocol: "https", Addr: "r.example"}, opts: []oci.Option{oci.WithRetry(1, time.Second, time.Millisecond)}, want: "retry delays"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oci.New(&tt.reg, tt.opts...)
			if customs.ErrorCode(err) != customs.EINVALID || !strings.Contains(customs.ErrorMessage(err), tt.want) {
				t.Errorf("New() error = %v, want EINVALID mentioning %q", err, tt.want)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	c, rec := newClient(t, anonymous(newRegistry(t)))
	calls := []struct {
		name string
		call func() error
	}{
		{"Tags with an uppercase repository", func() error { _, err := c.Tags(t.Context(), "Team/App"); return err }},
		{"Head with an empty tag", func() error { _, err := c.Head(t.Context(), "app", ""); return err }},
		{"Head with a bad tag", func() error { _, err := c.Head(t.Context(), "app", "v1/../x"); return err }},
		{"Inspect with a bad digest", func() error { _, _, err := c.Inspect(t.Context(), "app", "sha256:abc", nil); return err }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); customs.ErrorCode(err) != customs.EINVALID {
				t.Errorf("error = %v, want EINVALID", err)
			}
		})
	}
	if reqs := rec.take(); len(reqs) != 0 {
		t.Errorf("invalid arguments sent requests: %v", reqs)
	}
}

func TestHead(t *testing.T) {
	addr := newRegistry(t)
	img := dockerImage(t, linuxAMD64, created1)
	pushImage(t, addr, "app", "v1", img)
	c, rec := pinged(t, anonymous(addr))

	got, err := c.Head(t.Context(), "app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if want := must(img.Digest()).String(); got != want {
		t.Errorf("Head(app, v1) = %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{"HEAD /v2/app/manifests/v1"}, rec.take()); diff != "" {
		t.Errorf("Head(app, v1) requests mismatch (-want +got):\n%s", diff)
	}
}

func TestTagDeletedBetweenTagsAndHead(t *testing.T) {
	addr := newRegistry(t)
	pushImage(t, addr, "app", "v1", dockerImage(t, linuxAMD64, created1))
	c, _ := pinged(t, anonymous(addr))

	tags, err := c.Tags(t.Context(), "app")
	if err != nil || len(tags) != 1 {
		t.Fatalf("Tags(app) = %v, %v; want [v1]", tags, err)
	}
	deleteManifest(t, addr, "app", "v1")

	_, err = c.Head(t.Context(), "app", "v1")
	if !errors.Is(err, oci.ErrNotFound) || customs.ErrorCode(err) != customs.ENOTFOUND {
		t.Errorf("Head(app, v1) error = %v (code %q), want ErrNotFound with code %q", err, customs.ErrorCode(err), customs.ENOTFOUND)
	}
	_, _, err = c.Inspect(t.Context(), "app", "v1", nil)
	if !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("Inspect(app, v1) error = %v, want ErrNotFound", err)
	}
}

func TestMissingConfigIsNotErrNotFound(t *testing.T) {
	addr := newRegistry(t)
	img := dockerImage(t, linuxAMD64, created1)
	body := must(img.RawManifest())
	putManifest(t, addr, "app", "v1", string(must(img.MediaType())), body) // no blobs pushed
	c, _ := pinged(t, anonymous(addr))

	_, _, err := c.Inspect(t.Context(), "app", "v1", nil)
	if err == nil || errors.Is(err, oci.ErrNotFound) || customs.ErrorCode(err) == customs.ENOTFOUND || !strings.Contains(err.Error(), "missing from the registry") {
		t.Errorf("Inspect(app, v1) error = %v, want a missing config blob that is not ErrNotFound (the tag exists)", err)
	}
}

// failing answers the first n requests for path with status and header,
// then passes requests through; hits counts the requests for path.
func failing(path string, n int32, status int, header http.Header, hits *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path {
				next.ServeHTTP(w, r)
				return
			}
			if hits.Add(1) > n {
				next.ServeHTTP(w, r)
				return
			}
			for k, v := range header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"errors":[{"code":"%s","message":"injected %d"}]}`, strings.ReplaceAll(strings.ToUpper(http.StatusText(status)), " ", "_"), status)
		})
	}
}

func TestRetries(t *testing.T) {
	const path = "/v2/app/manifests/v1"
	tests := []struct {
		name      string
		failures  int32
		status    int
		header    http.Header
		retries   int
		wantHits  int32
		wantError string // "" for success
	}{
		{name: "429 with Retry-After then success", failures: 1, status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {"1"}}, retries: 3, wantHits: 2},
		{name: "429 without Retry-After then success", failures: 2, status: http.StatusTooManyRequests, retries: 3, wantHits: 3},
		{name: "500 twice then success", failures: 2, status: http.StatusInternalServerError, retries: 3, wantHits: 3},
		{name: "502 then success", failures: 1, status: http.StatusBadGateway, retries: 3, wantHits: 2},
		{name: "503 then success", failures: 1, status: http.StatusServiceUnavailable, retries: 3, wantHits: 2},
		{name: "504 then success", failures: 1, status: http.StatusGatewayTimeout, retries: 3, wantHits: 2},
		{name: "persistent 500", failures: 100, status: http.StatusInternalServerError, retries: 3, wantHits: 4, wantError: "head manifest ADDR/app:v1: HTTP 500 Internal Server Error"},
		{name: "no retries configured", failures: 1, status: http.StatusInternalServerError, retries: 0, wantHits: 1, wantError: "HTTP 500"},
		{name: "400 is not retried", failures: 1, status: http.StatusBadRequest, retries: 3, wantHits: 1, wantError: "HTTP 400 Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			h := registryHandler()
			addr := serve(t, failing(path, tt.failures, tt.status, tt.header, &hits)(h))
			pushImage(t, serve(t, h), "app", "v1", dockerImage(t, linuxAMD64, created1))
			c, _ := pinged(t, anonymous(addr), oci.WithRetry(tt.retries, time.Millisecond, 2*time.Second))

			_, err := c.Head(t.Context(), "app", "v1")
			switch {
			case tt.wantError == "" && err != nil:
				t.Errorf("Head(app, v1) error = %v, want success after retries", err)
			case tt.wantError != "" && (err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(tt.wantError, "ADDR", addr))):
				t.Errorf("Head(app, v1) error = %v, want one containing %q", err, strings.ReplaceAll(tt.wantError, "ADDR", addr))
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("requests for %s = %d, want %d", path, got, tt.wantHits)
			}
		})
	}
}

func TestConnectionErrorsAreRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there any more

	c, rec := newClient(t, anonymous(addr), oci.WithRetry(2, time.Millisecond, 2*time.Millisecond))
	err := c.Ping(t.Context())
	if err == nil || !strings.Contains(err.Error(), "ping "+addr) {
		t.Errorf("Ping() error = %v, want a connection error naming %s", err, addr)
	}
	if got := len(rec.take()); got != 3 {
		t.Errorf("Ping() sent %d requests, want 3 (1 + 2 retries)", got)
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		challenge string
		want      error
		wantMsg   string
	}{
		{name: "401", status: http.StatusUnauthorized, challenge: `Basic realm="test"`, want: oci.ErrUnauthorized, wantMsg: "list catalog of %s: unauthorized: injected 401"},
		{name: "403", status: http.StatusForbidden, want: oci.ErrDenied, wantMsg: "list catalog of %s: denied: injected 403"},
		{name: "404", status: http.StatusNotFound, want: oci.ErrNotFound, wantMsg: "list catalog of %s: not found: injected 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			header := http.Header{}
			if tt.challenge != "" {
				header.Set("WWW-Authenticate", tt.challenge)
			}
			addr := serve(t, failing("/v2/_catalog", 100, tt.status, header, &hits)(registryHandler()))
			reg := anonymous(addr)
			reg.Username, reg.Password = "alice", "hunter2-secret"
			c, _ := newClient(t, reg)

			err := c.Catalog(t.Context(), func([]string) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Errorf("Catalog() error = %v, want errors.Is %v", err, tt.want)
			}
			if auth := tt.status != http.StatusNotFound; errors.Is(err, customs.ErrRegistryAuth) != auth {
				t.Errorf("errors.Is(%v, customs.ErrRegistryAuth) = %v, want %v", err, !auth, auth)
			}
			if want := fmt.Sprintf(tt.wantMsg, addr); err == nil || err.Error() != want {
				t.Errorf("Catalog() error = %q, want %q", err, want)
			}
			if hits.Load() != 1 {
				t.Errorf("catalog requests = %d, want 1 (%d is not retried)", hits.Load(), tt.status)
			}
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const limit, callers = 3, 12
	var inFlight, maxInFlight atomic.Int32
	full := make(chan struct{})
	var once sync.Once
	h := registryHandler()
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		if n >= limit {
			once.Do(func() { close(full) })
		}
		// Hold each request until the limit is reached, so that requests
		// overlap and any above the limit would be seen.
		select {
		case <-full:
		case <-time.After(10 * time.Second):
			t.Errorf("in-flight requests never reached %d", limit)
		}
		h.ServeHTTP(w, r)
	})
	addr := serve(t, counting)
	pushImage(t, serve(t, h), "app", "v1", dockerImage(t, linuxAMD64, created1))
	c, rec := pinged(t, anonymous(addr), oci.WithConcurrency(limit))

	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := c.Head(t.Context(), "app", "v1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := maxInFlight.Load(); got != limit {
		t.Errorf("most requests in flight = %d, want %d", got, limit)
	}
	if got := len(rec.take()); got != callers {
		t.Errorf("requests = %d, want %d", got, callers)
	}
}

func TestUserAgent(t *testing.T) {
	tests := []struct {
		name string
		opts []oci.Option
		want string
	}{
		{name: "default", want: "customs"},
		{name: "set", opts: []oci.Option{oci.WithUserAgent("customs/1.2.3")}, want: "customs/1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.UserAgent())
				mu.Unlock()
				w.Write([]byte(`{"repositories":[]}`))
			}))
			c, _ := newClient(t, anonymous(addr), tt.opts...)
			if err := c.Catalog(t.Context(), func([]string) error { return nil }); err != nil {
				t.Fatal(err)
			}
			for _, ua := range got {
				if ua != tt.want {
					t.Errorf("User-Agent = %q, want %q", ua, tt.want)
				}
			}
			if len(got) == 0 {
				t.Error("no request reached the server")
			}
		})
	}
}

// tokenAuth puts a Docker token server in front of a registry handler: it
// issues "tok:<scope>" for user/password at /token, and requires the token
// for the scope of each request.
func tokenAuth(user, password string, exchanges *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				u, p, ok := r.BasicAuth()
				if !ok || u != user || p != password {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`))
					return
				}
				exchanges.Add(1)
				json.NewEncoder(w).Encode(map[string]string{"token": "tok:" + r.URL.Query().Get("scope")})
				return
			}
			scope := "registry:catalog:*"
			if repo := repoOf(r.URL.Path); repo != "" {
				scope = "repository:" + repo + ":pull"
			}
			auth := r.Header.Get("Authorization")
			if auth == "Bearer tok:"+scope || (r.URL.Path == "/v2/" && strings.HasPrefix(auth, "Bearer tok:")) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test",scope="%s"`, r.Host, scope))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
		})
	}
}

func repoOf(path string) string {
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/list"} {
		if i := strings.LastIndex(path, sep); i > len("/v2/") {
			return path[len("/v2/"):i]
		}
	}
	return ""
}

func TestBearerTokenAuth(t *testing.T) {
	h := registryHandler()
	img := dockerImage(t, linuxAMD64, created1)
	plain := serve(t, h)
	pushImage(t, plain, "team/app", "v1", img)
	pushImage(t, plain, "other", "v1", img)
	var exchanges atomic.Int32
	addr := serve(t, tokenAuth("alice", "s3cret", &exchanges)(h))

	reg := &customs.Registry{Protocol: "http", Addr: addr, Username: "alice", Password: "s3cret"}
	c, _ := newClient(t, reg)
	ctx := t.Context()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping() = %v", err)
	}
	if err := c.Catalog(ctx, func([]string) error { return nil }); err != nil {
		t.Fatalf("Catalog() = %v", err)
	}
	for range 2 {
		if _, err := c.Tags(ctx, "team/app"); err != nil {
			t.Fatalf("Tags(team/app) = %v", err)
		}
		if _, _, err := c.Inspect(ctx, "team/app", "v1", nil); err != nil {
			t.Fatalf("Inspect(team/app, v1) = %v", err)
		}
	}
	if _, err := c.Head(ctx, "other", "v1"); err != nil {
		t.Fatalf("Head(other, v1) = %v", err)
	}
	// One token for the catalog scope, one per repository.
	if got := exchanges.Load(); got != 3 {
		t.Errorf("token exchanges = %d, want 3", got)
	}

	reg.Password = "wrong-password"
	bad, _ := newClient(t, reg)
	err := bad.Ping(ctx)
	if !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("Ping() with a wrong password = %v, want ErrUnauthorized", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error %q shows the password", err)
	}

	anon, _ := newClient(t, &customs.Registry{Protocol: "http", Addr: addr})
	if _, err := anon.Tags(ctx, "team/app"); !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("anonymous Tags(team/app) = %v, want ErrUnauthorized", err)
	}
}

func registryHandler() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

// serve serves h and returns its host:port.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// digestHeader rewrites Docker-Content-Digest on manifest answers: to value,
// or removes it when value is "".
func digestHeader(value string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/manifests/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Docker-Content-Digest")
			if value != "" {
				w.Header().Set("Docker-Content-Digest", value)
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
}

func TestManifestDigests(t *testing.T) {
	img := dockerImage(t, linuxAMD64, created1)
	digest := must(img.Digest()).String()
	wrong := fakeDigest("other").String()

	t.Run("Head without Docker-Content-Digest falls back to GET", func(t *testing.T) {
		h := registryHandler()
		pushImage(t, serve(t, h), "app", "v1", img)
		c, rec := pinged(t, anonymous(serve(t, digestHeader("")(h))))
		got, err := c.Head(t.Context(), "app", "v1")
		if err != nil || got != digest {
			t.Errorf("Head(app, v1) = %q, %v; want %s", got, err, digest)
		}
		if diff := cmp.Diff([]string{"HEAD /v2/app/manifests/v1", "GET /v2/app/manifests/v1"}, rec.take()); diff != "" {
			t.Errorf("Head(app, v1) requests mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("Inspect without Docker-Content-Digest hashes the body", func(t *testing.T) {
		h := registryHandler()
		pushImage(t, serve(t, h), "app", "v1", img)
		c, _ := pinged(t, anonymous(serve(t, digestHeader("")(h))))
		got, _, err := c.Inspect(t.Context(), "app", "v1", nil)
		if err != nil || got.Digest != digest {
			t.Errorf("Inspect(app, v1) = %+v, %v; want digest %s", got, err, digest)
		}
	})
	t.Run("Inspect refuses a body that does not match its digest", func(t *testing.T) {
		h := registryHandler()
		pushImage(t, serve(t, h), "app", "v1", img)
		c, _ := pinged(t, anonymous(serve(t, digestHeader(wrong)(h))))
		_, _, err := c.Inspect(t.Context(), "app", "v1", nil)
		if err == nil || !strings.Contains(err.Error(), "not "+wrong) {
			t.Errorf("Inspect(app, v1) error = %v, want a digest mismatch", err)
		}
	})
}
