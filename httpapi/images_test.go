package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

const listPath = "/v5/" + projectID + "/image/swr-repository"

func TestListImagesGolden(t *testing.T) {
	f := newFixture(t)
	swr := f.registry(t, "swr", customs.SwrPrivate, "")
	harbor := f.registry(t, "harbor-prod", customs.Harbor, "")
	t0 := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)

	// A single-arch image, scanned, and an older tag never scanned.
	nginx := image("nginx-1.27", 52_000_000)
	f.tag(t, swr, "library/nginx", "1.27", nginx, t0.Add(2*time.Hour))
	f.tag(t, swr, "library/nginx", "1.26", image("nginx-1.26", 51_000_000), t0)
	f.scanned(t, map[string]customs.ScanSummary{nginx.Digest: {
		Status: customs.ScanSuccess, ScannedAt: t0.Add(3 * time.Hour), VulNum: 12, UnsafeSettingNum: 2, MaliciousFileNum: 1,
	}})

	// A multi-arch index with two children, one of them scanned.
	amd, arm := image("app-amd64", 10), image("app-arm64", 10)
	arm.Platform.Architecture, arm.Platform.Variant = "arm64", "v8"
	index := &customs.Manifest{
		Digest: digest("app-index"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex,
		ConfigDigest: amd.ConfigDigest, Size: 30_000_000, Scannable: true,
		Children: []customs.ChildImage{{Digest: amd.Digest, Platform: amd.Platform}, {Digest: arm.Digest, Platform: arm.Platform}},
	}
	if err := f.db.PutManifests(t.Context(), []*customs.Manifest{amd, arm}); err != nil {
		t.Fatal(err)
	}
	f.tag(t, swr, "team/app", "v2", index, t0.Add(time.Hour))
	f.scanned(t, map[string]customs.ScanSummary{
		amd.Digest:   {Status: customs.ScanSuccess, ScannedAt: t0.Add(4 * time.Hour), VulNum: 1},
		index.Digest: {Status: customs.ScanScanning},
	})

	// An instance image from an enterprise registry.
	f.tag(t, harbor, "prod/api", "2025.05", image("api", 99), t0)

	redact := map[string]string{harbor.ID: "<harbor registry id>", swr.ID: "<swr registry id>"}
	for _, tc := range []struct {
		name  string
		query string
	}{
		{"list_private_single_arch", "?image_type=private_image&image_name=nginx"},
		{"list_private_multi_arch", "?image_type=private_image&namespace=team"},
		{"list_instance", "?image_type=instance_image"},
		{"list_empty", "?image_type=shared_image"},
		{"list_local", "?image_type=local_image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", path: listPath + tc.query})
			if res.status != http.StatusOK {
				t.Fatalf("GET = %d %s", res.status, res.body)
			}
			golden(t, tc.name, res.body, redact)
		})
	}
}

