package scan

import (
	"cmp"
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"customs"
)

// tempPrefix starts the name of every file of the cache directory that is
// not a complete, verified blob: downloads in progress and blobs too large to
// keep. Open removes them; a blob's name is its digest's hex, which never
// starts with a dot.
const tempPrefix = ".tmp-"

// copyBuffer is the buffer size of a download.
const copyBuffer = 256 << 10

// Cache is a content-addressed blob cache in a directory, shared by every
// scan of a process. A blob is fetched once, verified against its digest
// while it streams to disk, and kept until the cache needs its room: the
// least recently used blobs that no scan holds go first. It is safe for
// concurrent use; one process uses a directory at a time.
//
// Files are named by the hex of their digest (sha256 and sha512 digests have
// different lengths, so they cannot collide) and nothing else: no name from
// an image or a registry ever reaches the file system.
type Cache struct {
	// Logger defaults to slog.Default() with component=scan.
	Logger *slog.Logger

	dir string
	max int64

	mu      sync.Mutex
	entries map[string]*entry // cached blobs by digest
	lru     *list.List        // of *entry, most recently used first
	used    int64             // bytes of cached blobs and of downloads that reserved room
	flights map[string]chan struct{}
}

// entry is a cached blob.
type entry struct {
	digest string
	path   string
	size   int64
	refs   int // scans holding it: it is not evicted while refs > 0
	elem   *list.Element
}

// Blob is a blob held by a scan: its file stays until Release. A Blob is
// safe for concurrent use.
type Blob struct {
	digest  string
	path    string
	size    int64
	release func()
	once    sync.Once
}

// Digest is the blob's digest.
func (b *Blob) Digest() string { return b.digest }

// Size is the blob's size in bytes.
func (b *Blob) Size() int64 { return b.size }

// Open opens the blob for reading. The caller closes the file before it
// releases the blob.
func (b *Blob) Open() (*os.File, error) { return os.Open(b.path) }

// Release gives the blob back to the cache, which may then evict it. Calls
// after the first do nothing.
func (b *Blob) Release() { b.once.Do(b.release) }

// Open opens the cache in dir, creating the directory if needed, and indexes
// the blobs an earlier process left there, most recently used first (by
// modification time, which the cache sets on every use). It removes
// unfinished downloads, and evicts the oldest blobs when they take more than
// maxBytes.
func Open(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, customs.Errorf(customs.EINVALID, "blob cache size %d is not valid: give a positive number of bytes", maxBytes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open blob cache: %w", err)
	}
	c := &Cache{
		dir:     dir,
		max:     maxBytes,
		entries: make(map[string]*entry),
		lru:     list.New(),
		flights: make(map[string]chan struct{}),
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open blob cache: %w", err)
	}
	type found struct {
		e     *entry
		mtime time.Time
	}
	var blobs []found
	for _, de := range des {
		name := de.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, tempPrefix):
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("open blob cache: remove unfinished download: %w", err)
			}
		case de.Type().IsRegular() && algorithmOfHex(name) != "":
			info, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("open blob cache: %w", err)
			}
			e := &entry{digest: algorithmOfHex(name) + ":" + name, path: p, size: info.Size()}
			blobs = append(blobs, found{e, info.ModTime()})
		}
	}
	slices.SortFunc(blobs, func(a, b found) int { return b.mtime.Compare(a.mtime) })
	for _, f := range blobs {
		f.e.elem = c.lru.PushBack(f.e)
		c.entries[f.e.digest] = f.e
		c.used += f.e.size
	}
	c.mu.Lock()
	c.evict(0)
	c.mu.Unlock()
	return c, nil
}

// Size returns the bytes the cached blobs take, and the room reserved for
// downloads in progress.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Fetch returns the blob with digest ("sha256:<hex>" or "sha512:<hex>") and
// size (as the manifest states them), calling open for its content when the
// cache does not hold it. Concurrent Fetches of one digest share one
// download; when it fails, each of them tries its own open in turn (their
// sources may differ: another repository, other credentials).
//
// The content streams to a temporary file while it is hashed, and becomes
// the cached blob only when its digest and size match: a mismatch is a
// *customs.ScanFailure with customs.FailDownload naming both digests. A blob for which
// the cache cannot make room (it is larger than the whole cache, or scans
// hold the rest) is still returned, through a temporary file that Release
// deletes. The caller releases the blob when it is done.
func (c *Cache) Fetch(ctx context.Context, digest string, size int64, open func(context.Context) (io.ReadCloser, error)) (*Blob, error) {
	if err := validDigest(digest); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("blob %s: size %d is negative", digest, size)
	}
	for {
		c.mu.Lock()
		if e := c.entries[digest]; e != nil {
			if e.size == size {
				e.refs++
				c.lru.MoveToFront(e.elem)
				c.mu.Unlock()
				c.touch(e.path)
				return c.cached(e), nil
			}
			// The file was verified against its digest when it was stored:
			// the manifest is wrong, and the blob stays for the others.
			c.mu.Unlock()
			return nil, failf(customs.FailDownload, "blob %s is %d bytes, the manifest says %d", digest, e.size, size)
		}
		if done := c.flights[digest]; done != nil {
			c.mu.Unlock()
			select {
			case <-done: // cached now, or failed: look again
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for the download of blob %s: %w", digest, ctx.Err())
			}
		}
		done := make(chan struct{})
		c.flights[digest] = done
		reserved := c.reserve(size)
		c.mu.Unlock()

		b, err := c.download(ctx, digest, size, reserved, open)

		c.mu.Lock()
		delete(c.flights, digest)
		c.mu.Unlock()
		close(done)
		return b, err
	}
}

