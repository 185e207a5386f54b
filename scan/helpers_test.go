package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"customs"
	"customs/analyzer"
	"customs/oci"
	"customs/scan"
)

// registryServer is go-containerregistry's in-process registry behind a
// handler that tests can change while it runs (fault injection) and that
// counts blob requests.
type registryServer struct {
	addr string
	reg  http.Handler

	mu        sync.Mutex
	wrap      func(w http.ResponseWriter, r *http.Request, next http.Handler)
	blobGets  map[string]int // GET /v2/<repo>/blobs/<digest> by digest
	blobTotal int
}

func newRegistry(t testing.TB) *registryServer {
	t.Helper()
	rs := &registryServer{
		reg:      registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		blobGets: map[string]int{},
	}
	srv := httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(srv.Close)
	rs.addr = strings.TrimPrefix(srv.URL, "http://")
	return rs
}

func (rs *registryServer) serve(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	wrap := rs.wrap
	if d, ok := blobDigest(r); ok && r.Method == http.MethodGet {
		rs.blobGets[d]++
		rs.blobTotal++
	}
	rs.mu.Unlock()
	if wrap != nil {
		wrap(w, r, rs.reg)
		return
	}
	rs.reg.ServeHTTP(w, r)
}

// blobDigest returns the digest of a blob request.
func blobDigest(r *http.Request) (string, bool) {
	i := strings.LastIndex(r.URL.Path, "/blobs/")
	if i < 0 || strings.Contains(r.URL.Path, "/uploads/") {
		return "", false
	}
	return r.URL.Path[i+len("/blobs/"):], true
}

// intercept makes fn answer the blob requests for digest; everything else
// reaches the registry.
func (rs *registryServer) intercept(digest string, fn http.HandlerFunc) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if d, ok := blobDigest(r); ok && d == digest && r.Method == http.MethodGet {
			fn(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}
}

func (rs *registryServer) blobRequests() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.blobTotal
}

// push pushes img as repo:tag and returns its manifest as synchronization
// describes it.
func (rs *registryServer) push(t testing.TB, repo, tag string, img v1.Image) *customs.Manifest {
	t.Helper()
	ref, err := name.NewTag(rs.addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	m, _, err := rs.client(t).Inspect(t.Context(), repo, tag, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return m
}

func (rs *registryServer) client(t testing.TB) *oci.Client {
	t.Helper()
	c, err := oci.New(&customs.Registry{Protocol: "http", Addr: rs.addr}, oci.WithRetry(1, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// source is the scanner's Source over the oci client: one repository.
type source struct {
	c    *oci.Client
	repo string
}

func (s *source) Blob(ctx context.Context, digest string) (io.ReadCloser, error) {
	return s.c.Blob(ctx, s.repo, digest)
}

func (rs *registryServer) source(t testing.TB, repo string) scan.Source {
	return &source{c: rs.client(t), repo: repo}
}

// layer is a layer's tar entries. A header's Size is set from its body.
type layer []tarEntry

type tarEntry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) tarEntry {
	return tarEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, body}
}

func fileMode(name, body string, mode int64) tarEntry {
	return tarEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, body}
}

func dir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755}}
}

func dirHeader(name string, mode int64) tar.Header {
	return tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func device(name string, typ byte) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o666, Devmajor: 1, Devminor: 3}}
}

