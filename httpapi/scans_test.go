package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// recordingQueue is the queue side of httpapi.ScanQueue: it keeps the
// digests it is asked to queue, and fails with err when set.
type recordingQueue struct {
	mu    sync.Mutex
	calls [][]string
	err   error
}

func (q *recordingQueue) QueueScans(_ context.Context, digests []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.calls = append(q.calls, slices.Clone(digests))
	return nil
}

// take returns the calls made since the last take.
func (q *recordingQueue) take() [][]string {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.calls
	q.calls = nil
	return c
}

// withScans serves scan results from the fixture's store and queues scans in q.
func withScans(q *recordingQueue) fixtureOption {
	return func(t *testing.T, f *fixture) {
		f.srv.Scans = f.db
		f.srv.ScanQueue = q
		f.srv.CheckTypeDescriptions = map[string]string{"Docker image": "The image's configuration and build history."}
	}
}

// scanSeed is what seedScans stored.
type scanSeed struct {
	swr, harbor                        *customs.Registry
	single, app10, solo, amd, arm, idx *customs.Manifest
	api                                *customs.Manifest
}

// seedScans stores, in projectID's default enterprise project:
//
//	private team/app:1 and team/app:same   single (scanned: 3 findings, 2 malicious files, 2 of 4 rules failed)
//	private team/app:10                    another image, never scanned
//	private team/multi:1                   an index of amd64 and arm64 (both scanned, overlapping)
//	private solo:1                         a repository without a namespace, never scanned
//	instance prod/api:2025.05              in a Harbor registry, never scanned
//
// and in projectBID a private team/app:1 with a finding of its own.
func seedScans(t *testing.T, f *fixture) scanSeed {
	t.Helper()
	ctx := t.Context()
	var s scanSeed
	s.swr = f.registry(t, "swr", customs.SwrPrivate, "")
	s.harbor = f.registry(t, "harbor-prod", customs.Harbor, "")
	t0 := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	s.single, s.app10, s.solo, s.api = image("app-1", 1000), image("app-10", 1000), image("solo", 10), image("api", 99)
	f.tag(t, s.swr, "team/app", "1", s.single, t0)
	f.tag(t, s.swr, "team/app", "same", s.single, t0)
	f.tag(t, s.swr, "team/app", "10", s.app10, t0)
	f.tag(t, s.swr, "solo", "1", s.solo, t0)
	f.tag(t, s.harbor, "prod/api", "2025.05", s.api, t0)
	s.amd, s.arm = image("multi-amd64", 10), image("multi-arm64", 10)
	s.arm.Platform.Architecture = "arm64"
	s.idx = &customs.Manifest{
		Digest: digest("multi-index"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex,
		ConfigDigest: s.amd.ConfigDigest, Size: 20, Scannable: true,
		Children: []customs.ChildImage{{Digest: s.amd.Digest, Platform: s.amd.Platform}, {Digest: s.arm.Digest, Platform: s.arm.Platform}},
	}
	if err := f.db.PutManifests(ctx, []*customs.Manifest{s.amd, s.arm}); err != nil {
		t.Fatal(err)
	}
	f.tag(t, s.swr, "team/multi", "1", s.idx, t0)

	layer := digest("layer-app")
	ssl := customs.Package{Name: "libssl3", Version: "3.0.9-1", Ecosystem: "Debian:12", SourceName: "openssl", SourceVersion: "3.0.9-1",
		OS: true, Path: "/var/lib/dpkg/status", Layer: layer}
	xnet := customs.Package{Name: "golang.org/x/net", Version: "0.1.0", Ecosystem: "Go", Path: "/app/server", Layer: layer}
	lodash := customs.Package{Name: "lodash", Version: "4.17.20", Ecosystem: "npm", Path: "/app/node_modules/lodash/package.json", Layer: digest("layer-node")}
	sslFlaw := customs.Finding{VulnID: "DSA-5678-1", Aliases: []string{"CVE-2024-5678"}, Package: ssl, Severity: "critical",
		Summary: "openssl: buffer overread in X.509 name checks", FixedVersion: "3.0.11-1", URL: "https://security-tracker.debian.org/tracker/DSA-5678-1"}
	save := func(res *customs.ScanResult) {
		t.Helper()
		if err := f.db.SaveScanResult(ctx, res); err != nil {
			t.Fatalf("SaveScanResult(%s) = %v", res.Digest, err)
		}
	}
	docker := func(id, name, severity string, passed bool, current string) customs.BaselineResult {
		return customs.BaselineResult{RuleID: id, RuleName: name, CheckName: "Docker image", CheckType: "Docker image", Standard: "hw_standard",
			Severity: severity, Description: name + ".", Reference: "CIS Docker Benchmark " + id, Audit: "Read the image configuration.",
			Remediation: "Change the Dockerfile.", Passed: passed, CurrentValue: current, SuggestValue: "as the rule asks"}
	}
	save(&customs.ScanResult{
		Digest: s.single.Digest, ScannedAt: t0.Add(time.Hour), OS: "Debian:12", Packages: []customs.Package{ssl, xnet, lodash},
		Findings: []customs.Finding{
			sslFlaw,
			{VulnID: "GO-2024-2687", Package: xnet, Severity: "medium", Summary: "HTTP/2 CONTINUATION flood in net/http", FixedVersion: "0.23.0", URL: "https://pkg.go.dev/vuln/GO-2024-2687"},
			{VulnID: "GHSA-29mw-wpgm-hmr9", Package: lodash, Severity: "low", Summary: "ReDoS in lodash"},
		},
		Malware: []customs.MaliciousFile{
			{Path: "/tmp/eicar.com", Signature: "Eicar-Signature", Size: 68, SHA256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", Layer: layer},
			{Path: "/opt/tools/eicar.zip", Signature: "Eicar-Signature-Zip", Size: 184, SHA256: digest("zip")[7:], Layer: layer, Deleted: true},
		},
		Baseline: []customs.BaselineResult{
			docker("4.1", "Run as a non-root user", customs.SeverityHigh, false, "root"),
			docker("4.6", "Add a HEALTHCHECK", customs.SeverityLow, false, "no HEALTHCHECK"),
			docker("ssh-port", "Do not expose port 22", customs.SeverityMedium, true, ""),
			{RuleID: "sshd-root", RuleName: "Forbid root logins over SSH", CheckName: "SSH", CheckType: "SSH", Standard: "hw_standard",
				Severity: customs.SeverityMedium, Description: "sshd must refuse root.", Reference: "sshd_config(5)", Audit: "Read /etc/ssh/sshd_config.",
				Remediation: "Set PermitRootLogin no.", Passed: true, CurrentValue: "no", SuggestValue: "no"},
		},
	})
	// The index's children share the libssl3 flaw (counted once) and each has more.
	amdSSL, armSSL := sslFlaw, sslFlaw
	save(&customs.ScanResult{Digest: s.amd.Digest, ScannedAt: t0.Add(2 * time.Hour), Findings: []customs.Finding{amdSSL,
		{VulnID: "DSA-9000-1", Package: ssl, Severity: "high", Summary: "another flaw", FixedVersion: "3.0.12-1"}},
		Malware:  []customs.MaliciousFile{{Path: "/tmp/eicar.com", Signature: "Eicar-Signature", Size: 68, SHA256: "amd", Layer: digest("amd-layer")}},
		Baseline: []customs.BaselineResult{docker("4.1", "Run as a non-root user", customs.SeverityHigh, false, "root")}})
	save(&customs.ScanResult{Digest: s.arm.Digest, ScannedAt: t0.Add(3 * time.Hour), Findings: []customs.Finding{armSSL},
		Malware:  []customs.MaliciousFile{{Path: "/tmp/eicar.com", Signature: "Eicar-Signature", Size: 68, SHA256: "arm", Layer: digest("arm-layer")}},
		Baseline: []customs.BaselineResult{docker("4.1", "Run as a non-root user", customs.SeverityHigh, true, "app"), docker("4.6", "Add a HEALTHCHECK", customs.SeverityLow, false, "no HEALTHCHECK")}})

	// Project B has a team/app:1 of its own.
	other := &customs.Registry{Name: "swr-b", Type: customs.SwrPrivate, Protocol: "https", Addr: "swr-b.example.com"}
	scopeB := customs.ProjectScope(projectBID)
	if err := f.db.CreateRegistry(ctx, scopeB, other); err != nil {
		t.Fatal(err)
	}
	b := image("b-app", 5)
	if err := f.db.PutManifests(ctx, []*customs.Manifest{b}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ApplyRepositoryUpdates(ctx, scopeB, other.ID, []customs.RepositoryUpdate{{Namespace: "team", Name: "app",
		Upserts: []customs.TagState{{Tag: "1", Digest: b.Digest, UpdatedAt: t0}}}}); err != nil {
		t.Fatal(err)
	}
	save(&customs.ScanResult{Digest: b.Digest, ScannedAt: t0, Findings: []customs.Finding{{VulnID: "B-ONLY", Package: ssl, Severity: "low"}}})
	return s
}

// imageID is the image_id the list shows for m.
func imageID(m *customs.Manifest) string { return customs.ImageIDFromConfig(m.ConfigDigest) }

func v5(path string) string { return "/v5/" + projectID + "/image" + path }

func TestScanResultsGolden(t *testing.T) {
	f := newFixture(t, withScans(&recordingQueue{}))
	s := seedScans(t, f)
	app := "&namespace=team&image_name=app&image_version=1"
	for _, tc := range []struct {
		name, path string
	}{
		{"scan_vulnerabilities", "/" + imageID(s.single) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1"},
		{"scan_vulnerabilities_multi_arch", "/" + imageID(s.amd) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=multi&tag_name=1"},
		{"scan_malwares", "/" + imageID(s.single) + "/malwares?image_type=private_image"},
		{"scan_risk_configs", "/baseline/risk-configs?image_type=private_image" + app},
		{"scan_risk_config_rules", "/baseline/risk-configs/Docker%20image/rules?image_type=private_image&standard=hw_standard" + app},
		{"scan_check_rule_detail", "/baseline/check-rule/detail?image_type=private_image&check_name=Docker%20image&check_type=Docker%20image&check_rule_id=4.1&standard=hw_standard" + app},
		{"scan_empty", "/" + imageID(s.solo) + "/vulnerabilities?image_type=private_image&namespace=&image_name=solo&tag_name=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", path: v5(tc.path)})
			if res.status != http.StatusOK {
				t.Fatalf("GET = %d %s", res.status, res.body)
			}
			golden(t, tc.name, res.body, nil)
		})
	}
}

// detailPage is the page shape every detail list shares.
type detailPage struct {
	TotalNum int              `json:"total_num"`
	DataList []map[string]any `json:"data_list"`
}

// column returns field key of every row.
func (p detailPage) column(key string) []string {
	out := []string{}
	for _, row := range p.DataList {
		out = append(out, fmt.Sprint(row[key]))
	}
	return out
}

func TestScanResultFilters(t *testing.T) {
	f := newFixture(t, withScans(&recordingQueue{}))
	s := seedScans(t, f)
	vul := "/" + imageID(s.single) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1"
	mal := "/" + imageID(s.single) + "/malwares?image_type=private_image"
	app := "&namespace=team&image_name=app&image_version=1"
	rules := "/baseline/risk-configs/Docker%20image/rules?image_type=private_image&standard=hw_standard" + app
	for _, tc := range []struct {
		name, path, key string
		want            []string
		total           int // when it differs from len(want)
	}{
		{"vul all, most urgent first", vul, "vul_id", []string{"DSA-5678-1", "GO-2024-2687", "GHSA-29mw-wpgm-hmr9"}, 0},
		{"vul immediate", vul + "&repair_necessity=immediate_repair", "vul_id", []string{"DSA-5678-1"}, 0},
		{"vul not needed", vul + "&repair_necessity=not_needed_repair", "vul_id", []string{"GHSA-29mw-wpgm-hmr9"}, 0},
		{"vul id substring", vul + "&vul_id=2024", "vul_id", []string{"GO-2024-2687"}, 0},
		{"vul app_name exact", vul + "&app_name=lodash", "vul_id", []string{"GHSA-29mw-wpgm-hmr9"}, 0},
		{"vul app_name not a substring", vul + "&app_name=lodas", "vul_id", []string{}, 0},
		{"vul linux", vul + "&type=linux_vul", "app_path", []string{""}, 0},
		{"vul app", vul + "&type=app_vul", "app_path", []string{"/app/server", "/app/node_modules/lodash/package.json"}, 0},
		{"vul unhandled", vul + "&handle_status=unhandled", "vul_id", []string{"DSA-5678-1", "GO-2024-2687", "GHSA-29mw-wpgm-hmr9"}, 0},
		{"vul handled", vul + "&handle_status=handled", "vul_id", []string{}, 0},
		{"vul paged", vul + "&offset=2&limit=10", "vul_id", []string{"GHSA-29mw-wpgm-hmr9"}, 3},
		{"vul other tag of the same image", "/" + imageID(s.single) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=same", "vul_id", []string{"DSA-5678-1", "GO-2024-2687", "GHSA-29mw-wpgm-hmr9"}, 0},
		{"vul image id of another image", "/" + imageID(s.app10) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1", "vul_id", []string{}, 0},
		{"vul tag is exact", "/" + imageID(s.single) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=s", "vul_id", []string{}, 0},
		{"vul other type", "/" + imageID(s.single) + "/vulnerabilities?image_type=shared_image&namespace=team&image_name=app&tag_name=1", "vul_id", []string{}, 0},
		{"mal all", mal, "file_name", []string{"eicar.zip", "eicar.com"}, 0},
		{"mal file_name substring of the base name", mal + "&file_name=.zip", "file_path", []string{"/opt/tools/eicar.zip"}, 0},
		{"mal file_name not the directory", mal + "&file_name=tools", "file_path", []string{}, 0},
		{"mal with tag", mal + "&namespace=team&image_name=app&tag_name=same", "file_name", []string{"eicar.zip", "eicar.com"}, 0},
		{"mal wrong tag", mal + "&namespace=team&image_name=app&tag_name=10", "file_name", []string{}, 0},
		{"checks by image id", "/baseline/risk-configs?image_type=private_image&image_id=" + imageID(s.single), "check_name", []string{"Docker image", "SSH"}, 0},
		{"checks by severity", "/baseline/risk-configs?image_type=private_image&severity=High" + app, "check_name", []string{"Docker image"}, 0},
		{"checks by severity of the rules when none failed", "/baseline/risk-configs?image_type=private_image&severity=Medium" + app, "check_name", []string{"SSH"}, 0},
		{"checks by name", "/baseline/risk-configs?image_type=private_image&check_name=SSH" + app, "check_name", []string{"SSH"}, 0},
		{"checks by standard", "/baseline/risk-configs?image_type=private_image&standard=cn_standard" + app, "check_name", []string{}, 0},
		{"rules failed first", rules, "check_rule_id", []string{"4.1", "4.6", "ssh-port"}, 0},
		{"rules failed", rules + "&result_type=failed", "check_rule_id", []string{"4.1", "4.6"}, 0},
		{"rules passed", rules + "&result_type=pass", "scan_result", []string{"pass"}, 0},
		{"rules by name", rules + "&check_rule_name=HEALTH", "check_rule_id", []string{"4.6"}, 0},
		{"rules by severity", rules + "&severity=Medium", "check_rule_id", []string{"ssh-port"}, 0},
		{"rules other standard", "/baseline/risk-configs/Docker%20image/rules?image_type=private_image&standard=cn_standard" + app, "check_rule_id", []string{}, 0},
		{"rules of another check", "/baseline/risk-configs/SSH/rules?image_type=private_image&standard=hw_standard" + app, "check_rule_id", []string{"sshd-root"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var page detailPage
			f.get(t, v5(tc.path), &page)
			total := tc.total
			if total == 0 {
				total = len(tc.want)
			}
			if diff := cmp.Diff(tc.want, page.column(tc.key)); diff != "" || page.TotalNum != total {
				t.Errorf("total_num %d (want %d); %s mismatch (-want +got):\n%s", page.TotalNum, total, tc.key, diff)
			}
		})
	}
}

// TestScanTotalsMatchList checks that the list's counters equal the totals
// of the detail endpoints for the same image, single and multi-arch.
func TestScanTotalsMatchList(t *testing.T) {
	f := newFixture(t, withScans(&recordingQueue{}))
	s := seedScans(t, f)
	for _, tc := range []struct {
		name, repo, tag string
		m               *customs.Manifest
		want            [3]int // vul, malicious, unsafe: guards against both sides being 0
	}{
		{"single", "app", "1", s.single, [3]int{3, 2, 2}},
		{"single, second tag", "app", "same", s.single, [3]int{3, 2, 2}},
		{"multi-arch", "multi", "1", s.amd, [3]int{2, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var list struct {
				DataList []struct {
					ImageVersion     string `json:"image_version"`
					VulNum           int    `json:"vul_num"`
					MaliciousFileNum int    `json:"malicious_file_num"`
					UnsafeSettingNum int    `json:"unsafe_setting_num"`
				} `json:"data_list"`
			}
			f.get(t, listPath+"?image_type=private_image&namespace=team&image_name="+tc.repo+"&image_version="+tc.tag, &list)
			i := slices.IndexFunc(list.DataList, func(r struct {
				ImageVersion     string `json:"image_version"`
				VulNum           int    `json:"vul_num"`
				MaliciousFileNum int    `json:"malicious_file_num"`
				UnsafeSettingNum int    `json:"unsafe_setting_num"`
			}) bool {
				return r.ImageVersion == tc.tag
			})
			if i < 0 {
				t.Fatalf("no list row for team/%s:%s", tc.repo, tc.tag)
			}
			row := list.DataList[i]
			if diff := cmp.Diff(tc.want, [3]int{row.VulNum, row.MaliciousFileNum, row.UnsafeSettingNum}); diff != "" {
				t.Fatalf("list row [vul, malicious, unsafe] (-want +got):\n%s", diff)
			}
			sel := "&namespace=team&image_name=" + tc.repo
			var vul, mal, checks detailPage
			f.get(t, v5("/"+imageID(tc.m)+"/vulnerabilities?image_type=private_image&limit=200&tag_name="+tc.tag+sel), &vul)
			f.get(t, v5("/"+imageID(tc.m)+"/malwares?image_type=private_image&limit=200&tag_name="+tc.tag+sel), &mal)
			f.get(t, v5("/baseline/risk-configs?image_type=private_image&limit=200&image_version="+tc.tag+sel), &checks)
			failedInChecks, failedRules := 0, 0
			for _, c := range checks.DataList {
				failedInChecks += int(c["failed_rule_num"].(float64))
				var rules detailPage
				f.get(t, v5("/baseline/risk-configs/"+url.PathEscape(c["check_name"].(string))+"/rules?image_type=private_image&result_type=failed&limit=200&standard="+
					c["standard"].(string)+"&image_version="+tc.tag+sel), &rules)
				failedRules += rules.TotalNum
			}
			got := []int{vul.TotalNum, mal.TotalNum, failedInChecks, failedRules}
			want := []int{row.VulNum, row.MaliciousFileNum, row.UnsafeSettingNum, row.UnsafeSettingNum}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("detail totals [vulnerabilities, malwares, failed_rule_num, failed rules] differ from the list row (-row +details):\n%s", diff)
			}
		})
	}
}

// TestScanResultsScope checks that another project, or another enterprise
// project, sees none of the results.
func TestScanResultsScope(t *testing.T) {
	f := newFixture(t, withScans(&recordingQueue{}))
	s := seedScans(t, f)
	tokenB := f.login(t, "admin", projectBID)
	app := "&namespace=team&image_name=app&image_version=1"
	paths := []string{
		"/" + imageID(s.single) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1",
		"/" + imageID(s.single) + "/malwares?image_type=private_image",
		"/baseline/risk-configs?image_type=private_image" + app,
		"/baseline/risk-configs/Docker%20image/rules?image_type=private_image&standard=hw_standard" + app,
	}
	for _, p := range paths {
		for _, c := range []struct {
			name, project, token, query string
		}{
			{"project B", projectBID, tokenB, ""},
			{"another enterprise project", projectID, f.token, "&enterprise_project_id=ep-elsewhere"},
		} {
			t.Run(c.name+p, func(t *testing.T) {
				res := f.do(t, request{method: "GET", token: c.token, path: "/v5/" + c.project + "/image" + p + c.query})
				page := decode[detailPage](t, res)
				if res.status != http.StatusOK || page.TotalNum != 0 || len(page.DataList) != 0 {
					t.Errorf("= %d %s; want 200 with nothing", res.status, res.body)
				}
			})
		}
	}
	// Project B's own image of the same name shows only its own finding.
	var page detailPage
	res := f.do(t, request{method: "GET", token: tokenB, path: "/v5/" + projectBID + "/image/" + imageID(image("b-app", 5)) +
		"/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1"})
	page = decode[detailPage](t, res)
	if diff := cmp.Diff([]string{"B-ONLY"}, page.column("vul_id")); diff != "" {
		t.Errorf("project B's vulnerabilities (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		name, project, token, query string
	}{
		{"project B", projectBID, tokenB, ""},
		{"another enterprise project", projectID, f.token, "&enterprise_project_id=ep-elsewhere"},
	} {
		t.Run("detail/"+c.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", token: c.token, path: "/v5/" + c.project +
				"/image/baseline/check-rule/detail?image_type=private_image&check_name=Docker%20image&check_type=Docker%20image&check_rule_id=4.1&standard=hw_standard" + app + c.query})
			wantError(t, res, http.StatusNotFound, "HSS.0011")
		})
	}
}

// TestScanResultsInvalid checks every parameter's refusals, with the exact message.
func TestScanResultsInvalid(t *testing.T) {
	f := newFixture(t, withScans(&recordingQueue{}))
	long := func(n int) string { return strings.Repeat("a", n) }
	id := imageID(image("x", 1))
	vul := "/" + id + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1"
	mal := "/" + id + "/malwares?image_type=private_image"
	sel := "&image_id=" + id
	checks := "/baseline/risk-configs?image_type=private_image" + sel
	rules := "/baseline/risk-configs/Docker/rules?image_type=private_image&standard=hw_standard" + sel
	detail := "/baseline/check-rule/detail?image_type=private_image&check_name=Docker&check_type=Docker&check_rule_id=4.1&standard=hw_standard" + sel
	types := "one of private_image, shared_image, instance_image, local_image"
	selMsg := "allowed: the image's image_id, or its namespace, image_name and image_version together (namespace empty for a repository without one)."
	for _, tc := range []struct {
		name, path, msg string
	}{
		{"vul missing image_type", "/" + id + "/vulnerabilities?namespace=team&image_name=app&tag_name=1", "Missing parameter image_type; allowed: " + types + "."},
		{"vul bad image_type", "/" + id + "/vulnerabilities?image_type=cicd&namespace=team&image_name=app&tag_name=1", `Invalid parameter image_type: "cicd"; allowed: ` + types + "."},
		{"vul missing namespace", "/" + id + "/vulnerabilities?image_type=private_image&image_name=app&tag_name=1", "Missing parameter namespace; allowed: text of at most 256 characters."},
		{"vul missing image_name", "/" + id + "/vulnerabilities?image_type=private_image&namespace=team&tag_name=1", "Missing parameter image_name; allowed: text of 1 to 128 characters."},
		{"vul empty image_name", "/" + id + "/vulnerabilities?image_type=private_image&namespace=team&image_name&tag_name=1", `Invalid parameter image_name: ""; allowed: text of 1 to 128 characters.`},
		{"vul missing tag_name", "/" + id + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app", "Missing parameter tag_name; allowed: text of 1 to 64 characters."},
		{"vul tag_name too long", "/" + id + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=" + long(65), `Invalid parameter tag_name: "` + long(64) + `..." (65 characters); allowed: text of 1 to 64 characters.`},
		{"vul namespace too long", "/" + id + "/vulnerabilities?image_type=private_image&image_name=app&tag_name=1&namespace=" + long(257), `Invalid parameter namespace: "` + long(64) + `..." (257 characters); allowed: text of at most 256 characters.`},
		{"vul image_id too long", "/" + long(129) + "/vulnerabilities?image_type=private_image&namespace=team&image_name=app&tag_name=1", `Invalid parameter image_id: "` + long(64) + `..." (129 characters); allowed: text of 1 to 128 characters.`},
		{"vul repair_necessity", vul + "&repair_necessity=high", `Invalid parameter repair_necessity: "high"; allowed: one of immediate_repair, delay_repair, not_needed_repair.`},
		{"vul type", vul + "&type=os_vul", `Invalid parameter type: "os_vul"; allowed: one of linux_vul, app_vul.`},
		{"vul handle_status", vul + "&handle_status=ignored", `Invalid parameter handle_status: "ignored"; allowed: one of unhandled, handled.`},
		{"vul vul_id empty", vul + "&vul_id=", `Invalid parameter vul_id: ""; allowed: text of 1 to 128 characters.`},
		{"vul app_name too long", vul + "&app_name=" + long(257), `Invalid parameter app_name: "` + long(64) + `..." (257 characters); allowed: text of 1 to 256 characters.`},
		{"vul instance_id too long", vul + "&instance_id=" + long(129), `Invalid parameter instance_id: "` + long(64) + `..." (129 characters); allowed: text of at most 128 characters.`},
		{"vul limit 9", vul + "&limit=9", `Invalid parameter limit: "9"; allowed: an integer from 10 to 200.`},
		{"vul limit 201", vul + "&limit=201", `Invalid parameter limit: "201"; allowed: an integer from 10 to 200.`},
		{"vul offset -1", vul + "&offset=-1", `Invalid parameter offset: "-1"; allowed: an integer from 0 to 2000000.`},
		{"vul enterprise_project_id empty", vul + "&enterprise_project_id=", `Invalid parameter enterprise_project_id: ""; allowed: text of 1 to 256 characters.`},
		{"vul type twice", vul + "&type=app_vul&type=linux_vul", "Invalid parameter type: given 2 times; allowed: one value."},
		{"mal missing image_type", "/" + id + "/malwares", "Missing parameter image_type; allowed: " + types + "."},
		{"mal file_name empty", mal + "&file_name", `Invalid parameter file_name: ""; allowed: text of 1 to 256 characters.`},
		{"mal tag_name empty", mal + "&tag_name=", `Invalid parameter tag_name: ""; allowed: text of 1 to 64 characters.`},
		{"mal image_name too long", mal + "&image_name=" + long(129), `Invalid parameter image_name: "` + long(64) + `..." (129 characters); allowed: text of 1 to 128 characters.`},
		{"mal limit", mal + "&limit=abc", `Invalid parameter limit: "abc"; allowed: an integer from 10 to 200.`},
		{"checks missing image_type", "/baseline/risk-configs?image_id=" + id, "Missing parameter image_type; allowed: " + types + "."},
		{"checks no selector", "/baseline/risk-configs?image_type=private_image", "Missing parameter image_id, or namespace, image_name and image_version; " + selMsg},
		{"checks partial selector", "/baseline/risk-configs?image_type=private_image&namespace=team&image_name=app", "Missing parameter image_id, or image_version; " + selMsg},
		{"checks image_id empty", "/baseline/risk-configs?image_type=private_image&image_id=", `Invalid parameter image_id: ""; allowed: text of 1 to 128 characters.`},
		{"checks image_version too long", "/baseline/risk-configs?image_type=private_image&namespace=a&image_name=b&image_version=" + long(65), `Invalid parameter image_version: "` + long(64) + `..." (65 characters); allowed: text of 1 to 64 characters.`},
		{"checks severity", checks + "&severity=Critical", `Invalid parameter severity: "Critical"; allowed: one of Security, Low, Medium, High.`},
		{"checks standard", checks + "&standard=cis", `Invalid parameter standard: "cis"; allowed: one of hw_standard, cn_standard.`},
		{"checks check_name empty", checks + "&check_name=", `Invalid parameter check_name: ""; allowed: text of 1 to 256 characters.`},
		{"checks offset", checks + "&offset=2000001", `Invalid parameter offset: "2000001"; allowed: an integer from 0 to 2000000.`},
		{"rules missing standard", "/baseline/risk-configs/Docker/rules?image_type=private_image" + sel, "Missing parameter standard; allowed: one of hw_standard, cn_standard."},
		{"rules no selector", "/baseline/risk-configs/Docker/rules?image_type=private_image&standard=hw_standard", "Missing parameter image_id, or namespace, image_name and image_version; " + selMsg},
		{"rules check_name too long", "/baseline/risk-configs/" + long(257) + "/rules?image_type=private_image&standard=hw_standard" + sel, `Invalid parameter check_name: "` + long(64) + `..." (257 characters); allowed: text of 1 to 256 characters.`},
		{"rules result_type", rules + "&result_type=passed", `Invalid parameter result_type: "passed"; allowed: one of pass, failed.`},
		{"rules severity", rules + "&severity=high", `Invalid parameter severity: "high"; allowed: one of Security, Low, Medium, High.`},
		{"rules check_rule_name empty", rules + "&check_rule_name=", `Invalid parameter check_rule_name: ""; allowed: text of 1 to 256 characters.`},
		{"rules limit", rules + "&limit=1000", `Invalid parameter limit: "1000"; allowed: an integer from 10 to 200.`},
		{"detail missing check_name", "/baseline/check-rule/detail?image_type=private_image&check_type=Docker&check_rule_id=4.1&standard=hw_standard" + sel, "Missing parameter check_name; allowed: text of 1 to 256 characters."},
		{"detail missing check_type", "/baseline/check-rule/detail?image_type=private_image&check_name=Docker&check_rule_id=4.1&standard=hw_standard" + sel, "Missing parameter check_type; allowed: text of 1 to 256 characters."},
		{"detail missing check_rule_id", "/baseline/check-rule/detail?image_type=private_image&check_name=Docker&check_type=Docker&standard=hw_standard" + sel, "Missing parameter check_rule_id; allowed: text of 1 to 256 characters."},
		{"detail missing standard", "/baseline/check-rule/detail?image_type=private_image&check_name=Docker&check_type=Docker&check_rule_id=4.1" + sel, "Missing parameter standard; allowed: one of hw_standard, cn_standard."},
		{"detail no selector", "/baseline/check-rule/detail?image_type=private_image&check_name=Docker&check_type=Docker&check_rule_id=4.1&standard=hw_standard", "Missing parameter image_id, or namespace, image_name and image_version; " + selMsg},
		{"detail bad image_type", strings.Replace(detail, "private_image", "local", 1), `Invalid parameter image_type: "local"; allowed: ` + types + "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", path: v5(tc.path)})
			e := wantError(t, res, http.StatusBadRequest, "HSS.0001")
			if e.ErrorMsg != tc.msg {
				t.Errorf("error_msg mismatch (-want +got):\n%s", cmp.Diff(tc.msg, e.ErrorMsg))
			}
		})
	}
}

// TestScanEndpointsOptional checks that a server without scan results, or
// without a queue, leaves those endpoints out.
func TestScanEndpointsOptional(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, request{method: "GET", path: v5("/baseline/risk-configs?image_type=private_image&image_id=x")})
	wantError(t, res, http.StatusNotFound, "HSS.0011")
	g := newFixture(t, func(t *testing.T, f *fixture) { f.srv.Scans = f.db })
	res = g.do(t, request{method: "POST", path: v5("/batch-scan"), body: `{"image_type":"private_image","operate_all":true}`})
	wantError(t, res, http.StatusNotFound, "HSS.0011")
	if res := g.do(t, request{method: "GET", path: v5("/baseline/risk-configs?image_type=private_image&image_id=x")}); res.status != http.StatusOK {
		t.Errorf("results without a queue: GET risk-configs = %d %s, want 200", res.status, res.body)
	}
}