// download fetches a blob into a temporary file and, when it checks out,
// moves it into the cache (reserved) or hands it out as a temporary blob.
func (c *Cache) download(ctx context.Context, digest string, size int64, reserved bool, open func(context.Context) (io.ReadCloser, error)) (*Blob, error) {
	tmp, err := c.fetch(ctx, digest, size, open)
	if err != nil {
		if reserved {
			c.mu.Lock()
			c.used -= size
			c.mu.Unlock()
		}
		return nil, err
	}
	if !reserved {
		c.logger().DebugContext(ctx, "blob does not fit in the cache: it is kept until released", "digest", digest, "size", size)
		return &Blob{digest: digest, path: tmp, size: size, release: func() { c.removeFile(tmp) }}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, hexd, _ := strings.Cut(digest, ":")
	e := &entry{digest: digest, path: filepath.Join(c.dir, hexd), size: size, refs: 1}
	if err := os.Rename(tmp, e.path); err != nil {
		c.used -= size
		c.removeFile(tmp)
		return nil, fmt.Errorf("store blob %s: %w", digest, err)
	}
	e.elem = c.lru.PushFront(e)
	c.entries[digest] = e
	return c.cached(e), nil
}

// fetch streams the blob to a new temporary file, verifies it and returns
// the file's path.
func (c *Cache) fetch(ctx context.Context, digest string, size int64, open func(context.Context) (io.ReadCloser, error)) (path string, err error) {
	body, err := open(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch blob %s: %w", digest, err)
	}
	defer body.Close()
	tmp, err := os.CreateTemp(c.dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("fetch blob %s: %w", digest, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			c.removeFile(tmp.Name())
		}
	}()
	alg, _, _ := strings.Cut(digest, ":")
	h := newHash(alg)
	// One byte more than the manifest says tells a longer blob from an
	// exact one without reading all of a stream that never ends.
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), io.LimitReader(body, size+1), make([]byte, copyBuffer))
	if err != nil {
		return "", fmt.Errorf("fetch blob %s: %w", digest, err)
	}
	if n > size {
		return "", failf(customs.FailDownload, "blob %s is longer than the %d bytes the manifest says", digest, size)
	}
	if n < size {
		return "", failf(customs.FailDownload, "blob %s is %d bytes, the manifest says %d", digest, n, size)
	}
	if got := alg + ":" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return "", failf(customs.FailDownload, "blob %s: the registry sent content with digest %s", digest, got)
	}
	// On disk before it has its final name, so that a crash never leaves a
	// truncated file that looks complete.
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("store blob %s: %w", digest, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("store blob %s: %w", digest, err)
	}
	return tmp.Name(), nil
}

// reserve makes room for size bytes by evicting unused blobs, and reports
// whether it could. It evicts nothing when the room cannot be made. Called
// with c.mu held.
func (c *Cache) reserve(size int64) bool {
	if size > c.max {
		return false
	}
	var free int64 // what evicting every unused blob would free
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		if e := el.Value.(*entry); e.refs == 0 {
			free += e.size
		}
	}
	if c.used-free+size > c.max {
		return false
	}
	c.evict(size)
	c.used += size
	return true
}

// evict removes the least recently used unused blobs until size more bytes
// fit. Called with c.mu held.
func (c *Cache) evict(size int64) {
	for el := c.lru.Back(); el != nil && c.used+size > c.max; {
		e := el.Value.(*entry)
		el = el.Prev()
		if e.refs == 0 {
			c.remove(e)
		}
	}
}

// remove forgets a cached blob and deletes its file. Called with c.mu held.
func (c *Cache) remove(e *entry) {
	delete(c.entries, e.digest)
	c.lru.Remove(e.elem)
	c.used -= e.size
	c.removeFile(e.path)
}

func (c *Cache) removeFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.logger().Error("remove blob file", "path", path, "error", err)
	}
}

// cached returns a handle to e, which the caller has counted in e.refs.
func (c *Cache) cached(e *entry) *Blob {
	return &Blob{digest: e.digest, path: e.path, size: e.size, release: func() {
		c.mu.Lock()
		e.refs--
		c.mu.Unlock()
	}}
}

// touch records a use in the file's modification time, which orders the
// blobs when the cache is opened again.
func (c *Cache) touch(path string) {
	if err := os.Chtimes(path, time.Time{}, time.Now()); err != nil {
		c.logger().Debug("record blob use", "path", path, "error", err)
	}
}

func (c *Cache) logger() *slog.Logger {
	return cmp.Or(c.Logger, slog.Default().With("component", "scan"))
}

// validDigest checks that digest is "sha256:" or "sha512:" and the lower-case
// hex of that length: the hex becomes a file name.
func validDigest(digest string) error {
	alg, hexd, _ := strings.Cut(digest, ":")
	if a := algorithmOfHex(hexd); a == "" || a != alg {
		return fmt.Errorf("blob digest %q is not valid: use sha256:<64 hex digits> or sha512:<128 hex digits>", digest)
	}
	return nil
}

// algorithmOfHex returns the algorithm whose digests have s as their hex
// (lower case), or "" when s is no digest hex.
func algorithmOfHex(s string) string {
	var alg string
	switch len(s) {
	case 2 * sha256.Size:
		alg = "sha256"
	case 2 * sha512.Size:
		alg = "sha512"
	default:
		return ""
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return ""
		}
	}
	return alg
}

func newHash(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}
