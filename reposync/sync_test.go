package reposync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/oci"
	"customs/reposync"
)

// seeded is what seed pushed.
type seeded struct {
	a, b, tool, multi, win, chart, busybox, epoch, zero, future pushed
}

// seed pushes a registry with several namespaces, a repository with a
// multi-segment name and one with a single segment, two tags sharing a
// digest, a multi-arch index, a windows-only image, a Helm chart and images
// whose created time cannot be used.
func seed(t *testing.T, addr string) seeded {
	t.Helper()
	var s seeded
	imgA := image(t, linuxAMD64, created1)
	s.a = pushImage(t, addr, "team/app:1.0", imgA)
	pushImage(t, addr, "team/app:stable", imgA)
	s.b = pushImage(t, addr, "team/app:2.0", image(t, linuxAMD64, created2))
	s.tool = pushImage(t, addr, "team/sub/tool:v1", image(t, linuxARM64, created1))
	s.multi = pushIndex(t, addr, "ops/multi:v1", index(t, []customs.Platform{linuxAMD64, linuxARM64, winAMD64},
		image(t, linuxAMD64, created3), image(t, linuxARM64, created2), image(t, winAMD64, created1)))
	s.win = pushImage(t, addr, "ops/win:ltsc", image(t, winAMD64, created2))
	s.chart = pushImage(t, addr, "charts/mychart:0.1.0", helmChart(t, created4))
	s.busybox = pushImage(t, addr, "busybox:1", image(t, linuxAMD64, created1))
	s.epoch = pushImage(t, addr, "team/epoch:v1", image(t, linuxAMD64, time.Unix(0, 0)))
	s.zero = pushImage(t, addr, "team/nodate:v1", image(t, linuxAMD64, time.Time{}))
	s.future = pushImage(t, addr, "team/future:v1", image(t, linuxAMD64, syncTime0.Add(365*24*time.Hour)))
	return s
}

// seededRows is every row after the first synchronization of seed at syncTime0.
func seededRows(f *fixture, s seeded) []*customs.Image {
	return []*customs.Image{
		f.want("busybox", "1", s.busybox, created1, true),
		f.want("charts/mychart", "0.1.0", s.chart, created4, true),
		f.want("ops/multi", "v1", s.multi, created3, true),
		f.want("ops/win", "ltsc", s.win, created2, true),
		f.want("team/app", "1.0", s.a, created1, false),
		f.want("team/app", "2.0", s.b, created2, true),
		f.want("team/app", "stable", s.a, created1, false),
		// Created at the epoch, never, or in the future: the sync's time.
		f.want("team/epoch", "v1", s.epoch, syncTime0, true),
		f.want("team/future", "v1", s.future, syncTime0, true),
		f.want("team/nodate", "v1", s.zero, syncTime0, true),
		f.want("team/sub/tool", "v1", s.tool, created1, true),
	}
}

var seededTags = map[string][]string{
	"busybox":        {"1"},
	"charts/mychart": {"0.1.0"},
	"ops/multi":      {"v1"},
	"ops/win":        {"ltsc"},
	"team/app":       {"1.0", "2.0", "stable"},
	"team/epoch":     {"v1"},
	"team/future":    {"v1"},
	"team/nodate":    {"v1"},
	"team/sub/tool":  {"v1"},
}

// listing is the requests that list the registry: the challenge, one
// catalog page and one tag page per repository.
func listing(repos ...string) []string {
	reqs := []string{"GET /v2/", "GET /v2/_catalog?n=1000"}
	for _, repo := range repos {
		reqs = append(reqs, "GET /v2/"+repo+"/tags/list?n=1000")
	}
	return reqs
}

func sorted(reqs ...[]string) []string {
	all := slices.Concat(reqs...)
	slices.Sort(all)
	return all
}

func getManifest(repo, ref string) string  { return "GET /v2/" + repo + "/manifests/" + ref }
func headManifest(repo, tag string) string { return "HEAD /v2/" + repo + "/manifests/" + tag }
func getConfig(repo string, p pushed) string {
	return "GET /v2/" + repo + "/blobs/sha256:" + p.imageID
}

