package scanjob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
	"customs/scanjob"
	"customs/store/sqlite"
)

// The scanner and matcher here are the consumer interfaces' other side:
// they record what they are asked and answer what the test says. The store
// and the queue are real.

type scanFunc func(ctx context.Context, t customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error)

type scanner struct {
	mu    sync.Mutex
	calls map[string]int // by digest
	fn    scanFunc
}

func (s *scanner) Scan(ctx context.Context, t customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error) {
	s.mu.Lock()
	s.calls[m.Digest]++
	s.mu.Unlock()
	return s.fn(ctx, t, m)
}

func (s *scanner) count(digest string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[digest]
}

type matcher struct{}

// Match finds one vulnerability per package whose version is "1.0".
func (matcher) Match(_ context.Context, pkgs []customs.Package) ([]customs.Finding, error) {
	var out []customs.Finding
	for _, p := range pkgs {
		if p.Version == "1.0" {
			out = append(out, customs.Finding{VulnID: "GHSA-" + p.Name, Package: p, Severity: "high"})
		}
	}
	return out, nil
}

func digest(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func image(seed string) *customs.Manifest {
	return &customs.Manifest{Digest: digest(seed), MediaType: "application/vnd.oci.image.manifest.v1+json", Kind: customs.KindImage,
		ConfigDigest: digest("config-" + seed), Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
		Blobs: []customs.Blob{{Digest: digest("config-" + seed)}, {Digest: digest("layer-" + seed)}}}
}

type fixture struct {
	db      *sqlite.DB
	scope   customs.Scope
	regs    []*customs.Registry
	scanner *scanner
	runner  *scanjob.Runner
}

func newFixture(t *testing.T, workers int, fn scanFunc) *fixture {
	t.Helper()
	c, err := iam.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "customs.db")
	db := sqlite.New(path)
	db.Cipher = c
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := &customs.Project{Name: "region-a", Enabled: true}
	if _, err := db.Bootstrap(t.Context(), &customs.Domain{Name: "acme"}, &customs.User{Name: "admin", PasswordHash: "x", Admin: true, Enabled: true}, p); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, scope: customs.ProjectScope(p.ID), scanner: &scanner{calls: map[string]int{}, fn: fn}}
	for _, name := range []string{"first", "second"} {
		reg := &customs.Registry{Name: name, Type: customs.Harbor, Protocol: "http", Addr: name + ".example:5000"}
		if err := db.CreateRegistry(t.Context(), f.scope, reg); err != nil {
			t.Fatal(err)
		}
		f.regs = append(f.regs, reg)
	}
	f.runner = f.open(t, workers)
	return f
}

// open starts a runner on the fixture's database, as a process would.
func (f *fixture) open(t *testing.T, workers int) *scanjob.Runner {
	t.Helper()
	h, err := f.db.Handle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := &scanjob.Runner{Store: f.db, Scanner: f.scanner, Matcher: matcher{}, Workers: workers, RetryAfter: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	if err := r.Open(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	if workers > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, done := context.WithTimeout(context.Background(), 10*time.Second)
			defer done()
			r.Stop(stop)
			cancel()
		})
	}
	return r
}

