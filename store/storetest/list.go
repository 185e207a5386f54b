package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// seed fills project A with rows of every kind: two registries in two
// enterprise projects, several namespaces, equal update times, scan outcomes.
func seed(t *testing.T, f *fixture, r *rand.Rand, n int) []*customs.Registry {
	t.Helper()
	regs := []*customs.Registry{
		f.registry(t, f.allA, "swr", customs.SwrPrivate, "0"),
		f.registry(t, f.allA, "harbor-prod", customs.Harbor, "ep-1"),
		f.registry(t, f.allA, "jfrog", customs.Jfrog, "0"),
	}
	namespaces := []string{"library", "team-a", "team-b", ""}
	names := []string{"nginx", "api-gateway", "payments/api", "worker", "ngx"}
	tags := []string{"latest", "v1.0.0", "v1.2.3", "1.25-alpine", "sha-abc", "v2"}
	statuses := []customs.ScanStatus{customs.ScanUnscan, customs.ScanSuccess, customs.ScanSuccess, customs.ScanFailed, customs.ScanWaiting, customs.ScanScanning}
	summaries := map[string]customs.ScanSummary{}
	t0 := f.clock.now()
	byReg := map[string][]customs.RepositoryUpdate{}
	var manifests []*customs.Manifest
	for i := range n {
		m := image(fmt.Sprint("seed-", i), r.Int64N(5000))
		manifests = append(manifests, m)
		if st := statuses[r.IntN(len(statuses))]; st != customs.ScanUnscan {
			s := customs.ScanSummary{Status: st}
			if st == customs.ScanSuccess || st == customs.ScanFailed {
				s.ScannedAt = t0.Add(time.Duration(r.IntN(20)) * time.Minute)
			}
			if st == customs.ScanSuccess {
				s.VulNum, s.UnsafeSettingNum, s.MaliciousFileNum = r.IntN(3), r.IntN(2), r.IntN(5)/4
			}
			if st == customs.ScanFailed {
				s.FailedDesc = "download_failed"
			}
			summaries[m.Digest] = s
		}
		reg := regs[r.IntN(len(regs))]
		byReg[reg.ID] = append(byReg[reg.ID], customs.RepositoryUpdate{
			Namespace: namespaces[r.IntN(len(namespaces))], Name: names[r.IntN(len(names))],
			Upserts: []customs.TagState{{Tag: fmt.Sprint(tags[r.IntN(len(tags))], "-", i), Digest: m.Digest, UpdatedAt: t0.Add(time.Duration(r.IntN(30)) * time.Minute)}},
		})
	}
	if err := f.s.PutManifests(t.Context(), manifests); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetScanSummaries(t.Context(), summaries); err != nil {
		t.Fatal(err)
	}
	for _, reg := range regs {
		if _, err := f.s.ApplyRepositoryUpdates(t.Context(), f.allA, reg.ID, byReg[reg.ID]); err != nil {
			t.Fatal(err)
		}
	}
	return regs
}

