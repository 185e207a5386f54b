package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

func testRepositoryUpdates(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	reg := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	t0 := f.clock.now()
	m1, m2, m3 := image("a", 10), image("b", 20), image("c", 30)
	if err := f.s.PutManifests(ctx, []*customs.Manifest{m1, m2, m3}); err != nil {
		t.Fatal(err)
	}
	apply := func(us ...customs.RepositoryUpdate) customs.SyncCounts {
		t.Helper()
		c, err := f.s.ApplyRepositoryUpdates(ctx, f.allA, reg.ID, us)
		if err != nil {
			t.Fatalf("ApplyRepositoryUpdates() = %v", err)
		}
		return c
	}
	first := customs.RepositoryUpdate{Namespace: "library", Name: "app", Upserts: []customs.TagState{
		{Tag: "v1", Digest: m1.Digest, UpdatedAt: t0},
		{Tag: "v2", Digest: m2.Digest, UpdatedAt: t0.Add(time.Second)},
		{Tag: "latest", Digest: m2.Digest, UpdatedAt: t0.Add(time.Second)},
	}}
	single := customs.RepositoryUpdate{Name: "solo", Upserts: []customs.TagState{{Tag: "1.0", Digest: m3.Digest, UpdatedAt: t0}}}
	if c := apply(first, single); c != (customs.SyncCounts{Added: 4}) {
		t.Errorf("first apply counts = %+v, want 4 added", c)
	}
	before := f.all(t, f.allA, customs.PrivateImage)

	t.Run("unchanged writes nothing", func(t *testing.T) {
		f.clock.add(time.Hour)
		again := first
		again.Upserts = append([]customs.TagState(nil), first.Upserts...)
		again.Upserts[0].UpdatedAt = f.clock.now() // a caller's time for an unchanged digest changes nothing
		if c := apply(again, single); c != (customs.SyncCounts{}) {
			t.Errorf("re-applying the same state counts %+v, want zero", c)
		}
		if diff := cmp.Diff(before, f.all(t, f.allA, customs.PrivateImage), timeMS); diff != "" {
			t.Errorf("re-applying the same state changed rows (-before +after):\n%s", diff)
		}
	})
	t.Run("repositories and tags", func(t *testing.T) {
		repos, err := f.s.FindRepositories(ctx, f.allA, reg.ID)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(repos)
		if diff := cmp.Diff([]string{"library/app", "solo"}, repos); diff != "" {
			t.Errorf("FindRepositories() mismatch (-want +got):\n%s", diff)
		}
		tags, err := f.s.FindTags(ctx, f.allA, reg.ID, "library/app")
		if err != nil {
			t.Fatal(err)
		}
		want := []customs.TagState{{Tag: "latest", Digest: m2.Digest, UpdatedAt: t0.Add(time.Second)}, {Tag: "v1", Digest: m1.Digest, UpdatedAt: t0}, {Tag: "v2", Digest: m2.Digest, UpdatedAt: t0.Add(time.Second)}}
		if diff := cmp.Diff(want, tags, timeMS); diff != "" {
			t.Errorf("FindTags() mismatch (-want +got):\n%s", diff)
		}
		if img := byTag(f.all(t, f.allA, customs.PrivateImage), "solo", "1.0"); img == nil || img.Namespace != "" || img.Name != "solo" {
			t.Errorf("a single-segment repository: %+v, want namespace \"\" and name \"solo\"", img)
		}
	})
	t.Run("digest change", func(t *testing.T) {
		if err := f.s.SetScanSummaries(ctx, map[string]customs.ScanSummary{m1.Digest: {Status: customs.ScanSuccess, ScannedAt: t0, VulNum: 4}}); err != nil {
			t.Fatal(err)
		}
		moved := t0.Add(2 * time.Hour)
		c := apply(customs.RepositoryUpdate{Namespace: "library", Name: "app", Upserts: []customs.TagState{{Tag: "v1", Digest: m3.Digest, UpdatedAt: moved}}})
		if c != (customs.SyncCounts{Updated: 1}) {
			t.Errorf("digest change counts = %+v, want 1 updated", c)
		}
		img := byTag(f.all(t, f.allA, customs.PrivateImage), "library/app", "v1")
		want := customs.Image{Digest: m3.Digest, ImageID: customs.ImageIDFromConfig(m3.ConfigDigest), Size: 30, UpdatedAt: moved, ScanStatus: customs.ScanUnscan}
		got := customs.Image{Digest: img.Digest, ImageID: img.ImageID, Size: img.Size, UpdatedAt: img.UpdatedAt, ScanStatus: img.ScanStatus, VulNum: img.VulNum}
		if diff := cmp.Diff(want, got, timeMS); diff != "" {
			t.Errorf("after a digest change (-want +got):\n%s", diff)
		}
	})
	t.Run("deletes", func(t *testing.T) {
		c := apply(customs.RepositoryUpdate{Namespace: "library", Name: "app", Deletes: []string{"v2", "gone-already"}})
		if c != (customs.SyncCounts{Removed: 1}) {
			t.Errorf("delete counts = %+v, want 1 removed", c)
		}
		c = apply(customs.RepositoryUpdate{Name: "solo", DeleteAll: true})
		if c != (customs.SyncCounts{Removed: 1}) {
			t.Errorf("delete-all counts = %+v, want 1 removed", c)
		}
		var tags []string
		for _, img := range f.all(t, f.allA, customs.PrivateImage) {
			tags = append(tags, img.Repository()+":"+img.Tag)
		}
		if diff := cmp.Diff([]string{"library/app:v1", "library/app:latest"}, tags); diff != "" {
			t.Errorf("after deletes (-want +got):\n%s", diff)
		}
	})
	t.Run("all or nothing", func(t *testing.T) {
		before := f.all(t, f.allA, customs.PrivateImage)
		_, err := f.s.ApplyRepositoryUpdates(ctx, f.allA, reg.ID, []customs.RepositoryUpdate{
			{Namespace: "ok", Name: "new", Upserts: []customs.TagState{{Tag: "1", Digest: m1.Digest, UpdatedAt: t0}}},
			{Namespace: "bad", Name: "new", Upserts: []customs.TagState{{Tag: "1", Digest: digest("never stored"), UpdatedAt: t0}}},
		})
		if err == nil {
			t.Fatal("an update naming a manifest that is not stored succeeded")
		}
		if diff := cmp.Diff(before, f.all(t, f.allA, customs.PrivateImage), timeMS); diff != "" {
			t.Errorf("a failed batch wrote rows (-before +after):\n%s", diff)
		}
	})
	t.Run("unknown registry", func(t *testing.T) {
		_, err := f.s.ApplyRepositoryUpdates(ctx, f.allA, "no-such-registry", []customs.RepositoryUpdate{first})
		wantCode(t, err, customs.ENOTFOUND)
	})
}

