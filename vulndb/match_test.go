package vulndb_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/vulndb"
)

// matcherFor builds a matcher from the advisories s holds for pkg.
func matcherFor(t *testing.T, s *memStore, pkg customs.Package) *vulndb.Matcher {
	t.Helper()
	advs, err := s.Advisories(t.Context(), []customs.PackageKey{pkg.Key()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := vulndb.NewMatcher(advs)
	if err != nil {
		t.Fatalf("NewMatcher() = %v", err)
	}
	return m
}

func ids(fs []customs.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.VulnID)
	}
	return out
}

func finding(fs []customs.Finding, id string) *customs.Finding {
	for i := range fs {
		if fs[i].VulnID == id {
			return &fs[i]
		}
	}
	return nil
}

func TestMatchRealData(t *testing.T) {
	libssl := func(eco, version string) customs.Package {
		return customs.Package{Name: "libssl1.1", Version: version + "+b1", Ecosystem: eco, SourceName: "openssl", SourceVersion: version, OS: true}
	}
	goPkg := func(name, version string) customs.Package {
		return customs.Package{Name: name, Version: version, Ecosystem: "Go", Path: "/app/server"}
	}
	alma := func(version string) customs.Package {
		return customs.Package{Name: "openssl", Version: version, Ecosystem: "AlmaLinux:9", OS: true}
	}
	tests := []struct {
		name      string
		ecosystem string // the OSV data to load
		pkg       customs.Package
		want      []string // every id found, in order
		notWant   []string
		fixed     map[string]string // FixedVersion of some findings
		severity  map[string]string
	}{
		{
			name: "Debian 11 openssl by source version", ecosystem: "Debian", pkg: libssl("Debian:11", "1.1.1n-0+deb11u1"),
			want:     []string{"DSA-5139-1", "DSA-5169-1", "DSA-5343-1"},
			notWant:  []string{"DSA-4963-1", "DSA-5103-1"},
			fixed:    map[string]string{"DSA-5139-1": "1.1.1n-0+deb11u2", "DSA-5343-1": "1.1.1n-0+deb11u4"},
			severity: map[string]string{"DSA-5139-1": "unknown"},
		},
		{
			name: "Debian 11 openssl at the last fix", ecosystem: "Debian", pkg: libssl("Debian:11", "1.1.1n-0+deb11u4"),
			want: []string{}, notWant: []string{"DSA-5343-1"},
		},
		{
			name: "Debian 12 is not Debian 11", ecosystem: "Debian", pkg: libssl("Debian:12", "1.1.1n-0+deb11u1"),
			want: []string{}, notWant: []string{"DSA-5139-1"},
		},
		{
			name: "Go module before fixes", ecosystem: "Go", pkg: goPkg("golang.org/x/net", "0.1.0"),
			want: []string{"GO-2022-1144", "GO-2023-1495", "GO-2023-1571", "GO-2023-1988", "GO-2023-2102", "GO-2024-2687", "GO-2024-3333",
				"GO-2025-3503", "GO-2025-3595", "GO-2026-4440", "GO-2026-4441", "GO-2026-4918", "GO-2026-5025", "GO-2026-5026", "GO-2026-5027",
				"GO-2026-5028", "GO-2026-5029", "GO-2026-5030", "GO-2026-5942"},
			notWant: []string{"GO-2020-0014", "GO-2021-0078", "GO-2022-0969"},
			fixed:   map[string]string{"GO-2022-1144": "0.4.0"},
		},
		{
			name: "Go stdlib", ecosystem: "Go", pkg: goPkg("stdlib", "1.20.1"),
			fixed: map[string]string{"GO-2023-1621": "1.20.2"},
		},
		{
			name: "Go stdlib with the go prefix", ecosystem: "Go", pkg: goPkg("stdlib", "go1.20.1"),
			fixed: map[string]string{"GO-2023-1621": "1.20.2"},
		},
		{
			name: "Go stdlib fixed", ecosystem: "Go", pkg: goPkg("stdlib", "1.20.2"),
			notWant: []string{"GO-2023-1621"},
		},
		{
			name: "Go stdlib in the 1.19 line", ecosystem: "Go", pkg: goPkg("stdlib", "1.19.6"),
			fixed: map[string]string{"GO-2023-1621": "1.19.7"},
		},
		{
			name: "AlmaLinux 9 openssl with epoch", ecosystem: "AlmaLinux", pkg: alma("1:3.0.7-16.el9_2"),
			notWant:  []string{"ALSA-2023:3722", "ALSA-2023:2523", "ALSA-2022:6224"},
			fixed:    map[string]string{"ALSA-2024:0310": "1:3.0.7-25.el9_3", "ALSA-2025:1330": "1:3.2.2-6.el9_5.1"},
			severity: map[string]string{"ALSA-2024:0310": "medium", "ALSA-2025:1330": "high", "ALSA-2024:2447": "low"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := importedStore(t, tt.ecosystem)
			got := matcherFor(t, s, tt.pkg).Match([]customs.Package{tt.pkg})
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
					t.Errorf("Match() ids mismatch (-want +got):\n%s", diff)
				}
			}
			for _, id := range tt.notWant {
				if finding(got, id) != nil {
					t.Errorf("Match() found %s, which does not affect %s", id, tt.pkg.Version)
				}
			}
			for id, fixed := range tt.fixed {
				f := finding(got, id)
				if f == nil {
					t.Errorf("Match() did not find %s in %v", id, ids(got))
					continue
				}
				if f.FixedVersion != fixed {
					t.Errorf("%s FixedVersion = %q, want %q", id, f.FixedVersion, fixed)
				}
			}
			for id, sev := range tt.severity {
				if f := finding(got, id); f == nil || f.Severity != sev {
					t.Errorf("%s = %+v, want severity %q", id, f, sev)
				}
			}
			for _, f := range got {
				if f.Package != tt.pkg || f.URL == "" || f.Summary == "" {
					t.Errorf("finding %s = %+v: want the package as given, a URL and a summary", f.VulnID, f)
				}
			}
		})
	}
}

