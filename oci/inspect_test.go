package oci_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"customs"
	"customs/oci"
)

var (
	created1 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	created2 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

// manifestJSON renders an OCI-style manifest.
func manifestJSON(t *testing.T, m v1.Manifest) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInspectSingleManifest(t *testing.T) {
	addr := newRegistry(t)
	const repo = "team/app"
	manifestGET := func(ref string) string { return "GET /v2/" + repo + "/manifests/" + ref }
	blobGET := func(d string) string { return "GET /v2/" + repo + "/blobs/" + d }

	tests := []struct {
		name string
		// setup pushes under tag name and returns the expected manifest.
		setup        func(t *testing.T, tag string) *customs.Manifest
		wantRequests func(m *customs.Manifest) []string
	}{
		{
			name: "docker image linux/amd64",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				img := dockerImage(t, linuxAMD64, created1)
				pushImage(t, addr, repo, tag, img)
				return wantImage(t, img, linuxAMD64, created1)
			},
		},
		{
			name: "oci image linux/arm64/v8",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				img := ociImage(t, linuxARM64, created2)
				pushImage(t, addr, repo, tag, img)
				return wantImage(t, img, linuxARM64, created2)
			},
		},
		{
			name: "windows image is not scannable",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				img := dockerImage(t, winAMD64, created1)
				pushImage(t, addr, repo, tag, img)
				m := wantImage(t, img, winAMD64, created1)
				if m.Scannable {
					t.Fatal("windows image expected not scannable")
				}
				return m
			},
		},
		{
			name: "image without layers",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				img := dockerImage(t, linuxAMD64, created1, []v1.Layer{}...)
				img, err := mutate.ConfigFile(empty.Image, must(img.ConfigFile()))
				if err != nil {
					t.Fatal(err)
				}
				pushImage(t, addr, repo, tag, img)
				return wantImage(t, img, linuxAMD64, created1)
			},
		},
		{
			name: "config blob that is not JSON: recorded, not scannable",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				cfg := putBlob(t, addr, repo, []byte("this is not JSON"), types.DockerConfigJSON)
				layer := v1.Descriptor{MediaType: types.DockerLayer, Digest: fakeDigest("layer"), Size: 1000}
				body := manifestJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: cfg, Layers: []v1.Descriptor{layer}})
				d := putManifest(t, addr, repo, tag, string(types.DockerManifestSchema2), body)
				return &customs.Manifest{Digest: d, MediaType: string(types.DockerManifestSchema2), Kind: customs.KindImage,
					ConfigDigest: cfg.Digest.String(), Size: cfg.Size + 1000, Blobs: blobs(cfg, layer)}
			},
		},
		{
			name: "generic content type: media type from the body",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				img := ociImage(t, linuxAMD64, created1)
				pushImage(t, addr, repo, tag+"-src", img)
				d := putManifest(t, addr, repo, tag, "application/json", must(img.RawManifest()))
				want := wantImage(t, img, linuxAMD64, created1)
				want.Digest = d
				return want
			},
		},
		{
			name: "docker schema 1",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				body := []byte(`{"schemaVersion":1,"name":"team/app","tag":"old","architecture":"amd64",` +
					`"fsLayers":[{"blobSum":"` + fakeDigest("s1").String() + `"}],"history":[{"v1Compatibility":"{}"}],` +
					`"signatures":[{"header":{"alg":"ES256"},"signature":"c2ln","protected":"e30"}]}`)
				d := putManifest(t, addr, repo, tag, string(types.DockerManifestSchema1Signed), body)
				return &customs.Manifest{Digest: d, MediaType: string(types.DockerManifestSchema1Signed), Kind: customs.KindSchema1}
			},
		},
		{
			name: "helm chart",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				cfg := v1.Descriptor{MediaType: "application/vnd.cncf.helm.config.v1+json", Digest: fakeDigest("helm config"), Size: 117}
				chart := v1.Descriptor{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Digest: fakeDigest("chart"), Size: 2345}
				body := manifestJSON(t, v1.Manifest{
					SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
					Config:      cfg,
					Layers:      []v1.Descriptor{chart},
					Annotations: map[string]string{"org.opencontainers.image.created": "2024-05-06T07:08:09Z"},
				})
				d := putManifest(t, addr, repo, tag, string(types.OCIManifestSchema1), body)
				// The config first, then the chart.
				want := []customs.Blob{
					{Digest: cfg.Digest.String(), MediaType: "application/vnd.cncf.helm.config.v1+json", Size: 117},
					{Digest: chart.Digest.String(), MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Size: 2345},
				}
				return &customs.Manifest{Digest: d, MediaType: string(types.OCIManifestSchema1), Kind: customs.KindArtifact,
					ConfigDigest: cfg.Digest.String(), Size: 117 + 2345, Created: created1, Blobs: want}
			},
		},
		{
			name: "cosign signature",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				cfg := v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: fakeDigest("cosign config"), Size: 233}
				sig := v1.Descriptor{
					MediaType:   "application/vnd.dev.cosign.simplesigning.v1+json",
					Digest:      fakeDigest("payload"),
					Size:        250,
					Annotations: map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQ"},
				}
				body := manifestJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{sig}})
				d := putManifest(t, addr, repo, tag, string(types.OCIManifestSchema1), body)
				return &customs.Manifest{Digest: d, MediaType: string(types.OCIManifestSchema1), Kind: customs.KindArtifact,
					ConfigDigest: cfg.Digest.String(), Size: 233 + 250, Blobs: blobs(cfg, sig)}
			},
		},
		{
			name: "artifactType with an image config and tar layers",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				cfg := v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: fakeDigest("sbom config"), Size: 2}
				sbom := v1.Descriptor{MediaType: types.OCILayer, Digest: fakeDigest("sbom"), Size: 4096}
				body := manifestJSON(t, v1.Manifest{
					SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: "application/spdx+json",
					Config:      cfg,
					Layers:      []v1.Descriptor{sbom},
					Annotations: map[string]string{"org.opencontainers.image.created": "not a time"},
				})
				d := putManifest(t, addr, repo, tag, string(types.OCIManifestSchema1), body)
				return &customs.Manifest{Digest: d, MediaType: string(types.OCIManifestSchema1), Kind: customs.KindArtifact,
					ConfigDigest: cfg.Digest.String(), Size: 2 + 4096, Blobs: blobs(cfg, sbom)}
			},
		},
		{
			name: "in-toto layer",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				img := attestation(t)
				pushImage(t, addr, repo, tag, img)
				want := wantUnread(t, img, customs.Platform{})
				want.Kind = customs.KindArtifact
				return want
			},
		},
		{
			name: "oci artifact manifest: its blobs",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				const mt = "application/vnd.oci.artifact.manifest.v1+json"
				sbom := v1.Descriptor{MediaType: "application/spdx+json", Digest: fakeDigest("artifact sbom"), Size: 3000}
				sig := v1.Descriptor{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Digest: fakeDigest("artifact sig"), Size: 40}
				body, err := json.Marshal(map[string]any{
					"mediaType":    mt,
					"artifactType": "application/spdx+json",
					"blobs":        []v1.Descriptor{sbom, sig},
					"annotations":  map[string]string{"org.opencontainers.image.created": "2025-01-02T03:04:05Z"},
				})
				if err != nil {
					t.Fatal(err)
				}
				d := putManifest(t, addr, repo, tag, mt, body)
				return &customs.Manifest{Digest: d, MediaType: mt, Kind: customs.KindArtifact,
					Size: 3000 + 40, Created: created2, Blobs: blobs(sbom, sig)}
			},
		},
		{
			name: "layer listed twice: Blobs and Size as the manifest lists them",
			setup: func(t *testing.T, tag string) *customs.Manifest {
				l := randomLayer(t, types.DockerLayer)
				img := dockerImage(t, linuxAMD64, created1, l, l)
				pushImage(t, addr, repo, tag, img)
				want := wantImage(t, img, linuxAMD64, created1)
				if len(want.Blobs) != 3 || want.Blobs[1] != want.Blobs[2] {
					t.Fatalf("test image blobs = %v, want its config and one layer twice", want.Blobs)
				}
				return want
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := fmt.Sprintf("case%d", i)
			want := tt.setup(t, tag)
			c, rec := pinged(t, anonymous(addr))

			got, children, err := c.Inspect(t.Context(), repo, tag, nil)
			if err != nil {
				t.Fatalf("Inspect(%s:%s): %v", repo, tag, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Inspect(%s:%s) mismatch (-want +got):\n%s", repo, tag, diff)
			}
			if len(children) != 0 {
				t.Errorf("Inspect(%s:%s) children = %v, want none", repo, tag, children)
			}
			wantReqs := []string{manifestGET(tag)}
			if want.Kind == customs.KindImage {
				wantReqs = append(wantReqs, blobGET(want.ConfigDigest))
			}
			if diff := cmp.Diff(wantReqs, rec.take()); diff != "" {
				t.Errorf("Inspect(%s:%s) requests mismatch (-want +got):\n%s", repo, tag, diff)
			}
		})
	}
}

