package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

func testRegistries(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	primary := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	harbor := f.registry(t, f.allA, "harbor", customs.Harbor, "ep-1")

	if primary.ID == "" || primary.EnterpriseProjectID != customs.DefaultEnterpriseProject || primary.Status != customs.RegistryAccessing {
		t.Errorf("CreateRegistry() left id %q, enterprise project %q, status %q; want an id, %q, %q",
			primary.ID, primary.EnterpriseProjectID, primary.Status, customs.DefaultEnterpriseProject, customs.RegistryAccessing)
	}
	t.Run("conflicts", func(t *testing.T) {
		wantCode(t, f.s.CreateRegistry(ctx, f.allA, &customs.Registry{Name: "swr2", Type: customs.SwrPrivate, Protocol: "https", Addr: "x"}), customs.ECONFLICT)
		wantCode(t, f.s.CreateRegistry(ctx, f.allA, &customs.Registry{Name: "harbor", Type: customs.Jfrog, Protocol: "https", Addr: "x"}), customs.ECONFLICT)
		if err := f.s.CreateRegistry(ctx, f.allB, &customs.Registry{Name: "harbor", Type: customs.SwrPrivate, Protocol: "https", Addr: "x"}); err != nil {
			t.Errorf("names and the primary registry are per project: CreateRegistry() in project B = %v", err)
		}
	})
	t.Run("enterprise project outside the scope", func(t *testing.T) {
		scope := customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"0"}}
		wantCode(t, f.s.CreateRegistry(ctx, scope, &customs.Registry{Name: "x", Type: customs.OtherRegistry, Protocol: "https", Addr: "x", EnterpriseProjectID: "ep-1"}), customs.EFORBIDDEN)
	})
	t.Run("find", func(t *testing.T) {
		regs, err := f.s.FindRegistries(ctx, f.allA, customs.RegistryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*customs.Registry{primary, harbor}, regs, timeMS); diff != "" {
			t.Errorf("FindRegistries() mismatch (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			name   string
			scope  customs.Scope
			filter customs.RegistryFilter
			want   []string
		}{
			{"by id", f.allA, customs.RegistryFilter{ID: harbor.ID}, []string{"harbor"}},
			{"by name", f.allA, customs.RegistryFilter{Name: "swr"}, []string{"swr"}},
			{"by types", f.allA, customs.RegistryFilter{Types: []customs.RegistryType{customs.Harbor, customs.Jfrog}}, []string{"harbor"}},
			{"default enterprise project", customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"0"}}, customs.RegistryFilter{}, []string{"swr"}},
			{"other enterprise project", customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"ep-1"}}, customs.RegistryFilter{}, []string{"harbor"}},
			{"other project by id", f.allB, customs.RegistryFilter{ID: harbor.ID}, nil},
		} {
			regs, err := f.s.FindRegistries(ctx, tc.scope, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range regs {
				names = append(names, r.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("%s: FindRegistries() mismatch (-want +got):\n%s", tc.name, diff)
			}
		}
	})
	t.Run("update", func(t *testing.T) {
		f.clock.add(time.Minute)
		r, err := f.s.UpdateRegistry(ctx, f.allA, harbor.ID, customs.RegistryUpdate{Addr: ptr("new.example.com"), Password: ptr("rotated")})
		if err != nil {
			t.Fatal(err)
		}
		regs, _ := f.s.FindRegistries(ctx, f.allA, customs.RegistryFilter{ID: harbor.ID})
		if len(regs) != 1 || regs[0].Addr != "new.example.com" || regs[0].Password != "rotated" || regs[0].Username != "robot" || !regs[0].UpdatedAt.Equal(f.clock.now()) {
			t.Errorf("after UpdateRegistry, FindRegistries() = %+v", regs)
		}
		if diff := cmp.Diff(regs[0], r, timeMS); diff != "" {
			t.Errorf("UpdateRegistry() returned (-stored +returned):\n%s", diff)
		}
		_, err = f.s.UpdateRegistry(ctx, f.allB, harbor.ID, customs.RegistryUpdate{Addr: ptr("evil")})
		wantCode(t, err, customs.ENOTFOUND)
	})
	t.Run("sync result", func(t *testing.T) {
		res := customs.RegistrySyncResult{Status: customs.RegistryFail, FailReason: "unauthorized", ImagesNum: 7, SyncedAt: f.clock.now()}
		if err := f.s.SetRegistrySyncResult(ctx, f.allA, primary.ID, res); err != nil {
			t.Fatal(err)
		}
		regs, _ := f.s.FindRegistries(ctx, f.allA, customs.RegistryFilter{ID: primary.ID})
		got := customs.RegistrySyncResult{Status: regs[0].Status, FailReason: regs[0].FailReason, ImagesNum: regs[0].ImagesNum, SyncedAt: regs[0].LatestSyncTime}
		if diff := cmp.Diff(res, got, timeMS); diff != "" {
			t.Errorf("SetRegistrySyncResult() mismatch (-want +got):\n%s", diff)
		}
		wantCode(t, f.s.SetRegistrySyncResult(ctx, f.allB, primary.ID, res), customs.ENOTFOUND)
	})
	t.Run("delete", func(t *testing.T) {
		f.put(t, harbor, "team/app", "v1", image("app-v1", 10), f.clock.now())
		f.put(t, primary, "team/app", "v1", image("app-v1", 10), f.clock.now())
		wantCode(t, f.s.DeleteRegistry(ctx, f.allB, harbor.ID), customs.ENOTFOUND)
		if err := f.s.DeleteRegistry(ctx, f.allA, harbor.ID); err != nil {
			t.Fatal(err)
		}
		if imgs := f.all(t, f.allA, customs.InstanceImage); len(imgs) != 0 {
			t.Errorf("the deleted registry's images are still listed: %v", imgs)
		}
		if imgs := f.all(t, f.allA, customs.PrivateImage); len(imgs) != 1 {
			t.Errorf("deleting one registry removed another's images: %d left, want 1", len(imgs))
		}
		if regs, _ := f.s.FindRegistries(ctx, f.allA, customs.RegistryFilter{}); len(regs) != 1 || regs[0].ID != primary.ID {
			t.Errorf("after DeleteRegistry, FindRegistries() = %v", regs)
		}
		wantCode(t, f.s.DeleteRegistry(ctx, f.allA, harbor.ID), customs.ENOTFOUND)
	})
}

func testManifests(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	img := image("one", 100)
	idx := &customs.Manifest{
		Digest: digest("index"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex,
		ConfigDigest: digest("config-amd64"), Size: 300, Created: time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC), Scannable: true,
		Children: []customs.ChildImage{
			{Digest: digest("amd64"), Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, ScanStatus: customs.ScanUnscan},
			{Digest: digest("arm"), Platform: customs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, ScanStatus: customs.ScanUnscan},
		},
	}
	if err := f.s.PutManifests(ctx, []*customs.Manifest{img, idx}); err != nil {
		t.Fatal(err)
	}
	changed := *img
	changed.Size = 999
	if err := f.s.PutManifests(ctx, []*customs.Manifest{&changed}); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.FindManifests(ctx, []string{img.Digest, idx.Digest, digest("missing")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*customs.Manifest{img.Digest: img, idx.Digest: idx}
	if diff := cmp.Diff(want, got, timeMS); diff != "" {
		t.Errorf("FindManifests() mismatch (-want +got):\n%s", diff)
	}
}