func TestMatchFixtures(t *testing.T) {
	s := fixtureStore(t)
	tests := []struct {
		name string
		pkg  customs.Package
		want []customs.Finding // without Package, which is pkg
	}{
		{
			name: "Alpine 3.19 openssl before the fix",
			pkg:  customs.Package{Name: "libcrypto3", Version: "3.1.3-r0", Ecosystem: "Alpine:v3.19", SourceName: "openssl", SourceVersion: "3.1.3-r0"},
			want: []customs.Finding{{VulnID: "ALPINE-CVE-2023-5363", Aliases: []string{"CVE-2023-5363"}, Severity: "high",
				Summary: "Issue summary: A bug has been identified in the processing of key and", FixedVersion: "3.1.4-r0", URL: "https://security.alpinelinux.org/vuln/CVE-2023-5363"}},
		},
		{
			name: "Alpine 3.19 openssl fixed",
			pkg:  customs.Package{Name: "openssl", Version: "3.1.4-r0", Ecosystem: "Alpine:v3.19"},
		},
		{
			name: "Alpine 3.20 not named",
			pkg:  customs.Package{Name: "openssl", Version: "3.1.3-r0", Ecosystem: "Alpine:v3.20"},
		},
		{
			name: "last_affected itself",
			pkg:  customs.Package{Name: "left-pad-x", Version: "1.2.3", Ecosystem: "npm"},
			want: []customs.Finding{{VulnID: "TEST-LAST-AFFECTED", Aliases: []string{"CVE-2099-0001"}, Severity: "medium",
				Summary: "Prototype pollution in left-pad-x", FixedVersion: "2.1.0", URL: "https://example.com/left-pad-x"}},
		},
		{
			name: "after last_affected",
			pkg:  customs.Package{Name: "left-pad-x", Version: "1.2.4", Ecosystem: "npm"},
		},
		{
			name: "before introduced",
			pkg:  customs.Package{Name: "left-pad-x", Version: "0.9.0", Ecosystem: "npm"},
		},
		{
			name: "second introduced, events given out of order",
			pkg:  customs.Package{Name: "left-pad-x", Version: "2.0.5", Ecosystem: "npm"},
			want: []customs.Finding{{VulnID: "TEST-LAST-AFFECTED", Aliases: []string{"CVE-2099-0001"}, Severity: "medium",
				Summary: "Prototype pollution in left-pad-x", FixedVersion: "2.1.0", URL: "https://example.com/left-pad-x"}},
		},
		{
			name: "below limit",
			pkg:  customs.Package{Name: "limitpkg", Version: "1.4.9", Ecosystem: "PyPI"},
			want: []customs.Finding{{VulnID: "TEST-LIMIT", Severity: "critical", Summary: "Remote code execution in limitpkg", URL: "https://osv.dev/vulnerability/TEST-LIMIT"}},
		},
		{
			name: "at limit",
			pkg:  customs.Package{Name: "limitpkg", Version: "1.5", Ecosystem: "PyPI"},
		},
		{
			name: "PyPI ordering below introduced",
			pkg:  customs.Package{Name: "limitpkg", Version: "1.0rc1", Ecosystem: "PyPI"},
		},
		{
			name: "listed version and range in two entries: one finding",
			pkg:  customs.Package{Name: "versionspkg", Version: "1.0.1", Ecosystem: "PyPI"},
			want: []customs.Finding{{VulnID: "TEST-VERSIONS", Severity: "low", Summary: "A listed-versions flaw in versionspkg.", FixedVersion: "1.0.3", URL: "https://osv.dev/vulnerability/TEST-VERSIONS"}},
		},
		{
			name: "listed version only",
			pkg:  customs.Package{Name: "versionspkg", Version: "1.0.0", Ecosystem: "PyPI"},
			want: []customs.Finding{{VulnID: "TEST-VERSIONS", Severity: "low", Summary: "A listed-versions flaw in versionspkg.", URL: "https://osv.dev/vulnerability/TEST-VERSIONS"}},
		},
		{
			name: "GIT range ignored",
			pkg:  customs.Package{Name: "versionspkg", Version: "0.1", Ecosystem: "PyPI"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matcherFor(t, s, tt.pkg).Match([]customs.Package{tt.pkg})
			for i := range tt.want {
				tt.want[i].Package = tt.pkg
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match(%s %s) mismatch (-want +got):\n%s", tt.pkg.Name, tt.pkg.Version, diff)
			}
		})
	}
}