func randomFilter(r *rand.Rand, f *fixture, regs []*customs.Registry) (customs.Scope, customs.ImageFilter) {
	scope := f.allA
	switch r.IntN(4) {
	case 0:
		scope = customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"0"}}
	case 1:
		scope = customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"ep-1", "ep-2"}}
	}
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	maybe := func() bool { return r.IntN(4) == 0 }
	flt := customs.ImageFilter{Type: []customs.ImageType{customs.PrivateImage, customs.InstanceImage}[r.IntN(2)], Limit: []int{10, 25, 200}[r.IntN(3)]}
	if maybe() {
		flt.Namespace = pick("library", "team-a", "nope")
	}
	if maybe() {
		flt.Name = pick("ng", "api", "payments/", "x")
	}
	if maybe() {
		flt.Tag = pick("v1", "-3", "alpine", "latest-0")
	}
	if maybe() {
		flt.InstanceName = pick("harbor", "prod", "jf", "")
	}
	if maybe() {
		flt.InstanceID = regs[r.IntN(len(regs))].ID
	}
	flt.LatestOnly = maybe()
	if maybe() {
		flt.ScanStatus = customs.ScanStatuses[r.IntN(len(customs.ScanStatuses))]
	}
	if maybe() {
		flt.MinSize = r.Int64N(5000)
	}
	t0 := f.clock.now()
	if maybe() {
		from := t0.Add(time.Duration(r.IntN(30)) * time.Minute)
		flt.UpdatedAt = customs.TimeRange{From: from, To: from.Add(time.Duration(r.IntN(10)) * time.Minute)}
	}
	if maybe() {
		flt.ScannedAt = customs.TimeRange{From: time.UnixMilli(0), To: t0.Add(time.Duration(r.IntN(20)) * time.Minute)}
	}
	for _, p := range []**bool{&flt.HasVul, &flt.HasUnsafeSetting, &flt.HasMaliciousFile} {
		if maybe() {
			*p = ptr(r.IntN(2) == 0)
		}
	}
	if r.IntN(3) == 0 {
		flt.Offset = r.IntN(80)
	}
	return scope, flt
}

// testListMatchesReference checks FindImages, with random filter
// combinations, against the brute-force reference over the same rows.
func testListMatchesReference(t *testing.T, open Opener) {
	f := newFixture(t, open)
	r := rand.New(rand.NewPCG(11, 12))
	regs := seed(t, f, r, 400)
	every := append(f.all(t, f.allA, customs.PrivateImage), f.all(t, f.allA, customs.InstanceImage)...)
	if len(every) != 400 {
		t.Fatalf("seeded 400 rows, listed %d", len(every))
	}
	for i := range 300 {
		scope, flt := randomFilter(r, f, regs)
		var want []*customs.Image
		for _, img := range every {
			if scope.Allows(img.EnterpriseProjectID) && flt.Match(img) {
				want = append(want, img)
			}
		}
		slices.SortFunc(want, func(a, b *customs.Image) int {
			if customs.ImageLess(a, b) {
				return -1
			}
			return 1
		})
		wantTotal := len(want)
		want = want[min(flt.Offset, len(want)):min(flt.Offset+flt.Limit, len(want))]
		got, total, err := f.s.FindImages(t.Context(), scope, flt)
		if err != nil {
			t.Fatal(err)
		}
		if total != wantTotal {
			t.Errorf("case %d: FindImages(%+v) total = %d, want %d", i, flt, total, wantTotal)
		}
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Errorf("case %d: FindImages(%+v) ids mismatch (-want +got):\n%s", i, flt, diff)
		}
	}
	t.Run("paging walks every row once", func(t *testing.T) {
		for _, flt := range []customs.ImageFilter{
			{Type: customs.PrivateImage},
			{Type: customs.InstanceImage, Name: "api"},
			{Type: customs.PrivateImage, HasVul: ptr(false)},
		} {
			_, total, _ := f.s.FindImages(t.Context(), f.allA, customs.ImageFilter{Type: flt.Type, Name: flt.Name, HasVul: flt.HasVul, Limit: 10})
			var walked []*customs.Image
			for flt.Offset, flt.Limit = 0, 10; flt.Offset < total+10; flt.Offset += 10 {
				page, n, err := f.s.FindImages(t.Context(), f.allA, flt)
				if err != nil || n != total {
					t.Fatalf("page at %d: total %d, %v; want %d", flt.Offset, n, err, total)
				}
				walked = append(walked, page...)
			}
			if len(walked) != total {
				t.Errorf("%+v: walked %d rows, total %d", flt, len(walked), total)
			}
			seen := map[int64]bool{}
			for i, img := range walked {
				if seen[img.ID] {
					t.Errorf("row %d listed twice", img.ID)
				}
				seen[img.ID] = true
				if i > 0 && !customs.ImageLess(walked[i-1], img) {
					t.Errorf("rows %d and %d out of order", walked[i-1].ID, img.ID)
				}
			}
		}
	})
}