func TestFirstSync(t *testing.T) {
	r := newFakeRegistry(t)
	s := seed(t, r.Addr)
	f := newFixture(t, r.Addr)
	r.take()

	var progress []reposync.Progress
	res, err := f.syncer.SyncRegistry(t.Context(), f.reg, func(p reposync.Progress) { progress = append(progress, p) })
	if err != nil {
		t.Fatalf("SyncRegistry: %v", err)
	}

	if diff := diffImages(seededRows(f, s), f.sortedImages(t)); diff != "" {
		t.Errorf("rows after the first sync mismatch (-want +got):\n%s", diff)
	}
	wantRes := &reposync.Result{
		Progress: reposync.Progress{Repositories: 9, RepositoriesDone: 9, Tags: 11},
		Counts:   customs.SyncCounts{Added: 11},
		Images:   11,
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("SyncRegistry result mismatch (-want +got):\n%s", diff)
	}
	if len(progress) == 0 || progress[len(progress)-1] != wantRes.Progress {
		t.Errorf("last progress = %+v, want %+v", progress, wantRes.Progress)
	}
	reg := f.registry(t, f.reg.ID)
	if reg.Status != customs.RegistrySuccess || reg.ImagesNum != 11 || !reg.LatestSyncTime.Equal(syncTime0) || reg.FailReason != "" {
		t.Errorf("registry after sync: status %q, images %d, synced %v, reason %q; want success, 11, %v, no reason",
			reg.Status, reg.ImagesNum, reg.LatestSyncTime, reg.FailReason, syncTime0)
	}

	// One manifest GET per tag, one config GET per image digest (a second
	// tag of a digest costs no config), an artifact no config at all, an
	// index one GET per child and the config of its linux/amd64 child only.
	im := s.multi.children
	want := sorted(listing("busybox", "charts/mychart", "ops/multi", "ops/win", "team/app", "team/epoch", "team/future", "team/nodate", "team/sub/tool"), []string{
		getManifest("busybox", "1"), getConfig("busybox", s.busybox),
		getManifest("charts/mychart", "0.1.0"),
		getManifest("ops/multi", "v1"), getManifest("ops/multi", im[0].Digest), getManifest("ops/multi", im[1].Digest), getManifest("ops/multi", im[2].Digest),
		getConfig("ops/multi", s.multi),
		getManifest("ops/win", "ltsc"), getConfig("ops/win", s.win),
		getManifest("team/app", "1.0"), getManifest("team/app", "stable"), getConfig("team/app", s.a),
		getManifest("team/app", "2.0"), getConfig("team/app", s.b),
		getManifest("team/epoch", "v1"), getConfig("team/epoch", s.epoch),
		getManifest("team/future", "v1"), getConfig("team/future", s.future),
		getManifest("team/nodate", "v1"), getConfig("team/nodate", s.zero),
		getManifest("team/sub/tool", "v1"), getConfig("team/sub/tool", s.tool),
	})
	if diff := cmp.Diff(want, r.take()); diff != "" {
		t.Errorf("requests of the first sync mismatch (-want +got):\n%s", diff)
	}
}

func TestResyncUnchanged(t *testing.T) {
	r := newFakeRegistry(t)
	seed(t, r.Addr)
	f := newFixture(t, r.Addr)
	f.mustSync(t, syncTime0)
	before := f.images(t)
	r.take()

	res := f.mustSync(t, syncTime1)

	// One HEAD per tag and the listing: no manifest or blob GET.
	var want []string
	var repos []string
	for repo, tags := range seededTags {
		repos = append(repos, repo)
		for _, tag := range tags {
			want = append(want, headManifest(repo, tag))
		}
	}
	if diff := cmp.Diff(sorted(listing(repos...), want), r.take()); diff != "" {
		t.Errorf("requests of the re-sync mismatch (-want +got):\n%s", diff)
	}
	wantRes := &reposync.Result{Progress: reposync.Progress{Repositories: 9, RepositoriesDone: 9, Tags: 11}, Images: 11}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("re-sync result mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, f.images(t)); diff != "" {
		t.Errorf("rows changed by a re-sync with nothing changed (-before +after):\n%s", diff)
	}
	if reg := f.registry(t, f.reg.ID); !reg.LatestSyncTime.Equal(syncTime1) || reg.ImagesNum != 11 {
		t.Errorf("registry after re-sync: synced %v, images %d; want %v, 11", reg.LatestSyncTime, reg.ImagesNum, syncTime1)
	}
}

