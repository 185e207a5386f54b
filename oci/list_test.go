package oci_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs/oci"
)

func TestTagsAndCatalog(t *testing.T) {
	addr := newRegistry(t)
	img := dockerImage(t, linuxAMD64, created1)
	pushImage(t, addr, "team/app", "v2", img)
	pushImage(t, addr, "team/app", "v1", img)
	pushImage(t, addr, "solo", "latest", img)
	c, rec := pinged(t, anonymous(addr))

	tags, err := c.Tags(t.Context(), "team/app")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"v1", "v2"}, tags); diff != "" {
		t.Errorf("Tags(team/app) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /v2/team/app/tags/list?n=1000"}, rec.take()); diff != "" {
		t.Errorf("Tags(team/app) requests mismatch (-want +got):\n%s", diff)
	}

	var repos []string
	if err := c.Catalog(t.Context(), func(page []string) error {
		repos = append(repos, page...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(repos)
	if diff := cmp.Diff([]string{"solo", "team/app"}, repos); diff != "" {
		t.Errorf("Catalog mismatch (-want +got):\n%s", diff)
	}

	_, err = c.Tags(t.Context(), "missing")
	if !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("Tags(missing) error = %v, want ErrNotFound", err)
	}
}

// pager serves path as the distribution spec pages a list: n= and last=,
// and a Link header to the next page while items remain.
func pager(path, key string, items []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path {
				next.ServeHTTP(w, r)
				return
			}
			q := r.URL.Query()
			rest := items
			if last := q.Get("last"); last != "" {
				i, _ := slices.BinarySearch(items, last)
				if i < len(items) && items[i] == last {
					i++
				}
				rest = items[i:]
			}
			page := rest
			if n, err := strconv.Atoi(q.Get("n")); err == nil && n < len(rest) {
				page = rest[:n]
				w.Header().Set("Link", fmt.Sprintf(`<%s?last=%s&n=%d>; rel="next"`, path, url.QueryEscape(page[n-1]), n))
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{key: page})
		})
	}
}

func names(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%04d", prefix, i))
	}
	return out
}

func TestCatalogPaging(t *testing.T) {
	repos := names("repo-", 2500)
	addr := newRegistry(t, pager("/v2/_catalog", "repositories", repos))
	c, rec := pinged(t, anonymous(addr))

	var got []string
	var pageSizes []int
	err := c.Catalog(t.Context(), func(page []string) error {
		got = append(got, page...)
		pageSizes = append(pageSizes, len(page))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(repos, got); diff != "" {
		t.Errorf("Catalog mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1000, 1000, 500}, pageSizes); diff != "" {
		t.Errorf("Catalog page sizes mismatch (-want +got):\n%s", diff)
	}
	want := []string{
		"GET /v2/_catalog?n=1000",
		"GET /v2/_catalog?last=repo-0999&n=1000",
		"GET /v2/_catalog?last=repo-1999&n=1000",
	}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("Catalog requests mismatch (-want +got):\n%s", diff)
	}
}

func TestCatalogStopsAtCallbackError(t *testing.T) {
	addr := newRegistry(t, pager("/v2/_catalog", "repositories", names("r", 30)))
	c, rec := pinged(t, anonymous(addr), oci.WithPageSize(10))
	stop := errors.New("stop")
	calls := 0
	err := c.Catalog(t.Context(), func([]string) error {
		calls++
		return stop
	})
	if err != stop {
		t.Errorf("Catalog error = %v, want the callback's error as is", err)
	}
	if calls != 1 || len(rec.take()) != 1 {
		t.Errorf("Catalog went on after the callback failed: %d calls", calls)
	}
}

func TestTagsPaging(t *testing.T) {
	tags := names("v", 25)
	addr := newRegistry(t, pager("/v2/app/tags/list", "tags", tags))
	c, rec := pinged(t, anonymous(addr), oci.WithPageSize(10))

	got, err := c.Tags(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tags, got); diff != "" {
		t.Errorf("Tags(app) mismatch (-want +got):\n%s", diff)
	}
	want := []string{
		"GET /v2/app/tags/list?n=10",
		"GET /v2/app/tags/list?last=v0009&n=10",
		"GET /v2/app/tags/list?last=v0019&n=10",
	}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("Tags(app) requests mismatch (-want +got):\n%s", diff)
	}
}

func TestPagingRefusesBadLinks(t *testing.T) {
	tests := []struct {
		name string
		link string
		want string
	}{
		{name: "another host", link: `<http://elsewhere.example/v2/_catalog?last=a&n=1>; rel="next"`, want: "another server"},
		{name: "a loop", link: `</v2/_catalog?n=1000>; rel="next"`, want: "to itself"},
		{name: "no angle brackets", link: `/v2/_catalog?last=a; rel="next"`, want: "malformed Link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := newRegistry(t, func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v2/_catalog" {
						w.Header().Set("Link", tt.link)
					}
					w.Write([]byte(`{"repositories":["a"]}`))
				})
			})
			c, _ := pinged(t, anonymous(addr))
			err := c.Catalog(t.Context(), func([]string) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Catalog error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
