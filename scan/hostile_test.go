package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"customs"
	"customs/analyzer"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// zeroLayer is a compressed tar holding one file of size zero bytes, built
// as a stream: only the compressed bytes are ever in memory.
func zeroLayer(t testing.TB, size int64, compress string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw io.WriteCloser
	switch compress {
	case "gzip":
		w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		zw = w
	case "zstd":
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		if err != nil {
			t.Fatal(err)
		}
		zw = w
	default:
		t.Fatalf("compression %q", compress)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Size: size, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noise is n bytes that do not compress.
func noise(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

// snapshot maps every path below dir to its type and size.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		got[p] = fmt.Sprintf("%v %d", info.Mode().Type(), info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// isBlobName reports whether name is a blob file's name: a digest's hex.
func isBlobName(name string) bool {
	if len(name) != 64 && len(name) != 128 {
		return false
	}
	return strings.Trim(name, "0123456789abcdef") == ""
}

// checkNothingEscaped fails the test when the directory holding the test's
// temporary directories changed other than by blobs added to the cache, or
// when the spool directory is not empty.
func (e *env) checkNothingEscaped(t testing.TB, before map[string]string) {
	t.Helper()
	parent := filepath.Dir(e.root)
	cache := filepath.Join(e.root, "cache")
	after := snapshot(t, parent)
	for p, v := range after {
		if before[p] == v {
			continue
		}
		if filepath.Dir(p) == cache && isBlobName(filepath.Base(p)) {
			continue
		}
		t.Errorf("%s (%s) appeared or changed during the scan", p, v)
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s disappeared during the scan", p)
		}
	}
	if got := files(t, e.scanner.TempDir); len(got) != 0 {
		t.Errorf("spool directory after the scan: %v, want it empty", got)
	}
}

// modeView is the view of an entry without content.
func modeView(mode fs.FileMode, layer int) string { return fmt.Sprintf("%v 0 L%d", mode, layer) }

func TestScanHostileLayers(t *testing.T) {
	outside := t.TempDir() // where a followed symbolic link would write
	big := noise(2 << 20)  // spooled to a file when wanted
	deep := strings.Repeat("d/", 2000) + "f"
	deepFinal := map[string]string{deep: fv(1, 0), "ok": fv(2, 0)}
	for i, p := 0, "d"; i < 2000; i, p = i+1, p+"/d" {
		deepFinal[p] = dv(0)
	}
	valid := gzipped(t, layer{file("f", noise(256<<10))}.tarball(t))
	plain := layer{file("f", noise(64<<10))}.tarball(t)

	tests := []struct {
		name   string
		layers func(t testing.TB) [][]byte
		// wants limits what the recording analyzer reads (default: all).
		wants      func(f *analyzer.File) bool
		probes     []string
		wantReason string
		// On success:
		wantFinal    map[string]string
		wantOffered  []string
		wantResolved map[string]string
	}{{
		name: "paths that climb out of the root or are absolute",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{gzipped(t, layer{
				file("../../etc/passwd", "x"),
				file("a/../../b", "x"),
				file("/../c", "x"),
				hardlink("h", "../../etc/passwd"),
				symlink("../s", "/etc/passwd"),
				file("ok", "ok"),
				file("/abs/path", "abs"),
				file("./dot/./x", "d"),
				file("//double//slash", "s"),
			}.tarball(t))}
		},
		wantFinal: map[string]string{
			"ok":  fv(2, 0),
			"abs": dv(0), "abs/path": fv(3, 0),
			"dot": dv(0), "dot/x": fv(1, 0),
			"double": dv(0), "double/slash": fv(1, 0),
		},
		wantOffered: []string{"0:ok", "0:abs/path", "0:dot/x", "0:double/slash"},
	}, {
		name: "a symbolic link out of the root, then files through it",
		layers: func(t testing.TB) [][]byte {
			rel := strings.Repeat("../", 30) + strings.TrimPrefix(outside, "/")
			return [][]byte{
				gzipped(t, layer{symlink("abs", outside), symlink("rel", rel), file("abs/pwned", big)}.tarball(t)),
				gzipped(t, layer{file("rel/pwned", "x"), file("abs/pwned2", "y")}.tarball(t)),
			}
		},
		probes: []string{"abs/pwned", "rel/pwned"},
		wantFinal: map[string]string{
			"abs": lv(0, outside), "abs/pwned": fv(len(big), 0), "abs/pwned2": fv(1, 1),
			"rel": lv(0, strings.Repeat("../", 30)+strings.TrimPrefix(outside, "/")), "rel/pwned": fv(1, 1),
		},
		wantOffered: []string{"0:abs/pwned", "1:rel/pwned", "1:abs/pwned2"},
		// Inside the image, the links lead to paths of the image itself.
		wantResolved: map[string]string{"abs/pwned": "", "rel/pwned": ""},
	}, {
		name: "symbolic link loops",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{gzipped(t, layer{
				symlink("loop1", "loop2"), symlink("loop2", "loop1"),
				symlink("self", "self"),
				symlink("up", "."), symlink("parent", ".."),
				file("f", "f"),
			}.tarball(t))}
		},
		probes: []string{"loop1", "self", "self/x", "up/up/up/f", "parent/parent/f"},
		wantFinal: map[string]string{
			"loop1": lv(0, "loop2"), "loop2": lv(0, "loop1"), "self": lv(0, "self"),
			"up": lv(0, "."), "parent": lv(0, ".."), "f": fv(1, 0),
		},
		wantOffered:  []string{"0:f"},
		wantResolved: map[string]string{"loop1": "", "self": "", "self/x": "", "up/up/up/f": "f", "parent/parent/f": "f"},
	}, {
		name: "hard links to nowhere",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{gzipped(t, layer{
				hardlink("ghost", "nowhere"),
				hardlink("self", "self"),
				hardlink("root", "/"),
				hardlink("later", "f"), // to a file further down the tar
				file("f", "f"),
			}.tarball(t))}
		},
		wantFinal:   map[string]string{"f": fv(1, 0)},
		wantOffered: []string{"0:f"},
	}, {
		name: "device files and fifos",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{gzipped(t, layer{
				device("dev/null", tar.TypeChar),
				device("dev/sda", tar.TypeBlock),
				device("run/fifo", tar.TypeFifo),
			}.tarball(t))}
		},
		wantFinal: map[string]string{
			"dev":      dv(0),
			"dev/null": modeView(fs.ModeDevice|fs.ModeCharDevice|0o666, 0),
			"dev/sda":  modeView(fs.ModeDevice|0o666, 0),
			"run":      dv(0),
			"run/fifo": modeView(fs.ModeNamedPipe|0o666, 0),
		},
	}, {
		name: "paths over the length limit",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{gzipped(t, layer{
				file(strings.Repeat("d/", 10000)+"f", "x"), // 10,000 directories deep
				symlink("long", strings.Repeat("x/", 5000)),
				file(deep, "x"), // 2,000 deep: within the limit
				file("ok", "ok"),
			}.tarball(t))}
		},
		wantFinal:   deepFinal,
		wantOffered: []string{"0:" + deep, "0:ok"},
	}, {
		name:       "a gzip bomb",
		layers:     func(t testing.TB) [][]byte { return [][]byte{zeroLayer(t, 100<<20, "gzip")} },
		wants:      func(*analyzer.File) bool { return false },
		wantReason: customs.FailImageOversized,
	}, {
		name:       "a zstd bomb",
		layers:     func(t testing.TB) [][]byte { return [][]byte{zeroLayer(t, 100<<20, "zstd")} },
		wants:      func(*analyzer.File) bool { return false },
		wantReason: customs.FailImageOversized,
	}, {
		name: "a wanted file of a bomb",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{zeroLayer(t, 100<<20, "zstd")}
		},
		wantReason: customs.FailImageOversized,
	}, {
		name:        "zeros below the bomb floor",
		layers:      func(t testing.TB) [][]byte { return [][]byte{zeroLayer(t, 8<<20, "gzip")} },
		wantFinal:   map[string]string{"zeros": fv(8<<20, 0)},
		wantOffered: []string{"0:zeros"},
	}, {
		name:       "a truncated gzip",
		layers:     func(t testing.TB) [][]byte { return [][]byte{valid[:len(valid)/2]} },
		wantReason: customs.FailQueryBasicInformation,
	}, {
		name:       "a gzip header and nothing else",
		layers:     func(t testing.TB) [][]byte { return [][]byte{{0x1f, 0x8b}} },
		wantReason: customs.FailQueryBasicInformation,
	}, {
		name: "a gzip of garbage",
		layers: func(t testing.TB) [][]byte {
			return [][]byte{gzipped(t, []byte(noise(4096)))}
		},
		wantReason: customs.FailQueryBasicInformation,
	}, {
		name:       "a truncated tar",
		layers:     func(t testing.TB) [][]byte { return [][]byte{plain[:len(plain)/2]} },
		wantReason: customs.FailQueryBasicInformation,
	}, {
		name:       "neither compressed nor a tar",
		layers:     func(t testing.TB) [][]byte { return [][]byte{[]byte(noise(4096))} },
		wantReason: customs.FailQueryBasicInformation,
	}, {
		name:       "a zstd frame asking for a huge window",
		layers:     func(t testing.TB) [][]byte { return [][]byte{hugeWindowZstd()} },
		wantReason: customs.FailQueryBasicInformation,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.rec.wants, e.rec.probes = tt.wants, tt.probes
			var layers []v1.Layer
			for _, b := range tt.layers(t) {
				layers = append(layers, static.NewLayer(b, types.OCILayer))
			}
			m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, layers...))
			before := snapshot(t, filepath.Dir(e.root))

			res, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m)

			if got := reasonOf(err); got != tt.wantReason {
				t.Fatalf("Scan: %v (reason %q), want reason %q", err, got, tt.wantReason)
			}
			e.checkNothingEscaped(t, before)
			if des, err := os.ReadDir(outside); err != nil || len(des) != 0 {
				t.Errorf("directory outside the image after the scan: %v, %v; want it empty", des, err)
			}
			if err != nil {
				var f *customs.ScanFailure
				if !errors.As(err, &f) || res != nil {
					t.Errorf("Scan = %v, %T; want no result and a *customs.ScanFailure", res, err)
				}
				return
			}
			rec := e.rec.recording()
			if diff := cmp.Diff(tt.wantFinal, rec.final); diff != "" {
				t.Errorf("final view mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOffered, rec.offered); diff != "" {
				t.Errorf("files offered mismatch (-want +got):\n%s", diff)
			}
			if tt.wantResolved != nil {
				if diff := cmp.Diff(tt.wantResolved, rec.resolved); diff != "" {
					t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// hugeWindowZstd is a zstd frame header declaring a 2 GiB window (with no
// content size), followed by an empty raw block ending the frame.
func hugeWindowZstd() []byte {
	// Frame header descriptor 0: no content size, no checksum, not single
	// segment, no dictionary. Window descriptor: exponent 21 → 2^(10+21).
	return []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00}
}

func TestScanLimits(t *testing.T) {
	layers := func(t testing.TB) []v1.Layer {
		return []v1.Layer{gz(t, layer{file("a", "a")}), gz(t, layer{file("b", "b")}), gz(t, layer{file("c", "c")})}
	}
	size := func(t testing.TB, ls []v1.Layer) int64 {
		var n int64
		for _, l := range ls {
			s, err := l.Size()
			if err != nil {
				t.Fatal(err)
			}
			n += s
		}
		return n
	}
	tests := []struct {
		name   string
		limits func(total int64) customs.ScanLimits
		want   string
	}{
		{"more layers than allowed", func(int64) customs.ScanLimits { return customs.ScanLimits{Layers: 2} }, customs.FailLayerOversized},
		{"as many layers as allowed", func(int64) customs.ScanLimits { return customs.ScanLimits{Layers: 3} }, ""},
		{"larger than allowed", func(n int64) customs.ScanLimits { return customs.ScanLimits{ImageSize: n - 1} }, customs.FailImageOversized},
		{"as large as allowed", func(n int64) customs.ScanLimits { return customs.ScanLimits{ImageSize: n} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ls := layers(t)
			e.scanner.Limits = tt.limits(size(t, ls))
			m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, ls...))
			before := e.reg.blobRequests()
			_, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m)
			if got := reasonOf(err); got != tt.want {
				t.Fatalf("Scan: %v (reason %q), want reason %q", err, got, tt.want)
			}
			if err != nil {
				// Decided from the manifest: nothing was fetched.
				if got := e.reg.blobRequests() - before; got != 0 {
					t.Errorf("%d blob requests, want none", got)
				}
			}
		})
	}
}

