package reposync_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
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
	"customs/iam"
	"customs/oci"
	"customs/reposync"
	"customs/store/sqlite"
)

// fakeRegistry is go-containerregistry's in-process registry behind a
// handler that records every request, can answer some itself (faults), can
// make repositories vanish, and tracks how many requests are in flight.
type fakeRegistry struct {
	Addr  string
	srv   *httptest.Server
	inner http.Handler

	mu          sync.Mutex
	reqs        []string // "METHOD /path?query"
	fault       func(w http.ResponseWriter, r *http.Request) bool
	hidden      map[string]bool // repositories deleted from the registry
	inflight    int
	maxInflight int
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{
		inner:  registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		hidden: map[string]bool{},
	}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	r.Addr = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.RequestURI())
	r.inflight++
	r.maxInflight = max(r.maxInflight, r.inflight)
	fault := r.fault
	hidden := r.hiddenRepo(req.URL.Path)
	r.mu.Unlock()

	// The answer is buffered and sent only once the request no longer
	// counts as in flight, so the count never includes a request whose
	// client already has its answer (and may have sent the next one).
	rec := httptest.NewRecorder()
	switch {
	case fault != nil && fault(rec, req):
	case hidden:
		writeError(rec, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
	default:
		r.inner.ServeHTTP(rec, req)
		if req.URL.Path == "/v2/_catalog" && rec.Code == http.StatusOK {
			rec = r.filterCatalog(rec)
		}
	}

	r.mu.Lock()
	r.inflight--
	r.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// hiddenRepo reports whether path names a hidden repository; r.mu is held.
func (r *fakeRegistry) hiddenRepo(path string) bool {
	for repo := range r.hidden {
		if strings.HasPrefix(path, "/v2/"+repo+"/") {
			return true
		}
	}
	return false
}

func (r *fakeRegistry) filterCatalog(rec *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	var cat struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &cat); err != nil {
		return rec
	}
	r.mu.Lock()
	cat.Repositories = slices.DeleteFunc(cat.Repositories, func(repo string) bool { return r.hidden[repo] })
	r.mu.Unlock()
	out := httptest.NewRecorder()
	out.Header().Set("Content-Type", "application/json")
	out.WriteHeader(http.StatusOK)
	json.NewEncoder(out.Body).Encode(cat)
	return out
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// setFault makes f answer the requests it wants to (returning true); nil
// removes it. f runs concurrently and must guard its own state.
func (r *fakeRegistry) setFault(f func(w http.ResponseWriter, req *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
}

// hide makes repo vanish from the registry: from the catalog and every endpoint.
func (r *fakeRegistry) hide(repo string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hidden[repo] = true
}

// take returns the requests recorded since the last take, sorted.
func (r *fakeRegistry) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	reqs := r.reqs
	r.reqs = nil
	slices.Sort(reqs)
	return reqs
}

// inFlight returns how many requests are in flight now.
func (r *fakeRegistry) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight
}

// takeMaxInflight returns the most requests in flight at once since the last
// call, and starts counting again.
func (r *fakeRegistry) takeMaxInflight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.maxInflight
	r.maxInflight = r.inflight
	return n
}

// deleteTag removes a tag straight from the in-process registry, without
// going through the recording handler.
func (r *fakeRegistry) deleteTag(t *testing.T, repo, tag string) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/v2/"+repo+"/manifests/"+tag, nil))
	if rec.Code != http.StatusAccepted {
		t.Errorf("delete %s:%s = %d, want 202", repo, tag, rec.Code)
	}
}

// clock is a settable clock for Syncer.Now and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var (
	syncTime0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	syncTime1 = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	created1  = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	created2  = time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC)
	created3  = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	created4  = time.Date(2024, 4, 1, 10, 0, 0, 0, time.UTC)

	linuxAMD64 = customs.Platform{OS: "linux", Architecture: "amd64"}
	linuxARM64 = customs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	winAMD64   = customs.Platform{OS: "windows", Architecture: "amd64"}
)

// fixture is a real SQLite store with one project and one registry, and a
// Syncer over it with a frozen clock.
type fixture struct {
	db     *sqlite.DB
	scope  customs.Scope
	reg    *customs.Registry
	clock  *clock
	syncer *reposync.Syncer
}