func TestInspectIndex(t *testing.T) {
	addr := newRegistry(t)
	const repo = "multi"

	shared := randomLayer(t, types.DockerLayer)
	amd := dockerImage(t, linuxAMD64, created1, shared, randomLayer(t, types.DockerLayer))
	arm := dockerImage(t, linuxARM64, created2, shared, randomLayer(t, types.DockerLayer))
	win := dockerImage(t, winAMD64, created2)
	att := attestation(t)
	amdDigest := must(amd.Digest()).String()

	// Windows first: the chosen child is linux/amd64 wherever it is.
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: win, Descriptor: v1.Descriptor{Platform: v1Platform(winAMD64)}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: v1Platform(linuxAMD64)}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: v1Platform(linuxARM64)}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amdDigest},
		}},
	)
	pushIndex(t, addr, repo, "v1", idx)
	idxDigest := must(idx.Digest()).String()

	winWant := wantUnread(t, win, winAMD64)
	amdWant := wantImage(t, amd, linuxAMD64, created1)
	armWant := wantUnread(t, arm, linuxARM64)
	want := &customs.Manifest{
		Digest:       idxDigest,
		MediaType:    string(types.OCIImageIndex),
		Kind:         customs.KindIndex,
		ConfigDigest: amdWant.ConfigDigest,
		Size:         sum(blobSizes(t, map[string]int64{}, win, amd, arm)),
		Created:      created1,
		Scannable:    true,
		Children: []customs.ChildImage{
			{Digest: winWant.Digest, Platform: winAMD64},
			{Digest: amdWant.Digest, Platform: linuxAMD64},
			{Digest: armWant.Digest, Platform: linuxARM64},
		},
	}
	if want.Size >= winWant.Size+amdWant.Size+armWant.Size {
		t.Fatal("test images share no blob: the distinct-blob size is not exercised")
	}
	manifestGET := func(ref string) string { return "GET /v2/" + repo + "/manifests/" + ref }
	configGET := "GET /v2/" + repo + "/blobs/" + amdWant.ConfigDigest

	knownAMD := *amdWant
	knownAMDNoCreated := *amdWant
	knownAMDNoCreated.Created = time.Time{}
	withoutCreated := *want
	withoutCreated.Created = created1 // read from the config blob again

	tests := []struct {
		name         string
		known        map[string]*customs.Manifest
		want         *customs.Manifest
		wantChildren []*customs.Manifest
		wantRequests []string
	}{
		{
			name:         "nothing known",
			want:         want,
			wantChildren: []*customs.Manifest{winWant, amdWant, armWant},
			wantRequests: []string{manifestGET("v1"), manifestGET(winWant.Digest), manifestGET(amdWant.Digest), configGET, manifestGET(armWant.Digest)},
		},
		{
			name:  "chosen child known",
			known: map[string]*customs.Manifest{amdWant.Digest: &knownAMD},
			// The known child's blobs count once with the others'.
			want:         want,
			wantChildren: []*customs.Manifest{winWant, armWant},
			wantRequests: []string{manifestGET("v1"), manifestGET(winWant.Digest), manifestGET(armWant.Digest)},
		},
		{
			name:         "chosen child known without created time",
			known:        map[string]*customs.Manifest{amdWant.Digest: &knownAMDNoCreated, winWant.Digest: winWant, armWant.Digest: armWant},
			want:         &withoutCreated,
			wantRequests: []string{manifestGET("v1"), configGET},
		},
		{
			name:         "index known",
			known:        map[string]*customs.Manifest{idxDigest: want},
			want:         want,
			wantRequests: []string{manifestGET("v1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One request at a time: Inspect never holds a response open
			// while it sends the next request.
			c, rec := pinged(t, anonymous(addr), oci.WithConcurrency(1))
			var asked []string
			known := func(d string) *customs.Manifest {
				asked = append(asked, d)
				return tt.known[d]
			}
			got, children, err := c.Inspect(t.Context(), repo, "v1", known)
			if err != nil {
				t.Fatalf("Inspect(%s:v1): %v", repo, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Inspect(%s:v1) mismatch (-want +got):\n%s", repo, diff)
			}
			if diff := cmp.Diff(tt.wantChildren, children); diff != "" {
				t.Errorf("Inspect(%s:v1) children mismatch (-want +got):\n%s", repo, diff)
			}
			if diff := cmp.Diff(tt.wantRequests, rec.take()); diff != "" {
				t.Errorf("Inspect(%s:v1) requests mismatch (-want +got):\n%s", repo, diff)
			}
			if asked[0] != idxDigest {
				t.Errorf("Inspect asked known(%s) first, want the index digest %s", asked[0], idxDigest)
			}
			for _, d := range asked {
				if d == must(att.Digest()).String() {
					t.Errorf("Inspect asked known() about the attestation manifest %s", d)
				}
			}
		})
	}
}

func TestInspectIndexVariants(t *testing.T) {
	addr := newRegistry(t)
	const repo = "variants"
	win := dockerImage(t, winAMD64, created1)
	arm := dockerImage(t, linuxARM64, created2)
	amd := dockerImage(t, linuxAMD64, created1)
	nested := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: v1Platform(linuxAMD64)}})
	withNested := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: nested, Descriptor: v1.Descriptor{Platform: v1Platform(linuxAMD64)}},
		mutate.IndexAddendum{Add: win, Descriptor: v1.Descriptor{Platform: v1Platform(winAMD64)}},
	)
	wantWithNested := func(idx v1.ImageIndex) *customs.Manifest {
		w := wantUnread(t, win, winAMD64)
		return &customs.Manifest{
			Digest: must(idx.Digest()).String(), MediaType: string(types.OCIImageIndex), Kind: customs.KindIndex,
			Size: w.Size,
			Children: []customs.ChildImage{
				{Digest: must(nested.Digest()).String(), Platform: linuxAMD64},
				{Digest: w.Digest, Platform: winAMD64},
			},
		}
	}
	// The nested index as a store holds it once it was inspected on its own.
	a := wantImage(t, amd, linuxAMD64, created1)
	nestedKnown := &customs.Manifest{
		Digest: must(nested.Digest()).String(), MediaType: string(types.OCIImageIndex), Kind: customs.KindIndex,
		ConfigDigest: a.ConfigDigest, Size: a.Size, Created: created1, Scannable: true,
		Children: []customs.ChildImage{{Digest: a.Digest, Platform: linuxAMD64}},
	}

	tests := []struct {
		name         string
		idx          v1.ImageIndex
		known        map[string]*customs.Manifest
		want         func(idx v1.ImageIndex) *customs.Manifest
		wantChildren []*customs.Manifest
	}{
		{
			name: "windows only: not scannable, the first child is chosen",
			idx:  mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: win, Descriptor: v1.Descriptor{Platform: v1Platform(winAMD64)}}),
			want: func(idx v1.ImageIndex) *customs.Manifest {
				w := wantImage(t, win, winAMD64, created1)
				return &customs.Manifest{
					Digest: must(idx.Digest()).String(), MediaType: string(types.OCIImageIndex), Kind: customs.KindIndex,
					ConfigDigest: w.ConfigDigest, Size: w.Size, Created: created1,
					Children: []customs.ChildImage{{Digest: w.Digest, Platform: winAMD64}},
				}
			},
			wantChildren: []*customs.Manifest{wantImage(t, win, winAMD64, created1)},
		},
		{
			name: "docker manifest list without amd64: the first child is chosen",
			idx: mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
				mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: v1Platform(linuxARM64)}},
				mutate.IndexAddendum{Add: win, Descriptor: v1.Descriptor{Platform: v1Platform(winAMD64)}},
			), types.DockerManifestList),
			want: func(idx v1.ImageIndex) *customs.Manifest {
				a := wantImage(t, arm, linuxARM64, created2)
				w := wantUnread(t, win, winAMD64)
				return &customs.Manifest{
					Digest: must(idx.Digest()).String(), MediaType: string(types.DockerManifestList), Kind: customs.KindIndex,
					ConfigDigest: a.ConfigDigest, Size: a.Size + w.Size, Created: created2, Scannable: true,
					Children: []customs.ChildImage{{Digest: a.Digest, Platform: linuxARM64}, {Digest: w.Digest, Platform: winAMD64}},
				}
			},
			wantChildren: []*customs.Manifest{wantImage(t, arm, linuxARM64, created2), wantUnread(t, win, winAMD64)},
		},
		{
			name:         "nested index: listed, not fetched, not scannable",
			idx:          withNested,
			want:         wantWithNested,
			wantChildren: []*customs.Manifest{wantUnread(t, win, winAMD64)},
		},
		{
			name:         "nested index known: described as when it is not",
			idx:          withNested,
			known:        map[string]*customs.Manifest{nestedKnown.Digest: nestedKnown},
			want:         wantWithNested,
			wantChildren: []*customs.Manifest{wantUnread(t, win, winAMD64)},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := fmt.Sprintf("case%d", i)
			pushIndex(t, addr, repo, tag, tt.idx)
			c, _ := pinged(t, anonymous(addr))
			got, children, err := c.Inspect(t.Context(), repo, tag, func(d string) *customs.Manifest { return tt.known[d] })
			if err != nil {
				t.Fatalf("Inspect(%s:%s): %v", repo, tag, err)
			}
			if diff := cmp.Diff(tt.want(tt.idx), got); diff != "" {
				t.Errorf("Inspect(%s:%s) mismatch (-want +got):\n%s", repo, tag, diff)
			}
			if diff := cmp.Diff(tt.wantChildren, children); diff != "" {
				t.Errorf("Inspect(%s:%s) children mismatch (-want +got):\n%s", repo, tag, diff)
			}
		})
	}
}