func TestBatchScan(t *testing.T) {
	q := &recordingQueue{}
	f := newFixture(t, withScans(q))
	s := seedScans(t, f)
	sorted := func(ds ...string) [][]string {
		out := slices.Clone(ds)
		slices.Sort(out)
		return [][]string{out}
	}
	for _, tc := range []struct {
		name, body string
		want       [][]string // the calls to the queue
	}{
		{"items", `{"image_type":"private_image","image_info_list":[{"namespace":"team","image_name":"app","image_version":"1"},{"namespace":"team","image_name":"multi","image_version":"1"}]}`,
			sorted(s.single.Digest, s.idx.Digest)},
		{"items naming one manifest twice", `{"image_type":"private_image","image_info_list":[{"namespace":"team","image_name":"app","image_version":"1"},{"namespace":"team","image_name":"app","image_version":"same"}]}`,
			sorted(s.single.Digest)},
		{"item without a namespace", `{"image_type":"private_image","image_info_list":[{"image_name":"solo","image_version":"1"}]}`, sorted(s.solo.Digest)},
		{"instance item", `{"image_type":"instance_image","image_info_list":[{"namespace":"prod","image_name":"api","image_version":"2025.05","instance_id":"` + s.harbor.ID + `","instance_url":"https://harbor-prod.example.com:5000"}]}`,
			sorted(s.api.Digest)},
		{"operate_all, every private image", `{"image_type":"private_image","operate_all":true}`, sorted(s.single.Digest, s.app10.Digest, s.solo.Digest, s.idx.Digest)},
		{"operate_all, name substring", `{"image_type":"private_image","operate_all":true,"image_name":"mult"}`, sorted(s.idx.Digest)},
		{"operate_all, tag substring", `{"image_type":"private_image","operate_all":true,"namespace":"team","image_version":"1"}`, sorted(s.single.Digest, s.app10.Digest, s.idx.Digest)},
		{"operate_all, never scanned", `{"image_type":"private_image","operate_all":true,"scan_status":"unscan"}`, sorted(s.app10.Digest, s.solo.Digest)},
		{"operate_all, size", `{"image_type":"private_image","operate_all":true,"image_size":1000}`, sorted(s.single.Digest, s.app10.Digest)},
		{"operate_all, scanned in a range", `{"image_type":"private_image","operate_all":true,"start_latest_scan_time":1746090000000,"end_latest_scan_time":1746093600000}`, sorted(s.single.Digest)},
		{"operate_all, nothing matches", `{"image_type":"shared_image","operate_all":true}`, nil},
		{"operate_all false with items", `{"image_type":"private_image","operate_all":false,"image_info_list":[{"namespace":"team","image_name":"app","image_version":"10"}]}`, sorted(s.app10.Digest)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: v5("/batch-scan"), body: tc.body})
			if res.status != http.StatusOK || string(res.body) != "{}\n" {
				t.Fatalf("POST = %d %q, want 200 {}", res.status, res.body)
			}
			if diff := cmp.Diff(tc.want, q.take()); diff != "" {
				t.Errorf("queued (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("another project's images are unknown", func(t *testing.T) {
		res := f.do(t, request{method: "POST", token: f.login(t, "admin", projectBID), path: "/v5/" + projectBID + "/image/batch-scan",
			body: `{"image_type":"private_image","image_info_list":[{"namespace":"team","image_name":"multi","image_version":"1"}]}`})
		e := wantError(t, res, http.StatusBadRequest, "HSS.0001")
		if !strings.HasPrefix(e.ErrorMsg, `Invalid parameter image_info_list[0]: "team/multi:1"`) {
			t.Errorf("error_msg %q does not name the item", e.ErrorMsg)
		}
		if got := q.take(); len(got) != 0 {
			t.Errorf("queued %v", got)
		}
	})

	t.Run("queue failure", func(t *testing.T) {
		q.mu.Lock()
		q.err = errors.New("database is locked")
		q.mu.Unlock()
		defer func() { q.mu.Lock(); q.err = nil; q.mu.Unlock() }()
		res := f.do(t, request{method: "POST", path: v5("/batch-scan"), body: `{"image_type":"private_image","operate_all":true}`})
		e := wantError(t, res, http.StatusInternalServerError, "HSS.0004")
		if strings.Contains(e.ErrorMsg, "locked") {
			t.Errorf("error_msg %q leaks the cause", e.ErrorMsg)
		}
	})
}