func TestSyncChanges(t *testing.T) {
	r := newFakeRegistry(t)
	s := seed(t, r.Addr)
	f := newFixture(t, r.Addr)
	f.mustSync(t, syncTime0)

	// A scan of the digest that "stable" points at, before it moves.
	scanned := customs.ScanSummary{Status: customs.ScanSuccess, ScannedAt: syncTime0, VulNum: 3, UnsafeSettingNum: 1}
	if err := f.db.SetScanSummaries(t.Context(), map[string]customs.ScanSummary{s.a.digest: scanned}); err != nil {
		t.Fatal(err)
	}
	c := pushImage(t, r.Addr, "team/app:stable", image(t, linuxAMD64, created3)) // moved
	d := pushImage(t, r.Addr, "team/app:3.0", image(t, linuxAMD64, created4))    // new
	r.deleteTag(t, "team/app", "2.0")                                            // deleted
	r.deleteTag(t, "team/sub/tool", "v1")                                        // the repository is left without tags
	r.hide("ops/win")                                                            // the repository is gone
	r.take()

	res := f.mustSync(t, syncTime1)

	wantRows := seededRows(f, s)
	wantRows = slices.DeleteFunc(wantRows, func(img *customs.Image) bool {
		return img.Repository() == "team/sub/tool" || img.Repository() == "ops/win" || img.Repository() == "team/app"
	})
	one := f.want("team/app", "1.0", s.a, created1, false)
	one.ScanStatus, one.ScannedAt, one.VulNum, one.UnsafeSettingNum = scanned.Status, scanned.ScannedAt, scanned.VulNum, scanned.UnsafeSettingNum
	wantRows = append(wantRows,
		one,
		// New: its created time.
		f.want("team/app", "3.0", d, created4, false),
		// Moved: when the sync saw it move, so it is now the latest, and
		// its scan is that of its new digest (none).
		f.want("team/app", "stable", c, syncTime1, true),
	)
	sortImages(wantRows)
	if diff := diffImages(wantRows, f.sortedImages(t)); diff != "" {
		t.Errorf("rows after the changes mismatch (-want +got):\n%s", diff)
	}

	wantRes := &reposync.Result{
		Progress: reposync.Progress{Repositories: 8, RepositoriesDone: 8, Tags: 9},
		Counts:   customs.SyncCounts{Added: 1, Updated: 1, Removed: 3},
		Images:   9,
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("SyncRegistry result mismatch (-want +got):\n%s", diff)
	}

	// The moved tag is inspected by the digest its HEAD gave, the new one by
	// its tag; everything else costs its HEAD.
	want := sorted(listing("busybox", "charts/mychart", "ops/multi", "team/app", "team/epoch", "team/future", "team/nodate", "team/sub/tool"), []string{
		headManifest("busybox", "1"), headManifest("charts/mychart", "0.1.0"), headManifest("ops/multi", "v1"),
		headManifest("team/epoch", "v1"), headManifest("team/future", "v1"), headManifest("team/nodate", "v1"),
		headManifest("team/app", "1.0"),
		headManifest("team/app", "stable"), getManifest("team/app", c.digest), getConfig("team/app", c),
		getManifest("team/app", "3.0"), getConfig("team/app", d),
	})
	if diff := cmp.Diff(want, r.take()); diff != "" {
		t.Errorf("requests of the sync mismatch (-want +got):\n%s", diff)
	}
}

func TestSyncNamespace(t *testing.T) {
	r := newFakeRegistry(t)
	app := pushImage(t, r.Addr, "team/app:v1", image(t, linuxAMD64, created1))
	tool := pushImage(t, r.Addr, "team/sub/tool:v1", image(t, linuxAMD64, created2))
	pushImage(t, r.Addr, "teamx/app:v1", image(t, linuxAMD64, created1))
	pushImage(t, r.Addr, "other/app:v1", image(t, linuxAMD64, created1))
	pushImage(t, r.Addr, "team:v1", image(t, linuxAMD64, created1))
	f := newFixture(t, r.Addr)
	if res := f.mustSync(t, syncTime0); res.Images != 5 {
		t.Fatalf("first sync without a namespace recorded %d images, want 5", res.Images)
	}

	ns := "team"
	if _, err := f.db.UpdateRegistry(t.Context(), f.scope, f.reg.ID, customs.RegistryUpdate{Namespace: &ns}); err != nil {
		t.Fatal(err)
	}
	r.take()
	res := f.mustSync(t, syncTime1)

	want := []*customs.Image{
		f.want("team/app", "v1", app, created1, true),
		f.want("team/sub/tool", "v1", tool, created2, true),
	}
	if diff := diffImages(want, f.sortedImages(t)); diff != "" {
		t.Errorf("rows after limiting to namespace %q mismatch (-want +got):\n%s", ns, diff)
	}
	wantRes := &reposync.Result{
		Progress: reposync.Progress{Repositories: 2, RepositoriesDone: 2, Tags: 2},
		Counts:   customs.SyncCounts{Removed: 3},
		Images:   2,
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("SyncRegistry result mismatch (-want +got):\n%s", diff)
	}
	// Repositories outside the namespace are not even listed.
	wantReqs := sorted(listing("team/app", "team/sub/tool"), []string{headManifest("team/app", "v1"), headManifest("team/sub/tool", "v1")})
	if diff := cmp.Diff(wantReqs, r.take()); diff != "" {
		t.Errorf("requests with namespace %q mismatch (-want +got):\n%s", ns, diff)
	}
	if reg := f.registry(t, f.reg.ID); reg.ImagesNum != 2 {
		t.Errorf("registry images = %d, want 2", reg.ImagesNum)
	}
}

