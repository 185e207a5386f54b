// Package oci talks to OCI/Docker registries: catalog and tag paging, HEAD/GET
// of manifests, reading indexes and image configs, authentication, retries and
// a per-registry concurrency limit. It knows registries, not the inventory: it
// turns what a registry serves into customs.Manifest values and nothing more.
//
// It is built on go-containerregistry's authentication (Basic, and Bearer
// tokens exchanged for the registry's credentials), names and manifest types,
// and makes its own requests so that it controls exactly which ones are sent:
// one challenge per Client, one token per repository, one GET per manifest
// and one config blob per image. It does not pull layers (package scan does)
// and it does not decide what to store (package reposync does).
package oci

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"customs"
)

// Option configures a Client.
type Option func(*options)

type options struct {
	transport   http.RoundTripper
	concurrency int
	pageSize    int
	retries     int
	retryBase   time.Duration
	retryMax    time.Duration
	logger      *slog.Logger
	userAgent   string
}

// WithTransport sets the base transport under the client's own (tests use it
// to count requests or inject faults). The default is a clone of
// http.DefaultTransport.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithConcurrency sets the most requests in flight to the registry at once
// (default 8).
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithPageSize sets n= of catalog and tag list requests (default 1000).
func WithPageSize(n int) Option { return func(o *options) { o.pageSize = n } }

// WithRetry sets how many times a failed request is retried (default 5), the
// first backoff (default 200ms) and the longest wait (default 30s), which
// also caps a registry's Retry-After.
func WithRetry(max int, base, maxDelay time.Duration) Option {
	return func(o *options) { o.retries, o.retryBase, o.retryMax = max, base, maxDelay }
}

// WithLogger sets the logger (default slog.Default() with component=oci).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithUserAgent sets the User-Agent header (default "customs").
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// Client talks to one registry. It is safe for concurrent use.
type Client struct {
	addr     string // host[:port] as configured, to name the registry in errors
	baseURL  string // scheme://host[:port], as authentication expects it
	registry name.Registry
	auth     authn.Authenticator
	rt       http.RoundTripper // unauthenticated: userAgent, retry, limit, base
	pageSize int
	logger   *slog.Logger

	pingMu    sync.Mutex
	challenge *transport.Challenge // nil until the first successful ping

	mu     sync.Mutex
	scoped map[string]*scopedTransport // bearer transports by token scope
}

type scopedTransport struct {
	mu sync.Mutex
	rt http.RoundTripper // nil until a token was obtained
}

// New returns a client for reg: Protocol "http" or "https", Addr host[:port],
// Username and Password for basic or bearer-token authentication (anonymous
// when Username is empty).
func New(reg *customs.Registry, opts ...Option) (*Client, error) {
	o := options{
		concurrency: 8,
		pageSize:    1000,
		retries:     5,
		retryBase:   200 * time.Millisecond,
		retryMax:    30 * time.Second,
		userAgent:   "customs",
	}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}

	var nameOpts []name.Option
	switch reg.Protocol {
	case "https":
	case "http":
		nameOpts = append(nameOpts, name.Insecure)
	default:
		return nil, customs.Errorf(customs.EINVALID, "registry protocol %q is not supported: use \"http\" or \"https\"", reg.Protocol)
	}
	if reg.Addr == "" || strings.ContainsAny(reg.Addr, "/ ") {
		return nil, customs.Errorf(customs.EINVALID, "registry address %q is not valid: use host or host:port", reg.Addr)
	}
	registry, err := name.NewRegistry(reg.Addr, append(nameOpts, name.StrictValidation)...)
	if err != nil {
		return nil, customs.Errorf(customs.EINVALID, "registry address %q is not valid: use host or host:port", reg.Addr)
	}

	base := o.transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	logger := o.logger
	if logger == nil {
		logger = slog.Default().With("component", "oci")
	}
	logger = logger.With("registry", reg.Addr)

	var auth authn.Authenticator = authn.Anonymous
	if reg.Username != "" {
		auth = authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password})
	}
	return &Client{
		addr:     reg.Addr,
		baseURL:  reg.Protocol + "://" + registry.RegistryStr(),
		registry: registry,
		auth:     auth,
		rt: &userAgent{ua: o.userAgent, next: &retry{
			max: o.retries, base: o.retryBase, maxDelay: o.retryMax, logger: logger,
			next: &limit{sem: make(chan struct{}, o.concurrency), next: base},
		}},
		pageSize: o.pageSize,
		logger:   logger,
		scoped:   map[string]*scopedTransport{},
	}, nil
}