// TestListImagesInvalid checks that every parameter outside its type or
// limits is refused with HSS.0001 and a message naming it.
func TestListImagesInvalid(t *testing.T) {
	f := newFixture(t)
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name  string
		query string
		param string // the parameter the message must name
	}{
		{"missing image_type", "", "image_type"},
		{"bare image_type", "?limit=10&image_type&offset=0", "image_type"},
		{"empty image_type", "?image_type=", "image_type"},
		{"unknown image_type", "?image_type=foo", "image_type"},
		{"image_type twice", "?image_type=private_image&image_type=shared_image", "image_type"},
		{"limit not a number", "?image_type=private_image&limit=abc", "limit"},
		{"limit 5", "?image_type=private_image&limit=5", "limit"},
		{"limit 9", "?image_type=private_image&limit=9", "limit"},
		{"limit 201", "?image_type=private_image&limit=201", "limit"},
		{"limit empty", "?image_type=private_image&limit=", "limit"},
		{"limit fraction", "?image_type=private_image&limit=10.0", "limit"},
		{"offset -1", "?image_type=private_image&offset=-1", "offset"},
		{"offset 2000001", "?image_type=private_image&offset=2000001", "offset"},
		{"latest_version yes", "?image_type=private_image&latest_version=yes", "latest_version"},
		{"latest_version True", "?image_type=private_image&latest_version=True", "latest_version"},
		{"latest_version 1", "?image_type=private_image&latest_version=1", "latest_version"},
		{"has_vul empty", "?image_type=private_image&has_vul", "has_vul"},
		{"has_malicious_file maybe", "?image_type=private_image&has_malicious_file=maybe", "has_malicious_file"},
		{"has_unsafe_setting 0", "?image_type=private_image&has_unsafe_setting=0", "has_unsafe_setting"},
		{"image_size fraction", "?image_type=private_image&image_size=1.5", "image_size"},
		{"image_size negative", "?image_type=private_image&image_size=-1", "image_size"},
		{"image_size too big", "?image_type=private_image&image_size=2147483548", "image_size"},
		{"scan_status done", "?image_type=private_image&scan_status=done", "scan_status"},
		{"scan_status empty", "?image_type=private_image&scan_status=", "scan_status"},
		{"namespace empty", "?image_type=private_image&namespace=", "namespace"},
		{"namespace too long", "?image_type=private_image&namespace=" + long(257), "namespace"},
		{"image_name empty", "?image_type=private_image&image_name=", "image_name"},
		{"image_name too long", "?image_type=private_image&image_name=" + long(129), "image_name"},
		{"image_version empty", "?image_type=private_image&image_version", "image_version"},
		{"image_version too long", "?image_type=private_image&image_version=" + long(65), "image_version"},
		{"instance_name too long", "?image_type=instance_image&instance_name=" + long(129), "instance_name"},
		{"instance_id too long", "?image_type=instance_image&instance_id=" + long(129), "instance_id"},
		{"enterprise_project_id empty", "?image_type=private_image&enterprise_project_id=", "enterprise_project_id"},
		{"enterprise_project_id too long", "?image_type=private_image&enterprise_project_id=" + long(257), "enterprise_project_id"},
		{"update start after end", "?image_type=private_image&start_latest_update_time=2000&end_latest_update_time=1000", "start_latest_update_time"},
		{"scan start after end", "?image_type=private_image&start_latest_scan_time=2000&end_latest_scan_time=1999", "start_latest_scan_time"},
		{"update start beyond max", "?image_type=private_image&start_latest_update_time=4070880000001", "start_latest_update_time"},
		{"update end beyond max", "?image_type=private_image&end_latest_update_time=4070880000001", "end_latest_update_time"},
		{"scan start beyond max", "?image_type=private_image&start_latest_scan_time=4070880000001", "start_latest_scan_time"},
		{"scan end beyond max", "?image_type=private_image&end_latest_scan_time=4070880000001", "end_latest_scan_time"},
		{"update start negative", "?image_type=private_image&start_latest_update_time=-1", "start_latest_update_time"},
		{"scan end not a number", "?image_type=private_image&end_latest_scan_time=yesterday", "end_latest_scan_time"},
		{"invalid utf-8", "?image_type=private_image&image_name=%ff", "image_name"},
		{"local_image still validated", "?image_type=local_image&limit=500", "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", path: listPath + tc.query})
			e := wantError(t, res, http.StatusBadRequest, "HSS.0001")
			if !strings.Contains(e.ErrorMsg, "parameter "+tc.param+":") && !strings.Contains(e.ErrorMsg, "parameter "+tc.param+";") {
				t.Errorf("error_msg %q does not name parameter %s", e.ErrorMsg, tc.param)
			}
			if !strings.Contains(e.ErrorMsg, "allowed:") {
				t.Errorf("error_msg %q does not say what is allowed", e.ErrorMsg)
			}
		})
	}

	t.Run("message names value and range", func(t *testing.T) {
		res := f.do(t, request{method: "GET", path: listPath + "?image_type=private_image&limit=201"})
		e := wantError(t, res, http.StatusBadRequest, "HSS.0001")
		if want := `Invalid parameter limit: "201"; allowed: an integer from 10 to 200.`; e.ErrorMsg != want {
			t.Errorf("error_msg = %q, want %q", e.ErrorMsg, want)
		}
	})

	t.Run("valid edges", func(t *testing.T) {
		for _, q := range []string{
			"?image_type=private_image&limit=10&offset=0",
			"?image_type=private_image&limit=200&offset=2000000",
			"?image_type=private_image&image_size=2147483547&instance_name=&instance_id=",
			"?image_type=private_image&start_latest_update_time=0&end_latest_update_time=4070880000000",
			"?image_type=private_image&start_latest_scan_time=5&end_latest_scan_time=5",
			"?image_type=private_image&latest_version=false&has_vul=true&has_unsafe_setting=false&has_malicious_file=true",
			"?image_type=private_image&scan_status=image_oversized&unknown=whatever&unknown",
			"?image_type=instance_image&namespace=" + long(256) + "&image_name=" + long(128) + "&image_version=" + long(64),
			"?image_type=private_image&enterprise_project_id=all_granted_eps",
		} {
			var got struct {
				TotalNum int   `json:"total_num"`
				DataList []any `json:"data_list"`
			}
			f.get(t, listPath+q, &got)
			if got.DataList == nil {
				t.Errorf("GET %s: data_list is null", q)
			}
		}
	})
}