func TestInspectKnownDigest(t *testing.T) {
	addr := newRegistry(t)
	img := dockerImage(t, linuxAMD64, created1)
	pushImage(t, addr, "app", "v1", img)
	digest := must(img.Digest()).String()
	stored := &customs.Manifest{Digest: digest, Kind: customs.KindImage, Size: 42}
	known := func(d string) *customs.Manifest {
		if d == digest {
			return stored
		}
		return nil
	}

	tests := []struct {
		name         string
		ref          string
		wantRequests []string
	}{
		{name: "by digest: no request", ref: digest},
		{name: "by tag: the manifest GET only", ref: "v1", wantRequests: []string{"GET /v2/app/manifests/v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := pinged(t, anonymous(addr))
			got, children, err := c.Inspect(t.Context(), "app", tt.ref, known)
			if err != nil {
				t.Fatalf("Inspect(app, %s): %v", tt.ref, err)
			}
			if got != stored || children != nil {
				t.Errorf("Inspect(app, %s) = %+v, %v; want the known manifest and no children", tt.ref, got, children)
			}
			if diff := cmp.Diff(tt.wantRequests, rec.take()); diff != "" {
				t.Errorf("Inspect(app, %s) requests mismatch (-want +got):\n%s", tt.ref, diff)
			}
		})
	}
}

