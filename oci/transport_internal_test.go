package oci

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// roundTripFunc is a base transport for what a real server cannot show
// deterministically: the instants at which requests are sent.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(status int, header http.Header) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader("body"))}
}

func newRetry(next http.RoundTripper, max int, base, maxDelay time.Duration) *retry {
	return &retry{next: next, max: max, base: base, maxDelay: maxDelay, logger: slog.New(slog.DiscardHandler)}
}

func TestRetryWaits(t *testing.T) {
	tests := []struct {
		name     string
		first    *http.Response
		maxDelay time.Duration
		want     time.Duration // exact wait before the second attempt
	}{
		{name: "Retry-After seconds", first: answer(429, http.Header{"Retry-After": {"7"}}), maxDelay: time.Minute, want: 7 * time.Second},
		{name: "Retry-After capped", first: answer(429, http.Header{"Retry-After": {"3600"}}), maxDelay: 30 * time.Second, want: 30 * time.Second},
		{name: "Retry-After on 503", first: answer(503, http.Header{"Retry-After": {"2"}}), maxDelay: time.Minute, want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sent []time.Time
				base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					sent = append(sent, time.Now())
					if len(sent) == 1 {
						return tt.first, nil
					}
					return answer(200, nil), nil
				})
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://r.example/v2/", nil)
				resp, err := newRetry(base, 3, time.Millisecond, tt.maxDelay).RoundTrip(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
				}
				if len(sent) != 2 {
					t.Fatalf("attempts = %d, want 2", len(sent))
				}
				// The clock is synctest's: the wait is exact.
				if got := sent[1].Sub(sent[0]); got != tt.want {
					t.Errorf("waited %v between attempts, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestRetryBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent []time.Time
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = append(sent, time.Now())
			return answer(500, nil), nil
		})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://r.example/v2/", nil)
		resp, err := newRetry(base, 5, 100*time.Millisecond, 1*time.Second).RoundTrip(req)
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("RoundTrip = %v, %v; want the last 500", resp, err)
		}
		if len(sent) != 6 {
			t.Fatalf("attempts = %d, want 6", len(sent))
		}
		// Attempt k waits within [d/2, d] for d = min(100ms·2^k, 1s).
		for k := range 5 {
			d := min(100*time.Millisecond<<k, time.Second)
			if got := sent[k+1].Sub(sent[k]); got < d/2 || got > d {
				t.Errorf("wait after attempt %d = %v, want within [%v, %v]", k+1, got, d/2, d)
			}
		}
	})
}

func TestRetryWaitHonoursCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			attempts.Add(1)
			return answer(429, http.Header{"Retry-After": {"60"}}), nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://r.example/v2/", nil)
		done := make(chan error)
		go func() {
			_, err := newRetry(base, 3, time.Millisecond, time.Minute).RoundTrip(req)
			done <- err
		}()
		synctest.Wait() // the retry is waiting out Retry-After
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RoundTrip error = %v, want context.Canceled", err)
		}
		if got := attempts.Load(); got != 1 {
			t.Errorf("attempts = %d, want 1", got)
		}
	})
}

func TestRetryBodies(t *testing.T) {
	tests := []struct {
		name         string
		newRequest   func() *http.Request
		wantAttempts int
		wantBodies   []string
	}{
		{
			name: "replayable body",
			newRequest: func() *http.Request {
				r, _ := http.NewRequest(http.MethodPut, "http://r.example/x", strings.NewReader("payload"))
				return r
			},
			wantAttempts: 3,
			wantBodies:   []string{"payload", "payload", "payload"},
		},
		{
			name: "body that cannot be replayed",
			newRequest: func() *http.Request {
				r, _ := http.NewRequest(http.MethodPut, "http://r.example/x", io.NopCloser(strings.NewReader("payload")))
				return r
			},
			wantAttempts: 1,
			wantBodies:   []string{"payload"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bodies []string
			base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				return answer(500, nil), nil
			})
			resp, err := newRetry(base, 2, time.Microsecond, time.Microsecond).RoundTrip(tt.newRequest())
			if err != nil || resp.StatusCode != 500 {
				t.Fatalf("RoundTrip = %v, %v; want the last 500", resp, err)
			}
			if diff := cmp.Diff(tt.wantBodies, bodies); diff != "" {
				t.Errorf("bodies sent mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"truncated answer", io.ErrUnexpectedEOF, true},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "nowhere.example", IsNotFound: true}, false},
		{"certificate", x509.UnknownAuthorityError{}, false},
		{"protocol mismatch", errors.New("http: server gave HTTP response to HTTPS client"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transient(tt.err); got != tt.want {
				t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLimitHoldsSlotUntilBodyClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int32
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			return answer(200, nil), nil
		})
		l := &limit{next: base, sem: make(chan struct{}, 1)}
		get := func(ctx context.Context) (*http.Response, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://r.example/", nil)
			return l.RoundTrip(req)
		}

		first, err := get(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		second := make(chan *http.Response)
		go func() {
			resp, _ := get(t.Context())
			second <- resp
		}()
		synctest.Wait()
		if got := sent.Load(); got != 1 {
			t.Fatalf("requests sent while the first body is open = %d, want 1", got)
		}
		first.Body.Close()
		resp := <-second
		if got := sent.Load(); got != 2 {
			t.Errorf("requests sent after the first body closed = %d, want 2", got)
		}
		resp.Body.Close()
		resp.Body.Close() // a second Close must not free a slot twice

		// A caller waiting for a slot gives up with its context.
		held, _ := get(t.Context())
		ctx, cancel := context.WithCancel(t.Context())
		waiting := make(chan error)
		go func() {
			_, err := get(ctx)
			waiting <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-waiting; !errors.Is(err, context.Canceled) {
			t.Errorf("waiting RoundTrip error = %v, want context.Canceled", err)
		}
		held.Body.Close()
		if len(l.sem) != 0 {
			t.Errorf("slots still taken after every body closed: %d", len(l.sem))
		}
	})
}

func TestLimitFreesSlotOnError(t *testing.T) {
	l := &limit{next: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, io.ErrUnexpectedEOF }), sem: make(chan struct{}, 1)}
	for range 3 { // would block on the second call if the slot leaked
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://r.example/", nil)
		if _, err := l.RoundTrip(req); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("RoundTrip error = %v, want the base error", err)
		}
	}
}