// The entries of all layers are bounded: the final view holds each.
func TestScanEntriesLimit(t *testing.T) {
	for _, tt := range []struct {
		limit int
		want  string
	}{{3, ""}, {2, customs.FailImageOversized}} {
		e := newEnv(t)
		e.scanner.Limits = customs.ScanLimits{Entries: tt.limit}
		m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, gz(t, layer{file("a", "a"), file("b", "b")}), gz(t, layer{file("c", "c")})))
		_, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m)
		if got := reasonOf(err); got != tt.want {
			t.Errorf("3 entries, limit %d: %v (reason %q), want reason %q", tt.limit, err, got, tt.want)
		}
	}
}

func TestScanRegistryFailures(t *testing.T) {
	// blocks answers once the request's context ends: when the scan gives up.
	blocks := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			}
			http.Error(w, "injected", code)
		}
	}
	// serve answers with body as the blob's content.
	serve := func(body func(real []byte) []byte) func(real []byte) http.HandlerFunc {
		return func(real []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				b := body(real)
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.Write(b)
			}
		}
	}
	fixed := func(h http.HandlerFunc) func([]byte) http.HandlerFunc {
		return func([]byte) http.HandlerFunc { return h }
	}
	tests := []struct {
		name    string
		blob    string // "config" or "layer": the blob the registry fails
		handler func(real []byte) http.HandlerFunc
		time    time.Duration // Limits.Time; 0 for the default
		want    string
	}{
		{name: "401 for the config", blob: "config", handler: fixed(status(http.StatusUnauthorized)), want: customs.FailAuthentication},
		{name: "401 for a layer", blob: "layer", handler: fixed(status(http.StatusUnauthorized)), want: customs.FailAuthentication},
		{name: "403 for a layer", blob: "layer", handler: fixed(status(http.StatusForbidden)), want: customs.FailAuthentication},
		{name: "404 for a layer", blob: "layer", handler: fixed(status(http.StatusNotFound)), want: customs.FailDownload},
		{name: "500 for the config", blob: "config", handler: fixed(status(http.StatusInternalServerError)), want: customs.FailDownload},
		{name: "500 for a layer", blob: "layer", handler: fixed(status(http.StatusInternalServerError)), want: customs.FailDownload},
		{
			name: "content of another digest", blob: "layer", want: customs.FailDownload,
			handler: serve(func(real []byte) []byte {
				b := bytes.Clone(real)
				b[len(b)-1] ^= 0xff
				return b
			}),
		},
		{name: "content shorter than the manifest says", blob: "layer", want: customs.FailDownload,
			handler: serve(func(real []byte) []byte { return real[:len(real)-1] })},
		{name: "content longer than the manifest says", blob: "layer", want: customs.FailDownload,
			handler: serve(func(real []byte) []byte { return append(bytes.Clone(real), 0) })},
		{name: "no answer for the config", blob: "config", handler: fixed(blocks), time: 200 * time.Millisecond, want: customs.FailTimedOut},
		{name: "no answer for a layer", blob: "layer", handler: fixed(blocks), time: time.Second, want: customs.FailTimedOut},
		{
			name: "a layer that stalls halfway", blob: "layer", time: time.Second, want: customs.FailTimedOut,
			handler: func(real []byte) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Length", strconv.Itoa(len(real)))
					w.Write(real[:len(real)/2])
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.scanner.Limits.Time = tt.time
			lb := gzipped(t, layer{file("f", noise(256<<10))}.tarball(t))
			m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, static.NewLayer(lb, types.OCILayer)))
			target := m.Blobs[1]
			if tt.blob == "config" {
				target = m.Blobs[0]
			}
			real, err := io.ReadAll(mustBlob(t, e, target.Digest))
			if err != nil {
				t.Fatal(err)
			}
			e.reg.intercept(target.Digest, tt.handler(real))
			before := snapshot(t, filepath.Dir(e.root))

			res, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m)

			if got := reasonOf(err); got != tt.want || res != nil {
				t.Fatalf("Scan = %v, %v (reason %q), want reason %q", res, err, got, tt.want)
			}
			e.checkNothingEscaped(t, before)
			_, hex, _ := strings.Cut(target.Digest, ":")
			if _, err := os.Stat(filepath.Join(e.root, "cache", hex)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the failed blob is in the cache: %v", err)
			}
		})
	}
}

// mustBlob opens a blob straight from the registry, around any interception.
func mustBlob(t testing.TB, e *env, digest string) io.Reader {
	t.Helper()
	rc, err := e.reg.source(t, "test/image").Blob(t.Context(), digest)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func TestScanCancelled(t *testing.T) {
	e := newEnv(t)
	m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, gz(t, layer{file("f", "f")})))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The registry stops the job the moment the layer is asked for.
	e.reg.intercept(m.Blobs[1].Digest, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	res, err := e.scanner.Scan(ctx, e.reg.source(t, "test/image"), m)
	var f *customs.ScanFailure
	if res != nil || !errors.Is(err, context.Canceled) || errors.As(err, &f) {
		t.Errorf("Scan = %v, %v; want the context's error, not a *customs.ScanFailure", res, err)
	}
}