func TestInspectByDigestVerifiesContent(t *testing.T) {
	addr := newRegistry(t)
	img := dockerImage(t, linuxAMD64, created1)
	pushImage(t, addr, "app", "v1", img)
	c, _ := pinged(t, anonymous(addr))

	got, _, err := c.Inspect(t.Context(), "app", must(img.Digest()).String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantImage(t, img, linuxAMD64, created1), got); diff != "" {
		t.Errorf("Inspect by digest mismatch (-want +got):\n%s", diff)
	}
}

// TestInspectIndexSharedLayer checks that an index counts a layer its
// platforms share once, whether its children are fetched or known.
func TestInspectIndexSharedLayer(t *testing.T) {
	addr := newRegistry(t)
	const repo = "shared"

	// The same COPY on top of each platform's base gives the same layer.
	app, err := crane.Layer(map[string][]byte{"app/config.yaml": []byte("listen: :8080\n")})
	if err != nil {
		t.Fatal(err)
	}
	amd := dockerImage(t, linuxAMD64, created1, randomLayer(t, types.DockerLayer), app)
	arm := dockerImage(t, linuxARM64, created2, randomLayer(t, types.DockerLayer), app)
	// arm64 first, so that the chosen child (linux/amd64) is not the first.
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: v1Platform(linuxARM64)}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: v1Platform(linuxAMD64)}},
	)
	pushIndex(t, addr, repo, "v1", idx)

	amdWant := wantImage(t, amd, linuxAMD64, created1)
	armWant := wantUnread(t, arm, linuxARM64)
	appBlob := customs.Blob{Digest: must(app.Digest()).String(), MediaType: string(must(app.MediaType())), Size: must(app.Size())}
	if amdWant.Blobs[2] != appBlob || armWant.Blobs[2] != appBlob || amdWant.Blobs[1] == armWant.Blobs[1] || amdWant.Blobs[0] == armWant.Blobs[0] {
		t.Fatalf("test images: amd64 blobs %v, arm64 blobs %v; want different configs and bases, and the same top layer %v", amdWant.Blobs, armWant.Blobs, appBlob)
	}
	want := &customs.Manifest{
		Digest:       must(idx.Digest()).String(),
		MediaType:    string(types.OCIImageIndex),
		Kind:         customs.KindIndex,
		ConfigDigest: amdWant.ConfigDigest,
		Size:         armWant.Size + amdWant.Size - appBlob.Size,
		Created:      created1,
		Scannable:    true,
		Children: []customs.ChildImage{
			{Digest: armWant.Digest, Platform: linuxARM64},
			{Digest: amdWant.Digest, Platform: linuxAMD64},
		},
	}
	manifestGET := func(ref string) string { return "GET /v2/" + repo + "/manifests/" + ref }
	configGET := "GET /v2/" + repo + "/blobs/" + amdWant.ConfigDigest

	tests := []struct {
		name         string
		known        []*customs.Manifest // as a store hands them back
		wantChildren []*customs.Manifest
		wantRequests []string
	}{
		{
			name:         "nothing known",
			wantChildren: []*customs.Manifest{armWant, amdWant},
			wantRequests: []string{manifestGET("v1"), manifestGET(armWant.Digest), manifestGET(amdWant.Digest), configGET},
		},
		{
			name:         "other child known",
			known:        []*customs.Manifest{armWant},
			wantChildren: []*customs.Manifest{amdWant},
			wantRequests: []string{manifestGET("v1"), manifestGET(amdWant.Digest), configGET},
		},
		{
			name:         "chosen child known",
			known:        []*customs.Manifest{amdWant},
			wantChildren: []*customs.Manifest{armWant},
			wantRequests: []string{manifestGET("v1"), manifestGET(armWant.Digest)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := pinged(t, anonymous(addr), oci.WithConcurrency(1))
			stored := map[string]*customs.Manifest{}
			for _, m := range tt.known {
				stored[m.Digest] = cloneManifest(m)
			}
			known := func(d string) *customs.Manifest { return stored[d] }

			got, children, err := c.Inspect(t.Context(), repo, "v1", known)
			if err != nil {
				t.Fatalf("Inspect(%s:v1): %v", repo, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Inspect(%s:v1) mismatch (-want +got):\n%s", repo, diff)
			}
			if diff := cmp.Diff(tt.wantChildren, children); diff != "" {
				t.Errorf("Inspect(%s:v1) children mismatch (-want +got):\n%s", repo, diff)
			}
			if diff := cmp.Diff(tt.wantRequests, rec.take()); diff != "" {
				t.Errorf("Inspect(%s:v1) requests mismatch (-want +got):\n%s", repo, diff)
			}
			for _, m := range tt.known {
				if diff := cmp.Diff(m, stored[m.Digest]); diff != "" {
					t.Errorf("Inspect(%s:v1) changed the known manifest %s (-before +after):\n%s", repo, m.Digest, diff)
				}
			}
		})
	}
}

