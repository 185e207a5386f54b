package vulndb_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
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