// countRequests returns a fault that answers the requests matching match
// with status (Retry-After set when retryAfter is not empty) as long as fail
// says so, given how many matching requests came before.
func countRequests(match func(*http.Request) bool, fail func(n int) bool, status int, retryAfter string) (func(http.ResponseWriter, *http.Request) bool, func() int) {
	var mu sync.Mutex
	n := 0
	fault := func(w http.ResponseWriter, r *http.Request) bool {
		if !match(r) {
			return false
		}
		mu.Lock()
		k := n
		n++
		mu.Unlock()
		if !fail(k) {
			return false
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, status, "UNAVAILABLE", http.StatusText(status))
		return true
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
	return fault, count
}

func path(method, p string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && r.URL.Path == p }
}

func firstN(k int) func(int) bool { return func(n int) bool { return n < k } }

func TestSyncTransientFaults(t *testing.T) {
	tests := []struct {
		name       string
		match      func(*http.Request) bool
		failFirst  int
		status     int
		retryAfter string
	}{
		{name: "429 with Retry-After on the catalog", match: path("GET", "/v2/_catalog"), failFirst: 1, status: http.StatusTooManyRequests, retryAfter: "0"},
		{name: "429 with Retry-After on a manifest", match: path("GET", "/v2/team/app/manifests/2.0"), failFirst: 1, status: http.StatusTooManyRequests, retryAfter: "0"},
		{name: "429 with Retry-After on a config", match: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v2/ops/win/blobs/") }, failFirst: 1, status: http.StatusTooManyRequests, retryAfter: "0"},
		{name: "500 twice on a tag list", match: path("GET", "/v2/team/app/tags/list"), failFirst: 2, status: http.StatusInternalServerError},
		{name: "500 twice on an index child", match: func(r *http.Request) bool {
			return strings.HasPrefix(r.URL.Path, "/v2/ops/multi/manifests/sha256:")
		}, failFirst: 2, status: http.StatusInternalServerError},
		{name: "503 twice on the challenge", match: path("GET", "/v2/"), failFirst: 2, status: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFakeRegistry(t)
			s := seed(t, r.Addr)
			f := newFixture(t, r.Addr)
			fault, count := countRequests(tt.match, firstN(tt.failFirst), tt.status, tt.retryAfter)
			r.setFault(fault)

			res := f.mustSync(t, syncTime0)

			if len(res.Failed) != 0 {
				t.Errorf("failed images: %+v, want none", res.Failed)
			}
			if diff := diffImages(seededRows(f, s), f.sortedImages(t)); diff != "" {
				t.Errorf("rows mismatch (-want +got):\n%s", diff)
			}
			// The failed requests were retried until one succeeded.
			if n := count(); n < tt.failFirst+1 {
				t.Errorf("%d matching requests, want the %d that failed and a retry", n, tt.failFirst)
			}
		})
	}
}