// seeded is a project with a few hundred image versions of varied times,
// sizes, scan results, registries and enterprise projects.
type seeded struct {
	*fixture
	// rows are every image of the project, as the store reads them back.
	rows []*customs.Image
}

func seed(t *testing.T, rng *rand.Rand) *seeded {
	t.Helper()
	f := newFixture(t)
	ctx := t.Context()
	regs := []*customs.Registry{
		f.registry(t, "swr", customs.SwrPrivate, ""),
		f.registry(t, "harbor", customs.Harbor, ""),
		f.registry(t, "jfrog", customs.Jfrog, "ep-2"),
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	namespaces := []string{"library", "team", "infra", ""}
	names := []string{"nginx", "redis", "app", "app-server", "api/v1", "web", "db", "cache"}
	var manifests []*customs.Manifest
	for i := range 40 {
		m := image(fmt.Sprint("m", i), rng.Int64N(5000))
		manifests = append(manifests, m)
	}
	if err := f.db.PutManifests(ctx, manifests); err != nil {
		t.Fatal(err)
	}
	for _, reg := range regs {
		var us []customs.RepositoryUpdate
		for _, ns := range namespaces {
			for _, name := range names {
				if rng.IntN(3) == 0 {
					continue
				}
				u := customs.RepositoryUpdate{Namespace: ns, Name: name}
				for k := range 2 + rng.IntN(10) {
					// Few distinct times, so that many rows tie on update time.
					when := base.Add(time.Duration(rng.IntN(12)) * time.Hour)
					if rng.IntN(10) == 0 {
						when = time.Time{} // unknown time
					}
					u.Upserts = append(u.Upserts, customs.TagState{
						Tag: fmt.Sprintf("v%d.%d", k, rng.IntN(3)), Digest: manifests[rng.IntN(len(manifests))].Digest, UpdatedAt: when,
					})
				}
				u.Upserts = slices.CompactFunc(u.Upserts, func(a, b customs.TagState) bool { return a.Tag == b.Tag })
				us = append(us, u)
			}
		}
		if _, err := f.db.ApplyRepositoryUpdates(ctx, customs.ProjectScope(projectID), reg.ID, us); err != nil {
			t.Fatal(err)
		}
	}
	summaries := map[string]customs.ScanSummary{}
	for i, m := range manifests {
		switch i % 4 {
		case 0: // never scanned
		case 1:
			summaries[m.Digest] = customs.ScanSummary{Status: customs.ScanWaiting}
		case 2:
			summaries[m.Digest] = customs.ScanSummary{Status: customs.ScanFailed, FailedDesc: "download_failed", ScannedAt: base.Add(time.Duration(rng.IntN(48)) * time.Hour)}
		case 3:
			summaries[m.Digest] = customs.ScanSummary{Status: customs.ScanSuccess, ScannedAt: base.Add(time.Duration(rng.IntN(48)) * time.Hour),
				VulNum: rng.IntN(3), UnsafeSettingNum: rng.IntN(2), MaliciousFileNum: rng.IntN(2)}
		}
	}
	f.scanned(t, summaries)

	s := &seeded{fixture: f}
	for _, typ := range []customs.ImageType{customs.PrivateImage, customs.InstanceImage} {
		for offset := 0; ; offset += 200 {
			page, total, err := f.db.FindImages(ctx, customs.ProjectScope(projectID), customs.ImageFilter{Type: typ, Offset: offset, Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			s.rows = append(s.rows, page...)
			if offset+200 >= total {
				break
			}
		}
	}
	if len(s.rows) < 200 {
		t.Fatalf("seeded %d rows, want a few hundred", len(s.rows))
	}
	return s
}

// listed is what the test reads of a record.
type listed struct {
	ID               int64  `json:"id"`
	LatestUpdateTime int64  `json:"latest_update_time"`
	ImageType        string `json:"image_type"`
}

type listPage struct {
	TotalNum int      `json:"total_num"`
	DataList []listed `json:"data_list"`
}

// walk reads every page of the list for query with page size limit and
// returns the ids in order, checking total_num on every page.
func (s *seeded) walk(t *testing.T, query url.Values, limit int) []int64 {
	t.Helper()
	ids := []int64{}
	total := -1
	for offset := 0; ; offset += limit {
		query.Set("offset", strconv.Itoa(offset))
		query.Set("limit", strconv.Itoa(limit))
		var page listPage
		s.get(t, listPath+"?"+query.Encode(), &page)
		if total >= 0 && page.TotalNum != total {
			t.Fatalf("total_num changed from %d to %d between pages", total, page.TotalNum)
		}
		total = page.TotalNum
		for _, r := range page.DataList {
			ids = append(ids, r.ID)
		}
		if len(page.DataList) < limit {
			if len(ids) != total {
				t.Errorf("query %s: walked %d rows, total_num says %d", query.Encode(), len(ids), total)
			}
			return ids
		}
	}
}

// reference is the ids the list must return for filter f in enterprise
// projects eps (nil: all), by brute force over every row.
func (s *seeded) reference(f customs.ImageFilter, eps []string) []int64 {
	var match []*customs.Image
	for _, img := range s.rows {
		if f.Match(img) && (eps == nil || slices.Contains(eps, img.EnterpriseProjectID)) {
			match = append(match, img)
		}
	}
	slices.SortFunc(match, func(a, b *customs.Image) int {
		if customs.ImageLess(a, b) {
			return -1
		}
		return 1
	})
	ids := make([]int64, 0, len(match))
	for _, img := range match {
		ids = append(ids, img.ID)
	}
	return ids
}

// TestListPaging walks every page of several filters: each matching row
// comes exactly once, in the spec's order, and total_num counts them.
func TestListPaging(t *testing.T) {
	s := seed(t, rand.New(rand.NewPCG(1, 2)))
	for _, tc := range []struct {
		name   string
		query  url.Values
		filter customs.ImageFilter
		eps    []string
	}{
		{"all private", url.Values{"image_type": {"private_image"}}, customs.ImageFilter{Type: customs.PrivateImage}, []string{"0"}},
		{"all instance, every enterprise project", url.Values{"image_type": {"instance_image"}, "enterprise_project_id": {"all_granted_eps"}},
			customs.ImageFilter{Type: customs.InstanceImage}, nil},
		{"instance in ep-2", url.Values{"image_type": {"instance_image"}, "enterprise_project_id": {"ep-2"}},
			customs.ImageFilter{Type: customs.InstanceImage}, []string{"ep-2"}},
		{"latest versions", url.Values{"image_type": {"private_image"}, "latest_version": {"true"}},
			customs.ImageFilter{Type: customs.PrivateImage, LatestOnly: true}, []string{"0"}},
		{"substring name", url.Values{"image_type": {"private_image"}, "image_name": {"app"}},
			customs.ImageFilter{Type: customs.PrivateImage, Name: "app"}, []string{"0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := s.reference(tc.filter, tc.eps)
			if len(want) == 0 {
				t.Fatal("the filter matches no seeded row; the test would prove nothing")
			}
			for _, limit := range []int{10, 37, 200} {
				got := s.walk(t, tc.query, limit)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("walk with limit %d mismatch (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
	t.Run("order", func(t *testing.T) {
		var page listPage
		s.get(t, listPath+"?image_type=private_image&limit=200", &page)
		for i := 1; i < len(page.DataList); i++ {
			a, b := page.DataList[i-1], page.DataList[i]
			if a.LatestUpdateTime < b.LatestUpdateTime || (a.LatestUpdateTime == b.LatestUpdateTime && a.ID < b.ID) {
				t.Errorf("rows %d and %d out of order: %+v before %+v", i-1, i, a, b)
			}
		}
	})
}

// TestListFilterCombinations checks random combinations of every filter
// against a brute-force filter over the seeded rows.
func TestListFilterCombinations(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := seed(t, rng)
	now := s.clock.now()
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(h int) int64 { return base.Add(time.Duration(h) * time.Hour).UnixMilli() }
	nonEmpty := 0
	const runs = 300
	for i := range runs {
		q := url.Values{}
		var f customs.ImageFilter
		eps := []string{"0"}
		f.Type = customs.ImageType(pick("private_image", "instance_image"))
		q.Set("image_type", string(f.Type))
		maybe := func() bool { return rng.IntN(4) == 0 }
		if maybe() {
			ep := pick("0", "ep-2", "all_granted_eps")
			q.Set("enterprise_project_id", ep)
			eps = []string{ep}
			if ep == "all_granted_eps" {
				eps = nil
			}
		}
		if maybe() {
			f.Namespace = pick("library", "team", "infra", "nope")
			q.Set("namespace", f.Namespace)
		}
		if maybe() {
			f.Name = pick("app", "nginx", "v1", "e", "x")
			q.Set("image_name", f.Name)
		}
		if maybe() {
			f.Tag = pick("v0", ".1", "v3.2", "z")
			q.Set("image_version", f.Tag)
		}
		if maybe() {
			f.LatestOnly = rng.IntN(2) == 0
			q.Set("latest_version", strconv.FormatBool(f.LatestOnly))
		}
		if maybe() {
			f.ScanStatus = customs.ScanStatus(pick("unscan", "waiting_for_scan", "success", "failed", "scanning"))
			q.Set("scan_status", string(f.ScanStatus))
		}
		if maybe() {
			f.MinSize = rng.Int64N(5000)
			q.Set("image_size", strconv.FormatInt(f.MinSize, 10))
		}
		if maybe() {
			f.InstanceName = pick("harbor", "jfrog", "arb", "")
			q.Set("instance_name", f.InstanceName)
		}
		if maybe() {
			for _, r := range s.rows {
				if r.InstanceID != "" && rng.IntN(2) == 0 {
					f.InstanceID = r.InstanceID
					break
				}
			}
			q.Set("instance_id", f.InstanceID)
		}
		timeRange := func(startName, endName string, maxH int) customs.TimeRange {
			start, end := rng.IntN(maxH), rng.IntN(maxH)
			if start > end {
				start, end = end, start
			}
			switch rng.IntN(5) {
			case 0:
				q.Set(startName, strconv.FormatInt(ms(start), 10))
				q.Set(endName, strconv.FormatInt(ms(end), 10))
				return customs.TimeRange{From: time.UnixMilli(ms(start)), To: time.UnixMilli(ms(end))}
			case 1:
				q.Set(startName, strconv.FormatInt(ms(start), 10))
				return customs.TimeRange{From: time.UnixMilli(ms(start)), To: now}
			case 2:
				q.Set(endName, strconv.FormatInt(ms(end), 10))
				return customs.TimeRange{From: time.UnixMilli(0), To: time.UnixMilli(ms(end))}
			}
			return customs.TimeRange{}
		}
		f.UpdatedAt = timeRange("start_latest_update_time", "end_latest_update_time", 12)
		f.ScannedAt = timeRange("start_latest_scan_time", "end_latest_scan_time", 48)
		boolean := func(name string) *bool {
			if !maybe() {
				return nil
			}
			b := rng.IntN(2) == 0
			q.Set(name, strconv.FormatBool(b))
			return &b
		}
		f.HasVul = boolean("has_vul")
		f.HasUnsafeSetting = boolean("has_unsafe_setting")
		f.HasMaliciousFile = boolean("has_malicious_file")

		want := s.reference(f, eps)
		if len(want) > 0 {
			nonEmpty++
		}
		got := s.walk(t, q, 200)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("run %d, query %s mismatch (-want +got):\n%s", i, q.Encode(), diff)
		}
	}
	if nonEmpty < runs/4 {
		t.Errorf("only %d of %d combinations matched any row; the test proves little", nonEmpty, runs)
	}
}
