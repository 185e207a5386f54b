package scan_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/scan"
)

// content is a blob for the cache tests.
type content struct {
	data   string
	digest string
	opens  atomic.Int32 // downloads started
}

func blob(data string) *content {
	sum := sha256.Sum256([]byte(data))
	return &content{data: data, digest: "sha256:" + hex.EncodeToString(sum[:])}
}

func (c *content) hex() string { _, h, _ := strings.Cut(c.digest, ":"); return h }

func (c *content) open(context.Context) (io.ReadCloser, error) {
	c.opens.Add(1)
	return io.NopCloser(strings.NewReader(c.data)), nil
}

// fetch fetches c and checks what the blob reads.
func fetch(t *testing.T, cache *scan.Cache, c *content) *scan.Blob {
	t.Helper()
	b, err := cache.Fetch(t.Context(), c.digest, int64(len(c.data)), c.open)
	if err != nil {
		t.Fatalf("Fetch(%s): %v", c.digest, err)
	}
	if got := readBlob(t, b); got != c.data || b.Digest() != c.digest || b.Size() != int64(len(c.data)) {
		t.Fatalf("Fetch(%s) = %s of %d bytes reading %q, want %q", c.digest, b.Digest(), b.Size(), got, c.data)
	}
	return b
}

func readBlob(t *testing.T, b *scan.Blob) string {
	t.Helper()
	f, err := b.Open()
	if err != nil {
		t.Fatalf("open blob: %v", err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// cached lists the blob files of the cache directory, by hex, and anything
// else in it.
func cached(t *testing.T, dir string) []string {
	t.Helper()
	return files(t, dir)
}

func hexes(cs ...*content) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.hex())
	}
	slices.Sort(out)
	return out
}

