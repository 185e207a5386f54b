package scan

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"customs"
	"customs/analyzer"
)

const (
	// memorySpool is the largest wanted file held in memory while the
	// analyzers read it; larger ones go to a temporary file.
	memorySpool = 1 << 20
	// bombFloor is what any layer may decompress to, whatever its ratio: a
	// small layer of sparse files or zeros is not a bomb.
	bombFloor = 64 << 20
	// maxZstdWindow bounds the memory a zstd frame may ask for. It admits
	// every level of the zstd tool, --ultra -22 included (a 128 MiB window).
	maxZstdWindow = 128 << 20
	// readBuffer is the read-ahead of a compressed layer.
	readBuffer = 256 << 10

	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh." // aufs bookkeeping (.wh..wh.plnk, ...), not a whiteout
	whiteoutOpaque = ".wh..wh..opq"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// walker walks the layers of one image.
type walker struct {
	log     *slog.Logger
	limits  customs.ScanLimits
	tempDir string
	runs    []*run
	final   *analyzer.Final

	buf     []byte // the memory spool, reused from file to file
	entries int    // tar entries read, over all layers
	wanting []*run // scratch: the runs that want the current file
}

// layerState is what a layer changes in the final view, applied when the
// layer has been read: its whiteouts delete from the layers below it only.
type layerState struct {
	index    int
	digest   string
	entries  map[string]*analyzer.File
	deletes  []string // whiteouts and opaque directories
	opaque   []string
	skipped  int // entries with unusable paths
	tooLarge int // wanted files larger than Limits.FileSize
	dangling int // hard links to nothing
}

// layer streams layer i once: every entry goes into the final view, every
// regular file is offered to the analyzers.
func (w *walker) layer(ctx context.Context, i int, blob *Blob) error {
	f, err := blob.Open()
	if err != nil {
		return fmt.Errorf("open layer %d (%s): %w", i, blob.Digest(), err)
	}
	defer f.Close()

	lr := &layerReader{ctx: ctx}
	var tr *tar.Reader
	var magic [4]byte
	n, _ := f.ReadAt(magic[:], 0)
	switch {
	case n >= len(gzipMagic) && bytes.Equal(magic[:len(gzipMagic)], gzipMagic):
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, readBuffer))
		if err != nil {
			return failf(customs.FailQueryBasicInformation, "layer %d (%s) is not valid gzip: %w", i, blob.Digest(), err)
		}
		defer zr.Close()
		lr.r, lr.max = zr, bombLimit(blob.Size(), w.limits.Ratio)
		tr = tar.NewReader(lr)
	case n == len(zstdMagic) && bytes.Equal(magic[:], zstdMagic):
		zr, err := zstd.NewReader(bufio.NewReaderSize(f, readBuffer),
			zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return failf(customs.FailQueryBasicInformation, "layer %d (%s) is not valid zstd: %w", i, blob.Digest(), err)
		}
		defer zr.Close()
		lr.r, lr.max = zr, bombLimit(blob.Size(), w.limits.Ratio)
		tr = tar.NewReader(lr)
	default:
		// A plain tar cannot expand; the tar reader seeks past the files
		// nobody wants instead of reading them.
		lr.r = f
		tr = tar.NewReader(seekingReader{lr, f})
	}

	st := &layerState{index: i, digest: blob.Digest(), entries: make(map[string]*analyzer.File)}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
			err = nil // the path is checked below, like every other
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return w.readFailure(lr, st, err)
		}
		if err := w.entry(ctx, st, hdr, tr); err != nil {
			var rf *readFailure
			if errors.As(err, &rf) {
				return w.readFailure(lr, st, rf.err)
			}
			return err
		}
	}
	w.apply(st)
	if st.skipped+st.tooLarge+st.dangling > 0 {
		w.log.WarnContext(ctx, "layer entries not scanned", "layer", st.digest,
			"unusable_paths", st.skipped, "files_over_size_limit", st.tooLarge, "dangling_hard_links", st.dangling)
	}
	return nil
}

