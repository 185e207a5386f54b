package vulndb_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/vulndb"
)

func TestRematch(t *testing.T) {
	s := fixtureStore(t)
	leftPad := customs.Package{Name: "left-pad-x", Version: "1.0.0", Ecosystem: "npm"}
	limit := customs.Package{Name: "limitpkg", Version: "1.2", Ecosystem: "PyPI"}
	s.inventories = map[string][]customs.Package{
		"sha256:1": {leftPad, limit},
		"sha256:2": {{Name: "versionspkg", Version: "1.0.2", Ecosystem: "PyPI"}},
		"sha256:3": {{Name: "other", Version: "1.0.0", Ecosystem: "npm"}},
	}
	found := func() map[string][]string {
		out := map[string][]string{}
		for d, fs := range s.findings {
			out[d] = ids(fs)
		}
		return out
	}

	n, err := vulndb.Rematch(t.Context(), s, []customs.PackageKey{leftPad.Key()})
	if err != nil || n != 1 {
		t.Fatalf("Rematch(left-pad-x) = %d, %v; want 1 inventory", n, err)
	}
	// The inventory's findings are replaced whole: limitpkg's advisory,
	// not named by the keys, is matched too.
	if diff := cmp.Diff(map[string][]string{"sha256:1": {"TEST-LAST-AFFECTED", "TEST-LIMIT"}}, found()); diff != "" {
		t.Errorf("findings after Rematch(left-pad-x) (-want +got):\n%s", diff)
	}

	n, err = vulndb.Rematch(t.Context(), s, nil)
	if err != nil || n != 3 {
		t.Fatalf("Rematch(nil) = %d, %v; want 3 inventories", n, err)
	}
	want := map[string][]string{"sha256:1": {"TEST-LAST-AFFECTED", "TEST-LIMIT"}, "sha256:2": {"TEST-VERSIONS"}, "sha256:3": {}}
	if diff := cmp.Diff(want, found()); diff != "" {
		t.Errorf("findings after Rematch(nil) (-want +got):\n%s", diff)
	}

	n, err = vulndb.Rematch(t.Context(), s, []customs.PackageKey{{Ecosystem: "Go", Name: "nothing"}})
	if err != nil || n != 0 {
		t.Errorf("Rematch(unused key) = %d, %v; want 0", n, err)
	}
}

func TestRematchBatches(t *testing.T) {
	s := fixtureStore(t)
	for i := range 2500 {
		s.inventories[fmt.Sprintf("sha256:%05d", i)] = []customs.Package{{Name: "left-pad-x", Version: fmt.Sprintf("1.%d.0", i%4), Ecosystem: "npm"}}
	}
	n, err := vulndb.Rematch(t.Context(), s, []customs.PackageKey{{Ecosystem: "npm", Name: "left-pad-x"}})
	if err != nil || n != 2500 {
		t.Fatalf("Rematch() = %d, %v; want 2500", n, err)
	}
	if s.replaces != 3 {
		t.Errorf("ReplaceFindings called %d times for 2500 inventories, want 3 batches", s.replaces)
	}
	// 1.0.0, 1.1.0 and 1.2.0 are affected, 1.3.0 is not.
	if got := len(s.findings["sha256:00002"]); got != 1 {
		t.Errorf("inventory 2 (1.2.0) has %d findings, want 1", got)
	}
	if got := len(s.findings["sha256:00003"]); got != 0 {
		t.Errorf("inventory 3 (1.3.0) has %d findings, want 0", got)
	}
}

// BenchmarkRematch re-matches 10,000 inventories of 150 Debian packages
// each against the real Debian advisories.
func BenchmarkRematch(b *testing.B) {
	src := importedStore(b, "Debian")
	const eco = "Debian:10"
	var names []string
	for _, a := range src.advs {
		for _, k := range a.Affected {
			if k.Ecosystem == eco {
				names = append(names, k.Name)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	s := newMemStore()
	s.advs = src.advs
	s.discardFindings = true
	for i := range 10000 {
		pkgs := make([]customs.Package, 150)
		for j := range pkgs {
			name := names[(i*7+j)%len(names)]
			// One package in ten is old enough for every advisory.
			version := "99:1.0-1"
			if (i+j)%10 == 0 {
				version = "0.1-1"
			}
			pkgs[j] = customs.Package{Name: "lib" + name, Version: version, Ecosystem: eco, SourceName: name, SourceVersion: version, OS: true}
		}
		s.inventories[fmt.Sprintf("sha256:%064d", i)] = pkgs
	}
	keys := make([]customs.PackageKey, len(names))
	for i, n := range names {
		keys[i] = customs.PackageKey{Ecosystem: eco, Name: n}
	}
	b.ResetTimer()
	for b.Loop() {
		s.found = 0
		n, err := vulndb.Rematch(b.Context(), s, keys)
		if err != nil || n != 10000 {
			b.Fatalf("Rematch() = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(s.found), "findings")
	b.ReportMetric(float64(len(names)), "packages")
}