func TestBatchScanInvalid(t *testing.T) {
	q := &recordingQueue{}
	f := newFixture(t, withScans(q))
	seedScans(t, f)
	item := `{"namespace":"team","image_name":"app","image_version":"1"}`
	many := "[" + strings.Repeat(`{"image_name":"a","image_version":"1"},`, 10241) + item + "]"
	long := strings.Repeat("a", 65)
	for _, tc := range []struct {
		name, query, body, code, msg string
	}{
		{"missing image_type", "", `{"operate_all":true}`, "HSS.0001", "Missing parameter image_type; allowed: one of private_image, shared_image, instance_image."},
		{"local_image", "", `{"image_type":"local_image","operate_all":true}`, "HSS.0001", `Invalid parameter image_type: "local_image"; allowed: one of private_image, shared_image, instance_image.`},
		{"image_type a number", "", `{"image_type":1,"operate_all":true}`, "HSS.0001", "Invalid parameter image_type: a JSON number was given; allowed: a string."},
		{"neither list nor all", "", `{"image_type":"private_image"}`, "HSS.0001", "Missing parameter image_info_list; allowed: 1 to 10241 images, or operate_all true with the list's filters."},
		{"empty list", "", `{"image_type":"private_image","image_info_list":[]}`, "HSS.0001", "Missing parameter image_info_list; allowed: 1 to 10241 images, or operate_all true with the list's filters."},
		{"both", "", `{"image_type":"private_image","operate_all":true,"image_info_list":[` + item + `]}`, "HSS.0001", "Invalid parameter image_info_list: 1 images given with operate_all true; allowed: either image_info_list or operate_all true, not both."},
		{"too many", "", `{"image_type":"private_image","image_info_list":` + many + `}`, "HSS.0001", "Invalid parameter image_info_list: 10242 images given; allowed: at most 10241."},
		{"filter without operate_all", "", `{"image_type":"private_image","image_name":"app","image_info_list":[` + item + `]}`, "HSS.0001", "Invalid parameter image_name: a filter given without operate_all; allowed: the list's filters only with operate_all true (image_info_list names images exactly)."},
		{"item without image_name", "", `{"image_type":"private_image","image_info_list":[` + item + `,{"namespace":"team","image_version":"1"}]}`, "HSS.0001", "Missing parameter image_info_list[1].image_name; allowed: text of 1 to 128 characters."},
		{"item without image_version", "", `{"image_type":"private_image","image_info_list":[{"image_name":"app"}]}`, "HSS.0001", "Missing parameter image_info_list[0].image_version; allowed: text of 1 to 64 characters."},
		{"item image_version too long", "", `{"image_type":"private_image","image_info_list":[{"image_name":"app","image_version":"` + long + `"}]}`, "HSS.0001", `Invalid parameter image_info_list[0].image_version: "` + long[:64] + `..." (65 characters); allowed: text of 1 to 64 characters.`},
		{"item empty image_name", "", `{"image_type":"private_image","image_info_list":[{"image_name":"","image_version":"1"}]}`, "HSS.0001", `Invalid parameter image_info_list[0].image_name: ""; allowed: text of 1 to 128 characters.`},
		{"item not an object", "", `{"image_type":"private_image","image_info_list":["team/app:1"]}`, "HSS.0001", "Invalid parameter image_info_list: a JSON string was given; allowed: an object."},
		{"unknown item", "", `{"image_type":"private_image","image_info_list":[` + item + `,{"namespace":"team","image_name":"app","image_version":"2"}]}`, "HSS.0001",
			`Invalid parameter image_info_list[1]: "team/app:2"; allowed: an image version of type private_image that the image list shows in the enterprise projects you may scan in (namespace, image_name and image_version exactly; instance_id, if given, its registry); nothing was queued.`},
		{"unknown item, name is exact", "", `{"image_type":"private_image","image_info_list":[{"namespace":"team","image_name":"ap","image_version":"1"}]}`, "HSS.0001",
			`Invalid parameter image_info_list[0]: "team/ap:1"; allowed: an image version of type private_image that the image list shows in the enterprise projects you may scan in (namespace, image_name and image_version exactly; instance_id, if given, its registry); nothing was queued.`},
		{"unknown item, other type", "", `{"image_type":"shared_image","image_info_list":[` + item + `]}`, "HSS.0001",
			`Invalid parameter image_info_list[0]: "team/app:1"; allowed: an image version of type shared_image that the image list shows in the enterprise projects you may scan in (namespace, image_name and image_version exactly; instance_id, if given, its registry); nothing was queued.`},
		{"operate_all bad scan_status", "", `{"image_type":"private_image","operate_all":true,"scan_status":"done"}`, "HSS.0001", `Invalid parameter scan_status: "done"; allowed: one of unscan, waiting_for_scan, scanning, success, failed, download_failed, image_oversized.`},
		{"operate_all empty namespace", "", `{"image_type":"private_image","operate_all":true,"namespace":""}`, "HSS.0001", `Invalid parameter namespace: ""; allowed: text of 1 to 256 characters.`},
		{"operate_all negative image_size", "", `{"image_type":"private_image","operate_all":true,"image_size":-1}`, "HSS.0001", `Invalid parameter image_size: "-1"; allowed: an integer from 0 to 2147483547.`},
		{"operate_all image_size fraction", "", `{"image_type":"private_image","operate_all":true,"image_size":1.5}`, "HSS.0001", "Invalid parameter image_size: a JSON number 1.5 was given; allowed: an integer."},
		{"operate_all start after end", "", `{"image_type":"private_image","operate_all":true,"start_latest_update_time":2000,"end_latest_update_time":1000}`, "HSS.0001",
			"Invalid parameter start_latest_update_time: 2000 is after end_latest_update_time 1000; allowed: a time no later than end_latest_update_time."},
		{"operate_all scan time beyond max", "", `{"image_type":"private_image","operate_all":true,"end_latest_scan_time":4070880000001}`, "HSS.0001",
			`Invalid parameter end_latest_scan_time: "4070880000001"; allowed: an integer from 0 to 4070880000000.`},
		{"operate_all a string", "", `{"image_type":"private_image","operate_all":"true"}`, "HSS.0001", "Invalid parameter operate_all: a JSON string was given; allowed: true or false."},
		{"enterprise_project_id empty", "?enterprise_project_id=", `{"image_type":"private_image","operate_all":true}`, "HSS.0001", `Invalid parameter enterprise_project_id: ""; allowed: text of 1 to 256 characters.`},
		{"not JSON", "", `{"image_type":`, "HSS.0002", "The request body is not valid JSON: it ends before the JSON value does."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: v5("/batch-scan") + tc.query, body: tc.body})
			e := wantError(t, res, http.StatusBadRequest, tc.code)
			if e.ErrorMsg != tc.msg {
				t.Errorf("error_msg mismatch (-want +got):\n%s", cmp.Diff(tc.msg, e.ErrorMsg))
			}
			if got := q.take(); len(got) != 0 {
				t.Errorf("a refused request queued %v", got)
			}
		})
	}
}