// readFailure classifies an error reading a layer.
func (w *walker) readFailure(lr *layerReader, st *layerState, err error) error {
	switch {
	case lr.ctx.Err() != nil:
		return lr.ctx.Err()
	case lr.over:
		return failf(customs.FailImageOversized, "layer %d (%s) decompresses to more than %d bytes (%d times its size): a decompression bomb",
			st.index, st.digest, lr.max, w.limits.Ratio)
	default:
		return failf(customs.FailQueryBasicInformation, "layer %d (%s) cannot be read: %w", st.index, st.digest, err)
	}
}

// entry records one tar entry and offers it to the analyzers.
func (w *walker) entry(ctx context.Context, st *layerState, hdr *tar.Header, content io.Reader) error {
	if w.entries++; w.entries > w.limits.Entries {
		return failf(customs.FailImageOversized, "more than %d entries in the layers", w.limits.Entries)
	}
	if len(hdr.Name) > w.limits.PathLength || len(hdr.Linkname) > w.limits.PathLength {
		st.skipped++
		w.log.DebugContext(ctx, "entry path over the length limit", "layer", st.digest, "length", max(len(hdr.Name), len(hdr.Linkname)))
		return nil
	}
	p, ok := cleanPath(hdr.Name)
	if !ok {
		if p != "" { // not the root directory itself
			st.skipped++
			w.log.DebugContext(ctx, "entry path climbs out of the image root", "layer", st.digest, "path", hdr.Name)
		}
		return nil
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		switch name := base[len(whiteoutPrefix):]; {
		case base == whiteoutOpaque:
			st.deletes = append(st.deletes, dir)
			st.opaque = append(st.opaque, dir)
		case strings.HasPrefix(base, whiteoutMeta), name == "", name == ".", name == "..":
		default:
			st.deletes = append(st.deletes, path.Join(dir, name))
		}
		return nil
	}

	f := &analyzer.File{
		FileInfo: customs.FileInfo{
			Path:    p,
			Mode:    hdr.FileInfo().Mode(),
			UID:     hdr.Uid,
			GID:     hdr.Gid,
			ModTime: hdr.ModTime,
		},
		Layer: st.index,
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		f.Size = hdr.Size
		st.entries[p] = f
		return w.offer(ctx, st, f, content)
	case tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		st.entries[p] = f
	case tar.TypeSymlink:
		f.Linkname = hdr.Linkname
		st.entries[p] = f
	case tar.TypeLink:
		// A hard link is its target's file under another name. Its
		// content is not in the stream again: analyzers saw it as the
		// target.
		target, ok := cleanPath(hdr.Linkname)
		t := st.entries[target]
		if t == nil && ok {
			t, _ = w.final.Lookup(target)
		}
		if t == nil || t.Mode.IsDir() {
			st.dangling++
			w.log.DebugContext(ctx, "hard link to nothing", "layer", st.digest, "path", p, "target", hdr.Linkname)
			return nil
		}
		link := *t
		link.Path, link.Layer = p, st.index
		if t.Mode&fs.ModeSymlink == 0 {
			link.Linkname = target
		}
		st.entries[p] = &link
	}
	return nil
}

// offer gives a regular file to the analyzers that want it, reading its
// content once.
func (w *walker) offer(ctx context.Context, st *layerState, f *analyzer.File, content io.Reader) error {
	w.wanting = w.wanting[:0]
	for _, r := range w.runs {
		if r.wants(f) {
			w.wanting = append(w.wanting, r)
		}
	}
	if len(w.wanting) == 0 {
		return nil
	}
	if f.Size > w.limits.FileSize {
		st.tooLarge++
		w.log.DebugContext(ctx, "wanted file over the size limit", "layer", st.digest, "path", f.Path, "size", f.Size)
		return nil
	}
	if f.Size <= memorySpool {
		if int64(cap(w.buf)) < f.Size {
			w.buf = make([]byte, f.Size, max(f.Size, 64<<10))
		}
		buf := w.buf[:f.Size]
		if _, err := io.ReadFull(content, buf); err != nil {
			return &readFailure{err}
		}
		for _, r := range w.wanting {
			r.file(ctx, f, io.NewSectionReader(bytes.NewReader(buf), 0, f.Size))
		}
		return nil
	}

	spool, err := os.CreateTemp(w.tempDir, "customs-spool-*")
	if err != nil {
		return fmt.Errorf("spool a file of layer %d: %w", st.index, err)
	}
	defer func() {
		spool.Close()
		if err := os.Remove(spool.Name()); err != nil {
			w.log.ErrorContext(ctx, "remove spool file", "path", spool.Name(), "error", err)
		}
	}()
	if _, err := io.CopyN(spool, readFailures{content}, f.Size); err != nil {
		var rf *readFailure
		if errors.As(err, &rf) {
			return err
		}
		return fmt.Errorf("spool a file of layer %d: %w", st.index, err)
	}
	for _, r := range w.wanting {
		r.file(ctx, f, io.NewSectionReader(spool, 0, f.Size))
	}
	return nil
}

