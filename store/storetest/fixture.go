package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// fixture is a store with one domain, two projects and a clock.
type fixture struct {
	s            Store
	clock        *clock
	domain       *customs.Domain
	admin        *customs.User
	projA, projB *customs.Project
	allA, allB   customs.Scope
}

func newFixture(t *testing.T, open Opener) *fixture {
	t.Helper()
	f := &fixture{clock: newClock()}
	f.s = open(t, "main", f.clock.now)
	f.domain = &customs.Domain{Name: "acme"}
	f.admin = &customs.User{Name: "admin", PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", Admin: true, Enabled: true}
	f.projA = &customs.Project{Name: "region-a", Enabled: true}
	created, err := f.s.Bootstrap(t.Context(), f.domain, f.admin, f.projA)
	if err != nil || !created {
		t.Fatalf("Bootstrap() = %v, %v; want true, nil", created, err)
	}
	f.projB = &customs.Project{DomainID: f.domain.ID, Name: "region-b", Enabled: true}
	if err := f.s.CreateProject(t.Context(), f.projB); err != nil {
		t.Fatalf("CreateProject() = %v", err)
	}
	f.allA, f.allB = customs.ProjectScope(f.projA.ID), customs.ProjectScope(f.projB.ID)
	return f
}

func (f *fixture) registry(t *testing.T, scope customs.Scope, name string, typ customs.RegistryType, ep string) *customs.Registry {
	t.Helper()
	r := &customs.Registry{Name: name, Type: typ, Protocol: "https", Addr: name + ".example.com:5000", Username: "robot", Password: "s3cret-" + name, EnterpriseProjectID: ep}
	if err := f.s.CreateRegistry(t.Context(), scope, r); err != nil {
		t.Fatalf("CreateRegistry(%s) = %v", name, err)
	}
	f.clock.add(time.Millisecond) // registries list in creation order
	return r
}

// digest returns a sha256 digest made from seed.
func digest(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// image returns a single-platform linux/amd64 image manifest made from seed.
func image(seed string, size int64) *customs.Manifest {
	return &customs.Manifest{
		Digest: digest(seed), MediaType: "application/vnd.oci.image.manifest.v1+json", Kind: customs.KindImage,
		ConfigDigest: digest("config-" + seed), Size: size, Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
		Blobs: []customs.Blob{
			{Digest: digest("config-" + seed), MediaType: "application/vnd.oci.image.config.v1+json", Size: 100},
			{Digest: digest("layer-" + seed), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: max(size-100, 0)},
		},
	}
}

// put stores manifest m and points tag repo:tag of reg at it, updated at when.
func (f *fixture) put(t *testing.T, reg *customs.Registry, repo, tag string, m *customs.Manifest, when time.Time) customs.SyncCounts {
	t.Helper()
	if err := f.s.PutManifests(t.Context(), []*customs.Manifest{m}); err != nil {
		t.Fatalf("PutManifests() = %v", err)
	}
	ns, name := customs.SplitRepository(repo)
	c, err := f.s.ApplyRepositoryUpdates(t.Context(), customs.ProjectScope(reg.ProjectID), reg.ID, []customs.RepositoryUpdate{{
		Namespace: ns, Name: name, Upserts: []customs.TagState{{Tag: tag, Digest: m.Digest, UpdatedAt: when}},
	}})
	if err != nil {
		t.Fatalf("ApplyRepositoryUpdates(%s:%s) = %v", repo, tag, err)
	}
	return c
}

// all returns every image of type typ in scope, in list order, by paging
// with the largest page.
func (f *fixture) all(t *testing.T, scope customs.Scope, typ customs.ImageType) []*customs.Image {
	t.Helper()
	var out []*customs.Image
	for offset := 0; ; offset += 200 {
		page, total, err := f.s.FindImages(t.Context(), scope, customs.ImageFilter{Type: typ, Offset: offset, Limit: 200})
		if err != nil {
			t.Fatalf("FindImages() = %v", err)
		}
		out = append(out, page...)
		if offset+200 >= total {
			if len(out) != total {
				t.Fatalf("walked %d images, total says %d", len(out), total)
			}
			return out
		}
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := customs.ErrorCode(err); got != code {
		t.Errorf("error = %v (code %q), want code %q", err, got, code)
	}
}

func ptr[T any](v T) *T { return &v }

var timeMS = cmp.Comparer(func(a, b time.Time) bool { return customs.UnixMilli(a) == customs.UnixMilli(b) })