// tarball returns the layer as a tar.
func (l layer) tarball(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range l {
		hdr := e.hdr
		hdr.Size = int64(len(e.body))
		hdr.ModTime = time.Unix(1700000000, 0)
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("tar header %q: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gz is the usual layer: a gzipped tar.
func gz(t testing.TB, l layer) v1.Layer {
	return static.NewLayer(gzipped(t, l.tarball(t)), types.DockerLayer)
}

// image builds a linux/amd64 image of the given layers.
func image(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	cf := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: cfg, RootFS: v1.RootFS{Type: "layers"}}
	img, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: fmt.Sprintf("layer %d", i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func newCache(t testing.TB, dir string, max int64) *scan.Cache {
	t.Helper()
	c, err := scan.Open(dir, max)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// env is a scanner with its own cache and spool directories, and a
// recording analyzer.
type env struct {
	reg     *registryServer
	scanner *scan.Scanner
	rec     *recorder
	root    string // holds the cache and spool directories, nothing else
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root := t.TempDir()
	spool := filepath.Join(root, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "recorder", failure: customs.FailScanSoftware}
	return &env{
		reg:  newRegistry(t),
		rec:  rec,
		root: root,
		scanner: &scan.Scanner{
			Cache:     newCache(t, filepath.Join(root, "cache"), 1<<30),
			Analyzers: []analyzer.Analyzer{rec},
			TempDir:   spool,
			Logger:    quietLogger(),
		},
	}
}

// scan pushes img and scans it.
func (e *env) scan(t testing.TB, img v1.Image) (*customs.ScanResult, error) {
	t.Helper()
	m := e.reg.push(t, "test/image", "latest", img)
	return e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m)
}

// recorder is an analyzer that records what the core showed it: the files
// offered, the content of those it wanted, and the final view.
type recorder struct {
	name    string
	failure string
	// wants decides Wants; nil wants every file.
	wants func(f *analyzer.File) bool
	// file runs in File after the content was read; it may fail or panic.
	file func(f *analyzer.File) error
	// start and finish run in Start and Finish; they may fail or panic.
	start, finish func() error
	// probes are paths Finish resolves in the final view.
	probes []string

	mu   sync.Mutex
	last *recording
}

type recording struct {
	img      *analyzer.Image
	offered  []string          // "layer:path"
	content  map[string]string // "layer:path" → content, for the files read
	final    map[string]string // path → view
	resolved map[string]string // probe → path it resolves to, "" when it does not
}

func (r *recorder) Name() string    { return r.name }
func (r *recorder) Failure() string { return r.failure }

func (r *recorder) Start(_ context.Context, img *analyzer.Image) (analyzer.Scan, error) {
	if r.start != nil {
		if err := r.start(); err != nil {
			return nil, err
		}
	}
	rec := &recording{img: img, content: map[string]string{}}
	r.mu.Lock()
	r.last = rec
	r.mu.Unlock()
	return &recorderScan{r: r, rec: rec}, nil
}

func (r *recorder) recording() *recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

type recorderScan struct {
	r   *recorder
	rec *recording
}

func (s *recorderScan) Wants(f *analyzer.File) bool {
	s.rec.offered = append(s.rec.offered, fmt.Sprintf("%d:%s", f.Layer, f.Path))
	if s.r.wants == nil {
		return true
	}
	return s.r.wants(f)
}

func (s *recorderScan) File(_ context.Context, f *analyzer.File, content analyzer.Content) error {
	b, err := io.ReadAll(content)
	if err != nil {
		return err
	}
	if int64(len(b)) != content.Size() || content.Size() != f.Size {
		return fmt.Errorf("read %d bytes of a content of size %d, file size %d", len(b), content.Size(), f.Size)
	}
	if len(b) > 0 { // ReadAt is independent of Read
		at := make([]byte, 1)
		if _, err := content.ReadAt(at, int64(len(b)-1)); err != nil || at[0] != b[len(b)-1] {
			return fmt.Errorf("ReadAt the last byte: %q, %v", at, err)
		}
	}
	s.rec.content[fmt.Sprintf("%d:%s", f.Layer, f.Path)] = string(b)
	if s.r.file != nil {
		return s.r.file(f)
	}
	return nil
}

func (s *recorderScan) Finish(_ context.Context, final *analyzer.Final, res *customs.ScanResult) error {
	if s.r.finish != nil {
		if err := s.r.finish(); err != nil {
			return err
		}
	}
	s.rec.final = map[string]string{}
	for f := range final.All() {
		s.rec.final[f.Path] = view(f)
	}
	s.rec.resolved = map[string]string{}
	for _, p := range s.r.probes {
		f, ok := final.Resolve(p)
		if ok {
			s.rec.resolved[p] = f.Path
		} else {
			s.rec.resolved[p] = ""
		}
	}
	res.OS = "recorded"
	return nil
}

// view is how a test shows an entry of the final view: mode, size, link
// target and layer.
func view(f *analyzer.File) string {
	s := fmt.Sprintf("%v %d L%d", f.Mode, f.Size, f.Layer)
	if f.Linkname != "" {
		s += " -> " + f.Linkname
	}
	return s
}

const (
	vDir  = "drwxr-xr-x 0"
	vFile = "-rw-r--r--"
	vLink = "Lrwxrwxrwx 0"
)

// fv is the view of a regular file of mode 0644.
func fv(size, layer int) string { return fmt.Sprintf("%s %d L%d", vFile, size, layer) }

// dv is the view of a directory of mode 0755.
func dv(layer int) string { return fmt.Sprintf("%s L%d", vDir, layer) }

// lv is the view of a symbolic link.
func lv(layer int, target string) string { return fmt.Sprintf("%s L%d -> %s", vLink, layer, target) }

// files lists the files below root, relative to it.
func files(t testing.TB, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "." {
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// pushRaw pushes an OCI image manifest of the given config and layer blobs,
// as they are, and returns it as synchronization describes it.
func (rs *registryServer) pushRaw(t testing.TB, repo, tag string, config []byte, layers ...[]byte) *customs.Manifest {
	t.Helper()
	r, err := name.NewRepository(rs.addr+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte, mt types.MediaType) v1.Descriptor {
		l := static.NewLayer(b, mt)
		if err := remote.WriteLayer(r, l, remote.WithContext(t.Context())); err != nil {
			t.Fatalf("push blob: %v", err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: put(config, types.OCIConfigJSON)}
	for _, l := range layers {
		m.Layers = append(m.Layers, put(l, types.OCILayer))
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+rs.addr+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest: HTTP %d", resp.StatusCode)
	}
	man, _, err := rs.client(t).Inspect(t.Context(), repo, tag, nil)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	return man
}

// reasonOf is the scan_failed_desc of a Scan error, "" when the scan
// succeeded.
func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	return customs.ScanFailureReason(err)
}