// TestSyncRegistryUnusable checks that a registry that cannot be listed
// fails the sync, is marked failed with the reason, and leaves its rows.
func TestSyncRegistryUnusable(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(r *fakeRegistry)
		is     error  // what the error is, when the client classifies it
		says   string // what the registry's failure reason says
	}{
		{
			name: "401 on everything",
			break_: func(r *fakeRegistry) {
				r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
					w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
					writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
					return true
				})
			},
			is:   oci.ErrUnauthorized,
			says: "unauthorized",
		},
		{
			name: "401 on the catalog",
			break_: func(r *fakeRegistry) {
				r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
					if req.URL.Path != "/v2/_catalog" {
						return false
					}
					writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
					return true
				})
			},
			is:   oci.ErrUnauthorized,
			says: "unauthorized",
		},
		{
			name: "403 on the catalog",
			break_: func(r *fakeRegistry) {
				r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
					if req.URL.Path != "/v2/_catalog" {
						return false
					}
					writeError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
					return true
				})
			},
			is:   oci.ErrDenied,
			says: "denied",
		},
		{
			name: "persistent 500 on the catalog",
			break_: func(r *fakeRegistry) {
				r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
					if req.URL.Path != "/v2/_catalog" {
						return false
					}
					writeError(w, http.StatusInternalServerError, "UNKNOWN", "storage backend down")
					return true
				})
			},
			says: "500",
		},
		{
			name:   "unreachable",
			break_: func(r *fakeRegistry) { r.srv.Close() },
			says:   "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFakeRegistry(t)
			seed(t, r.Addr)
			f := newFixture(t, r.Addr)
			f.mustSync(t, syncTime0)
			before := f.images(t)
			tt.break_(r)

			_, err := f.sync(t, syncTime1)
			if err == nil {
				t.Fatal("SyncRegistry succeeded, want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("SyncRegistry error %v, want one that is %v", err, tt.is)
			}
			reg := f.registry(t, f.reg.ID)
			if reg.Status != customs.RegistryFail || !strings.Contains(reg.FailReason, tt.says) {
				t.Errorf("registry status %q, reason %q; want %q with a reason mentioning %q", reg.Status, reg.FailReason, customs.RegistryFail, tt.says)
			}
			if reg.ImagesNum != len(before) || !reg.LatestSyncTime.Equal(syncTime1) {
				t.Errorf("registry images %d, synced %v; want %d (unchanged), %v", reg.ImagesNum, reg.LatestSyncTime, len(before), syncTime1)
			}
			if diff := cmp.Diff(before, f.images(t)); diff != "" {
				t.Errorf("rows changed by a failed sync (-before +after):\n%s", diff)
			}
		})
	}
}

// vanishOnFirst returns a fault that deletes repo:tag from the registry when
// it is first asked for with method, then lets the request through (so it
// finds nothing), and a count of how often that happened.
func vanishOnFirst(r *fakeRegistry, t *testing.T, method, repo, tag string) (func(http.ResponseWriter, *http.Request) bool, func() int) {
	var once sync.Once
	var n atomic.Int32
	return func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == method && req.URL.Path == "/v2/"+repo+"/manifests/"+tag {
			once.Do(func() { r.deleteTag(t, repo, tag) })
			n.Add(1)
		}
		return false
	}, func() int { return int(n.Load()) }
}

func TestSyncTagDeletedDuringSync(t *testing.T) {
	r := newFakeRegistry(t)
	img := image(t, linuxAMD64, created1)
	pushImage(t, r.Addr, "team/app:keep", img)
	pushImage(t, r.Addr, "team/app:old", image(t, linuxAMD64, created2))
	for _, tag := range []string{"a", "b", "c", "d"} {
		pushImage(t, r.Addr, "team/app:"+tag, img)
	}
	f := newFixture(t, r.Addr)

	// First sight: listed by Tags, gone by its GET.
	pushImage(t, r.Addr, "team/app:new", image(t, linuxAMD64, created3))
	fault, seen := vanishOnFirst(r, t, http.MethodGet, "team/app", "new")
	r.setFault(fault)
	res := f.mustSync(t, syncTime0)
	if seen() == 0 {
		t.Fatal("the tag was never asked for")
	}
	if len(res.Failed) != 0 || res.TagsFailed != 0 {
		t.Errorf("failed images: %+v, want none", res.Failed)
	}
	if got := tags(f.sortedImages(t)); !slices.Equal(got, []string{"a", "b", "c", "d", "keep", "old"}) {
		t.Errorf("tags after the sync = %v, want the new one (deleted during the sync) left out", got)
	}

	// Already stored: listed by Tags, gone by its HEAD.
	fault, seen = vanishOnFirst(r, t, http.MethodHead, "team/app", "old")
	r.setFault(fault)
	res = f.mustSync(t, syncTime1)
	if seen() == 0 {
		t.Fatal("the tag was never asked for")
	}
	if len(res.Failed) != 0 || res.Counts != (customs.SyncCounts{Removed: 1}) || res.Images != 5 {
		t.Errorf("result: failed %+v, counts %+v, images %d; want none failed, 1 removed, 5 images", res.Failed, res.Counts, res.Images)
	}
	if got := tags(f.sortedImages(t)); !slices.Equal(got, []string{"a", "b", "c", "d", "keep"}) {
		t.Errorf("tags after the sync = %v, want the one deleted during the sync removed", got)
	}
	if reg := f.registry(t, f.reg.ID); reg.Status != customs.RegistrySuccess || reg.ImagesNum != 5 {
		t.Errorf("registry status %q, images %d; want success, 5", reg.Status, reg.ImagesNum)
	}
}

