package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"customs"
)

// The list benchmark's data set: a million image versions of one project, as
// a large organisation has them. Built once per process.
var (
	benchOnce  sync.Once
	benchMain  *Main
	benchToken string
	benchV5    string
	benchLoad  time.Duration
	benchErr   error
)

const (
	benchNamespaces = 200
	benchRepos      = 20_000
)

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("CUSTOMS_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func benchDigest(kind string, i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(append([]byte(kind), b[:]...))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// loadBench starts the service on a temporary directory and loads rows
// through the store's own write path (manifests, repository updates, scan
// summaries), with a realistic spread: 200 namespaces, 20,000 repositories
// with 1 to 99 tags each, two years of update times, 60% scanned
// successfully, sizes from 5 MB to 2 GB, and 50,000 more rows in two
// instance registries.
func loadBench(b *testing.B) {
	dir, err := os.MkdirTemp("", "customs-bench-")
	if err != nil {
		benchErr = err
		return
	}
	m := NewMain()
	m.Config.DataDir, m.Config.Addr, m.Config.SyncInterval = dir, "127.0.0.1:0", 0
	m.Config.AdminPassword = "bench-password"
	m.Stdout, m.Stderr = io.Discard, io.Discard
	if benchErr = m.Open(b.Context()); benchErr != nil {
		return
	}
	benchMain = m
	ctx := b.Context()
	p, err := m.project(ctx, "")
	if err != nil {
		benchErr = err
		return
	}
	scope := customs.ProjectScope(p.ID)
	regs := []*customs.Registry{
		{Name: "swr", Type: customs.SwrPrivate, Protocol: "https", Addr: "swr.example.com"},
		{Name: "harbor-prod", Type: customs.Harbor, Protocol: "https", Addr: "harbor.example.com"},
		{Name: "jfrog-dev", Type: customs.Jfrog, Protocol: "https", Addr: "jfrog.example.com", EnterpriseProjectID: "ep-dev"},
	}
	for _, r := range regs {
		if benchErr = m.DB.CreateRegistry(ctx, scope, r); benchErr != nil {
			return
		}
	}
	r := rand.New(rand.NewPCG(2026, 11))
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	rows := benchRows()
	perRepo := max(1, rows/benchRepos)
	load := func(reg *customs.Registry, n, repos int, seed int) error {
		var manifests []*customs.Manifest
		var updates []customs.RepositoryUpdate
		summaries := map[string]customs.ScanSummary{}
		flush := func() error {
			if err := m.DB.PutManifests(ctx, manifests); err != nil {
				return err
			}
			if err := m.DB.SetScanSummaries(ctx, summaries); err != nil {
				return err
			}
			if _, err := m.DB.ApplyRepositoryUpdates(ctx, scope, reg.ID, updates); err != nil {
				return err
			}
			manifests, updates, summaries = manifests[:0], updates[:0], map[string]customs.ScanSummary{}
			return nil
		}
		i := 0
		for repo := 0; i < n; repo = (repo + 1) % repos {
			tags := 1 + r.IntN(2*perRepo-1)
			u := customs.RepositoryUpdate{Namespace: fmt.Sprintf("team-%03d", repo%benchNamespaces), Name: fmt.Sprintf("service-%05d", repo)}
			for t := 0; t < tags && i < n; t, i = t+1, i+1 {
				digest := benchDigest(fmt.Sprint("m", seed), i)
				created := end.Add(-time.Duration(r.Int64N(int64(730 * 24 * time.Hour))))
				manifests = append(manifests, &customs.Manifest{
					Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json", Kind: customs.KindImage,
					ConfigDigest: benchDigest(fmt.Sprint("c", seed), i), Size: int64(5e6 * math.Exp(r.Float64()*6)),
					Created: created, Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
				})
				u.Upserts = append(u.Upserts, customs.TagState{Tag: fmt.Sprintf("v%d.%d.%d", r.IntN(5), r.IntN(30), t), Digest: digest, UpdatedAt: created})
				switch x := r.IntN(100); {
				case x < 60:
					s := customs.ScanSummary{Status: customs.ScanSuccess, ScannedAt: created.Add(time.Hour)}
					if r.IntN(10) < 6 {
						s.VulNum = 1 + r.IntN(200)
					}
					if r.IntN(10) < 4 {
						s.UnsafeSettingNum = 1 + r.IntN(8)
					}
					if r.IntN(100) < 2 {
						s.MaliciousFileNum = 1
					}
					summaries[digest] = s
				case x < 70:
					summaries[digest] = customs.ScanSummary{Status: customs.ScanFailed, FailedDesc: "download_failed", ScannedAt: created.Add(time.Hour)}
				case x < 75:
					summaries[digest] = customs.ScanSummary{Status: customs.ScanWaiting}
				case x < 78:
					summaries[digest] = customs.ScanSummary{Status: customs.ScanScanning}
				}
			}
			updates = append(updates, u)
			if len(manifests) >= 50_000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	}
	if benchErr = load(regs[0], rows, benchRepos, 0); benchErr != nil {
		return
	}
	if benchErr = load(regs[1], rows/40, benchRepos/40, 1); benchErr != nil {
		return
	}
	if benchErr = load(regs[2], rows/40, benchRepos/40, 2); benchErr != nil {
		return
	}
	benchLoad = time.Since(start)
	// What a restart does in the background: load the list index.
	if benchErr = m.DB.WarmIndexes(ctx); benchErr != nil {
		return
	}

	tok, err := m.IAM.IssueToken(ctx, customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: "bench-password", ProjectID: p.ID})
	if err != nil {
		benchErr = err
		return
	}
	benchToken, benchV5 = tok.Secret, m.Server.URL()+"/v5/"+p.ID+"/image/swr-repository?"
}

// BenchmarkListAPI measures ListSwrImageRepository in-process over HTTP on a
// million rows, for each filter combination the API offers, limit 200, with
// exact totals. It reports p50 and p99 latency per combination and the load
// time of the rows. CUSTOMS_BENCH_ROWS scales the data set.
//
//	go test -run '^$' -bench BenchmarkListAPI -benchtime 200x ./cmd/customs
func BenchmarkListAPI(b *testing.B) {
	benchOnce.Do(func() { loadBench(b) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	b.Logf("loaded %d rows in %v", benchRows()+2*(benchRows()/40), benchLoad.Round(time.Millisecond))
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	var instanceID string
	regs, _ := benchMain.DB.FindRegistries(b.Context(), customs.ProjectScope(benchMain.Bootstrap.Project.ID), customs.RegistryFilter{Name: "harbor-prod"})
	if len(regs) == 1 {
		instanceID = regs[0].ID
	}
	cases := []struct{ name, query string }{
		{"none", ""},
		{"namespace", "namespace=team-042"},
		{"image_name_substring", "image_name=ice-0042"},
		{"image_version_substring", "image_version=v1.2"},
		{"latest_version", "latest_version=true"},
		{"scan_status", "scan_status=failed"},
		{"has_vul+scan_status", "has_vul=true&scan_status=success"},
		{"has_unsafe_setting", "has_unsafe_setting=true"},
		{"has_malicious_file", "has_malicious_file=true"},
		{"has_vul_false", "has_vul=false"},
		{"image_size", "image_size=1000000000"},
		{"update_time_30d", "start_latest_update_time=" + ms(end.Add(-30*24*time.Hour)) + "&end_latest_update_time=" + ms(end)},
		{"update_time_1y", "start_latest_update_time=" + ms(end.Add(-365*24*time.Hour)) + "&end_latest_update_time=" + ms(end)},
		{"scan_time_until", "end_latest_scan_time=" + ms(end.Add(-180*24*time.Hour))},
		{"offset_990000", "offset=990000"},
		{"offset_500000", "offset=500000"},
		{"all_granted_eps", "enterprise_project_id=all_granted_eps"},
		{"instance_name", "image_type=instance_image&instance_name=harbor"},
		{"instance_id", "image_type=instance_image&instance_id=" + instanceID},
		{"namespace+latest+vul", "namespace=team-007&latest_version=true&has_vul=true"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			url := benchV5 + "limit=200&" + tc.query
			if !strings.Contains(tc.query, "image_type=") {
				url += "&image_type=private_image"
			}
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(b.Context(), "GET", url, nil)
				req.Header.Set("X-Auth-Token", benchToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", url, resp.StatusCode)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(benchLoad.Seconds(), "load-s")
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchMain != nil {
		dir := benchMain.Config.DataDir
		benchMain.Close()
		os.RemoveAll(dir)
	}
	os.Exit(code)
}
