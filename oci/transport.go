package oci

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The client's round trippers, from the outside in: go-containerregistry's
// authenticating transport, userAgent, retry, limit, then the base transport.
// Retries sit outside the limit so that a request waiting to be retried does
// not hold a slot another request could use.

// userAgent sets the User-Agent header of every request.
type userAgent struct {
	next http.RoundTripper
	ua   string
}

func (t *userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", t.ua)
	return t.next.RoundTrip(req)
}

// limit lets at most cap(sem) requests be in flight at once: a request holds
// its slot from sending until its response body is closed.
type limit struct {
	next http.RoundTripper
	sem  chan struct{}
}

func (t *limit) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.sem <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		<-t.sem
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { <-t.sem }}
	return resp, nil
}

type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// retry repeats requests that failed for a reason that may pass: 429 (after
// Retry-After when the registry sends one), 500, 502, 503, 504 and connection
// errors, with exponential backoff and jitter. Only requests whose body can
// be sent again are repeated.
type retry struct {
	next     http.RoundTripper
	max      int           // retries after the first attempt
	base     time.Duration // first backoff
	maxDelay time.Duration // cap on any wait, Retry-After included
	logger   *slog.Logger
}

func (t *retry) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if attempt >= t.max || !replayable || ctx.Err() != nil {
			return resp, err
		}
		delay, ok := t.delay(attempt, resp, err)
		if !ok {
			return resp, err
		}
		attrs := []any{"method", req.Method, "url", req.URL.Redacted(), "attempt", attempt + 1, "delay", delay}
		if err != nil {
			attrs = append(attrs, "error", err)
		} else {
			attrs = append(attrs, "status", resp.StatusCode)
			// Read a little of the body so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		t.logger.DebugContext(ctx, "retrying registry request", attrs...)
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// delay reports whether the outcome of attempt (0 for the first) is worth
// retrying, and how long to wait first.
func (t *retry) delay(attempt int, resp *http.Response, err error) (time.Duration, bool) {
	if err != nil {
		return t.backoff(attempt), transient(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, t.maxDelay), true
		}
		return t.backoff(attempt), true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return t.backoff(attempt), true
	}
	return 0, false
}

// backoff is base·2^attempt capped at maxDelay, of which the upper half is
// random so that clients that failed together do not retry together.
func (t *retry) backoff(attempt int) time.Duration {
	d := t.maxDelay
	if attempt < 32 {
		if e := t.base << attempt; e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// transient reports whether a transport error may pass on retry: connection
// refused or reset, timeouts, truncated answers. Certificate errors, protocol
// mismatches and unknown hosts will not.
func transient(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
