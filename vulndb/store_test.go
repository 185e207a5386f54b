package vulndb_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"customs"
	"customs/internal/testdata"
	"customs/vulndb"
)

// osvZip returns the published OSV database of an ecosystem, read in place.
func osvZip(t testing.TB, ecosystem string) string {
	t.Helper()
	return testdata.OSV(t, ecosystem)
}

// memStore is an in-memory RematchStore. Imports are staged and kept only
// when the import function succeeds, like a transaction.
type memStore struct {
	mu          sync.Mutex
	advs        map[string]*customs.Advisory
	sources     []string
	inventories map[string][]customs.Package
	findings    map[string][]customs.Finding
	replaces    int // ReplaceFindings calls
	// discardFindings counts findings in found instead of keeping them.
	discardFindings bool
	found           int
}

var _ vulndb.RematchStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{advs: map[string]*customs.Advisory{}, inventories: map[string][]customs.Package{}, findings: map[string][]customs.Finding{}}
}

func (s *memStore) AdvisoryModified(ctx context.Context) (map[string]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.advs))
	for id, a := range s.advs {
		out[id] = a.Modified
	}
	return out, nil
}

func (s *memStore) ImportAdvisories(ctx context.Context, source string, fn func(put func(*customs.Advisory) error) error) error {
	staged := map[string]*customs.Advisory{}
	err := fn(func(a *customs.Advisory) error {
		staged[a.ID] = a
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.Copy(s.advs, staged)
	s.sources = append(s.sources, source)
	return nil
}

func (s *memStore) Advisories(ctx context.Context, keys []customs.PackageKey) ([]*customs.Advisory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[customs.PackageKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out []*customs.Advisory
	for _, a := range s.advs {
		if !a.Withdrawn.IsZero() {
			continue
		}
		if slices.ContainsFunc(a.Affected, func(k customs.PackageKey) bool { return want[k] }) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *customs.Advisory) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

func (s *memStore) Inventories(ctx context.Context, keys []customs.PackageKey, fn func(digest string, pkgs []customs.Package) error) error {
	s.mu.Lock()
	want := map[customs.PackageKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var digests []string
	for d, pkgs := range s.inventories {
		if keys == nil || slices.ContainsFunc(pkgs, func(p customs.Package) bool { return want[p.Key()] }) {
			digests = append(digests, d)
		}
	}
	slices.Sort(digests)
	inv := s.inventories
	s.mu.Unlock()
	for _, d := range digests {
		if err := fn(d, inv[d]); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) ReplaceFindings(ctx context.Context, findings map[string][]customs.Finding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replaces++
	if s.discardFindings {
		for _, fs := range findings {
			s.found += len(fs)
		}
		return nil
	}
	maps.Copy(s.findings, findings)
	return nil
}

func (s *memStore) FindingKeys(ctx context.Context, ids []string) ([]customs.PackageKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []customs.PackageKey
	for _, fs := range s.findings {
		for _, f := range fs {
			if slices.Contains(ids, f.VulnID) {
				out = append(out, f.Package.Key())
			}
		}
	}
	return out, nil
}

// imported caches one import of each real all.zip: reading AlmaLinux's
// takes seconds.
var imported = struct {
	sync.Mutex
	stores map[string]*memStore
}{stores: map[string]*memStore{}}

// importedStore returns a store holding the real advisories of ecosystem.
// Callers must not modify it.
func importedStore(t testing.TB, ecosystem string) *memStore {
	t.Helper()
	path := osvZip(t, ecosystem)
	imported.Lock()
	defer imported.Unlock()
	if s, ok := imported.stores[ecosystem]; ok {
		return s
	}
	s := newMemStore()
	if _, err := vulndb.Import(context.Background(), s, path); err != nil {
		t.Fatalf("Import(%s) = %v", path, err)
	}
	imported.stores[ecosystem] = s
	return s
}

// fixtureStore returns a store holding the records in testdata/osv.
func fixtureStore(t *testing.T) *memStore {
	t.Helper()
	s := newMemStore()
	if _, err := vulndb.Import(t.Context(), s, "testdata/osv"); err != nil {
		t.Fatalf("Import(testdata/osv) = %v", err)
	}
	return s
}