func tags(imgs []*customs.Image) []string {
	var out []string
	for _, img := range imgs {
		out = append(out, img.Tag)
	}
	return out
}

func TestSyncTagPersistentFailure(t *testing.T) {
	r := newFakeRegistry(t)
	seed(t, r.Addr)
	f := newFixture(t, r.Addr)
	f.mustSync(t, syncTime0)
	before := f.sortedImages(t)

	// A tag that was stored, and a new one, whose manifests always fail;
	// another new tag that works.
	pushImage(t, r.Addr, "team/app:broken", image(t, linuxAMD64, created2))
	ok := pushImage(t, r.Addr, "team/app:3.0", image(t, linuxAMD64, created4))
	var calls atomic.Int32
	r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
		switch req.URL.Path {
		case "/v2/team/app/manifests/2.0", "/v2/team/app/manifests/broken":
			calls.Add(1)
			writeError(w, http.StatusInternalServerError, "UNKNOWN", "disk failure")
			return true
		}
		return false
	})

	res, err := f.sync(t, syncTime1)
	if err != nil {
		t.Fatalf("SyncRegistry: %v", err)
	}
	var failed []string
	for _, fi := range res.Failed {
		failed = append(failed, fi.Namespace+"/"+fi.Name+":"+fi.Tag)
		if fi.RegistryID != f.reg.ID || fi.RegistryName != f.reg.Name || fi.RegistryType != customs.Harbor || !strings.Contains(fi.Reason, "500") {
			t.Errorf("failed image %+v: want the registry named and a reason with the status", fi)
		}
	}
	slices.Sort(failed)
	if diff := cmp.Diff([]string{"team/app:2.0", "team/app:broken"}, failed); diff != "" {
		t.Errorf("failed tags mismatch (-want +got):\n%s", diff)
	}
	if res.TagsFailed != 2 || res.Tags != 13 || res.Counts != (customs.SyncCounts{Added: 1}) || res.Images != 12 {
		t.Errorf("result: %d of %d tags failed, counts %+v, images %d; want 2 of 13, 1 added, 12 images", res.TagsFailed, res.Tags, res.Counts, res.Images)
	}
	if calls.Load() < 2*(3+1) {
		t.Errorf("%d requests for the failing manifests, want each tried and retried 3 times", calls.Load())
	}

	// 3.0 is newer than 2.0, which stays as it was but for the latest flag.
	for _, img := range before {
		if img.Repository() == "team/app" && img.Tag == "2.0" {
			img.Latest = false
		}
	}
	want := append(before, f.want("team/app", "3.0", ok, created4, true))
	sortImages(want)
	if diff := cmp.Diff(want, f.sortedImages(t), ignoreID); diff != "" {
		t.Errorf("rows mismatch: the failing tag keeps its row, the new one is added (-want +got):\n%s", diff)
	}
	if reg := f.registry(t, f.reg.ID); reg.Status != customs.RegistrySuccess || reg.ImagesNum != 12 {
		t.Errorf("registry status %q, images %d; want success (one tag failing does not fail it), 12", reg.Status, reg.ImagesNum)
	}
}

// TestSyncConcurrencyBound holds the first requests until as many as the
// client allows are in flight, so that the bound is reached, and a little
// longer, so that requests the client should not send show up; it checks
// that the bound is never exceeded.
func TestSyncConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			r := newFakeRegistry(t)
			for _, repo := range []string{"a/one", "a/two", "b/three", "b/four"} {
				for _, tag := range []string{"1", "2", "3", "4", "5"} {
					pushImage(t, r.Addr, repo+":"+tag, image(t, linuxAMD64, created1))
				}
			}
			f := newFixture(t, r.Addr, oci.WithConcurrency(limit))
			f.syncer.Concurrency = 8
			r.takeMaxInflight()

			var mu sync.Mutex
			held := 0
			reached := make(chan struct{})
			r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
				if !strings.Contains(req.URL.Path, "/manifests/") {
					return false
				}
				mu.Lock()
				held++
				if held == limit {
					close(reached)
				}
				first := held <= limit
				mu.Unlock()
				if !first {
					return false
				}
				select {
				case <-reached:
				case <-time.After(30 * time.Second):
					t.Errorf("fewer than %d manifest requests were ever in flight together", limit)
					return false
				}
				// Twenty tags are waiting to be inspected: without the bound,
				// more requests would arrive while these are held. This is a
				// window to see a violation in, not a wait for an event.
				window := time.NewTimer(100 * time.Millisecond)
				defer window.Stop()
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-window.C:
						return false
					case <-tick.C:
						if r.inFlight() > limit {
							return false
						}
					}
				}
			})

			res := f.mustSync(t, syncTime0)
			if res.Images != 20 {
				t.Errorf("synchronized %d images, want 20", res.Images)
			}
			if got := r.takeMaxInflight(); got != limit {
				t.Errorf("at most %d requests in flight at once, want exactly %d (the client's limit)", got, limit)
			}
		})
	}
}

