package oci_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"customs"
	"customs/internal/testregistry"
	"customs/oci"
)

// These tests run against the CNCF Distribution registry (see
// internal/testregistry), for what go-containerregistry's in-process
// registry does not do: catalog paging with Link headers and htpasswd auth.

func TestDistributionPaging(t *testing.T) {
	r := testregistry.Start(t)
	img := dockerImage(t, linuxAMD64, created1)
	var repos []string
	for i := range 25 {
		repo := fmt.Sprintf("ns/repo-%02d", i)
		repos = append(repos, repo)
		pushImage(t, r.Addr, repo, "v1", img)
	}
	var tags []string
	for i := range 25 {
		tag := fmt.Sprintf("t%02d", i)
		tags = append(tags, tag)
		pushImage(t, r.Addr, "ns/repo-00", tag, img)
	}
	tags = append(tags, "v1")
	c, rec := pinged(t, anonymous(r.Addr), oci.WithPageSize(10))

	var got []string
	var pages []int
	err := c.Catalog(t.Context(), func(page []string) error {
		got = append(got, page...)
		pages = append(pages, len(page))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(repos, got); diff != "" {
		t.Errorf("Catalog mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{10, 10, 5}, pages); diff != "" {
		t.Errorf("Catalog page sizes mismatch (-want +got):\n%s", diff)
	}
	reqs := rec.take()
	if len(reqs) != 3 {
		t.Errorf("Catalog requests = %v, want 3", reqs)
	}
	for _, req := range reqs {
		if !strings.HasPrefix(req, "GET /v2/_catalog?") || !strings.Contains(req, "n=10") {
			t.Errorf("Catalog request %q, want GET /v2/_catalog with n=10", req)
		}
	}

	gotTags, err := c.Tags(t.Context(), "ns/repo-00")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tags, gotTags); diff != "" {
		t.Errorf("Tags(ns/repo-00) mismatch (-want +got):\n%s", diff)
	}
	if reqs := rec.take(); len(reqs) != 3 {
		t.Errorf("Tags(ns/repo-00) requests = %v, want 3 pages of 10", reqs)
	}
}

func TestDistributionHtpasswd(t *testing.T) {
	r := testregistry.Start(t, testregistry.WithHtpasswd("alice", "s3cret"))
	creds := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: r.Username, Password: r.Password}))
	img := dockerImage(t, linuxAMD64, created1)
	if err := remote.Write(tagRef(t, r.Addr, "app", "v1"), img, creds, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		username string
		password string
		want     error
	}{
		{name: "right password", username: "alice", password: "s3cret"},
		{name: "wrong password", username: "alice", password: "not-the-password", want: oci.ErrUnauthorized},
		{name: "anonymous", want: oci.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &customs.Registry{Protocol: "http", Addr: r.Addr, Username: tt.username, Password: tt.password}
			c, _ := newClient(t, reg)
			ctx := t.Context()
			checks := []struct {
				op  string
				err error
			}{
				{"Ping", c.Ping(ctx)},
				{"Catalog", c.Catalog(ctx, func([]string) error { return nil })},
				{"Tags", second(c.Tags(ctx, "app"))},
				{"Head", second(c.Head(ctx, "app", "v1"))},
				{"Blob", second(c.Blob(ctx, "app", must(img.ConfigName()).String()))},
			}
			for _, ch := range checks {
				if tt.want == nil && ch.err != nil {
					t.Errorf("%s: %v", ch.op, ch.err)
				}
				if tt.want != nil && (!errors.Is(ch.err, tt.want) || !errors.Is(ch.err, customs.ErrRegistryAuth)) {
					t.Errorf("%s error = %v, want %v and customs.ErrRegistryAuth", ch.op, ch.err, tt.want)
				}
				if ch.err != nil && tt.password != "" && strings.Contains(ch.err.Error(), tt.password) {
					t.Errorf("%s error %q shows the password", ch.op, ch.err)
				}
			}
			if tt.want != nil {
				// What a sync task's failed_reason shows.
				want := fmt.Sprintf("list catalog of %s: unauthorized: authentication required", r.Addr)
				if got := checks[1].err.Error(); got != want {
					t.Errorf("Catalog error = %q, want %q", got, want)
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestDistributionIndex(t *testing.T) {
	r := testregistry.Start(t)
	amd := ociImage(t, linuxAMD64, created1)
	arm := ociImage(t, linuxARM64, created2)
	att := attestation(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: v1Platform(linuxARM64)}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: v1Platform(linuxAMD64)}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		}},
	)
	pushIndex(t, r.Addr, "multi", "latest", idx)
	c, rec := pinged(t, anonymous(r.Addr))

	digest, err := c.Head(t.Context(), "multi", "latest")
	if err != nil {
		t.Fatal(err)
	}
	if want := must(idx.Digest()).String(); digest != want {
		t.Errorf("Head(multi, latest) = %s, want %s", digest, want)
	}
	rec.take()

	got, children, err := c.Inspect(t.Context(), "multi", "latest", nil)
	if err != nil {
		t.Fatal(err)
	}
	amdWant := wantImage(t, amd, linuxAMD64, created1)
	armWant := wantUnread(t, arm, linuxARM64)
	want := &customs.Manifest{
		Digest:       digest,
		MediaType:    string(types.OCIImageIndex),
		Kind:         customs.KindIndex,
		ConfigDigest: amdWant.ConfigDigest,
		Size:         armWant.Size + amdWant.Size,
		Created:      created1,
		Scannable:    true,
		Children: []customs.ChildImage{
			{Digest: armWant.Digest, Platform: linuxARM64},
			{Digest: amdWant.Digest, Platform: linuxAMD64},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Inspect(multi, latest) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]*customs.Manifest{armWant, amdWant}, children); diff != "" {
		t.Errorf("Inspect(multi, latest) children mismatch (-want +got):\n%s", diff)
	}
	wantReqs := []string{
		"GET /v2/multi/manifests/latest",
		"GET /v2/multi/manifests/" + armWant.Digest,
		"GET /v2/multi/manifests/" + amdWant.Digest,
		"GET /v2/multi/blobs/" + amdWant.ConfigDigest,
	}
	if diff := cmp.Diff(wantReqs, rec.take()); diff != "" {
		t.Errorf("Inspect(multi, latest) requests mismatch (-want +got):\n%s", diff)
	}

	// Deleting the manifest takes the tag with it.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, r.URL()+"/v2/multi/manifests/"+digest, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest = %d, want 202", resp.StatusCode)
	}
	if _, err := c.Head(t.Context(), "multi", "latest"); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("Head(multi, latest) after delete = %v, want ErrNotFound", err)
	}
}

