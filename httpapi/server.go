// Package httpapi serves the HSS v5 image API, and the IAM and enterprise
// project APIs that administer who may use it, over HTTP
// (../shared/spec/hss-api.md): routing, authentication of each request (a
// token or an AK/SK signature), parameter validation, wire types (snake_case
// JSON, epoch milliseconds; Keystone and EPS shapes for IAM) and the one
// table that maps application errors to HTTP statuses and HSS/IAM error
// codes.
//
// It holds no business logic and no storage: every request is validated,
// converted to domain types and handed to the small interfaces below, whose
// implementations (the store, iam, reposync, scanjob) cmd/customs wires in.
package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"customs"
)

// Authenticator issues and checks credentials (implemented by iam.Service).
type Authenticator interface {
	IssueToken(ctx context.Context, req customs.TokenRequest) (*customs.IssuedToken, error)
	Authenticate(ctx context.Context, secret string) (*customs.Principal, error)
	// AuthenticateSigned verifies an AK/SK-signed request (spec §4.2) and
	// returns its principal, scoped to projectID when it is not empty.
	AuthenticateSigned(ctx context.Context, r *customs.SignedRequest, projectID string) (*customs.Principal, error)
	RevokeToken(ctx context.Context, secret string) error
	Projects(ctx context.Context, p *customs.Principal, name string) ([]*customs.Project, error)
}

// ImageFinder lists image versions (implemented by the store).
type ImageFinder interface {
	FindImages(ctx context.Context, scope customs.Scope, f customs.ImageFilter) ([]*customs.Image, int, error)
}

// RegistryService keeps the registries images are synchronized from
// (implemented by the store).
type RegistryService interface {
	CreateRegistry(ctx context.Context, scope customs.Scope, r *customs.Registry) error
	FindRegistries(ctx context.Context, scope customs.Scope, f customs.RegistryFilter) ([]*customs.Registry, error)
	UpdateRegistry(ctx context.Context, scope customs.Scope, id string, u customs.RegistryUpdate) (*customs.Registry, error)
	DeleteRegistry(ctx context.Context, scope customs.Scope, id string) error
}

// SyncService starts synchronizations and reports on them (implemented by
// reposync.Runner).
type SyncService interface {
	// StartSync starts a synchronization, or returns the one already running
	// for the same request with started false.
	StartSync(ctx context.Context, scope customs.Scope, req customs.SyncRequest) (task *customs.SyncTask, started bool, err error)
	FindSyncTasks(ctx context.Context, scope customs.Scope, f customs.SyncTaskFilter) ([]*customs.SyncTask, int, error)
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// maxTokenLen is the longest X-Auth-Token accepted (spec §0).
const maxTokenLen = 32768

// Server serves the API. Set the fields, then call Open, or mount Handler in
// a server of your own.
type Server struct {
	Addr   string // listen address; ":0" picks a port
	Region string // the deployment's region name

	Auth Authenticator
	// IAM administers the callers' domains; nil leaves the IAM
	// administration endpoints (users, groups, roles, grants, enterprise
	// projects, access keys) out.
	IAM        IdentityAdmin
	Images     ImageFinder
	Registries RegistryService
	Sync       SyncService
	// Shares keeps the repositories shared with other domains; nil leaves
	// the sharing endpoints out.
	Shares ShareService
	// Scans reads scan results; nil leaves the result endpoints
	// (vulnerabilities, malware, baseline) and batch-scan out.
	Scans ScanResults
	// ScanQueue queues scans; nil leaves batch-scan out.
	ScanQueue ScanQueue
	// CheckTypeDescriptions describes each baseline check type (the
	// risk configs' check_type_desc), by check type.
	CheckTypeDescriptions map[string]string

	Logger *slog.Logger     // default slog.Default().With("component", "httpapi")
	Now    func() time.Time // default time.Now

	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Handler returns the handler of every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v3/auth/tokens", s.handle(s.issueToken))
	mux.Handle("GET /v3/auth/tokens", s.handle(s.validateToken))
	mux.Handle("DELETE /v3/auth/tokens", s.handle(s.revokeToken))
	mux.Handle("GET /v3/projects", s.handle(s.listProjects))
	if s.IAM != nil {
		s.routeIAM(mux)
	}

	mux.Handle("GET /v5/{project_id}/image/swr-repository", s.hss(s.listImages))
	mux.Handle("POST /v5/{project_id}/image/registries", s.hss(s.createRegistry))
	mux.Handle("GET /v5/{project_id}/image/registries", s.hss(s.listRegistries))
	mux.Handle("PUT /v5/{project_id}/image/registries/{id}", s.hss(s.updateRegistry))
	mux.Handle("DELETE /v5/{project_id}/image/registries/{id}", s.hss(s.deleteRegistry))
	mux.Handle("POST /v5/{project_id}/image/synchronize", s.hss(s.runSync))
	mux.Handle("POST /v5/{project_id}/image/image-sync/tasks", s.hss(s.createSyncTask))
	mux.Handle("GET /v5/{project_id}/image/tasks", s.hss(s.listTasks))
	if s.Shares != nil {
		s.shareRoutes(mux)
	}
	if s.Scans != nil {
		s.scanRoutes(mux)
	}

	// Everything else, including a known path with another method, gets the
	// API's error shape rather than the mux's plain text.
	mux.Handle("/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return customs.Errorf(customs.ENOTFOUND, "There is no API at %s %s.", r.Method, r.URL.Path)
	}))
	return s.observe(mux)
}