func ids(imgs []*customs.Image) []int64 {
	out := []int64{}
	for _, img := range imgs {
		out = append(out, img.ID)
	}
	return out
}

func testListRecordFields(t *testing.T, open Opener) {
	f := newFixture(t, open)
	swr := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	harbor := f.registry(t, f.allA, "harbor", customs.Harbor, "ep-9")
	t0 := f.clock.now()
	single := image("single", 1234)
	idx := &customs.Manifest{
		Digest: digest("index"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex,
		ConfigDigest: digest("config-amd64"), Size: 5555, Scannable: true,
		Children: []customs.ChildImage{
			{Digest: digest("c-amd64"), Platform: customs.Platform{OS: "linux", Architecture: "amd64"}},
			{Digest: digest("c-arm"), Platform: customs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		},
	}
	win := &customs.Manifest{Digest: digest("win"), MediaType: "application/vnd.docker.distribution.manifest.v2+json", Kind: customs.KindImage,
		ConfigDigest: digest("config-win"), Size: 99, Platform: customs.Platform{OS: "windows", Architecture: "amd64"}}
	f.put(t, swr, "library/nginx", "1.27", single, t0)
	f.put(t, swr, "library/busybox", "1.36", idx, t0.Add(time.Second))
	f.put(t, harbor, "tools/agent", "1.0", win, t0.Add(2*time.Second))
	arm := &customs.Manifest{Digest: digest("c-arm"), MediaType: "application/vnd.oci.image.manifest.v1+json", Kind: customs.KindImage,
		Platform: customs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, Scannable: true}
	if err := f.s.PutManifests(t.Context(), []*customs.Manifest{arm}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetScanSummaries(t.Context(), map[string]customs.ScanSummary{digest("c-arm"): {Status: customs.ScanFailed, FailedDesc: "download_failed"}}); err != nil {
		t.Fatal(err)
	}
	got := append(f.all(t, f.allA, customs.PrivateImage), f.all(t, f.allA, customs.InstanceImage)...)
	want := []*customs.Image{
		{ProjectID: f.projA.ID, EnterpriseProjectID: "0", RegistryID: swr.ID, Type: customs.PrivateImage, Namespace: "library", Name: "busybox", Tag: "1.36",
			Digest: idx.Digest, ImageID: customs.ImageIDFromConfig(idx.ConfigDigest), Size: 5555, UpdatedAt: t0.Add(time.Second), Latest: true, Scannable: true,
			ScanStatus: customs.ScanUnscan, Children: []customs.ChildImage{
				{Digest: digest("c-amd64"), Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, ScanStatus: customs.ScanUnscan},
				{Digest: digest("c-arm"), Platform: customs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, ScanStatus: customs.ScanFailed},
			}},
		{ProjectID: f.projA.ID, EnterpriseProjectID: "0", RegistryID: swr.ID, Type: customs.PrivateImage, Namespace: "library", Name: "nginx", Tag: "1.27",
			Digest: single.Digest, ImageID: customs.ImageIDFromConfig(single.ConfigDigest), Size: 1234, UpdatedAt: t0, Latest: true, Scannable: true,
			ScanStatus: customs.ScanUnscan, Children: []customs.ChildImage{}},
		{ProjectID: f.projA.ID, EnterpriseProjectID: "ep-9", RegistryID: harbor.ID, Type: customs.InstanceImage, Namespace: "tools", Name: "agent", Tag: "1.0",
			Digest: win.Digest, ImageID: customs.ImageIDFromConfig(win.ConfigDigest), Size: 99, UpdatedAt: t0.Add(2 * time.Second), Latest: true, Scannable: false,
			ScanStatus: customs.ScanUnscan, InstanceID: harbor.ID, InstanceName: "harbor", InstanceURL: harbor.Addr, Children: []customs.ChildImage{}},
	}
	for _, img := range got {
		img.ID = 0
	}
	if diff := cmp.Diff(want, got, timeMS); diff != "" {
		t.Errorf("listed records mismatch (-want +got):\n%s", diff)
	}
}

// testIsolation checks that no scope sees another project's or another
// enterprise project's data, through every scoped method.
func testIsolation(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	regA0 := f.registry(t, f.allA, "a-default", customs.SwrPrivate, "0")
	regA1 := f.registry(t, f.allA, "a-ep1", customs.Harbor, "ep-1")
	regB := f.registry(t, f.allB, "b-default", customs.Harbor, "0")
	f.put(t, regA0, "ns/app", "1", image("a0", 1), f.clock.now())
	f.put(t, regA1, "ns/app", "1", image("a1", 1), f.clock.now())
	f.put(t, regB, "ns/app", "1", image("b", 1), f.clock.now())
	taskA := &customs.SyncTask{Key: "all", Trigger: customs.TriggerManual}
	if err := f.s.CreateSyncTask(ctx, f.allA, taskA); err != nil {
		t.Fatal(err)
	}
	a0 := customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"0"}}
	a1 := customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"ep-1"}}
	for _, tc := range []struct {
		name       string
		scope      customs.Scope
		registries []string
	}{
		{"project A, all", f.allA, []string{"a-default", "a-ep1"}},
		{"project A, default", a0, []string{"a-default"}},
		{"project A, ep-1", a1, []string{"a-ep1"}},
		{"project B", f.allB, []string{"b-default"}},
		{"project A, unknown enterprise project", customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"ep-x"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regs, err := f.s.FindRegistries(ctx, tc.scope, customs.RegistryFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range regs {
				got = append(got, r.Name)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.registries, got); diff != "" {
				t.Errorf("FindRegistries mismatch (-want +got):\n%s", diff)
			}
			got = nil
			for _, typ := range customs.ImageTypes {
				for _, img := range f.all(t, tc.scope, typ) {
					got = append(got, img.RegistryID)
					if img.ProjectID != tc.scope.ProjectID || !tc.scope.Allows(img.EnterpriseProjectID) {
						t.Errorf("FindImages leaked image %d of project %s, enterprise project %s", img.ID, img.ProjectID, img.EnterpriseProjectID)
					}
				}
			}
			if len(got) != len(tc.registries) {
				t.Errorf("FindImages listed %d rows, want %d", len(got), len(tc.registries))
			}
			for _, reg := range []*customs.Registry{regA0, regA1, regB} {
				visible := slices.Contains(tc.registries, reg.Name)
				repos, err := f.s.FindRepositories(ctx, tc.scope, reg.ID)
				if err != nil || (len(repos) > 0) != visible {
					t.Errorf("FindRepositories(%s) = %v, %v; visible %v", reg.Name, repos, err, visible)
				}
				tags, err := f.s.FindTags(ctx, tc.scope, reg.ID, "ns/app")
				if err != nil || (len(tags) > 0) != visible {
					t.Errorf("FindTags(%s) = %v, %v; visible %v", reg.Name, tags, err, visible)
				}
				if !visible {
					_, err := f.s.ApplyRepositoryUpdates(ctx, tc.scope, reg.ID, []customs.RepositoryUpdate{{Namespace: "ns", Name: "app", DeleteAll: true}})
					wantCode(t, err, customs.ENOTFOUND)
					_, err = f.s.UpdateRegistry(ctx, tc.scope, reg.ID, customs.RegistryUpdate{Addr: ptr("evil")})
					wantCode(t, err, customs.ENOTFOUND)
					wantCode(t, f.s.DeleteRegistry(ctx, tc.scope, reg.ID), customs.ENOTFOUND)
					wantCode(t, f.s.SetRegistrySyncResult(ctx, tc.scope, reg.ID, customs.RegistrySyncResult{Status: "fail"}), customs.ENOTFOUND)
				}
			}
			tasks, _, err := f.s.FindSyncTasks(ctx, tc.scope, customs.SyncTaskFilter{})
			if err != nil || (len(tasks) > 0) != (tc.scope.ProjectID == f.projA.ID) {
				t.Errorf("FindSyncTasks() = %d tasks, %v", len(tasks), err)
			}
		})
	}
	wantCode(t, f.s.UpdateSyncTask(ctx, f.allB, taskA), customs.ENOTFOUND)
	// Nothing above may have changed project A's rows.
	if n := len(f.all(t, f.allA, customs.PrivateImage)) + len(f.all(t, f.allA, customs.InstanceImage)); n != 2 {
		t.Errorf("project A has %d rows after the isolation checks, want 2", n)
	}
}