func TestDistributionHelmChart(t *testing.T) {
	r := testregistry.Start(t)
	const repo = "charts/app"
	// Distribution accepts a manifest only when the blobs it lists are there.
	cfg := putBlob(t, r.Addr, repo, []byte(`{"name":"app","version":"1.2.3","apiVersion":"v2"}`), "application/vnd.cncf.helm.config.v1+json")
	chart := putBlob(t, r.Addr, repo, []byte("not really a gzipped tar, but the registry does not look"), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
	body, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config:      cfg,
		Layers:      []v1.Descriptor{chart},
		Annotations: map[string]string{"org.opencontainers.image.created": "2024-05-06T07:08:09Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	digest := putManifest(t, r.Addr, repo, "1.2.3", string(types.OCIManifestSchema1), body)
	c, rec := pinged(t, anonymous(r.Addr))

	got, children, err := c.Inspect(t.Context(), repo, "1.2.3", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &customs.Manifest{
		Digest:       digest,
		MediaType:    string(types.OCIManifestSchema1),
		Kind:         customs.KindArtifact,
		ConfigDigest: cfg.Digest.String(),
		Size:         cfg.Size + chart.Size,
		Created:      created1,
		Blobs: []customs.Blob{
			{Digest: cfg.Digest.String(), MediaType: "application/vnd.cncf.helm.config.v1+json", Size: cfg.Size},
			{Digest: chart.Digest.String(), MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Size: chart.Size},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Inspect(%s, 1.2.3) mismatch (-want +got):\n%s", repo, diff)
	}
	if children != nil {
		t.Errorf("Inspect(%s, 1.2.3) children = %v, want none", repo, children)
	}
	if diff := cmp.Diff([]string{"GET /v2/" + repo + "/manifests/1.2.3"}, rec.take()); diff != "" {
		t.Errorf("Inspect(%s, 1.2.3) requests mismatch (-want +got):\n%s", repo, diff)
	}
}