// newFixture returns a fixture whose registry (type Harbor, so its images
// are instance images) is at addr; opts are added to the client's.
func newFixture(t *testing.T, addr string, opts ...oci.Option) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(syncTime0)}
	f.db = openStore(t, f.clock.Now)
	p := &customs.Project{Name: "local-1", Enabled: true}
	if _, err := f.db.Bootstrap(t.Context(), &customs.Domain{Name: "admin"}, &customs.User{Name: "admin", Admin: true, Enabled: true}, p); err != nil {
		t.Fatal(err)
	}
	f.scope = customs.ProjectScope(p.ID)
	f.reg = f.addRegistry(t, "harbor-1", addr)
	f.syncer = &reposync.Syncer{Store: f.db, Dial: dialer(opts...), Now: f.clock.Now, Logger: testLogger(t)}
	return f
}

func openStore(t testing.TB, now func() time.Time) *sqlite.DB {
	t.Helper()
	c, err := iam.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(filepath.Join(t.TempDir(), "customs.db"))
	db.Cipher = c
	db.Now = now
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (f *fixture) addRegistry(t *testing.T, name, addr string) *customs.Registry {
	t.Helper()
	reg := &customs.Registry{Name: name, Type: customs.Harbor, Protocol: "http", Addr: addr}
	if err := f.db.CreateRegistry(t.Context(), f.scope, reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// registry returns the registry as stored now.
func (f *fixture) registry(t *testing.T, id string) *customs.Registry {
	t.Helper()
	regs, err := f.db.FindRegistries(t.Context(), f.scope, customs.RegistryFilter{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 {
		t.Fatalf("registry %s: found %d", id, len(regs))
	}
	return regs[0]
}

// sync synchronizes the fixture's registry as stored now, at the given time.
func (f *fixture) sync(t *testing.T, at time.Time) (*reposync.Result, error) {
	t.Helper()
	f.clock.Set(at)
	return f.syncer.SyncRegistry(t.Context(), f.registry(t, f.reg.ID), func(reposync.Progress) {})
}

// mustSync is sync that fails the test on error.
func (f *fixture) mustSync(t *testing.T, at time.Time) *reposync.Result {
	t.Helper()
	res, err := f.sync(t, at)
	if err != nil {
		t.Fatalf("SyncRegistry: %v", err)
	}
	return res
}

// images returns every instance image row of the project, in list order.
func (f *fixture) images(t *testing.T) []*customs.Image {
	t.Helper()
	imgs, total, err := f.db.FindImages(t.Context(), f.scope, customs.ImageFilter{Type: customs.InstanceImage, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(imgs) {
		t.Fatalf("FindImages: total %d, %d rows", total, len(imgs))
	}
	return imgs
}

// sortedImages is images sorted by repository and tag, for comparisons
// that do not depend on the list order.
func (f *fixture) sortedImages(t *testing.T) []*customs.Image {
	t.Helper()
	imgs := f.images(t)
	sortImages(imgs)
	return imgs
}

// sortImages sorts rows by repository and tag.
func sortImages(imgs []*customs.Image) {
	slices.SortFunc(imgs, func(a, b *customs.Image) int {
		return strings.Compare(a.Repository()+":"+a.Tag, b.Repository()+":"+b.Tag)
	})
}

// want is the row the fixture's registry should have for repo:tag.
func (f *fixture) want(repo, tag string, p pushed, updated time.Time, latest bool) *customs.Image {
	ns, n := customs.SplitRepository(repo)
	children := p.children
	if children == nil {
		children = []customs.ChildImage{}
	}
	return &customs.Image{
		ProjectID:           f.scope.ProjectID,
		EnterpriseProjectID: customs.DefaultEnterpriseProject,
		RegistryID:          f.reg.ID,
		Type:                customs.InstanceImage,
		Namespace:           ns,
		Name:                n,
		Tag:                 tag,
		Digest:              p.digest,
		ImageID:             p.imageID,
		Size:                p.size,
		UpdatedAt:           updated,
		Latest:              latest,
		Scannable:           p.scannable,
		ScanStatus:          customs.ScanUnscan,
		InstanceID:          f.reg.ID,
		InstanceName:        f.reg.Name,
		InstanceURL:         f.reg.Addr,
		Children:            children,
	}
}

// ignoreID leaves row ids out of comparisons with want.
var ignoreID = cmpopts.IgnoreFields(customs.Image{}, "ID")

func diffImages(want, got []*customs.Image) string {
	return cmp.Diff(want, got, ignoreID, cmpopts.EquateEmpty())
}

func dialer(opts ...oci.Option) reposync.Dialer {
	return func(reg *customs.Registry) (reposync.Registry, error) {
		all := append([]oci.Option{oci.WithRetry(3, time.Millisecond, 10*time.Millisecond), oci.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
		c, err := oci.New(reg, all...)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// pushed is what the tests know of something pushed, as a list row shows it.
type pushed struct {
	digest    string
	imageID   string
	size      int64
	scannable bool
	created   time.Time
	children  []customs.ChildImage
}

// image builds a Docker schema-2 image of platform p created at created,
// with two random layers.
func image(t testing.TB, p customs.Platform, created time.Time) v1.Image {
	t.Helper()
	img, err := random.Image(300, 2)
	if err != nil {
		t.Fatal(err)
	}
	return withConfig(t, img, p, created, nil)
}

// withConfig sets the platform, created time and labels of img's config.
func withConfig(t testing.TB, img v1.Image, p customs.Platform, created time.Time, labels map[string]string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: created}
	cf.Config.Labels = labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// helmChart builds a Helm-chart-like OCI artifact created at created.
func helmChart(t testing.TB, created time.Time) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
	img, err := mutate.AppendLayers(img, static.NewLayer([]byte("chart content "+created.String()), "application/vnd.cncf.helm.chart.content.v1.tar+gzip"))
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Annotations(img, map[string]string{"org.opencontainers.image.created": created.Format(time.RFC3339)}).(v1.Image)
}

// index builds a multi-platform index of imgs, whose platforms are ps.
func index(t testing.TB, ps []customs.Platform, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for i, img := range imgs {
		p := ps[i]
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant},
		}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// describeImage is what a list row shows of a single image (or artifact).
func describeImage(img v1.Image) pushed {
	mf := must(img.Manifest())
	cf := must(img.ConfigFile())
	size := mf.Config.Size
	for _, l := range mf.Layers {
		size += l.Size
	}
	p := pushed{
		digest:  must(img.Digest()).String(),
		imageID: mf.Config.Digest.Hex,
		size:    size,
		created: cf.Created.UTC(),
	}
	if mf.Config.MediaType.IsConfig() {
		p.scannable = cf.OS == "linux"
	} else if c, err := time.Parse(time.RFC3339, mf.Annotations["org.opencontainers.image.created"]); err == nil {
		p.created = c.UTC()
	}
	return p
}

// describeIndex is what a list row shows of an index: the linux/amd64
// child's (else the first child's) config and created time, and the size of
// the children's distinct blobs.
func describeIndex(idx v1.ImageIndex) pushed {
	im := must(idx.IndexManifest())
	p := pushed{digest: must(idx.Digest()).String()}
	blobs := map[string]int64{}
	chosen := 0
	for i, d := range im.Manifests {
		if d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			chosen = i
		}
	}
	for i, d := range im.Manifests {
		img := must(idx.Image(d.Digest))
		mf := must(img.Manifest())
		blobs[mf.Config.Digest.String()] = mf.Config.Size
		for _, l := range mf.Layers {
			blobs[l.Digest.String()] = l.Size
		}
		if d.Platform.OS == "linux" {
			p.scannable = true
		}
		if i == chosen {
			p.imageID = mf.Config.Digest.Hex
			p.created = must(img.ConfigFile()).Created.UTC()
		}
		p.children = append(p.children, customs.ChildImage{
			Digest:     d.Digest.String(),
			Platform:   customs.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant},
			ScanStatus: customs.ScanUnscan,
		})
	}
	for _, s := range blobs {
		p.size += s
	}
	return p
}

func ref(t testing.TB, addr, repoTag string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pushImage pushes img to addr/repoTag and returns what a row shows of it.
func pushImage(t testing.TB, addr, repoTag string, img v1.Image, opts ...remote.Option) pushed {
	t.Helper()
	if err := remote.Write(ref(t, addr, repoTag), img, append(opts, remote.WithContext(t.Context()))...); err != nil {
		t.Fatalf("push %s: %v", repoTag, err)
	}
	return describeImage(img)
}

// pushIndex pushes idx to addr/repoTag and returns what a row shows of it.
func pushIndex(t testing.TB, addr, repoTag string, idx v1.ImageIndex, opts ...remote.Option) pushed {
	t.Helper()
	if err := remote.WriteIndex(ref(t, addr, repoTag), idx, append(opts, remote.WithContext(t.Context()))...); err != nil {
		t.Fatalf("push index %s: %v", repoTag, err)
	}
	return describeIndex(idx)
}

func basicAuth(username, password string) remote.Option {
	return remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: username, Password: password}))
}

// countingTransport counts the requests a client sends, for registries whose
// handler the test cannot wrap.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req.Method+" "+req.URL.RequestURI())
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *countingTransport) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	reqs := c.reqs
	c.reqs = nil
	slices.Sort(reqs)
	return reqs
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		}
	}
}