// testSecondHandle checks that a second handle on the same database (another
// process) sees every change, including through its list index.
func testSecondHandle(t *testing.T, open Opener) {
	f := newFixture(t, open)
	other := open(t, "main", f.clock.now)
	reg := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	list := func() []string {
		t.Helper()
		page, _, err := other.FindImages(t.Context(), f.allA, customs.ImageFilter{Type: customs.PrivateImage, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, img := range page {
			out = append(out, fmt.Sprint(img.Tag, "/", img.ScanStatus))
		}
		return out
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("empty store lists %v", got)
	}
	m := image("one", 1)
	f.put(t, reg, "a/b", "1", m, f.clock.now())
	f.put(t, reg, "a/b", "2", image("two", 1), f.clock.now().Add(time.Second))
	if diff := cmp.Diff([]string{"2/unscan", "1/unscan"}, list()); diff != "" {
		t.Errorf("after inserts (-want +got):\n%s", diff)
	}
	if err := f.s.SetScanSummaries(t.Context(), map[string]customs.ScanSummary{m.Digest: {Status: customs.ScanSuccess}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ApplyRepositoryUpdates(t.Context(), f.allA, reg.ID, []customs.RepositoryUpdate{{Namespace: "a", Name: "b", Deletes: []string{"2"}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1/success"}, list()); diff != "" {
		t.Errorf("after a scan and a delete (-want +got):\n%s", diff)
	}
}

// testSnapshotConsistency checks that readers racing a writer always see a
// whole transaction or none of it: the writer adds tags ten at a time.
func testSnapshotConsistency(t *testing.T, open Opener) {
	f := newFixture(t, open)
	other := open(t, "main", f.clock.now)
	reg := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	const batches = 30
	var manifests []*customs.Manifest
	for i := range batches * 10 {
		manifests = append(manifests, image(fmt.Sprint("m", i), 1))
	}
	if err := f.s.PutManifests(t.Context(), manifests); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range []Store{f.s, f.s, other} {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				page, total, err := s.FindImages(t.Context(), f.allA, customs.ImageFilter{Type: customs.PrivateImage, Limit: 200})
				if err != nil {
					t.Error(err)
					return
				}
				if total%10 != 0 || len(page) != min(total, 200) {
					t.Errorf("a reader saw %d rows (page of %d) in the middle of a ten-row transaction", total, len(page))
					return
				}
			}
		})
	}
	for b := range batches {
		u := customs.RepositoryUpdate{Namespace: "ns", Name: fmt.Sprint("repo", b)}
		for i := range 10 {
			u.Upserts = append(u.Upserts, customs.TagState{Tag: fmt.Sprint(i), Digest: manifests[b*10+i].Digest, UpdatedAt: f.clock.now().Add(time.Duration(b) * time.Second)})
		}
		if _, err := f.s.ApplyRepositoryUpdates(t.Context(), f.allA, reg.ID, []customs.RepositoryUpdate{u}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if _, total, _ := other.FindImages(t.Context(), f.allA, customs.ImageFilter{Type: customs.PrivateImage, Limit: 10}); total != batches*10 {
		t.Errorf("after the writer finished, total = %d, want %d", total, batches*10)
	}
}