// Open listens on Addr and serves in the background until Close.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", s.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger().Error("serve", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.logger().Info("listening", "addr", ln.Addr().String())
	return nil
}

// URL is the base URL of the server after Open, on the loopback address
// when it listens on every interface.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	addr := s.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Close stops accepting requests and waits, until ctx ends, for those in
// flight to finish.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	if err != nil {
		return fmt.Errorf("shut down API server: %w", err)
	}
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default().With("component", "httpapi")
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// handlerFunc is an endpoint: it writes a response, or returns an error that
// the adapter writes through the error table.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// hssFunc is an HSS endpoint: it runs for an authenticated principal whose
// project is the one in the path.
type hssFunc func(w http.ResponseWriter, r *http.Request, p *customs.Principal) error

// hss authenticates an HSS request (spec §0): a valid token of this region
// scoped to the project in the path, or a valid signature for that project,
// and a region header, if any, naming this region.
func (s *Server) hss(fn hssFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		projectID := r.PathValue("project_id")
		p, err := s.authenticateFor(r, projectID)
		if err != nil {
			return err
		}
		if p.Region != s.Region {
			return customs.Errorf(customs.ETOKENREGION, "The token was issued for region %q, not %q.", p.Region, s.Region)
		}
		if p.Project == nil || p.Project.ID != projectID {
			// The same answer whether or not the project exists.
			return customs.Errorf(customs.EFORBIDDEN, "Insufficient permissions: the credential is not scoped to the project in the request path (the project of the token, or the X-Project-Id header of a signed request); use one for that project.")
		}
		if region := r.Header.Get("region"); region != "" && region != s.Region {
			return invalidParam("region", region, fmt.Sprintf("empty or %q (this deployment's region)", s.Region))
		}
		return fn(w, r, p)
	})
}

// signatureScheme starts the Authorization header of an AK/SK-signed
// request (spec §4.2).
const signatureScheme = "SDK-HMAC-SHA256"

// authenticate resolves the caller's credentials: a token in X-Auth-Token,
// or an AK/SK signature for the project in X-Project-Id, if any.
func (s *Server) authenticate(r *http.Request) (*customs.Principal, error) {
	return s.authenticateFor(r, "")
}

// authenticateFor is authenticate on a path that names a project
// (pathProject, "" for none), which a signed request is for unless its
// X-Project-Id says otherwise.
func (s *Server) authenticateFor(r *http.Request, pathProject string) (*customs.Principal, error) {
	token := r.Header.Get("X-Auth-Token")
	signed := strings.HasPrefix(r.Header.Get("Authorization"), signatureScheme)
	switch {
	case token != "" && signed:
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The request carries both a token (X-Auth-Token) and an AK/SK signature (Authorization); send one of them.")
	case signed:
		return s.authenticateSigned(r, pathProject)
	case token == "":
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "No credentials: send a token in the X-Auth-Token header, or sign the request with an access key (Authorization: %s ...).", signatureScheme)
	case len(token) > maxTokenLen:
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The X-Auth-Token header has %d characters; a token has at most %d.", len(token), maxTokenLen)
	}
	p, err := s.Auth.Authenticate(r.Context(), token)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// authenticateSigned verifies the AK/SK signature of r. The signature
// covers the body, so the body is read here (within the usual limit) and put
// back for the handler. The project is the X-Project-Id header, or on an
// HSS path without it the path's project. A signed request whose
// X-Project-Id differs from the path's project is authenticated without a
// project, so that it is refused like a token for another project, whether
// or not that project exists.
func (s *Server) authenticateSigned(r *http.Request, pathProject string) (*customs.Principal, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return nil, bodyReadError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	header := r.Header.Clone()
	// net/http moves Host out of the header map; a signature may cover it.
	header.Set("Host", r.Host)
	projectID := r.Header.Get("X-Project-Id")
	switch {
	case pathProject == "":
	case projectID == "":
		projectID = pathProject
	case projectID != pathProject:
		projectID = ""
	}
	p, err := s.Auth.AuthenticateSigned(r.Context(), &customs.SignedRequest{
		Method:        r.Method,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		Header:        header,
		Body:          body,
		Authorization: r.Header.Get("Authorization"),
	}, projectID)
	if err != nil {
		return nil, fmt.Errorf("authenticate signed request: %w", err)
	}
	return p, nil
}

// observe gives every response a request id, logs every request once, and
// turns a panic into a 500 answer.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger().ErrorContext(r.Context(), "handler panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			s.logger().InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
				"status", rec.code(), "duration", time.Since(start), "request_id", id)
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// newRequestID returns 32 random hex characters.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}
