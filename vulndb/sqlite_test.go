package vulndb_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
	"customs/internal/testdata"
	"customs/store/sqlite"
	"customs/vulndb"
)

var (
	_ vulndb.Store        = (*sqlite.DB)(nil)
	_ vulndb.RematchStore = (*sqlite.DB)(nil)
)

// The real Debian data through the real SQLite store: import, re-import,
// and re-matching a saved inventory.
func TestSQLiteImportAndRematch(t *testing.T) {
	path := osvZip(t, "Debian")
	ctx := t.Context()
	c, err := iam.NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(filepath.Join(t.TempDir(), "customs.db"))
	db.Cipher = c
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	st, err := vulndb.Import(ctx, db, path)
	if err != nil {
		t.Fatalf("Import() = %v", err)
	}
	if st.Read == 0 || st.Added != st.Read {
		t.Fatalf("Import() = %+v, want every record added", st)
	}
	again, err := vulndb.Import(ctx, db, path)
	if err != nil {
		t.Fatalf("second Import() = %v", err)
	}
	if again.Unchanged != st.Read || again.Read != st.Read || again.Added+again.Updated+len(again.Changed) != 0 {
		t.Errorf("second Import() = read %d, added %d, updated %d, unchanged %d, %d changed keys; want all %d unchanged",
			again.Read, again.Added, again.Updated, again.Unchanged, len(again.Changed), st.Read)
	}

	// An image scanned before the advisories arrived, with a stale finding.
	m := &customs.Manifest{Digest: "sha256:" + string(bytes.Repeat([]byte("ab"), 32)), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Kind: customs.KindImage, Size: 1000, Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
		Blobs: []customs.Blob{{Digest: "sha256:" + string(bytes.Repeat([]byte("cd"), 32)), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 900}}}
	if err := db.PutManifests(ctx, []*customs.Manifest{m}); err != nil {
		t.Fatal(err)
	}
	layer := m.Blobs[0].Digest
	openssl := customs.Package{Name: "libssl1.1", Version: "1.1.1n-0+deb11u1", Ecosystem: "Debian:11", SourceName: "openssl",
		SourceVersion: "1.1.1n-0+deb11u1", OS: true, Path: "/var/lib/dpkg/status", Layer: layer}
	fresh := customs.Package{Name: "libssl1.1", Version: "1.1.1n-0+deb11u4", Ecosystem: "Debian:11", SourceName: "openssl",
		SourceVersion: "1.1.1n-0+deb11u4", OS: true, Path: "/usr/local/lib/dpkg/status", Layer: layer}
	res := &customs.ScanResult{Digest: m.Digest, ScannedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), OS: "Debian:11",
		Packages:  []customs.Package{openssl, fresh},
		Findings:  []customs.Finding{{VulnID: "DSA-0000-1", Package: openssl, Severity: "high", Summary: "stale", URL: "https://osv.dev/x"}},
		Analyzers: []customs.AnalyzerStatus{{Name: "packages", Status: customs.AnalyzerSucceeded}}}
	if err := db.SaveScanResult(ctx, res); err != nil {
		t.Fatalf("SaveScanResult() = %v", err)
	}

	n, err := vulndb.Rematch(ctx, db, []customs.PackageKey{openssl.Key()})
	if err != nil || n != 1 {
		t.Fatalf("Rematch() = %d, %v; want 1 inventory", n, err)
	}
	sums, err := db.ScanSummaries(ctx, []string{m.Digest})
	if err != nil {
		t.Fatal(err)
	}
	// DSA-5139-1, DSA-5169-1 and DSA-5343-1 affect the old package; the
	// fresh one has every fix; the stale finding is gone.
	if got := sums[m.Digest]; got.VulNum != 3 || got.Status != customs.ScanSuccess {
		t.Errorf("scan summary after Rematch() = %+v, want success with 3 vulnerabilities", got)
	}
	var inv []customs.Package
	err = db.Inventories(ctx, nil, func(d string, pkgs []customs.Package) error {
		if d != m.Digest {
			t.Errorf("Inventories() gave digest %s, want only %s", d, m.Digest)
		}
		inv = pkgs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res.Packages, inv); diff != "" {
		t.Errorf("inventory after Rematch() (-want +got):\n%s", diff)
	}
}

