package vulndb_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"customs"
	"customs/vulndb"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    *customs.Advisory
		wantErr string // a substring of the message; "" for success
	}{
		{
			name: "distinct packages as spelled",
			data: `{"id":"GO-1","modified":"2024-01-02T03:04:05.678Z","affected":[
				{"package":{"ecosystem":"Go","name":"stdlib"}},
				{"package":{"ecosystem":"Go","name":"stdlib"}},
				{"package":{"ecosystem":"Debian:12","name":"openssl"}},
				{"package":{"ecosystem":"AlmaLinux:9","name":"openssl"}},
				{"package":{"ecosystem":"Alpine:v3.19","name":"openssl"}},
				{"ranges":[{"type":"GIT","repo":"https://example.com/r","events":[{"introduced":"0"}]}]}]}`,
			want: &customs.Advisory{ID: "GO-1", Modified: time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC), Affected: []customs.PackageKey{
				{Ecosystem: "Go", Name: "stdlib"}, {Ecosystem: "Debian:12", Name: "openssl"}, {Ecosystem: "AlmaLinux:9", Name: "openssl"}, {Ecosystem: "Alpine:v3.19", Name: "openssl"},
			}},
		},
		{
			name: "withdrawn with offset",
			data: `{"id":"X-1","modified":"2024-01-02T03:04:05+02:00","withdrawn":"2024-01-03T00:00:00Z"}`,
			want: &customs.Advisory{ID: "X-1", Modified: time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC), Withdrawn: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)},
		},
		{name: "no id", data: `{"modified":"2024-01-02T03:04:05Z"}`, wantErr: `no "id"`},
		{name: "no modified", data: `{"id":"X-1"}`, wantErr: `X-1 has no "modified"`},
		{name: "modified not RFC 3339", data: `{"id":"X-1","modified":"2024-01-02"}`, wantErr: `"modified" "2024-01-02"`},
		{name: "withdrawn not RFC 3339", data: `{"id":"X-1","modified":"2024-01-02T03:04:05Z","withdrawn":"yesterday"}`, wantErr: `"withdrawn" "yesterday"`},
		{name: "not JSON", data: `{"id":`, wantErr: "not valid JSON"},
		{name: "wrong type", data: `{"id":"X-1","modified":"2024-01-02T03:04:05Z","aliases":"CVE-1"}`, wantErr: `field "aliases"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vulndb.Parse([]byte(tt.data))
			if tt.wantErr != "" {
				if customs.ErrorCode(err) != customs.EINVALID || !strings.Contains(customs.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if string(got.JSON) != tt.data {
				t.Errorf("Parse().JSON is not the record as given")
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(customs.Advisory{}, "JSON")); diff != "" {
				t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"ALPINE-CVE-2023-5363", "TEST-LAST-AFFECTED", "TEST-LIMIT", "TEST-VERSIONS", "TEST-WITHDRAWN"} {
		data, err := os.ReadFile("testdata/osv/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"id":"X","modified":"2024-01-02T03:04:05Z","affected":[{"package":{"ecosystem":"Debian:12","name":"a"}}]}`))
	f.Add([]byte(`{"id":"","modified":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := vulndb.Parse(data)
		if err != nil {
			if customs.ErrorCode(err) != customs.EINVALID {
				t.Fatalf("Parse() error %v is not EINVALID", err)
			}
			return
		}
		if a.ID == "" {
			t.Fatal("Parse() accepted a record without an id")
		}
		seen := map[customs.PackageKey]bool{}
		for _, k := range a.Affected {
			if k.Ecosystem == "" || k.Name == "" || seen[k] {
				t.Fatalf("Parse().Affected has an empty or repeated key %+v", k)
			}
			seen[k] = true
		}
		// Whatever parses must also build a matcher and match without panicking.
		m, err := vulndb.NewMatcher([]*customs.Advisory{a})
		if err != nil {
			t.Fatalf("NewMatcher() of a parsed record = %v", err)
		}
		for _, k := range a.Affected {
			m.Match([]customs.Package{{Name: k.Name, Ecosystem: k.Ecosystem, Version: "1.0.0"}})
		}
	})
}
