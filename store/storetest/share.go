package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

func testShares(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	od, _, op := f.other(t) // domain "globex" receives
	recipient := customs.ProjectScope(op.ID)
	swr := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	t0 := f.clock.now()
	app1, app2 := image("app-1", 100), image("app-2", 200)
	f.put(t, swr, "team/app", "1.0", app1, t0)
	f.put(t, swr, "team/app", "2.0", app2, t0.Add(time.Hour))
	f.put(t, swr, "team/secret", "1.0", image("secret", 1), t0)
	if err := f.s.SetScanSummaries(ctx, map[string]customs.ScanSummary{app2.Digest: {Status: customs.ScanSuccess, VulNum: 7, ScannedAt: t0}}); err != nil {
		t.Fatal(err)
	}

	wantCode(t, f.s.CreateShare(ctx, f.allB, &customs.Share{Namespace: "team", Repository: "app", AccessDomain: "globex", Permit: "read"}), customs.ENOTFOUND) // project B has no SwrPrivate
	wantCode(t, f.s.CreateShare(ctx, f.allA, &customs.Share{Namespace: "team", Repository: "app", AccessDomain: "nowhere", Permit: "read"}), customs.ENOTFOUND)
	wantCode(t, f.s.CreateShare(ctx, f.allA, &customs.Share{Namespace: "team", Repository: "app", AccessDomain: "acme", Permit: "read"}), customs.EINVALID)
	deadline := t0.Add(48 * time.Hour)
	sh := &customs.Share{Namespace: "team", Repository: "app", AccessDomain: "globex", Permit: "read", Deadline: deadline, Description: "for the audit"}
	if err := f.s.CreateShare(ctx, f.allA, sh); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.CreateShare(ctx, f.allA, &customs.Share{Namespace: "team", Repository: "app", AccessDomain: "globex", Permit: "read"}), customs.ECONFLICT)
	shares, err := f.s.FindShares(ctx, f.allA, customs.ShareFilter{Namespace: "team"})
	if err != nil || len(shares) != 1 {
		t.Fatalf("FindShares() = %v, %v", shares, err)
	}
	if diff := cmp.Diff(sh, shares[0], timeMS); diff != "" {
		t.Errorf("FindShares mismatch (-want +got):\n%s", diff)
	}
	if got, _ := f.s.FindShares(ctx, f.allB, customs.ShareFilter{}); len(got) != 0 {
		t.Errorf("another project lists the shares: %v", got)
	}

	shared := func() []*customs.Image {
		t.Helper()
		return f.all(t, recipient, customs.SharedImage)
	}
	if got := shared(); len(got) != 0 {
		t.Fatalf("shared images before a refresh: %d", len(got))
	}
	c, err := f.s.RefreshSharedImages(ctx, recipient)
	if err != nil || c != (customs.SyncCounts{Added: 2}) {
		t.Fatalf("RefreshSharedImages() = %+v, %v; want 2 added", c, err)
	}
	if c, _ := f.s.RefreshSharedImages(ctx, recipient); c != (customs.SyncCounts{}) {
		t.Errorf("a second refresh changed %+v", c)
	}
	got := shared()
	if len(got) != 2 {
		t.Fatalf("shared images: %d, want 2", len(got))
	}
	top := got[0]
	want := customs.Image{ProjectID: op.ID, EnterpriseProjectID: "0", Type: customs.SharedImage, Namespace: "team", Name: "app", Tag: "2.0",
		Digest: app2.Digest, DomainName: "acme", SharedStatus: customs.ShareEffective, Scannable: true, Latest: true,
		ScanStatus: customs.ScanSuccess, VulNum: 7}
	gotFields := customs.Image{ProjectID: top.ProjectID, EnterpriseProjectID: top.EnterpriseProjectID, Type: top.Type, Namespace: top.Namespace, Name: top.Name, Tag: top.Tag,
		Digest: top.Digest, DomainName: top.DomainName, SharedStatus: top.SharedStatus, Scannable: top.Scannable, Latest: top.Latest,
		ScanStatus: top.ScanStatus, VulNum: top.VulNum}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("a shared image (-want +got):\n%s", diff)
	}
	// The owner's rows are untouched, and the owner's project lists no shared images.
	if n := len(f.all(t, f.allA, customs.PrivateImage)); n != 3 {
		t.Errorf("the owner has %d rows, want 3", n)
	}
	if n := len(f.all(t, f.allA, customs.SharedImage)); n != 0 {
		t.Errorf("the owner lists %d shared images", n)
	}

	// The owner's synchronization changes only the owner's rows; a refresh
	// brings them to the recipient.
	if _, err := f.s.ApplyRepositoryUpdates(ctx, f.allA, swr.ID, []customs.RepositoryUpdate{{Namespace: "team", Name: "app", Deletes: []string{"1.0"}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(shared()); n != 2 {
		t.Errorf("before a refresh the recipient has %d rows, want 2", n)
	}
	if c, _ := f.s.RefreshSharedImages(ctx, recipient); c != (customs.SyncCounts{Removed: 1}) {
		t.Errorf("refresh after the owner removed a tag: %+v", c)
	}

	// A recipient's batch scan selects the owner's digest while the share
	// holds, nothing after its deadline.
	selectShared := func() ([][]string, []string) {
		t.Helper()
		sel, err := f.s.SelectDigests(ctx, recipient, []customs.ImageSelector{{Type: customs.SharedImage, Namespace: "team", Name: "app", Tag: "2.0"}})
		if err != nil {
			t.Fatal(err)
		}
		all, err := f.s.FindImageDigests(ctx, recipient, customs.ImageFilter{Type: customs.SharedImage})
		if err != nil {
			t.Fatal(err)
		}
		return sel, all
	}
	if sel, all := selectShared(); !slices.Equal(sel[0], []string{app2.Digest}) || !slices.Equal(all, []string{app2.Digest}) {
		t.Errorf("digests to scan of an effective share: %v, %v; want %s", sel, all, app2.Digest)
	}

	// After the deadline the rows show as expired and not scannable, without a refresh.
	f.clock.add(49 * time.Hour)
	if got := shared(); len(got) != 1 || got[0].SharedStatus != customs.ShareExpired || got[0].Scannable {
		t.Errorf("after the deadline: %+v", got)
	}
	if sel, all := selectShared(); len(sel[0]) != 0 || len(all) != 0 {
		t.Errorf("digests to scan of an expired share: %v, %v; want none", sel, all)
	}
	sh.Deadline = time.Time{} // forever
	if err := f.s.UpdateShare(ctx, f.allA, sh); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.UpdateShare(ctx, f.allB, sh), customs.ENOTFOUND)
	if got := shared(); got[0].SharedStatus != customs.ShareEffective || !got[0].Scannable {
		t.Errorf("after extending the share forever: %+v", got[0])
	}

	wantCode(t, f.s.DeleteShare(ctx, f.allB, sh.ID), customs.ENOTFOUND)
	if err := f.s.DeleteShare(ctx, f.allA, sh.ID); err != nil {
		t.Fatal(err)
	}
	if got := shared(); len(got) != 0 {
		t.Errorf("after the share ended the recipient still has %d rows", len(got))
	}
	_ = od
}