// An advisory updated to no longer name a package: the images whose only
// finding of it was on that package lose it, although the update names
// nothing they hold.
func TestSQLiteRematchDroppedPackage(t *testing.T) {
	ctx := t.Context()
	c, err := iam.NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(filepath.Join(t.TempDir(), "customs.db"))
	db.Cipher = c
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	record := func(modified string, names ...string) string {
		var affected []string
		for _, n := range names {
			affected = append(affected, `{"package": {"ecosystem": "Debian:11", "name": "`+n+`"},
				"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0-1"}]}]}`)
		}
		return `{"id": "DSA-9999-1", "modified": "` + modified + `", "affected": [` + strings.Join(affected, ",") + `]}`
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "DSA-9999-1.json")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(record("2024-01-01T00:00:00Z", "alpha", "beta"))
	if _, err := vulndb.Import(ctx, db, path); err != nil {
		t.Fatal(err)
	}

	m := &customs.Manifest{Digest: "sha256:" + strings.Repeat("ef", 32), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Kind: customs.KindImage, Size: 1000, Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
		Blobs: []customs.Blob{{Digest: "sha256:" + strings.Repeat("cd", 32), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 900}}}
	if err := db.PutManifests(ctx, []*customs.Manifest{m}); err != nil {
		t.Fatal(err)
	}
	beta := customs.Package{Name: "beta", Version: "1.0-1", Ecosystem: "Debian:11", OS: true, Path: "/var/lib/dpkg/status", Layer: m.Blobs[0].Digest}
	advs, err := db.Advisories(ctx, []customs.PackageKey{beta.Key()})
	if err != nil {
		t.Fatal(err)
	}
	matcher, err := vulndb.NewMatcher(advs)
	if err != nil {
		t.Fatal(err)
	}
	res := &customs.ScanResult{Digest: m.Digest, ScannedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), OS: "Debian:11",
		Packages: []customs.Package{beta}, Findings: matcher.Match([]customs.Package{beta})}
	if err := db.SaveScanResult(ctx, res); err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("beta 1.0-1 findings before the update: %+v, want DSA-9999-1", res.Findings)
	}

	write(record("2024-02-01T00:00:00Z", "alpha"))
	st, err := vulndb.Import(ctx, db, path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"DSA-9999-1"}, st.UpdatedIDs); diff != "" {
		t.Errorf("UpdatedIDs (-want +got):\n%s", diff)
	}
	keys, err := vulndb.RematchKeys(ctx, db, st)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]customs.PackageKey{{Ecosystem: "Debian:11", Name: "alpha"}, {Ecosystem: "Debian:11", Name: "beta"}}, keys); diff != "" {
		t.Errorf("RematchKeys (-want +got):\n%s", diff)
	}
	if n, err := vulndb.Rematch(ctx, db, keys); err != nil || n != 1 {
		t.Fatalf("Rematch() = %d, %v; want 1 inventory", n, err)
	}
	sums, err := db.ScanSummaries(ctx, []string{m.Digest})
	if err != nil {
		t.Fatal(err)
	}
	if got := sums[m.Digest].VulNum; got != 0 {
		t.Errorf("vul_num after the advisory dropped beta: %d, want 0", got)
	}
}