func byTag(imgs []*customs.Image, repo, tag string) *customs.Image {
	for _, img := range imgs {
		if img.Repository() == repo && img.Tag == tag {
			return img
		}
	}
	return nil
}

func testLatestVersion(t *testing.T, open Opener) {
	f := newFixture(t, open)
	reg := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	t0 := f.clock.now()
	latest := func() []string {
		t.Helper()
		page, _, err := f.s.FindImages(t.Context(), f.allA, customs.ImageFilter{Type: customs.PrivateImage, LatestOnly: true, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, img := range page {
			out = append(out, img.Repository()+":"+img.Tag)
		}
		return out
	}
	f.put(t, reg, "a/app", "old", image("old", 1), t0)
	f.put(t, reg, "a/app", "new", image("new", 1), t0.Add(time.Minute))
	f.put(t, reg, "b/other", "only", image("only", 1), t0)
	if diff := cmp.Diff([]string{"a/app:new", "b/other:only"}, latest()); diff != "" {
		t.Errorf("latest versions (-want +got):\n%s", diff)
	}
	// Equal times: the greater id (the tag recorded later) wins.
	f.put(t, reg, "a/app", "same-time", image("same", 1), t0.Add(time.Minute))
	if diff := cmp.Diff([]string{"a/app:same-time", "b/other:only"}, latest()); diff != "" {
		t.Errorf("after a tie (-want +got):\n%s", diff)
	}
	// The old tag moves to a new digest: it becomes the newest.
	f.put(t, reg, "a/app", "old", image("old-2", 1), t0.Add(time.Hour))
	if diff := cmp.Diff([]string{"a/app:old", "b/other:only"}, latest()); diff != "" {
		t.Errorf("after a digest change (-want +got):\n%s", diff)
	}
	// Deleting the latest hands the flag on.
	if _, err := f.s.ApplyRepositoryUpdates(t.Context(), f.allA, reg.ID, []customs.RepositoryUpdate{{Namespace: "a", Name: "app", Deletes: []string{"old"}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a/app:same-time", "b/other:only"}, latest()); diff != "" {
		t.Errorf("after deleting the latest (-want +got):\n%s", diff)
	}
	// The same repository path in another registry is another image.
	other := f.registry(t, f.allA, "harbor", customs.Harbor, "")
	f.put(t, other, "a/app", "x", image("x", 1), t0)
	all := f.all(t, f.allA, customs.InstanceImage)
	if len(all) != 1 || !all[0].Latest {
		t.Errorf("the only tag of a repository in a second registry: %+v, want latest", all)
	}
}

func testScanSummaries(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	regA := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	regB := f.registry(t, f.allB, "swr", customs.SwrPrivate, "")
	shared := image("shared", 10)
	f.put(t, regA, "x/app", "1", shared, f.clock.now())
	f.put(t, regA, "x/app", "2", shared, f.clock.now())
	f.put(t, regB, "y/app", "1", shared, f.clock.now())
	f.put(t, regA, "x/other", "1", image("other", 10), f.clock.now())

	sum := customs.ScanSummary{Status: customs.ScanSuccess, ScannedAt: f.clock.now().Add(time.Minute), VulNum: 3, UnsafeSettingNum: 2, MaliciousFileNum: 1}
	if err := f.s.SetScanSummaries(ctx, map[string]customs.ScanSummary{shared.Digest: sum}); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.ScanSummaries(ctx, []string{shared.Digest, digest("never stored")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]customs.ScanSummary{shared.Digest: sum}, got, timeMS); diff != "" {
		t.Errorf("ScanSummaries (-want +got):\n%s", diff)
	}
	f.put(t, regA, "x/late", "1", shared, f.clock.now()) // a tag seen after the scan inherits it
	summary := func(img *customs.Image) customs.ScanSummary {
		return customs.ScanSummary{Status: img.ScanStatus, FailedDesc: img.ScanFailedDesc, ScannedAt: img.ScannedAt, VulNum: img.VulNum, UnsafeSettingNum: img.UnsafeSettingNum, MaliciousFileNum: img.MaliciousFileNum}
	}
	for _, img := range append(f.all(t, f.allA, customs.PrivateImage), f.all(t, f.allB, customs.PrivateImage)...) {
		want := sum
		if img.Digest != shared.Digest {
			want = customs.ScanSummary{Status: customs.ScanUnscan}
		}
		if diff := cmp.Diff(want, summary(img), timeMS); diff != "" {
			t.Errorf("%s:%s scan summary (-want +got):\n%s", img.Repository(), img.Tag, diff)
		}
	}
	t.Run("children", func(t *testing.T) {
		idx := &customs.Manifest{Digest: digest("idx"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex, Scannable: true,
			Children: []customs.ChildImage{{Digest: shared.Digest, Platform: customs.Platform{OS: "linux", Architecture: "amd64"}}, {Digest: digest("arm64"), Platform: customs.Platform{OS: "linux", Architecture: "arm64"}}}}
		f.put(t, regA, "x/multi", "1", idx, f.clock.now())
		img := byTag(f.all(t, f.allA, customs.PrivateImage), "x/multi", "1")
		var got []customs.ScanStatus
		for _, c := range img.Children {
			got = append(got, c.ScanStatus)
		}
		if diff := cmp.Diff([]customs.ScanStatus{customs.ScanSuccess, customs.ScanUnscan}, got); diff != "" {
			t.Errorf("children's scan statuses (-want +got):\n%s", diff)
		}
	})
	if err := f.s.SetScanSummaries(ctx, map[string]customs.ScanSummary{shared.Digest: {Status: "done"}}); err == nil {
		t.Error("SetScanSummaries accepted status \"done\"")
	}
	// A digest never synchronized cannot have been scanned; the whole batch is refused.
	err = f.s.SetScanSummaries(ctx, map[string]customs.ScanSummary{shared.Digest: {Status: customs.ScanFailed}, digest("never stored"): {Status: customs.ScanSuccess}})
	if err == nil {
		t.Error("SetScanSummaries accepted a digest whose manifest is not stored")
	}
	if img := byTag(f.all(t, f.allA, customs.PrivateImage), "x/app", "1"); img.ScanStatus != customs.ScanSuccess {
		t.Errorf("a refused batch changed a row: scan status %q, want %q", img.ScanStatus, customs.ScanSuccess)
	}
}