// put stores m and points reg's repo:tag at it.
func (f *fixture) put(t *testing.T, reg *customs.Registry, repo, tag string, ms ...*customs.Manifest) {
	t.Helper()
	if err := f.db.PutManifests(t.Context(), ms); err != nil {
		t.Fatal(err)
	}
	ns, name := customs.SplitRepository(repo)
	_, err := f.db.ApplyRepositoryUpdates(t.Context(), f.scope, reg.ID, []customs.RepositoryUpdate{{Namespace: ns, Name: name,
		Upserts: []customs.TagState{{Tag: tag, Digest: ms[len(ms)-1].Digest, UpdatedAt: time.Now()}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// row returns repo:tag's list row once cond holds, failing after a deadline.
func (f *fixture) row(t *testing.T, repo, tag string, cond func(*customs.Image) bool) *customs.Image {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		imgs, _, err := f.db.FindImages(t.Context(), f.scope, customs.ImageFilter{Type: customs.InstanceImage, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range imgs {
			if img.Repository() == repo && img.Tag == tag && cond(img) {
				return img
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%s never reached the expected state: %+v", repo, tag, imgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func finished(img *customs.Image) bool {
	return img.ScanStatus == customs.ScanSuccess || img.ScanStatus == customs.ScanFailed
}

func result(pkgs ...string) *customs.ScanResult {
	res := &customs.ScanResult{Malware: []customs.MaliciousFile{{Path: "/eicar.com", Signature: "Eicar-Signature", Size: 68, SHA256: "x", Layer: "l"}}}
	for _, p := range pkgs {
		res.Packages = append(res.Packages, customs.Package{Name: p, Version: "1.0", Ecosystem: "npm", Path: "/app/node_modules/" + p + "/package.json", Layer: "l"})
	}
	return res
}

func TestQueueScansIndexChildrenOnce(t *testing.T) {
	// No scan ends before both queue calls are made: the second asks again
	// for scans already waiting or running, which is no new request.
	gate := make(chan struct{})
	f := newFixture(t, 2, func(ctx context.Context, _ customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error) {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if m.Platform.Architecture == "arm64" {
			return result("left-pad", "lodash"), nil
		}
		return result("left-pad"), nil
	})
	amd, arm := image("amd"), image("arm")
	arm.Platform.Architecture = "arm64"
	idx := &customs.Manifest{Digest: digest("idx"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex, Scannable: true,
		Children: []customs.ChildImage{{Digest: amd.Digest, Platform: amd.Platform}, {Digest: arm.Digest, Platform: arm.Platform}}}
	f.put(t, f.regs[0], "team/multi", "1", amd, arm, idx)
	f.put(t, f.regs[0], "team/multi", "2", idx)
	f.put(t, f.regs[0], "team/amd", "1", amd)

	// Three tags, two queue calls, one job per image manifest.
	for range 2 {
		if err := f.runner.QueueScans(t.Context(), []string{idx.Digest, amd.Digest}); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	img := f.row(t, "team/multi", "1", func(img *customs.Image) bool { return img.ScanStatus == customs.ScanSuccess })
	// Distinct union: left-pad on both platforms is one finding; the
	// malicious file is in the same layer with the same hash on both.
	if img.VulNum != 2 || img.MaliciousFileNum != 1 {
		t.Errorf("index row: vul %d, malicious %d; want 2, 1", img.VulNum, img.MaliciousFileNum)
	}
	for _, c := range img.Children {
		if c.ScanStatus != customs.ScanSuccess {
			t.Errorf("child %s status %s, want success", c.Platform, c.ScanStatus)
		}
	}
	if got := f.row(t, "team/amd", "1", finished); got.VulNum != 1 {
		t.Errorf("team/amd:1 vul_num %d, want 1", got.VulNum)
	}
	// Queueing what was scanned is a rescan only when asked.
	if err := f.runner.QueueNew(t.Context(), []string{idx.Digest}); err != nil {
		t.Fatal(err)
	}
	if got := f.row(t, "team/multi", "2", finished); got.ScanStatus != customs.ScanSuccess {
		t.Errorf("QueueNew of a scanned index changed its status to %s", got.ScanStatus)
	}
	for _, m := range []*customs.Manifest{amd, arm} {
		if n := f.scanner.count(m.Digest); n != 1 {
			t.Errorf("%s scanned %d times, want once", m.Platform, n)
		}
	}
}

func TestFailures(t *testing.T) {
	var mu sync.Mutex
	attempts := map[string]int{}
	var badRegistry string // the registry tried first refuses the credentials
	f := newFixture(t, 1, func(ctx context.Context, target customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error) {
		mu.Lock()
		attempts[m.Digest+target.RegistryID]++
		n := attempts[m.Digest+target.RegistryID]
		mu.Unlock()
		switch m.Digest {
		case digest("oversized"):
			return nil, &customs.ScanFailure{Reason: customs.FailImageOversized, Err: errors.New("11 GB")}
		case digest("flaky"):
			if n < 3 {
				return nil, &customs.ScanFailure{Reason: customs.FailDownload, Err: errors.New("connection reset")}
			}
		case digest("down"):
			return nil, &customs.ScanFailure{Reason: customs.FailDownload, Err: errors.New("connection refused")}
		case digest("auth"):
			if target.RegistryID == badRegistry {
				return nil, &customs.ScanFailure{Reason: customs.FailAuthentication, Err: customs.ErrRegistryAuth}
			}
		}
		return result("ok"), nil
	})
	badRegistry = min(f.regs[0].ID, f.regs[1].ID)
	oversized, flaky, down, auth := image("oversized"), image("flaky"), image("down"), image("auth")
	f.put(t, f.regs[0], "team/oversized", "1", oversized)
	f.put(t, f.regs[0], "team/flaky", "1", flaky)
	f.put(t, f.regs[0], "team/down", "1", down)
	f.put(t, f.regs[0], "team/auth", "1", auth)
	f.put(t, f.regs[1], "other/auth", "1", auth) // the same image in a registry that lets us in
	if err := f.runner.QueueScans(t.Context(), []string{oversized.Digest, flaky.Digest, down.Digest, auth.Digest}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		repo       string
		wantStatus customs.ScanStatus
		wantDesc   string
		wantCalls  int
	}{
		{"team/oversized", customs.ScanFailed, customs.FailImageOversized, 1}, // not tried again
		{"team/flaky", customs.ScanSuccess, "", 3},
		{"team/down", customs.ScanFailed, customs.FailDownload, 3},
		{"team/auth", customs.ScanSuccess, "", 2},
	}
	for _, tt := range tests {
		img := f.row(t, tt.repo, "1", func(img *customs.Image) bool {
			return img.ScanStatus == tt.wantStatus
		})
		if img.ScanFailedDesc != tt.wantDesc {
			t.Errorf("%s: scan_failed_desc %q, want %q", tt.repo, img.ScanFailedDesc, tt.wantDesc)
		}
		if n := f.scanner.count(img.Digest); n != tt.wantCalls {
			t.Errorf("%s: scanned %d times, want %d", tt.repo, n, tt.wantCalls)
		}
	}
}

func TestPendingScansSurviveARestart(t *testing.T) {
	f := newFixture(t, 0, func(context.Context, customs.ScanTarget, *customs.Manifest) (*customs.ScanResult, error) {
		return result("a"), nil
	})
	m := image("waiting")
	f.put(t, f.regs[0], "team/app", "1", m)
	// A process that only queues (no workers) queues and stops.
	if err := f.runner.QueueScans(t.Context(), []string{m.Digest}); err != nil {
		t.Fatal(err)
	}
	if img := f.row(t, "team/app", "1", func(*customs.Image) bool { return true }); img.ScanStatus != customs.ScanWaiting {
		t.Fatalf("after queueing: %s, want waiting_for_scan", img.ScanStatus)
	}
	// A process with workers picks it up.
	f.open(t, 1)
	if img := f.row(t, "team/app", "1", finished); img.ScanStatus != customs.ScanSuccess || f.scanner.count(m.Digest) != 1 {
		t.Errorf("after a worker started: %s, scanned %d times; want success, once", img.ScanStatus, f.scanner.count(m.Digest))
	}
}

func TestScanInForeground(t *testing.T) {
	f := newFixture(t, 0, func(context.Context, customs.ScanTarget, *customs.Manifest) (*customs.ScanResult, error) {
		return result("a", "b"), nil
	})
	m := image("fg")
	f.put(t, f.regs[1], "team/app", "1", m)
	if err := f.runner.Scan(t.Context(), m.Digest); err != nil {
		t.Fatal(err)
	}
	img := f.row(t, "team/app", "1", func(*customs.Image) bool { return true })
	got := []any{img.ScanStatus, img.VulNum, img.MaliciousFileNum, img.ScannedAt.IsZero()}
	if diff := cmp.Diff([]any{customs.ScanSuccess, 2, 1, false}, got); diff != "" {
		t.Errorf("after a foreground scan [status, vul, malicious, never scanned] (-want +got):\n%s", diff)
	}
	// Nothing to pull from: the image is gone from every repository.
	lost := image("lost")
	if err := f.db.PutManifests(t.Context(), []*customs.Manifest{lost}); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Scan(t.Context(), lost.Digest); err != nil {
		t.Fatal(err)
	}
	if n := f.scanner.count(lost.Digest); n != 0 {
		t.Errorf("an image no repository shows was scanned %d times", n)
	}
}

func TestRescanAfterScan(t *testing.T) {
	f := newFixture(t, 1, func(ctx context.Context, _ customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error) {
		return result("left-pad"), nil
	})
	amd := image("amd")
	f.put(t, f.regs[0], "team/amd", "1", amd)
	for want := 1; want <= 3; want++ {
		if err := f.runner.QueueScans(t.Context(), []string{amd.Digest}); err != nil {
			t.Fatal(err)
		}
		f.row(t, "team/amd", "1", func(img *customs.Image) bool { return finished(img) && f.scanner.count(amd.Digest) == want })
	}
}