// BenchmarkRematchSQLite re-matches every stored inventory of a real SQLite
// store against the real Debian advisories: CUSTOMS_BENCH_INVENTORIES
// inventories (10,000 unless set) of 150 Debian:10 packages each, built as
// BenchmarkRematch builds them, each the scan of an image tagged in one of
// 100 repositories and saved with the findings it has (so a re-match
// replaces them all).
func BenchmarkRematchSQLite(b *testing.B) {
	count := 10000
	if s := os.Getenv("CUSTOMS_BENCH_INVENTORIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("CUSTOMS_BENCH_INVENTORIES=%q: want a positive number of inventories", s)
		}
		count = n
	}
	start := time.Now()
	ctx := b.Context()
	c, err := iam.NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	db := sqlite.New(filepath.Join(b.TempDir(), "customs.db"))
	db.Cipher = c
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := vulndb.Import(ctx, db, testdata.OSV(b, "Debian")); err != nil {
		b.Fatalf("Import() = %v", err)
	}
	p := &customs.Project{Name: "region-a", Enabled: true}
	if _, err := db.Bootstrap(ctx, &customs.Domain{Name: "acme"}, &customs.User{Name: "admin", PasswordHash: "x", Admin: true, Enabled: true}, p); err != nil {
		b.Fatal(err)
	}
	scope := customs.ProjectScope(p.ID)
	reg := &customs.Registry{Name: "bench", Type: customs.Harbor, Protocol: "http", Addr: "bench.example:5000"}
	if err := db.CreateRegistry(ctx, scope, reg); err != nil {
		b.Fatal(err)
	}

	// The Debian:10 source packages the advisories name, and a matcher of
	// the same advisories for the findings saved with each scan.
	const eco = "Debian:10"
	var names []string
	src := importedStore(b, "Debian")
	var advs []*customs.Advisory
	for _, a := range src.advs {
		advs = append(advs, a)
		for _, k := range a.Affected {
			if k.Ecosystem == eco {
				names = append(names, k.Name)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	m, err := vulndb.NewMatcher(advs)
	if err != nil {
		b.Fatal(err)
	}

	const repos, perCall = 100, 500
	found, first0 := 0, 0 // findings in all, and of the first inventory
	for first := 0; first < count; first += perCall {
		var ms []*customs.Manifest
		byRepo := map[string][]customs.TagState{}
		for i := first; i < min(first+perCall, count); i++ {
			ms = append(ms, &customs.Manifest{Digest: fmt.Sprintf("sha256:%064d", i), MediaType: "application/vnd.oci.image.manifest.v1+json",
				Kind: customs.KindImage, Size: 1000, Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
				Blobs: []customs.Blob{{Digest: fmt.Sprintf("sha256:f%063d", i), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 900}}})
			repo := fmt.Sprintf("team/app%03d", i%repos)
			byRepo[repo] = append(byRepo[repo], customs.TagState{Tag: strconv.Itoa(i), Digest: ms[len(ms)-1].Digest, UpdatedAt: start})
		}
		if err := db.PutManifests(ctx, ms); err != nil {
			b.Fatal(err)
		}
		var us []customs.RepositoryUpdate
		for _, repo := range slices.Sorted(maps.Keys(byRepo)) {
			ns, name := customs.SplitRepository(repo)
			us = append(us, customs.RepositoryUpdate{Namespace: ns, Name: name, Upserts: byRepo[repo]})
		}
		if _, err := db.ApplyRepositoryUpdates(ctx, scope, reg.ID, us); err != nil {
			b.Fatal(err)
		}
		for i, man := range ms {
			i += first
			pkgs := make([]customs.Package, 150)
			for j := range pkgs {
				name := names[(i*7+j)%len(names)]
				// One package in ten is old enough for every advisory.
				version := "99:1.0-1"
				if (i+j)%10 == 0 {
					version = "0.1-1"
				}
				pkgs[j] = customs.Package{Name: "lib" + name, Version: version, Ecosystem: eco, SourceName: name, SourceVersion: version, OS: true,
					Path: "/var/lib/dpkg/status", Layer: man.Blobs[0].Digest}
			}
			res := &customs.ScanResult{Digest: man.Digest, ScannedAt: start, OS: eco, Packages: pkgs, Findings: m.Match(pkgs),
				Analyzers: []customs.AnalyzerStatus{{Name: "packages", Status: customs.AnalyzerSucceeded}}}
			found += len(res.Findings)
			if i == 0 {
				first0 = len(res.Findings)
			}
			if err := db.SaveScanResult(ctx, res); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("setup of %d inventories (%d findings) took %s", count, found, time.Since(start).Round(time.Millisecond))

	for b.Loop() {
		n, err := vulndb.Rematch(ctx, db, nil)
		if err != nil || n != count {
			b.Fatalf("Rematch() = %d, %v; want %d inventories", n, err, count)
		}
	}
	b.ReportMetric(float64(count*b.N)/b.Elapsed().Seconds(), "inventories/s")
	b.ReportMetric(float64(found), "findings")

	d := fmt.Sprintf("sha256:%064d", 0)
	sums, err := db.ScanSummaries(ctx, []string{d})
	if err != nil {
		b.Fatal(err)
	}
	if got := sums[d]; got.VulNum != first0 || got.Status != customs.ScanSuccess {
		b.Errorf("scan summary of the first inventory after Rematch() = %+v, want success with %d vulnerabilities", got, first0)
	}
}
