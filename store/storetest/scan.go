package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// scanResult is a scan of m with vul findings (each a distinct advisory on
// package "lib"), mal malicious files and bad failed baseline rules of three.
func scanResult(m *customs.Manifest, vul, mal, bad int, at time.Time) *customs.ScanResult {
	res := &customs.ScanResult{Digest: m.Digest, ScannedAt: at, OS: "Debian:12",
		Analyzers: []customs.AnalyzerStatus{{Name: "packages", Status: customs.AnalyzerSucceeded}}}
	layer := m.Blobs[len(m.Blobs)-1].Digest
	lib := customs.Package{Name: "libssl3", Version: "3.0.9-1", Ecosystem: "Debian:12", SourceName: "openssl", SourceVersion: "3.0.9-1",
		OS: true, Path: "/var/lib/dpkg/status", Layer: layer}
	res.Packages = []customs.Package{lib, {Name: "golang.org/x/net", Version: "0.1.0", Ecosystem: "Go", Path: "/app/server", Layer: layer}}
	severities := []string{"critical", "medium", "low", "unknown"}
	for i := range vul {
		res.Findings = append(res.Findings, customs.Finding{VulnID: fmt.Sprintf("DSA-%04d-1", i), Aliases: []string{fmt.Sprintf("CVE-2024-%04d", i)},
			Package: lib, Severity: severities[i%len(severities)], Summary: "a flaw", FixedVersion: "3.0.11-1", URL: "https://osv.dev/x"})
	}
	for i := range mal {
		res.Malware = append(res.Malware, customs.MaliciousFile{Path: fmt.Sprintf("/tmp/eicar-%d.com", i), Signature: "Eicar-Signature", Size: 68,
			SHA256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", Layer: layer})
	}
	for i := range 3 {
		res.Baseline = append(res.Baseline, customs.BaselineResult{RuleID: fmt.Sprintf("rule-%d", i), RuleName: fmt.Sprintf("Rule %d", i),
			CheckName: "Docker image", CheckType: "Docker", Standard: "hw_standard", Severity: []string{customs.SeverityHigh, customs.SeverityMedium, customs.SeverityLow}[i],
			Description: "d", Reference: "CIS 4.1", Audit: "a", Remediation: "r", Passed: i >= bad, CurrentValue: "cur", SuggestValue: "sug"})
	}
	return res
}

// linuxChild is an image manifest for an index's child.
func linuxChild(seed, arch string) *customs.Manifest {
	m := image(seed, 50)
	m.Platform.Architecture = arch
	return m
}

func testScanResults(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	reg := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	t0 := f.clock.now()
	single := image("single", 100)
	f.put(t, reg, "team/app", "1", single, t0)
	f.put(t, reg, "team/app", "same", single, t0)
	amd, arm := linuxChild("amd", "amd64"), linuxChild("arm", "arm64")
	win := &customs.Manifest{Digest: digest("win"), MediaType: "application/vnd.oci.image.manifest.v1+json", Kind: customs.KindImage,
		Platform: customs.Platform{OS: "windows", Architecture: "amd64"}}
	idx := &customs.Manifest{Digest: digest("idx"), MediaType: "application/vnd.oci.image.index.v1+json", Kind: customs.KindIndex, Scannable: true,
		ConfigDigest: amd.ConfigDigest, Children: []customs.ChildImage{{Digest: amd.Digest, Platform: amd.Platform}, {Digest: arm.Digest, Platform: arm.Platform}, {Digest: win.Digest, Platform: win.Platform}}}
	if err := f.s.PutManifests(ctx, []*customs.Manifest{amd, arm, win}); err != nil {
		t.Fatal(err)
	}
	f.put(t, reg, "team/multi", "1", idx, t0)

	row := func(repo, tag string) *customs.Image {
		t.Helper()
		img := byTag(f.all(t, f.allA, customs.PrivateImage), repo, tag)
		if img == nil {
			t.Fatalf("no row %s:%s", repo, tag)
		}
		return img
	}
	status := func(img *customs.Image) []customs.ScanStatus {
		out := []customs.ScanStatus{img.ScanStatus}
		for _, c := range img.Children {
			out = append(out, c.ScanStatus)
		}
		return out
	}

	t.Run("queue", func(t *testing.T) {
		got, err := f.s.QueueScans(ctx, []string{single.Digest, idx.Digest, win.Digest, digest("never stored")}, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{amd.Digest, arm.Digest, single.Digest}
		if diff := cmp.Diff(sortedStrings(want), got); diff != "" {
			t.Errorf("QueueScans() digests to scan (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]customs.ScanStatus{customs.ScanWaiting}, status(row("team/app", "same"))); diff != "" {
			t.Errorf("single image status after queueing (-want +got):\n%s", diff)
		}
		// The windows child is not scannable: it stays unscan and does not count.
		if diff := cmp.Diff([]customs.ScanStatus{customs.ScanWaiting, customs.ScanWaiting, customs.ScanWaiting, customs.ScanUnscan}, status(row("team/multi", "1"))); diff != "" {
			t.Errorf("index status after queueing (-want +got):\n%s", diff)
		}
		pending, err := f.s.PendingScans(ctx)
		if diff := cmp.Diff(sortedStrings(want), sortedStrings(pending)); err != nil || diff != "" {
			t.Errorf("PendingScans() %v (-want +got):\n%s", err, diff)
		}
		wantCode(t, f.s.StartScan(ctx, idx.Digest), customs.EINVALID)
		wantCode(t, f.s.StartScan(ctx, digest("never stored")), customs.ENOTFOUND)
	})

	t.Run("multi-arch", func(t *testing.T) {
		if err := f.s.StartScan(ctx, amd.Digest); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]customs.ScanStatus{customs.ScanScanning, customs.ScanScanning, customs.ScanWaiting, customs.ScanUnscan}, status(row("team/multi", "1"))); diff != "" {
			t.Errorf("index while one child scans (-want +got):\n%s", diff)
		}
		// Queueing again does not take a scanning image back to waiting,
		// nor returns it to scan.
		queued, err := f.s.QueueScans(ctx, []string{idx.Digest}, true)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(queued, amd.Digest) {
			t.Errorf("QueueScans returned %v, with the image being scanned", queued)
		}
		if got := row("team/multi", "1").Children[0].ScanStatus; got != customs.ScanScanning {
			t.Errorf("a scanning child queued again shows %q, want scanning", got)
		}
		if err := f.s.SaveScanResult(ctx, scanResult(amd, 3, 1, 1, t0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if err := f.s.FailScan(ctx, arm.Digest, customs.FailDownload); err != nil {
			t.Fatal(err)
		}
		img := row("team/multi", "1")
		if diff := cmp.Diff([]customs.ScanStatus{customs.ScanSuccess, customs.ScanSuccess, customs.ScanFailed, customs.ScanUnscan}, status(img)); diff != "" {
			t.Errorf("index with one child scanned and one failed (-want +got):\n%s", diff)
		}
		if img.VulNum != 3 || img.MaliciousFileNum != 1 || img.UnsafeSettingNum != 1 || img.ScanFailedDesc != "" {
			t.Errorf("index counters = vul %d, malicious %d, unsafe %d, failed desc %q; want 3, 1, 1, \"\"", img.VulNum, img.MaliciousFileNum, img.UnsafeSettingNum, img.ScanFailedDesc)
		}
		// The second child finds the same flaws (distinct union) and more.
		armRes := scanResult(arm, 4, 1, 2, t0.Add(2*time.Minute))
		armRes.Findings[0].Severity = "low" // matched with other data: the index shows the most urgent
		if err := f.s.SaveScanResult(ctx, armRes); err != nil {
			t.Fatal(err)
		}
		img = row("team/multi", "1")
		// Findings are distinct by (advisory, package, version, path): the
		// same package at the same path on both platforms counts once; so
		// does a malicious file, by (path, content), whatever its layer.
		if img.VulNum != 4 || img.MaliciousFileNum != 1 || img.UnsafeSettingNum != 2 || img.ScanStatus != customs.ScanSuccess {
			t.Errorf("index counters = vul %d, malicious %d, unsafe %d, status %s; want 4, 1, 2, success", img.VulNum, img.MaliciousFileNum, img.UnsafeSettingNum, img.ScanStatus)
		}
		if !img.ScannedAt.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("index scanned at %v, want the latest child's %v", img.ScannedAt, t0.Add(2*time.Minute))
		}
		sel := customs.ImageSelector{Type: customs.PrivateImage, Namespace: "team", Name: "multi", Tag: "1"}
		checkTotals(t, f, f.allA, sel, img)
		urgent, _, err := f.s.FindVulnerabilities(ctx, f.allA, sel, customs.VulnerabilityFilter{VulID: "DSA-0000-1"})
		if err != nil || len(urgent) != 1 || urgent[0].Severity != "critical" || urgent[0].RepairNecessity() != customs.RepairImmediate {
			t.Errorf("a finding critical on one platform and low on the other: %+v, %v; want one, critical", urgent, err)
		}

		// Every child failing fails the index, with the first failure's reason.
		for _, c := range []*customs.Manifest{amd, arm} {
			if err := f.s.FailScan(ctx, c.Digest, customs.FailTimedOut); err != nil {
				t.Fatal(err)
			}
		}
		img = row("team/multi", "1")
		if img.ScanStatus != customs.ScanFailed || img.ScanFailedDesc != customs.FailTimedOut {
			t.Errorf("index with every child failed: %s (%q), want failed (%q)", img.ScanStatus, img.ScanFailedDesc, customs.FailTimedOut)
		}
		// A failed rescan keeps what the last good scan found.
		if img.VulNum != 4 {
			t.Errorf("a failed rescan lost the findings: vul_num %d, want 4", img.VulNum)
		}
	})

	t.Run("single", func(t *testing.T) {
		res := scanResult(single, 5, 2, 2, t0.Add(3*time.Minute))
		if err := f.s.SaveScanResult(ctx, res); err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"1", "same"} {
			img := row("team/app", tag)
			if img.ScanStatus != customs.ScanSuccess || img.VulNum != 5 || img.MaliciousFileNum != 2 || img.UnsafeSettingNum != 2 {
				t.Errorf("team/app:%s = %s, vul %d, malicious %d, unsafe %d; want success, 5, 2, 2", tag, img.ScanStatus, img.VulNum, img.MaliciousFileNum, img.UnsafeSettingNum)
			}
			checkTotals(t, f, f.allA, customs.ImageSelector{Type: customs.PrivateImage, Namespace: "team", Name: "app", Tag: tag}, img)
		}
		// By image id alone.
		checkTotals(t, f, f.allA, customs.ImageSelector{Type: customs.PrivateImage, ImageID: customs.ImageIDFromConfig(single.ConfigDigest)}, row("team/app", "1"))

		sel := customs.ImageSelector{Type: customs.PrivateImage, Namespace: "team", Name: "app", Tag: "1"}
		vulns, total, err := f.s.FindVulnerabilities(ctx, f.allA, sel, customs.VulnerabilityFilter{Limit: 2})
		if err != nil || total != 5 || len(vulns) != 2 {
			t.Fatalf("FindVulnerabilities(limit 2) = %d rows, total %d, %v; want 2, 5", len(vulns), total, err)
		}
		if vulns[0].RepairNecessity() != customs.RepairImmediate {
			t.Errorf("first finding is %s (%s); the most urgent come first", vulns[0].VulnID, vulns[0].RepairNecessity())
		}
		if diff := cmp.Diff(res.Findings[0], vulns[0]); diff != "" {
			t.Errorf("finding round trip (-want +got):\n%s", diff)
		}
		filters := []struct {
			f    customs.VulnerabilityFilter
			want int
		}{
			{customs.VulnerabilityFilter{RepairNecessity: customs.RepairImmediate}, 2}, // critical ×2 (0, 4)
			{customs.VulnerabilityFilter{RepairNecessity: customs.RepairDelay}, 2},     // medium (1), unknown (3)
			{customs.VulnerabilityFilter{RepairNecessity: customs.RepairNotNeeded}, 1}, // low (2)
			{customs.VulnerabilityFilter{VulID: "0003"}, 1},
			{customs.VulnerabilityFilter{AppName: "libssl3"}, 5},
			{customs.VulnerabilityFilter{AppName: "libssl"}, 0},
			{customs.VulnerabilityFilter{Type: customs.VulLinux}, 5},
			{customs.VulnerabilityFilter{Type: customs.VulApp}, 0},
			{customs.VulnerabilityFilter{Offset: 4}, 5},
		}
		for _, tt := range filters {
			got, total, err := f.s.FindVulnerabilities(ctx, f.allA, sel, tt.f)
			if err != nil || total != tt.want {
				t.Errorf("FindVulnerabilities(%+v) total = %d, %v; want %d", tt.f, total, err, tt.want)
			}
			if want := max(0, tt.want-tt.f.Offset); len(got) != want {
				t.Errorf("FindVulnerabilities(%+v) = %d rows, want %d", tt.f, len(got), want)
			}
		}
		mal, total, err := f.s.FindMalware(ctx, f.allA, sel, customs.MalwareFilter{FileName: "eicar-1"})
		if err != nil || total != 1 || len(mal) != 1 || mal[0].Path != "/tmp/eicar-1.com" {
			t.Errorf("FindMalware(eicar-1) = %+v, %d, %v", mal, total, err)
		}
		if _, total, _ := f.s.FindMalware(ctx, f.allA, sel, customs.MalwareFilter{FileName: "tmp"}); total != 0 {
			t.Errorf("FindMalware(tmp) matched %d files; the filter is on the base name", total)
		}
		checks, total, err := f.s.FindBaselineChecks(ctx, f.allA, sel, customs.BaselineFilter{})
		want := []customs.BaselineCheck{{CheckName: "Docker image", CheckType: "Docker", Standard: "hw_standard", Severity: customs.SeverityHigh, RuleNum: 3, FailedNum: 2}}
		if diff := cmp.Diff(want, checks); err != nil || total != 1 || diff != "" {
			t.Errorf("FindBaselineChecks() total %d, %v (-want +got):\n%s", total, err, diff)
		}
		if _, total, _ := f.s.FindBaselineChecks(ctx, f.allA, sel, customs.BaselineFilter{Severity: customs.SeverityLow}); total != 0 {
			t.Errorf("FindBaselineChecks(severity Low) = %d checks; the check's severity is High", total)
		}
		rules, total, err := f.s.FindBaselineResults(ctx, f.allA, sel, customs.BaselineFilter{CheckName: "Docker image", Result: "failed"})
		if err != nil || total != 2 || len(rules) != 2 || rules[0].RuleID != "rule-0" || rules[0].Passed {
			t.Errorf("FindBaselineResults(failed) = %+v, %d, %v", rules, total, err)
		}
		detail, _, err := f.s.FindBaselineResults(ctx, f.allA, sel, customs.BaselineFilter{RuleID: "rule-2"})
		if err != nil || len(detail) != 1 {
			t.Fatalf("FindBaselineResults(rule-2) = %v, %v", detail, err)
		}
		if diff := cmp.Diff(res.Baseline[2], detail[0]); diff != "" {
			t.Errorf("baseline result round trip (-want +got):\n%s", diff)
		}

		// Queueing what was scanned does nothing unless asked to rescan.
		if got, err := f.s.QueueScans(ctx, []string{single.Digest}, false); err != nil || len(got) != 0 {
			t.Errorf("QueueScans(scanned, rescan false) = %v, %v; want nothing", got, err)
		}
		if got, err := f.s.QueueScans(ctx, []string{single.Digest}, true); err != nil || len(got) != 1 {
			t.Errorf("QueueScans(scanned, rescan true) = %v, %v; want the image", got, err)
		}
		if img := row("team/app", "1"); img.ScanStatus != customs.ScanWaiting || img.VulNum != 5 {
			t.Errorf("queued for a rescan: %s with vul_num %d; want waiting_for_scan, keeping 5 until the rescan ends", img.ScanStatus, img.VulNum)
		}
		// A rescan replaces what the last one found.
		if err := f.s.SaveScanResult(ctx, scanResult(single, 1, 0, 0, t0.Add(4*time.Minute))); err != nil {
			t.Fatal(err)
		}
		img := row("team/app", "1")
		if img.VulNum != 1 || img.MaliciousFileNum != 0 || img.UnsafeSettingNum != 0 {
			t.Errorf("after a rescan: vul %d, malicious %d, unsafe %d; want 1, 0, 0", img.VulNum, img.MaliciousFileNum, img.UnsafeSettingNum)
		}
		checkTotals(t, f, f.allA, sel, img)
	})

	t.Run("isolation", func(t *testing.T) {
		sel := customs.ImageSelector{Type: customs.PrivateImage, Namespace: "team", Name: "app", Tag: "1"}
		if _, total, err := f.s.FindVulnerabilities(ctx, f.allB, sel, customs.VulnerabilityFilter{}); err != nil || total != 0 {
			t.Errorf("project B sees project A's findings: %d, %v", total, err)
		}
		otherEP := customs.Scope{ProjectID: f.projA.ID, EnterpriseProjectIDs: []string{"ep-other"}}
		if _, total, err := f.s.FindMalware(ctx, otherEP, customs.ImageSelector{Type: customs.PrivateImage, Namespace: "team"}, customs.MalwareFilter{}); err != nil || total != 0 {
			t.Errorf("another enterprise project sees the malware: %d, %v", total, err)
		}
		if _, total, err := f.s.FindBaselineResults(ctx, f.allA, customs.ImageSelector{Type: customs.InstanceImage, Namespace: "team", Name: "app", Tag: "1"}, customs.BaselineFilter{}); err != nil || total != 0 {
			t.Errorf("the instance_image type sees private images: %d, %v", total, err)
		}
		_, _, err := f.s.FindVulnerabilities(ctx, customs.Scope{}, sel, customs.VulnerabilityFilter{})
		wantCode(t, err, customs.EINTERNAL)
	})

	t.Run("targets", func(t *testing.T) {
		got, err := f.s.ScanTargets(ctx, arm.Digest)
		want := []customs.ScanTarget{{ProjectID: f.projA.ID, RegistryID: reg.ID, Repository: "team/multi"}}
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("ScanTargets(child) %v (-want +got):\n%s", err, diff)
		}
		if got, err := f.s.ScanTargets(ctx, digest("never stored")); err != nil || len(got) != 0 {
			t.Errorf("ScanTargets(unknown) = %v, %v; want none", got, err)
		}
	})

	t.Run("requeue", func(t *testing.T) {
		if err := f.s.StartScan(ctx, single.Digest); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RequeueScan(ctx, single.Digest); err != nil {
			t.Fatal(err)
		}
		sums, err := f.s.ScanSummaries(ctx, []string{single.Digest})
		if err != nil || sums[single.Digest].Status != customs.ScanWaiting {
			t.Errorf("after RequeueScan of a scanning image: %+v, %v; want waiting_for_scan", sums, err)
		}
		wantCode(t, f.s.RequeueScan(ctx, digest("never stored")), customs.ENOTFOUND)
	})

	t.Run("select digests", func(t *testing.T) {
		s := f.s
		private := func(ns, name, tag, instance string) customs.ImageSelector {
			return customs.ImageSelector{Type: customs.PrivateImage, Namespace: ns, Name: name, Tag: tag, InstanceID: instance}
		}
		sels := []customs.ImageSelector{
			private("team", "app", "1", ""),
			private("team", "multi", "1", ""),      // an index: its own digest
			private("team", "app", "", ""),         // the tag is exact, empty included
			private("team", "ap", "1", ""),         // the name is exact, not a substring
			private("", "app", "1", ""),            // the namespace is exact, empty included
			private("team", "app", "same", reg.ID), // in that registry
			private("team", "app", "1", "another-registry"),
			{Type: customs.InstanceImage, Namespace: "team", Name: "app", Tag: "1"},
		}
		got, err := s.SelectDigests(ctx, f.allA, sels)
		want := [][]string{{single.Digest}, {idx.Digest}, nil, nil, nil, {single.Digest}, nil, nil}
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("SelectDigests() %v (-want +got):\n%s", err, diff)
		}
		got, err = s.SelectDigests(ctx, f.allB, sels[:1])
		if diff := cmp.Diff([][]string{nil}, got); err != nil || diff != "" {
			t.Errorf("SelectDigests() in another project %v (-want +got):\n%s", err, diff)
		}
		_, err = s.SelectDigests(ctx, customs.Scope{}, sels[:1])
		wantCode(t, err, customs.EINTERNAL)
	})

	t.Run("empty namespace", func(t *testing.T) {
		// "app:1" has no namespace; "team/app:1" shows another manifest.
		solo := image("solo", 10)
		f.put(t, reg, "app", "1", solo, t0)
		res := scanResult(solo, 1, 0, 0, t0)
		res.Findings[0].VulnID = "DSA-9999-1" // not among team/app:1's
		if err := f.s.SaveScanResult(ctx, res); err != nil {
			t.Fatal(err)
		}
		exact := customs.ImageSelector{Type: customs.PrivateImage, ExactNamespace: true, Name: "app", Tag: "1"}
		any := exact
		any.ExactNamespace = false
		_, exactTotal, err := f.s.FindVulnerabilities(ctx, f.allA, exact, customs.VulnerabilityFilter{})
		if err != nil {
			t.Fatal(err)
		}
		_, anyTotal, err := f.s.FindVulnerabilities(ctx, f.allA, any, customs.VulnerabilityFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := row("app", "1").VulNum; exactTotal != want || anyTotal <= exactTotal {
			t.Errorf("vulnerabilities of app:1 with the empty namespace exact: %d, want its row's %d; in any namespace: %d, want more", exactTotal, want, anyTotal)
		}
	})
}

// checkTotals checks that the detail queries count what the list row says.
func checkTotals(t *testing.T, f *fixture, scope customs.Scope, sel customs.ImageSelector, img *customs.Image) {
	t.Helper()
	ctx := t.Context()
	_, vul, err := f.s.FindVulnerabilities(ctx, scope, sel, customs.VulnerabilityFilter{})
	if err != nil {
		t.Fatal(err)
	}
	_, mal, err := f.s.FindMalware(ctx, scope, sel, customs.MalwareFilter{})
	if err != nil {
		t.Fatal(err)
	}
	rules, _, err := f.s.FindBaselineResults(ctx, scope, sel, customs.BaselineFilter{Result: "failed"})
	if err != nil {
		t.Fatal(err)
	}
	checks, _, err := f.s.FindBaselineChecks(ctx, scope, sel, customs.BaselineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range checks {
		failed += c.FailedNum
	}
	got := []int{vul, mal, len(rules), failed}
	want := []int{img.VulNum, img.MaliciousFileNum, img.UnsafeSettingNum, img.UnsafeSettingNum}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%+v: detail totals [vul, malware, failed rules, failed in checks] differ from the list row (-row +details):\n%s", sel, diff)
	}
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func testAdvisories(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	adv := func(id string, modified time.Time, keys ...customs.PackageKey) *customs.Advisory {
		return &customs.Advisory{ID: id, Modified: modified, Affected: keys, JSON: []byte(`{"id":"` + id + `"}`)}
	}
	ssl := customs.PackageKey{Ecosystem: "Debian:12", Name: "openssl"}
	net := customs.PackageKey{Ecosystem: "Go", Name: "golang.org/x/net"}
	err := f.s.ImportAdvisories(ctx, "Debian/all.zip", func(put func(*customs.Advisory) error) error {
		for _, a := range []*customs.Advisory{adv("DSA-1", t0, ssl), adv("GO-1", t0.Add(time.Hour), net, ssl)} {
			if err := put(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An import that fails stores nothing.
	boom := errors.New("malformed record")
	err = f.s.ImportAdvisories(ctx, "bad.zip", func(put func(*customs.Advisory) error) error {
		if err := put(adv("DSA-2", t0, ssl)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("ImportAdvisories() = %v, want the callback's error", err)
	}
	mod, err := f.s.AdvisoryModified(ctx)
	if diff := cmp.Diff(map[string]time.Time{"DSA-1": t0, "GO-1": t0.Add(time.Hour)}, mod, timeMS); err != nil || diff != "" {
		t.Errorf("AdvisoryModified() %v (-want +got):\n%s", err, diff)
	}
	got, err := f.s.Advisories(ctx, []customs.PackageKey{net})
	if err != nil || len(got) != 1 || got[0].ID != "GO-1" || string(got[0].JSON) != `{"id":"GO-1"}` {
		t.Errorf("Advisories(x/net) = %v, %v", got, err)
	}
	// Withdrawing replaces the record and hides it from matching.
	w := adv("GO-1", t0.Add(2*time.Hour), net)
	w.Withdrawn = t0.Add(2 * time.Hour)
	if err := f.s.ImportAdvisories(ctx, "Go/all.zip", func(put func(*customs.Advisory) error) error { return put(w) }); err != nil {
		t.Fatal(err)
	}
	got, err = f.s.Advisories(ctx, []customs.PackageKey{ssl, net})
	if err != nil || len(got) != 1 || got[0].ID != "DSA-1" {
		t.Errorf("Advisories(openssl, x/net) after withdrawing GO-1 = %v, %v; want DSA-1 only", got, err)
	}
	st, err := f.s.EcosystemStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.now()
	for i := range st {
		if st[i].ImportedAt.IsZero() {
			t.Errorf("ecosystem %s has no import time", st[i].Ecosystem)
		}
		st[i].ImportedAt = now
	}
	wantSt := []customs.EcosystemStatus{
		{Ecosystem: "Debian:12", Records: 1, Newest: t0, ImportedAt: now},
		{Ecosystem: "Go", Records: 1, Withdrawn: 1, Newest: t0.Add(2 * time.Hour), ImportedAt: now},
	}
	if diff := cmp.Diff(wantSt, st, timeMS); diff != "" {
		t.Errorf("EcosystemStatuses() (-want +got):\n%s", diff)
	}

	// Inventories and re-matching.
	reg := f.registry(t, f.allA, "swr", customs.SwrPrivate, "")
	a, b := image("inv-a", 10), image("inv-b", 10)
	f.put(t, reg, "team/a", "1", a, f.clock.now())
	f.put(t, reg, "team/b", "1", b, f.clock.now())
	resA := scanResult(a, 2, 0, 0, f.clock.now())
	resB := scanResult(b, 0, 0, 0, f.clock.now())
	resB.Packages = resB.Packages[1:] // Go only
	for _, r := range []*customs.ScanResult{resA, resB} {
		if err := f.s.SaveScanResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string][]customs.Package{}
	collect := func(d string, pkgs []customs.Package) error { seen[d] = pkgs; return nil }
	if err := f.s.Inventories(ctx, []customs.PackageKey{ssl}, collect); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]customs.Package{a.Digest: resA.Packages}, seen); diff != "" {
		t.Errorf("Inventories(openssl) (-want +got):\n%s", diff)
	}
	clear(seen)
	if err := f.s.Inventories(ctx, nil, collect); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Errorf("Inventories(nil) saw %d inventories, want 2", len(seen))
	}
	findings := map[string][]customs.Finding{
		a.Digest: nil,
		b.Digest: {{VulnID: "GO-2", Package: resB.Packages[0], Severity: "high"}, {VulnID: "GO-3", Package: resB.Packages[0], Severity: "low"}},
	}
	if err := f.s.ReplaceFindings(ctx, findings); err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]int{"team/a": 0, "team/b": 2} {
		img := byTag(f.all(t, f.allA, customs.PrivateImage), repo, "1")
		if img.VulNum != want {
			t.Errorf("%s vul_num after ReplaceFindings = %d, want %d", repo, img.VulNum, want)
		}
		checkTotals(t, f, f.allA, customs.ImageSelector{Type: customs.PrivateImage, Namespace: "team", Name: img.Name, Tag: "1"}, img)
	}
	// The packages with findings of some advisories, by their key (a
	// source package when there is one).
	resA.Findings = []customs.Finding{{VulnID: "DSA-1", Package: resA.Packages[0], Severity: "high"}}
	if err := f.s.SaveScanResult(ctx, resA); err != nil {
		t.Fatal(err)
	}
	keys, err := f.s.FindingKeys(ctx, []string{"DSA-1", "GO-3", "NONE-1"})
	want := []customs.PackageKey{resA.Packages[0].Key(), resB.Packages[0].Key()}
	if diff := cmp.Diff(want, keys); err != nil || diff != "" {
		t.Errorf("FindingKeys() %v (-want +got):\n%s", err, diff)
	}
}

func testSignatureFiles(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	sig := &customs.SignatureFile{Name: "local.hsb", SHA256: "abc", Content: []byte("275a...:68:Eicar-Test\n")}
	if err := f.s.PutSignatureFile(ctx, sig); err != nil {
		t.Fatal(err)
	}
	sig.Content = []byte("replaced:68:X\n")
	if err := f.s.PutSignatureFile(ctx, sig); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.SignatureFiles(ctx, true)
	if err != nil || len(got) != 1 || string(got[0].Content) != "replaced:68:X\n" || got[0].Size != int64(len(sig.Content)) {
		t.Fatalf("SignatureFiles(true) = %+v, %v", got, err)
	}
	got, err = f.s.SignatureFiles(ctx, false)
	if err != nil || len(got) != 1 || len(got[0].Content) != 0 || got[0].Size != int64(len(sig.Content)) {
		t.Errorf("SignatureFiles(false) = %+v, %v; want sizes without content", got, err)
	}
	if err := f.s.DeleteSignatureFile(ctx, "local.hsb"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.DeleteSignatureFile(ctx, "local.hsb"), customs.ENOTFOUND)
}
