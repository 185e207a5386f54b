package vulndb_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/internal/testdata"
	"customs/vulndb"
)

// osvServer serves the OSV data directory in the bucket's layout and
// records the escaped paths asked for.
func osvServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	files := http.FileServer(http.Dir(filepath.Join(testdata.Dir(t), "osv")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(paths)
	}
}

func TestUpdate(t *testing.T) {
	srv, asked := osvServer(t)
	s := newMemStore()
	st, err := vulndb.Update(t.Context(), s, srv.Client(), srv.URL+"/", []string{"Go", "Rocky Linux", "Debian"})
	if err != nil {
		t.Fatalf("Update() = %v", err)
	}
	if diff := cmp.Diff([]string{"/Go/all.zip", "/Rocky%20Linux/all.zip", "/Debian/all.zip"}, asked()); diff != "" {
		t.Errorf("paths asked for (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Rocky Linux"}, st.Missing); diff != "" {
		t.Errorf("Update().Missing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Go/all.zip", "Debian/all.zip"}, s.sources); diff != "" {
		t.Errorf("import sources (-want +got):\n%s", diff)
	}
	if st.Read != len(s.advs) || st.Added != st.Read || st.Read < 10000 {
		t.Errorf("Update() read %d, added %d; store holds %d: want all added", st.Read, st.Added, len(s.advs))
	}
	if !slices.IsSortedFunc(st.Changed, func(a, b customs.PackageKey) int {
		return strings.Compare(a.Ecosystem+"\x00"+a.Name, b.Ecosystem+"\x00"+b.Name)
	}) {
		t.Errorf("Update().Changed is not sorted")
	}

	again, err := vulndb.Update(t.Context(), s, srv.Client(), srv.URL, []string{"Go", "Debian"})
	if err != nil {
		t.Fatalf("second Update() = %v", err)
	}
	if again.Unchanged != st.Read || again.Added+again.Updated != 0 || len(again.Changed) != 0 {
		t.Errorf("second Update() = %+v, want all %d unchanged", again, st.Read)
	}
}

func TestUpdateErrors(t *testing.T) {
	srv, _ := osvServer(t)
	tests := []struct {
		name       string
		updater    vulndb.Updater
		ecosystems []string
		code       string
		wants      []string
	}{
		{name: "unknown ecosystem", updater: vulndb.Updater{BaseURL: srv.URL}, ecosystems: []string{"Nope"},
			code: customs.ENOTFOUND, wants: []string{srv.URL + "/Nope/all.zip", "404"}},
		{name: "too large", updater: vulndb.Updater{BaseURL: srv.URL, MaxDownload: 1 << 20}, ecosystems: []string{"Go"},
			code: customs.EINVALID, wants: []string{srv.URL + "/Go/all.zip", "1048576 bytes"}},
		{name: "not a URL", updater: vulndb.Updater{BaseURL: "file:///tmp"}, ecosystems: []string{"Go"},
			code: customs.EINVALID, wants: []string{"file:///tmp"}},
		{name: "slash in ecosystem", updater: vulndb.Updater{BaseURL: srv.URL}, ecosystems: []string{"../Go"},
			code: customs.EINVALID, wants: []string{"../Go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore()
			u := tt.updater
			u.Store, u.Client, u.TempDir = s, srv.Client(), t.TempDir()
			_, err := u.Update(t.Context(), tt.ecosystems)
			if customs.ErrorCode(err) != tt.code {
				t.Fatalf("Update() = %v, want code %s", err, tt.code)
			}
			for _, w := range tt.wants {
				if !strings.Contains(customs.ErrorMessage(err), w) {
					t.Errorf("Update() error %q does not mention %q", customs.ErrorMessage(err), w)
				}
			}
			if len(s.advs) != 0 {
				t.Errorf("a failed update stored %d advisories", len(s.advs))
			}
			if left, _ := os.ReadDir(u.TempDir); len(left) != 0 {
				t.Errorf("Update() left %d files in its temporary directory", len(left))
			}
		})
	}
}
