package reposync_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/internal/testregistry"
	"customs/oci"
	"customs/reposync"
)

// These tests run against the CNCF Distribution registry (see
// internal/testregistry): real catalog and tag paging with Link headers,
// real htpasswd authentication. They skip when its binary is missing, unless
// CUSTOMS_TEST_REGISTRY=require.

func TestDistributionPaging(t *testing.T) {
	reg := testregistry.Start(t)
	img := image(t, linuxAMD64, created1)
	var want []*customs.Image
	f := newFixture(t, reg.Addr)
	counter := &countingTransport{next: http.DefaultTransport}
	f.syncer.Dial = dialer(oci.WithPageSize(10), oci.WithTransport(counter))
	var p pushed
	for i := range 25 {
		p = pushImage(t, reg.Addr, fmt.Sprintf("ns/repo-%02d:v1", i), img)
	}
	for i := range 25 {
		want = append(want, f.want(fmt.Sprintf("ns/repo-%02d", i), "v1", p, created1, false))
	}
	// One repository with tags over three pages.
	for i := range 24 {
		pushImage(t, reg.Addr, fmt.Sprintf("ns/repo-00:t%02d", i), img)
		want = append(want, f.want("ns/repo-00", fmt.Sprintf("t%02d", i), p, created1, false))
	}

	res := f.mustSync(t, syncTime0)

	if res.Repositories != 25 || res.Images != 49 || len(res.Failed) != 0 {
		t.Errorf("result: %d repositories, %d images, failed %+v; want 25, 49, none", res.Repositories, res.Images, res.Failed)
	}
	got := f.sortedImages(t)
	for _, img := range got {
		img.Latest = false // equal times: the latest of each is whichever got the greater id
	}
	sortImages(want)
	if diff := diffImages(want, got); diff != "" {
		t.Errorf("rows mismatch, latest flags aside (-want +got):\n%s", diff)
	}

	var catalog, repo00Tags []string
	for _, req := range counter.take() {
		switch {
		case strings.HasPrefix(req, "GET /v2/_catalog"):
			catalog = append(catalog, req)
		case strings.HasPrefix(req, "GET /v2/ns/repo-00/tags/list"):
			repo00Tags = append(repo00Tags, req)
		}
	}
	if len(catalog) != 3 || len(repo00Tags) != 3 {
		t.Errorf("catalog requests %q, tag list requests of ns/repo-00 %q; want 3 pages of each", catalog, repo00Tags)
	}
	for _, req := range append(catalog, repo00Tags...) {
		if !strings.Contains(req, "n=10") {
			t.Errorf("list request %q does not carry n=10", req)
		}
	}
}

func TestDistributionBasicAuth(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithHtpasswd("alice", "s3cret-pass"))
	p := pushImage(t, reg.Addr, "team/app:1.0", image(t, linuxAMD64, created1), basicAuth(reg.Username, reg.Password))
	f := newFixture(t, reg.Addr)
	user, pass := reg.Username, reg.Password
	if _, err := f.db.UpdateRegistry(t.Context(), f.scope, f.reg.ID, customs.RegistryUpdate{Username: &user, Password: &pass}); err != nil {
		t.Fatal(err)
	}

	f.mustSync(t, syncTime0)
	want := []*customs.Image{f.want("team/app", "1.0", p, created1, true)}
	if diff := diffImages(want, f.images(t)); diff != "" {
		t.Fatalf("rows with the right password mismatch (-want +got):\n%s", diff)
	}
	if reg := f.registry(t, f.reg.ID); reg.Status != customs.RegistrySuccess {
		t.Errorf("registry status %q (%s), want success", reg.Status, reg.FailReason)
	}

	tests := []struct {
		name     string
		username string
		password string
	}{
		{name: "wrong password", username: reg.Username, password: "wrong"},
		{name: "unknown user", username: "mallory", password: reg.Password},
		{name: "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.db.UpdateRegistry(t.Context(), f.scope, f.reg.ID, customs.RegistryUpdate{Username: &tt.username, Password: &tt.password}); err != nil {
				t.Fatal(err)
			}
			_, err := f.sync(t, syncTime1)
			if !errors.Is(err, oci.ErrUnauthorized) {
				t.Errorf("SyncRegistry error %v, want one that is oci.ErrUnauthorized", err)
			}
			got := f.registry(t, f.reg.ID)
			if got.Status != customs.RegistryFail || !strings.Contains(got.FailReason, "unauthorized") || got.ImagesNum != 1 {
				t.Errorf("registry status %q, reason %q, images %d; want fail, unauthorized, 1", got.Status, got.FailReason, got.ImagesNum)
			}
			if strings.Contains(got.FailReason, tt.password) && tt.password != "" {
				t.Errorf("failure reason %q repeats the password", got.FailReason)
			}
			if diff := diffImages(want, f.images(t)); diff != "" {
				t.Errorf("rows changed by a failed sync (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDistributionIndex(t *testing.T) {
	reg := testregistry.Start(t)
	idx := index(t, []customs.Platform{linuxARM64, linuxAMD64, winAMD64},
		image(t, linuxARM64, created1), image(t, linuxAMD64, created2), image(t, winAMD64, created3))
	x := pushIndex(t, reg.Addr, "team/multi:1.0", idx)
	win := pushIndex(t, reg.Addr, "team/multi:win", index(t, []customs.Platform{winAMD64}, image(t, winAMD64, created4)))
	f := newFixture(t, reg.Addr)

	res := f.mustSync(t, syncTime0)

	if res.Counts != (customs.SyncCounts{Added: 2}) {
		t.Errorf("counts %+v, want 2 added", res.Counts)
	}
	want := []*customs.Image{
		f.want("team/multi", "1.0", x, created2, false),
		// Only windows: the first child is chosen, and nothing is scannable.
		f.want("team/multi", "win", win, created4, true),
	}
	if diff := diffImages(want, f.sortedImages(t)); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	if win.scannable {
		t.Error("a windows-only index is expected not scannable")
	}

	// Nothing changed: nothing more is learned.
	res = f.mustSync(t, syncTime1)
	if diff := cmp.Diff(&reposync.Result{Progress: reposync.Progress{Repositories: 1, RepositoriesDone: 1, Tags: 2}, Images: 2}, res); diff != "" {
		t.Errorf("re-sync result mismatch (-want +got):\n%s", diff)
	}
}