func TestCacheConcurrentFetchDownloadsOnce(t *testing.T) {
	dir := t.TempDir()
	cache := newCache(t, dir, 1<<20)
	c := blob(strings.Repeat("x", 100<<10))
	gate := make(chan struct{})
	open := func(ctx context.Context) (io.ReadCloser, error) {
		c.opens.Add(1)
		<-gate // the download stays in flight until every Fetch has begun
		return io.NopCloser(strings.NewReader(c.data)), nil
	}
	const n = 8
	var started, done sync.WaitGroup
	started.Add(n)
	blobs := make([]*scan.Blob, n)
	errs := make([]error, n)
	for i := range n {
		done.Go(func() {
			started.Done()
			blobs[i], errs[i] = cache.Fetch(t.Context(), c.digest, int64(len(c.data)), open)
		})
	}
	started.Wait()
	close(gate)
	done.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Fetch %d: %v", i, errs[i])
		}
		if got := readBlob(t, blobs[i]); got != c.data {
			t.Errorf("Fetch %d read %d bytes, want %d", i, len(got), len(c.data))
		}
		blobs[i].Release()
	}
	if got := c.opens.Load(); got != 1 {
		t.Errorf("%d downloads, want 1", got)
	}
	if diff := cmp.Diff(hexes(c), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	a, b, c, d := blob(strings.Repeat("a", 100)), blob(strings.Repeat("b", 100)), blob(strings.Repeat("c", 100)), blob(strings.Repeat("d", 100))
	cache := newCache(t, dir, 300)
	for _, x := range []*content{a, b, c} {
		fetch(t, cache, x).Release()
	}
	fetch(t, cache, a).Release() // a is used again: b is now the oldest
	fetch(t, cache, d).Release() // makes room by evicting b
	if diff := cmp.Diff(hexes(a, c, d), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
	if got := cache.Size(); got != 300 {
		t.Errorf("Size = %d, want 300", got)
	}
	fetch(t, cache, b).Release() // downloaded again, evicting c
	if diff := cmp.Diff(hexes(a, b, d), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
	for _, x := range []*content{a, b, c, d} {
		want := int32(1)
		if x == b {
			want = 2
		}
		if got := x.opens.Load(); got != want {
			t.Errorf("blob %c downloaded %d times, want %d", x.data[0], got, want)
		}
	}
}

func TestCacheKeepsBlobsInUse(t *testing.T) {
	dir := t.TempDir()
	a, b, c, d := blob(strings.Repeat("a", 100)), blob(strings.Repeat("b", 100)), blob(strings.Repeat("c", 100)), blob(strings.Repeat("d", 100))
	cache := newCache(t, dir, 200)
	ha := fetch(t, cache, a) // held
	fetch(t, cache, b).Release()
	hc := fetch(t, cache, c) // evicts b, though a is older
	if diff := cmp.Diff(hexes(a, c), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}

	// No room while a and c are held: d comes through a temporary file.
	hd := fetch(t, cache, d)
	if got := cache.Size(); got != 200 {
		t.Errorf("Size = %d, want 200", got)
	}
	if got := cached(t, dir); len(got) != 3 || !strings.HasPrefix(got[0], ".tmp-") {
		t.Errorf("cache directory with d held = %v, want a, c and a temporary file", got)
	}
	// a and c are still readable, d too, and d's file goes on Release.
	if readBlob(t, ha) != a.data || readBlob(t, hc) != c.data {
		t.Error("held blobs changed")
	}
	hd.Release()
	hd.Release() // a second Release does nothing
	if diff := cmp.Diff(hexes(a, c), cached(t, dir)); diff != "" {
		t.Errorf("cache directory after releasing d mismatch (-want +got):\n%s", diff)
	}

	// Released, a can go.
	ha.Release()
	fetch(t, cache, d).Release()
	if diff := cmp.Diff(hexes(c, d), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
	hc.Release()
}

func TestCacheBlobLargerThanTheCache(t *testing.T) {
	dir := t.TempDir()
	cache := newCache(t, dir, 100)
	small, large := blob(strings.Repeat("s", 50)), blob(strings.Repeat("L", 1000))
	fetch(t, cache, small).Release()
	h := fetch(t, cache, large)
	if got := cached(t, dir); len(got) != 2 || got[1] != small.hex() {
		t.Errorf("cache directory with the large blob held = %v, want a temporary file and the small blob", got)
	}
	h.Release()
	if diff := cmp.Diff(hexes(small), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
	fetch(t, cache, large).Release()
	if got := large.opens.Load(); got != 2 {
		t.Errorf("large blob downloaded %d times, want 2 (it is never kept)", got)
	}
}

func TestCacheReopen(t *testing.T) {
	dir := t.TempDir()
	a, b, c := blob(strings.Repeat("a", 100)), blob(strings.Repeat("b", 100)), blob(strings.Repeat("c", 100))
	cache := newCache(t, dir, 1000)
	for _, x := range []*content{a, b, c} {
		fetch(t, cache, x).Release()
	}
	// Uses in the order b, c, a, as the cache records them; and what a
	// crash leaves behind.
	base := time.Now().Add(-time.Hour)
	for i, x := range []*content{b, c, a} {
		if err := os.Chtimes(filepath.Join(dir, x.hex()), time.Time{}, base.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Room for two: the oldest, b, goes.
	cache = newCache(t, dir, 200)
	if diff := cmp.Diff(hexes(a, c), cached(t, dir)); diff != "" {
		t.Errorf("cache directory after reopening mismatch (-want +got):\n%s", diff)
	}
	if got := cache.Size(); got != 200 {
		t.Errorf("Size = %d, want 200", got)
	}
	fetch(t, cache, c).Release()
	fetch(t, cache, a).Release()
	if got := a.opens.Load() + c.opens.Load(); got != 2 {
		t.Errorf("%d downloads of a and c, want 2 (the first process's)", got)
	}
	// Then c is the oldest.
	fetch(t, cache, b).Release()
	if diff := cmp.Diff(hexes(a, b), cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
}

func TestCacheRejectsWrongContent(t *testing.T) {
	good := blob("the content the manifest names")
	tests := []struct {
		name string
		body string
		size int64
	}{
		{"other content", "the content the manifest namez", int64(len(good.data))},
		{"shorter", good.data[:10], int64(len(good.data))},
		{"longer", good.data + "!", int64(len(good.data))},
		{"the manifest's size is wrong", good.data, int64(len(good.data)) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cache := newCache(t, dir, 1<<20)
			_, err := cache.Fetch(t.Context(), good.digest, tt.size, func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(tt.body)), nil
			})
			var f *customs.ScanFailure
			if !errors.As(err, &f) || f.Reason != customs.FailDownload || !strings.Contains(err.Error(), good.digest) {
				t.Fatalf("Fetch = %v, want a download_failed failure naming %s", err, good.digest)
			}
			if got := cached(t, dir); len(got) != 0 {
				t.Errorf("cache directory after the failure: %v, want it empty", got)
			}
			if got := cache.Size(); got != 0 {
				t.Errorf("Size = %d, want 0", got)
			}
			fetch(t, cache, good).Release() // fetched again, not served from the cache
			if got := good.opens.Load(); got != 1 {
				t.Errorf("%d downloads of the right content, want 1", got)
			}
			good.opens.Store(0)
		})
	}
}

func TestCacheMismatchNamesBothDigests(t *testing.T) {
	cache := newCache(t, t.TempDir(), 1<<20)
	want, got := blob("wanted"), blob("served")
	_, err := cache.Fetch(t.Context(), want.digest, 6, got.open)
	if err == nil || !strings.Contains(err.Error(), want.digest) || !strings.Contains(err.Error(), got.digest) {
		t.Errorf("Fetch = %v, want an error naming %s and %s", err, want.digest, got.digest)
	}
}

func TestCacheSHA512(t *testing.T) {
	dir := t.TempDir()
	cache := newCache(t, dir, 1<<20)
	data := "sha512 content"
	sum := sha512.Sum512([]byte(data))
	c := &content{data: data, digest: "sha512:" + hex.EncodeToString(sum[:])}
	fetch(t, cache, c).Release()
	fetch(t, cache, c).Release()
	if got := c.opens.Load(); got != 1 {
		t.Errorf("%d downloads, want 1", got)
	}
	if diff := cmp.Diff([]string{c.hex()}, cached(t, dir)); diff != "" {
		t.Errorf("cache directory mismatch (-want +got):\n%s", diff)
	}
}

func TestCacheInvalidInput(t *testing.T) {
	dir := t.TempDir()
	cache := newCache(t, dir, 1<<20)
	opened := false
	open := func(context.Context) (io.ReadCloser, error) {
		opened = true
		return io.NopCloser(strings.NewReader("")), nil
	}
	for _, d := range []string{
		"sha256:../../../../etc/passwd",
		"sha256:" + strings.Repeat("A", 64), // upper case
		"sha512:" + strings.Repeat("a", 64), // a sha256 length
		"md5:" + strings.Repeat("a", 32),
		strings.Repeat("a", 64),
		"",
	} {
		if _, err := cache.Fetch(t.Context(), d, 0, open); err == nil {
			t.Errorf("Fetch(%q) succeeded, want an error", d)
		}
	}
	if _, err := cache.Fetch(t.Context(), blob("x").digest, -1, open); err == nil {
		t.Error("Fetch of a negative size succeeded, want an error")
	}
	if opened {
		t.Error("an invalid Fetch opened the blob")
	}
	if got := cached(t, dir); len(got) != 0 {
		t.Errorf("cache directory: %v, want it empty", got)
	}
	if _, err := scan.Open(t.TempDir(), 0); customs.ErrorCode(err) != customs.EINVALID {
		t.Errorf("Open with size 0: %v, want an EINVALID error", err)
	}
}

func TestCacheOpenFailure(t *testing.T) {
	cache := newCache(t, t.TempDir(), 1<<20)
	c := blob("content")
	boom := errors.New("connection reset")
	_, err := cache.Fetch(t.Context(), c.digest, int64(len(c.data)), func(context.Context) (io.ReadCloser, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Fetch = %v, want %v in its chain", err, boom)
	}
	if got := cache.Size(); got != 0 {
		t.Errorf("Size after a failed download = %d, want 0", got)
	}
	fetch(t, cache, c).Release()
}