// cloneManifest is a copy of m that shares no memory with it, as a store
// returns a manifest it holds.
func cloneManifest(m *customs.Manifest) *customs.Manifest {
	c := *m
	c.Children = slices.Clone(m.Children)
	c.Blobs = slices.Clone(m.Blobs)
	return &c
}

func TestInspectNoBlobs(t *testing.T) {
	addr := newRegistry(t)
	const repo = "noblobs"
	amd := dockerImage(t, linuxAMD64, created1)
	arm := dockerImage(t, linuxARM64, created2)
	index := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: v1Platform(linuxAMD64)}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: v1Platform(linuxARM64)}},
	)
	schema1 := func(signed bool) []byte {
		s := `{"schemaVersion":1,"name":"noblobs","tag":"old","architecture":"amd64",` +
			`"fsLayers":[{"blobSum":"` + fakeDigest("layer a").String() + `"},{"blobSum":"` + fakeDigest("layer b").String() + `"}],` +
			`"history":[{"v1Compatibility":"{}"},{"v1Compatibility":"{}"}]`
		if signed {
			s += `,"signatures":[{"header":{"alg":"ES256"},"signature":"c2ln","protected":"e30"}]`
		}
		return []byte(s + "}")
	}

	tests := []struct {
		name     string
		push     func(t *testing.T, tag string)
		wantKind customs.ManifestKind
		known    func(d string) *customs.Manifest
	}{
		{
			name: "signed schema 1",
			push: func(t *testing.T, tag string) {
				putManifest(t, addr, repo, tag, string(types.DockerManifestSchema1Signed), schema1(true))
			},
			wantKind: customs.KindSchema1,
		},
		{
			name: "unsigned schema 1",
			push: func(t *testing.T, tag string) {
				putManifest(t, addr, repo, tag, string(types.DockerManifestSchema1), schema1(false))
			},
			wantKind: customs.KindSchema1,
		},
		{
			name:     "oci index",
			push:     func(t *testing.T, tag string) { pushIndex(t, addr, repo, tag, index) },
			wantKind: customs.KindIndex,
		},
		{
			name: "docker manifest list",
			push: func(t *testing.T, tag string) {
				pushIndex(t, addr, repo, tag, mutate.IndexMediaType(index, types.DockerManifestList))
			},
			wantKind: customs.KindIndex,
		},
		{
			name: "index with known children",
			push: func(t *testing.T, tag string) { pushIndex(t, addr, repo, tag, index) },
			known: func(d string) *customs.Manifest {
				switch d {
				case must(amd.Digest()).String():
					return wantImage(t, amd, linuxAMD64, created1)
				case must(arm.Digest()).String():
					return wantUnread(t, arm, linuxARM64)
				}
				return nil
			},
			wantKind: customs.KindIndex,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := fmt.Sprintf("case%d", i)
			tt.push(t, tag)
			c, _ := pinged(t, anonymous(addr))
			got, _, err := c.Inspect(t.Context(), repo, tag, tt.known)
			if err != nil {
				t.Fatalf("Inspect(%s:%s): %v", repo, tag, err)
			}
			if got.Kind != tt.wantKind {
				t.Errorf("Inspect(%s:%s) kind = %q, want %q", repo, tag, got.Kind, tt.wantKind)
			}
			if len(got.Blobs) != 0 {
				t.Errorf("Inspect(%s:%s) blobs = %v, want none", repo, tag, got.Blobs)
			}
		})
	}
}
