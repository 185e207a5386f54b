package oci_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"customs"
	"customs/oci"
)

// recorder is the client's base transport in tests: it records every
// request that reaches the network, as "METHOD /path?query".
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.RequestURI())
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// take returns the requests recorded since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	reqs := r.reqs
	r.reqs = nil
	return reqs
}

// newRegistry serves go-containerregistry's in-process registry, wrapped by
// the given handlers (outermost last), and returns its host:port.
func newRegistry(t *testing.T, wraps ...func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	for _, w := range wraps {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// newClient returns a client for the registry at addr with fast retries and
// the recorder under it.
func newClient(t *testing.T, reg *customs.Registry, opts ...oci.Option) (*oci.Client, *recorder) {
	t.Helper()
	rec := &recorder{next: http.DefaultTransport}
	opts = append([]oci.Option{oci.WithTransport(rec), oci.WithRetry(3, time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := oci.New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func anonymous(addr string) *customs.Registry {
	return &customs.Registry{Protocol: "http", Addr: addr}
}

// pinged returns a client that has already learnt the registry's challenge,
// so that the requests it records are those of the calls under test.
func pinged(t *testing.T, reg *customs.Registry, opts ...oci.Option) (*oci.Client, *recorder) {
	t.Helper()
	c, rec := newClient(t, reg, opts...)
	if err := c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec.take()
	return c, rec
}

func tagRef(t *testing.T, addr, repo, tag string) name.Reference {
	t.Helper()
	ref, err := name.NewTag(addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func pushImage(t *testing.T, addr, repo, tag string, img v1.Image) {
	t.Helper()
	if err := remote.Write(tagRef(t, addr, repo, tag), img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s/%s:%s: %v", addr, repo, tag, err)
	}
}

func pushIndex(t *testing.T, addr, repo, tag string, idx v1.ImageIndex) {
	t.Helper()
	if err := remote.WriteIndex(tagRef(t, addr, repo, tag), idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push index %s/%s:%s: %v", addr, repo, tag, err)
	}
}

// putManifest PUTs raw manifest bytes under ref and returns their digest.
func putManifest(t *testing.T, addr, repo, ref, mediaType string, body []byte) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest %s/%s:%s = %d, want 201", addr, repo, ref, resp.StatusCode)
	}
	return sha256Digest(body)
}

// putBlob uploads content as a blob of repo and returns its descriptor.
func putBlob(t *testing.T, addr, repo string, content []byte, mt types.MediaType) v1.Descriptor {
	t.Helper()
	r, err := name.NewRepository(addr+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	l := static.NewLayer(content, mt)
	if err := remote.WriteLayer(r, l, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push blob to %s: %v", r, err)
	}
	return v1.Descriptor{MediaType: mt, Digest: must(l.Digest()), Size: int64(len(content))}
}

func deleteManifest(t *testing.T, addr, repo, ref string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest %s/%s:%s = %d, want 202", addr, repo, ref, resp.StatusCode)
	}
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fakeDigest is a well-formed digest of nothing stored.
func fakeDigest(seed string) v1.Hash {
	return must(v1.NewHash(sha256Digest([]byte(seed))))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// dockerImage builds a Docker schema-2 image with the given config platform
// and created time, and the layers given (two random ones if none).
func dockerImage(t *testing.T, p customs.Platform, created time.Time, layers ...v1.Layer) v1.Image {
	t.Helper()
	if len(layers) == 0 {
		layers = []v1.Layer{randomLayer(t, types.DockerLayer), randomLayer(t, types.DockerLayer)}
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ociImage is dockerImage with OCI media types.
func ociImage(t *testing.T, p customs.Platform, created time.Time) v1.Image {
	t.Helper()
	img := dockerImage(t, p, created, randomLayer(t, types.OCILayer), randomLayer(t, types.OCILayer))
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

func randomLayer(t *testing.T, mt types.MediaType) v1.Layer {
	t.Helper()
	l, err := random.Layer(512, mt)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// attestation builds a BuildKit-style attestation manifest.
func attestation(t *testing.T) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json"))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// wantImage is what Inspect should say of img once its config is read.
func wantImage(t *testing.T, img v1.Image, p customs.Platform, created time.Time) *customs.Manifest {
	t.Helper()
	m := wantUnread(t, img, p)
	m.Created = created
	return m
}

// wantUnread is what Inspect says of an index child whose config it did
// not read: the platform comes from the index entry.
func wantUnread(t *testing.T, img v1.Image, p customs.Platform) *customs.Manifest {
	t.Helper()
	mf := must(img.Manifest())
	size := mf.Config.Size
	for _, l := range mf.Layers {
		size += l.Size
	}
	return &customs.Manifest{
		Digest:       must(img.Digest()).String(),
		MediaType:    string(must(img.MediaType())),
		Kind:         customs.KindImage,
		ConfigDigest: mf.Config.Digest.String(),
		Size:         size,
		Platform:     p,
		Scannable:    p.OS == "linux",
		Blobs:        blobs(append([]v1.Descriptor{mf.Config}, mf.Layers...)...),
	}
}

// blobs is the Blobs of a manifest that references descs, in that order.
func blobs(descs ...v1.Descriptor) []customs.Blob {
	var bs []customs.Blob
	for _, d := range descs {
		bs = append(bs, customs.Blob{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size})
	}
	return bs
}

// blobSizes adds the config and layer sizes of imgs to sizes, by digest.
func blobSizes(t *testing.T, sizes map[string]int64, imgs ...v1.Image) map[string]int64 {
	t.Helper()
	for _, img := range imgs {
		mf := must(img.Manifest())
		sizes[mf.Config.Digest.String()] = mf.Config.Size
		for _, l := range mf.Layers {
			sizes[l.Digest.String()] = l.Size
		}
	}
	return sizes
}

func sum(sizes map[string]int64) int64 {
	var n int64
	for _, s := range sizes {
		n += s
	}
	return n
}

func v1Platform(p customs.Platform) *v1.Platform {
	return &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

var (
	linuxAMD64 = customs.Platform{OS: "linux", Architecture: "amd64"}
	linuxARM64 = customs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	winAMD64   = customs.Platform{OS: "windows", Architecture: "amd64"}
)