// apply makes a layer's changes to the final view: its whiteouts and the
// directories its files replace delete from the layers below, then its
// entries are put.
func (w *walker) apply(st *layerState) {
	deletes := st.deletes
	for p, f := range st.entries {
		if f.Mode.IsDir() {
			continue
		}
		if old, ok := w.final.Lookup(p); ok && old.Mode.IsDir() {
			deletes = append(deletes, p) // a file replacing a directory hides what was in it
		}
	}
	// An opaque directory hides what is below it, not itself.
	var keep []*analyzer.File
	for _, d := range st.opaque {
		if f, ok := w.final.Lookup(d); ok {
			keep = append(keep, f)
		}
	}
	if len(deletes) > 0 {
		w.final.Delete(deletes...)
	}
	for _, f := range keep {
		w.final.Put(f)
	}
	for _, f := range st.entries {
		w.final.Put(f)
	}
	for p := range st.entries {
		w.addParents(p, st.index)
	}
}

// addParents adds the directories above p that no layer has an entry for,
// as extracting the layer would create them: tars need not list them, and
// a path resolves only through entries that exist.
func (w *walker) addParents(p string, layer int) {
	for {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return
		}
		p = p[:i]
		if _, ok := w.final.Lookup(p); ok {
			return // and so are its parents
		}
		w.final.Put(&analyzer.File{FileInfo: customs.FileInfo{Path: p, Mode: fs.ModeDir | 0o755}, Layer: layer})
	}
}

// cleanPath turns a tar entry name into a path relative to the image root.
// It reports false for the root itself ("") and for a name that climbs out
// of the root ("../etc/passwd", "/../x").
func cleanPath(name string) (string, bool) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	switch {
	case p == ".":
		return "", false
	case p == ".." || strings.HasPrefix(p, "../"):
		return p, false
	}
	return p, true
}

// bombLimit is the most a compressed layer of size bytes may decompress to.
func bombLimit(size, ratio int64) int64 {
	if size > math.MaxInt64/ratio {
		return math.MaxInt64
	}
	return max(size*ratio, bombFloor)
}

// layerReader is a layer's decompressed stream. It counts the bytes against
// the decompression bomb limit and stops when the scan's context ends.
type layerReader struct {
	ctx  context.Context
	r    io.Reader
	n    int64
	max  int64 // 0: no limit
	over bool
}

var errBomb = errors.New("decompression limit reached")

func (l *layerReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.max > 0 && l.n > l.max {
		l.over = true
		return n, errBomb
	}
	return n, err
}

// seekingReader lets the tar reader seek over a plain layer.
type seekingReader struct {
	*layerReader
	s io.Seeker
}

func (s seekingReader) Seek(offset int64, whence int) (int64, error) {
	return s.s.Seek(offset, whence)
}

// readFailure marks an error reading the layer, as opposed to writing a
// spool file.
type readFailure struct{ err error }

func (e *readFailure) Error() string { return e.err.Error() }
func (e *readFailure) Unwrap() error { return e.err }

type readFailures struct{ r io.Reader }

func (r readFailures) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readFailure{err}
	}
	return n, err
}