// TestSyncSharedDigests checks that a digest reached through many tags and
// repositories at once has its config read once, and that indexes sharing
// children in different orders, whose children are also tagged, all sync.
func TestSyncSharedDigests(t *testing.T) {
	r := newFakeRegistry(t)
	img := image(t, linuxAMD64, created1)
	var want []*customs.Image
	f := newFixture(t, r.Addr)
	f.syncer.Concurrency = 8
	var p pushed
	for _, repo := range []string{"r1/app", "r2/app", "r3/app"} {
		for _, tag := range []string{"a", "b", "c", "d"} {
			p = pushImage(t, r.Addr, repo+":"+tag, img)
		}
	}
	c1, c2 := image(t, linuxAMD64, created2), image(t, linuxARM64, created3)
	x := pushIndex(t, r.Addr, "multi/all:x", index(t, []customs.Platform{linuxAMD64, linuxARM64}, c1, c2))
	y := pushIndex(t, r.Addr, "multi/all:y", index(t, []customs.Platform{linuxARM64, linuxAMD64}, c2, c1))
	p1 := pushImage(t, r.Addr, "multi/all:c1", c1)
	p2 := pushImage(t, r.Addr, "multi/all:c2", c2)
	pushIndex(t, r.Addr, "multi/other:x", index(t, []customs.Platform{linuxAMD64, linuxARM64}, c1, c2))
	pushIndex(t, r.Addr, "multi/other:y", index(t, []customs.Platform{linuxARM64, linuxAMD64}, c2, c1))
	r.take()

	res := f.mustSync(t, syncTime0)

	if res.Images != 18 || len(res.Failed) != 0 {
		t.Fatalf("synchronized %d images, failed %+v; want 18, none", res.Images, res.Failed)
	}
	for _, repo := range []string{"r1/app", "r2/app", "r3/app"} {
		for _, tag := range []string{"a", "b", "c", "d"} {
			// Equal times: the greater id is the latest, whichever it is.
			want = append(want, f.want(repo, tag, p, created1, false))
		}
	}
	want = append(want,
		f.want("multi/all", "c1", p1, created2, false),
		f.want("multi/all", "c2", p2, created3, false),
		f.want("multi/all", "x", x, created2, false),
		f.want("multi/all", "y", y, created2, false),
		f.want("multi/other", "x", x, created2, false),
		f.want("multi/other", "y", y, created2, false),
	)
	sortImages(want)
	got := f.sortedImages(t)
	latest := map[string]int{}
	for _, img := range got {
		if img.Latest {
			latest[img.Repository()]++
		}
		img.Latest = false
	}
	if diff := diffImages(want, got); diff != "" {
		t.Errorf("rows mismatch, latest flags aside (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"r1/app": 1, "r2/app": 1, "r3/app": 1, "multi/all": 1, "multi/other": 1}, latest); diff != "" {
		t.Errorf("latest versions per repository mismatch (-want +got):\n%s", diff)
	}

	configGETs, manifestGETs := 0, 0
	for _, req := range r.take() {
		if strings.HasSuffix(req, "/blobs/sha256:"+p.imageID) {
			configGETs++
		}
		if strings.HasPrefix(req, "GET /v2/r") && strings.Contains(req, "/manifests/") {
			manifestGETs++
		}
	}
	if configGETs != 1 || manifestGETs != 12 {
		t.Errorf("one digest in 12 tags of 3 repositories cost %d config GETs and %d manifest GETs, want 1 and 12", configGETs, manifestGETs)
	}
}

// TestSyncTagOfIndexChild checks that a tag of an image first learned as an
// index child (whose config an index does not read) gets its own created time.
func TestSyncTagOfIndexChild(t *testing.T) {
	r := newFakeRegistry(t)
	amd, arm := image(t, linuxAMD64, created2), image(t, linuxARM64, created3)
	x := pushIndex(t, r.Addr, "multi/app:1.0", index(t, []customs.Platform{linuxAMD64, linuxARM64}, amd, arm))
	f := newFixture(t, r.Addr)
	f.mustSync(t, syncTime0)

	p := pushImage(t, r.Addr, "multi/app:1.0-arm64", arm)
	r.take()
	res := f.mustSync(t, syncTime1)

	if res.Counts != (customs.SyncCounts{Added: 1}) {
		t.Errorf("counts %+v, want 1 added", res.Counts)
	}
	want := []*customs.Image{
		f.want("multi/app", "1.0", x, created2, false),
		f.want("multi/app", "1.0-arm64", p, created3, true),
	}
	if diff := diffImages(want, f.sortedImages(t)); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	wantReqs := sorted(listing("multi/app"), []string{
		headManifest("multi/app", "1.0"),
		getManifest("multi/app", "1.0-arm64"), getConfig("multi/app", p),
	})
	if diff := cmp.Diff(wantReqs, r.take()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
}

// TestSyncRepositoryListFailure checks that a repository whose tags cannot
// be listed is reported, keeps its rows, and does not stop the others.
func TestSyncRepositoryListFailure(t *testing.T) {
	r := newFakeRegistry(t)
	seed(t, r.Addr)
	f := newFixture(t, r.Addr)
	f.mustSync(t, syncTime0)
	before := f.sortedImages(t)
	added := pushImage(t, r.Addr, "ops/multi:v2", image(t, linuxAMD64, created1))
	r.setFault(func(w http.ResponseWriter, req *http.Request) bool {
		if req.URL.Path != "/v2/team/app/tags/list" {
			return false
		}
		writeError(w, http.StatusInternalServerError, "UNKNOWN", "database locked")
		return true
	})

	res := f.mustSync(t, syncTime1)

	if len(res.Failed) != 1 || res.Failed[0].Namespace != "team" || res.Failed[0].Name != "app" || res.Failed[0].Tag != "" || !strings.Contains(res.Failed[0].Reason, "500") {
		t.Errorf("failed images %+v, want team/app without a tag, with the status", res.Failed)
	}
	if res.Counts != (customs.SyncCounts{Added: 1}) {
		t.Errorf("counts %+v, want 1 added", res.Counts)
	}
	want := append(before, f.want("ops/multi", "v2", added, created1, false))
	sortImages(want)
	if diff := cmp.Diff(want, f.sortedImages(t), ignoreID); diff != "" {
		t.Errorf("rows mismatch: team/app keeps its rows (-want +got):\n%s", diff)
	}
	// The rows kept count among the registry's images.
	if res.Images != 12 {
		t.Errorf("result images %d, want 12", res.Images)
	}
	if reg := f.registry(t, f.reg.ID); reg.Status != customs.RegistrySuccess || reg.ImagesNum != 12 {
		t.Errorf("registry status %q, images %d; want success, 12", reg.Status, reg.ImagesNum)
	}
}

// scanQueue records the digests a synchronization asks to scan.
type scanQueue struct {
	mu      sync.Mutex
	digests []string
}

func (q *scanQueue) QueueNew(_ context.Context, digests []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.digests = append(q.digests, digests...)
	return nil
}

func (q *scanQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.digests
	q.digests = nil
	slices.Sort(d)
	return slices.Compact(d)
}

func TestSyncQueuesScans(t *testing.T) {
	r := newFakeRegistry(t)
	s := seed(t, r.Addr)
	f := newFixture(t, r.Addr)
	q := &scanQueue{}
	f.syncer.Scans = q

	f.mustSync(t, syncTime0)
	want := []string{s.a.digest, s.b.digest, s.tool.digest, s.multi.digest, s.win.digest, s.chart.digest,
		s.busybox.digest, s.epoch.digest, s.zero.digest, s.future.digest}
	slices.Sort(want)
	if diff := cmp.Diff(want, q.take()); diff != "" {
		t.Errorf("digests queued by the first sync mismatch (-want +got):\n%s", diff)
	}

	f.mustSync(t, syncTime1)
	if got := q.take(); len(got) != 0 {
		t.Errorf("a re-sync with nothing changed queued %v, want nothing", got)
	}

	c := pushImage(t, r.Addr, "team/app:stable", image(t, linuxAMD64, created3)) // moved
	d := pushImage(t, r.Addr, "team/app:3.0", image(t, linuxAMD64, created4))    // new
	r.deleteTag(t, "busybox", "1")
	f.mustSync(t, syncTime1.Add(time.Hour))
	want = []string{c.digest, d.digest}
	slices.Sort(want)
	if diff := cmp.Diff(want, q.take()); diff != "" {
		t.Errorf("digests queued after a tag moved and one was added mismatch (-want +got):\n%s", diff)
	}
}
