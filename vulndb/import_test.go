package vulndb_test

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"customs"
	"customs/vulndb"
)

func TestImportRealZip(t *testing.T) {
	path := osvZip(t, "Debian")
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".json") {
			records++
		}
	}
	zr.Close()

	s := newMemStore()
	st, err := vulndb.Import(t.Context(), s, path)
	if err != nil {
		t.Fatalf("Import() = %v", err)
	}
	if st.Read != records || st.Added != records || st.Updated != 0 || st.Unchanged != 0 {
		t.Errorf("Import() = read %d, added %d, updated %d, unchanged %d; want %d read and added", st.Read, st.Added, st.Updated, st.Unchanged, records)
	}
	if len(s.advs) != records {
		t.Errorf("store holds %d advisories, want %d", len(s.advs), records)
	}
	if diff := cmp.Diff([]string{"Debian/all.zip"}, s.sources); diff != "" {
		t.Errorf("import sources (-want +got):\n%s", diff)
	}
	openssl := customs.PackageKey{Ecosystem: "Debian:11", Name: "openssl"}
	if _, ok := slicesIndex(st.Changed, openssl); !ok {
		t.Errorf("Import().Changed lacks %v", openssl)
	}
	if a := s.advs["DSA-5139-1"]; a == nil {
		t.Errorf("DSA-5139-1 is not stored")
	} else if diff := cmp.Diff([]customs.PackageKey{{Ecosystem: "Debian:10", Name: "openssl"}, openssl}, a.Affected); diff != "" {
		t.Errorf("stored DSA-5139-1 Affected mismatch (-want +got):\n%s", diff)
	}

	again, err := vulndb.Import(t.Context(), s, path)
	if err != nil {
		t.Fatalf("second Import() = %v", err)
	}
	if diff := cmp.Diff(vulndb.Stats{Read: records, Unchanged: records}, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("re-import of the same zip mismatch (-want +got):\n%s", diff)
	}
}

func slicesIndex(keys []customs.PackageKey, k customs.PackageKey) (int, bool) {
	for i, x := range keys {
		if x == k {
			return i, true
		}
	}
	return -1, false
}

func TestImportIncremental(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	record := func(id, modified, eco, name, extra string) string {
		return `{"id":"` + id + `","modified":"` + modified + `"` + extra + `,"affected":[{"package":{"ecosystem":"` + eco + `","name":"` + name + `"}}]}`
	}
	write("a/A-1.json", record("A-1", "2024-01-01T00:00:00Z", "npm", "a", ""))
	write("b/c/B-1.json", record("B-1", "2024-01-01T00:00:00Z", "npm", "b", ""))
	write("README.md", "not a record")
	s := newMemStore()
	st, err := vulndb.Import(t.Context(), s, dir)
	if err != nil {
		t.Fatalf("Import() = %v", err)
	}
	want := vulndb.Stats{Read: 2, Added: 2, Changed: []customs.PackageKey{{Ecosystem: "npm", Name: "a"}, {Ecosystem: "npm", Name: "b"}}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("first Import() mismatch (-want +got):\n%s", diff)
	}

	// A-1 changes within the same millisecond (not newer for a store that
	// keeps milliseconds), B-1 is withdrawn later, C-1 is new.
	write("a/A-1.json", record("A-1", "2024-01-01T00:00:00.0004Z", "npm", "a2", ""))
	write("b/c/B-1.json", record("B-1", "2024-02-01T00:00:00Z", "npm", "b", `,"withdrawn":"2024-02-01T00:00:00Z"`))
	write("C-1.json", record("C-1", "2024-01-01T00:00:00Z", "Go", "c", ""))
	st, err = vulndb.Import(t.Context(), s, dir)
	if err != nil {
		t.Fatalf("second Import() = %v", err)
	}
	want = vulndb.Stats{Read: 3, Added: 1, Updated: 1, Unchanged: 1, Withdrawn: 1, Changed: []customs.PackageKey{{Ecosystem: "Go", Name: "c"}, {Ecosystem: "npm", Name: "b"}}, UpdatedIDs: []string{"B-1"}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("second Import() mismatch (-want +got):\n%s", diff)
	}
	if s.advs["B-1"].Withdrawn.IsZero() {
		t.Errorf("withdrawn B-1 is stored without its withdrawn time")
	}
	advs, err := s.Advisories(t.Context(), []customs.PackageKey{{Ecosystem: "npm", Name: "b"}})
	if err != nil || len(advs) != 0 {
		t.Errorf("Advisories(npm/b) = %d records, %v; want none (withdrawn)", len(advs), err)
	}

	// One JSON file.
	one := filepath.Join(t.TempDir(), "D-1.json")
	if err := os.WriteFile(one, []byte(record("D-1", "2024-01-01T00:00:00Z", "PyPI", "d", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = vulndb.Import(t.Context(), s, one)
	if err != nil || st.Added != 1 {
		t.Errorf("Import(one file) = %+v, %v; want 1 added", st, err)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	badZip := filepath.Join(dir, "all.zip")
	f, err := os.Create(badZip)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, data := range map[string]string{
		"GOOD-1.json": `{"id":"GOOD-1","modified":"2024-01-01T00:00:00Z"}`,
		"BAD-2.json":  `{"id":"BAD-2","modified":"last tuesday"}`,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	notZip := filepath.Join(dir, "broken.zip")
	if err := os.WriteFile(notZip, []byte("PK not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "records.txt")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		path  string
		wants []string
	}{
		{name: "malformed record", path: badZip, wants: []string{"BAD-2.json", badZip, `"modified" "last tuesday"`, "nothing was imported"}},
		{name: "missing", path: filepath.Join(dir, "nope"), wants: []string{"nope"}},
		{name: "not a zip", path: notZip, wants: []string{"broken.zip", "not a readable zip"}},
		{name: "unknown kind", path: other, wants: []string{"records.txt", ".json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore()
			st, err := vulndb.Import(t.Context(), s, tt.path)
			if customs.ErrorCode(err) != customs.EINVALID {
				t.Fatalf("Import() error = %v, want EINVALID", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(customs.ErrorMessage(err), w) {
					t.Errorf("Import() error %q does not mention %q", customs.ErrorMessage(err), w)
				}
			}
			if len(s.advs) != 0 || st.Read != 0 {
				t.Errorf("a failed import stored %d advisories (stats %+v), want none", len(s.advs), st)
			}
		})
	}
}

func TestImportCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := newMemStore()
	if _, err := vulndb.Import(ctx, s, osvZip(t, "Go")); err == nil || len(s.advs) != 0 {
		t.Errorf("Import() with a canceled context = %v, %d stored; want an error, none stored", err, len(s.advs))
	}
}