// A withdrawn record never matches, even when handed to the matcher.
func TestMatchWithdrawn(t *testing.T) {
	s := fixtureStore(t)
	m, err := vulndb.NewMatcher([]*customs.Advisory{s.advs["TEST-WITHDRAWN"], s.advs["TEST-LAST-AFFECTED"]})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(m.Match([]customs.Package{{Name: "left-pad-x", Version: "1.1.0", Ecosystem: "npm"}}))
	if diff := cmp.Diff([]string{"TEST-LAST-AFFECTED"}, got); diff != "" {
		t.Errorf("Match() ids (-want +got):\n%s", diff)
	}
}

// Several packages: findings follow the packages' order, one per
// occurrence.
func TestMatchSeveralPackages(t *testing.T) {
	s := fixtureStore(t)
	advs, err := s.Advisories(t.Context(), []customs.PackageKey{{Ecosystem: "npm", Name: "left-pad-x"}, {Ecosystem: "PyPI", Name: "limitpkg"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := vulndb.NewMatcher(advs)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []customs.Package{
		{Name: "limitpkg", Version: "1.2", Ecosystem: "PyPI", Path: "a"},
		{Name: "left-pad-x", Version: "1.0.0", Ecosystem: "npm", Path: "b"},
		{Name: "left-pad-x", Version: "1.0.0", Ecosystem: "npm", Path: "c"},
		{Name: "left-pad-x", Version: "1.0.0", Ecosystem: "PyPI", Path: "d"},
	}
	var got []string
	for _, f := range m.Match(pkgs) {
		got = append(got, f.VulnID+"@"+f.Package.Path)
	}
	if diff := cmp.Diff([]string{"TEST-LIMIT@a", "TEST-LAST-AFFECTED@b", "TEST-LAST-AFFECTED@c"}, got); diff != "" {
		t.Errorf("Match() (-want +got):\n%s", diff)
	}
}

func TestNewMatcherRejectsBrokenRecord(t *testing.T) {
	_, err := vulndb.NewMatcher([]*customs.Advisory{{ID: "X-1", JSON: []byte(`{"id":`)}})
	if err == nil {
		t.Fatal("NewMatcher() of a broken record = nil, want an error")
	}
	if !slices.Contains([]string{customs.EINVALID}, customs.ErrorCode(err)) {
		t.Errorf("NewMatcher() error code = %q, want EINVALID", customs.ErrorCode(err))
	}
}