func (o *options) validate() error {
	switch {
	case o.concurrency < 1:
		return customs.Errorf(customs.EINVALID, "registry concurrency %d is not valid: use 1 or more", o.concurrency)
	case o.pageSize < 1:
		return customs.Errorf(customs.EINVALID, "registry page size %d is not valid: use 1 or more", o.pageSize)
	case o.retries < 0:
		return customs.Errorf(customs.EINVALID, "registry retries %d is not valid: use 0 or more", o.retries)
	case o.retryBase <= 0 || o.retryMax < o.retryBase:
		return customs.Errorf(customs.EINVALID, "registry retry delays %v to %v are not valid: use a positive first delay no longer than the longest", o.retryBase, o.retryMax)
	}
	return nil
}

// catalogScope is the token scope of registry-wide requests.
const catalogScope = "registry:catalog:*"

// repoScope is the token scope of reading repo.
func repoScope(repo string) string { return "repository:" + repo + ":pull" }

// Ping checks that the registry answers GET /v2/ with the client's credentials.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.ping(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", c.addr, err)
	}
	return nil
}

func (c *Client) ping(ctx context.Context) error {
	rt, err := c.transport(ctx, catalogScope)
	if err != nil {
		return err
	}
	resp, err := c.get(ctx, rt, http.MethodGet, c.baseURL+"/v2/", "application/json")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// transport returns the round tripper that authenticates requests needing
// scope. The registry's challenge is learnt once; with Bearer auth each scope
// gets its own token, exchanged once and refreshed by go-containerregistry
// when the registry rejects it.
func (c *Client) transport(ctx context.Context, scope string) (http.RoundTripper, error) {
	ch, err := c.authChallenge(ctx)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(ch.Scheme, "bearer") {
		return transport.FromToken(c.registry, c.auth, c.rt, ch, nil)
	}

	c.mu.Lock()
	st := c.scoped[scope]
	if st == nil {
		st = &scopedTransport{}
		c.scoped[scope] = st
	}
	c.mu.Unlock()

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.rt != nil {
		return st.rt, nil
	}
	tok, err := transport.Exchange(ctx, c.registry, c.auth, c.rt, []string{scope}, ch)
	if err != nil {
		return nil, fromTransport(err)
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken // some token servers send only access_token
	}
	rt, err := transport.FromToken(c.registry, c.auth, c.rt, ch, tok)
	if err != nil {
		return nil, err
	}
	st.rt = rt
	return rt, nil
}

// authChallenge asks GET /v2/ without credentials how the registry wants them.
// A failure is not remembered, so the next call asks again.
func (c *Client) authChallenge(ctx context.Context) (*transport.Challenge, error) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	if c.challenge != nil {
		return c.challenge, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/v2/", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ch := &transport.Challenge{Insecure: c.registry.Scheme() == "http"}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		ch.Scheme, ch.Parameters = pickChallenge(resp.Header.Values("WWW-Authenticate"))
	default:
		return nil, responseError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	c.challenge = ch
	return ch, nil
}

// get sends a body-less request and returns the 200 answer; any other status
// is returned as an error (a *statusError).
func (c *Client) get(ctx context.Context, rt http.RoundTripper, method, url, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(resp)
	}
	return resp, nil
}
