package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"customs/internal/testregistry"
)

// scanRow is what the list says of a row's scan.
type scanRow struct {
	Namespace         string `json:"namespace"`
	ImageName         string `json:"image_name"`
	ImageVersion      string `json:"image_version"`
	ImageID           string `json:"image_id"`
	ScanStatus        string `json:"scan_status"`
	ScanFailedDesc    string `json:"scan_failed_desc"`
	VulNum            int    `json:"vul_num"`
	UnsafeSettingNum  int    `json:"unsafe_setting_num"`
	MaliciousFileNum  int    `json:"malicious_file_num"`
	LatestScanTime    int64  `json:"latest_scan_time"`
	AssociationImages []struct {
		ImageDigest string `json:"image_digest"`
		ScanStatus  string `json:"scan_status"`
	} `json:"association_images"`
}

// TestScanEndToEnd scans images pulled from the real Distribution registry
// with basic auth: advisories and signatures imported from the command
// line, a foreground scan, then the service's workers scanning what a
// synchronization finds and what batch-scan asks for, and the detail APIs.
func TestScanEndToEnd(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithHtpasswd("robot", "robot-secret"))
	auth := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password}))
	legacy, err := legacyImage().build()
	if err != nil {
		t.Fatal(err)
	}
	write := func(repoTag string, img v1.Image) {
		ref, err := name.NewTag(reg.Addr+"/"+repoTag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, auth); err != nil {
			t.Fatal(err)
		}
	}
	write("shop/legacy:2.3.0", legacy)
	// A multi-arch index: the legacy image for amd64, and for arm64 one
	// without the vulnerable packages but with a file a local signature names.
	tool := strings.Repeat("a file a local signature names\n", 40000)
	arm := legacyImage()
	arm.arch = "arm64"
	delete(arm.files, "var/lib/dpkg/status")
	arm.files["opt/legacy/tool.bin"] = tool // over 1 MiB: spooled to a file to be read
	armImg, err := arm.build()
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: legacy, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: armImg, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	ref, _ := name.NewTag(reg.Addr+"/shop/multi:1.0", name.Insecure)
	if err := remote.WriteIndex(ref, idx, auth); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	// Advisories as published: one OSV record per file.
	var records []json.RawMessage
	if err := json.Unmarshal(demoAdvisories, &records); err != nil {
		t.Fatal(err)
	}
	osvDir := filepath.Join(t.TempDir(), "osv")
	os.MkdirAll(osvDir, 0o755)
	for i, r := range records {
		os.WriteFile(filepath.Join(osvDir, fmt.Sprintf("%d.json", i)), r, 0o644)
	}
	out, err := run(t, dir, "", "vulndb", "import", osvDir)
	if err != nil || !strings.Contains(out, "2 records read, 2 added") {
		t.Fatalf("vulndb import: %v\n%s", err, out)
	}
	out, err = run(t, dir, "", "vulndb", "status")
	if err != nil || !strings.Contains(out, "Debian:11") {
		t.Fatalf("vulndb status: %v\n%s", err, out)
	}
	// A local SHA256 signature for the arm64 image's tool.
	sum := sha256.Sum256([]byte(tool))
	hsb := filepath.Join(t.TempDir(), "local.hsb")
	os.WriteFile(hsb, fmt.Appendf(nil, "%s:%d:Customs.Test.Tool\n", hex.EncodeToString(sum[:]), len(tool)), 0o644)
	if out, err = run(t, dir, "", "sigs", "import", hsb); err != nil || !strings.Contains(out, "Imported local.hsb: 1 hash signatures") {
		t.Fatalf("sigs import: %v\n%s", err, out)
	}
	if out, err = run(t, dir, reg.Password+"\n", "registry", "add", "--name", "dist", "--type", "SwrPrivate", "--protocol", "http", "--addr", reg.Addr, "--username", reg.Username); err != nil {
		t.Fatalf("registry add: %v\n%s", err, out)
	}
	// A synchronization that queues what it finds, as by default.
	syncer, syncOut := newMain(t, dir)
	syncer.Config.ScanOnSync = true
	if err := syncer.Run(t.Context(), []string{"sync", "--data", dir}); err != nil {
		t.Fatalf("sync: %v\n%s", err, syncOut)
	}
	var queued listed
	func() {
		m, _ := newMain(t, dir)
		if err := m.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		c := &client{t: t, base: m.Server.URL()}
		c.login("admin", "e2e-admin-password", "local-1")
		var projects struct {
			Projects []struct{ ID string } `json:"projects"`
		}
		c.do("GET", "/v3/projects?name=local-1", nil, http.StatusOK, &projects)
		c.do("GET", "/v5/"+projects.Projects[0].ID+"/image/swr-repository?image_type=private_image&scan_status=waiting_for_scan", nil, http.StatusOK, &queued)
	}()
	if got := strings.Join(queued.names(), " "); got != "shop/multi:1.0 shop/legacy:2.3.0" {
		t.Errorf("waiting for a scan after the synchronization: %q", got)
	}

	// The foreground scan of one repository.
	out, err = run(t, dir, "", "scan", "shop/legacy:2.3.0")
	if err != nil || !strings.Contains(out, "success") {
		t.Fatalf("scan: %v\n%s", err, out)
	}
	out, err = run(t, dir, "", "scan", "shop/legacy")
	if err != nil || !strings.Contains(out, "Nothing to scan") {
		t.Fatalf("second scan without --rescan: %v\n%s", err, out)
	}

	// The service scans the rest (the index's children) with its workers.
	m, _ := newMain(t, dir)
	m.Config.ScanWorkers = 2
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := &client{t: t, base: m.Server.URL()}
	c.login("admin", "e2e-admin-password", "local-1")
	var projects struct {
		Projects []struct{ ID string } `json:"projects"`
	}
	c.do("GET", "/v3/projects?name=local-1", nil, http.StatusOK, &projects)
	v5 := "/v5/" + projects.Projects[0].ID + "/image"
	c.do("POST", v5+"/batch-scan", map[string]any{"image_type": "private_image", "image_info_list": []map[string]string{{"namespace": "shop", "image_name": "multi", "image_version": "1.0"}}}, http.StatusOK, nil)
	rows := waitScanned(t, c, v5)

	legacyRow, multiRow := rows["shop/legacy:2.3.0"], rows["shop/multi:1.0"]
	// Three findings: DSA-5343-1 in two packages built from openssl, and
	// DSA-5218-1 in zlib1g.
	if legacyRow.ScanStatus != "success" || legacyRow.VulNum != 3 || legacyRow.MaliciousFileNum != 1 || legacyRow.UnsafeSettingNum == 0 || legacyRow.LatestScanTime == 0 {
		t.Errorf("legacy row after its scan: %+v; want success, 3 vulnerabilities, 1 malicious file, unsafe settings, a scan time", legacyRow)
	}
	// The index: the union of its children's findings.
	if multiRow.ScanStatus != "success" || multiRow.VulNum != 3 || multiRow.MaliciousFileNum != 2 {
		t.Errorf("multi-arch row: %+v; want success, 3 vulnerabilities, 2 malicious files", multiRow)
	}
	for _, a := range multiRow.AssociationImages {
		if a.ScanStatus != "success" {
			t.Errorf("child %s scan status %q, want success", a.ImageDigest, a.ScanStatus)
		}
	}

	sel := "image_type=private_image&namespace=shop&image_name=legacy&tag_name=2.3.0"
	var vulns struct {
		TotalNum int `json:"total_num"`
		DataList []struct {
			VulID           string `json:"vul_id"`
			RepairNecessity string `json:"repair_necessity"`
			AppName         string `json:"app_name"`
			Version         string `json:"version"`
			Solution        string `json:"solution"`
			URL             string `json:"url"`
		} `json:"data_list"`
	}
	c.do("GET", v5+"/"+legacyRow.ImageID+"/vulnerabilities?"+sel, nil, http.StatusOK, &vulns)
	var ids []string
	for _, v := range vulns.DataList {
		ids = append(ids, v.VulID+" "+v.AppName+" "+v.Version)
		if v.URL == "" || !strings.Contains(v.Solution, "1.2.11.dfsg-2+deb11u2") && !strings.Contains(v.Solution, "1.1.1n-0+deb11u4") {
			t.Errorf("finding %s: solution %q, url %q", v.VulID, v.Solution, v.URL)
		}
	}
	slices.Sort(ids)
	want := []string{"DSA-5218-1 zlib1g 1:1.2.11.dfsg-2+deb11u1", "DSA-5343-1 libssl1.1 1.1.1n-0+deb11u3", "DSA-5343-1 openssl 1.1.1n-0+deb11u3"}
	if vulns.TotalNum != len(vulns.DataList) || !slices.Equal(ids, want) {
		t.Errorf("vulnerabilities: total %d, %q; want %q", vulns.TotalNum, ids, want)
	}
	var malware struct {
		TotalNum int `json:"total_num"`
		DataList []struct {
			FilePath    string `json:"file_path"`
			Description string `json:"description"`
		} `json:"data_list"`
	}
	c.do("GET", v5+"/"+legacyRow.ImageID+"/malwares?"+sel, nil, http.StatusOK, &malware)
	if malware.TotalNum != 1 || malware.DataList[0].FilePath != "/opt/legacy/samples/eicar.com" || !strings.Contains(malware.DataList[0].Description, "Eicar") {
		t.Errorf("malicious files: %+v", malware)
	}
	var risks struct {
		TotalNum int `json:"total_num"`
		DataList []struct {
			CheckName     string `json:"check_name"`
			FailedRuleNum int    `json:"failed_rule_num"`
			CheckTypeDesc string `json:"check_type_desc"`
		} `json:"data_list"`
	}
	c.do("GET", v5+"/baseline/risk-configs?image_type=private_image&namespace=shop&image_name=legacy&image_version=2.3.0", nil, http.StatusOK, &risks)
	failed := 0
	for _, r := range risks.DataList {
		failed += r.FailedRuleNum
		if r.CheckTypeDesc == "" {
			t.Errorf("risk config %s has no check_type_desc", r.CheckName)
		}
	}
	if risks.TotalNum == 0 || failed != legacyRow.UnsafeSettingNum {
		t.Errorf("risk configs: %+v; want failed rules summing to the row's %d unsafe settings", risks, legacyRow.UnsafeSettingNum)
	}

	// A rescan through the API moves the scan time.
	c.do("POST", v5+"/batch-scan", map[string]any{"image_type": "private_image", "image_info_list": []map[string]string{{"namespace": "shop", "image_name": "legacy", "image_version": "2.3.0"}}}, http.StatusOK, nil)
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows = listScans(t, c, v5)
		if r := rows["shop/legacy:2.3.0"]; r.ScanStatus == "success" && r.LatestScanTime > legacyRow.LatestScanTime {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rescan did not finish: %+v", rows["shop/legacy:2.3.0"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func listScans(t *testing.T, c *client, v5 string) map[string]scanRow {
	t.Helper()
	var l struct {
		DataList []scanRow `json:"data_list"`
	}
	c.do("GET", v5+"/swr-repository?image_type=private_image&limit=100", nil, http.StatusOK, &l)
	out := map[string]scanRow{}
	for _, r := range l.DataList {
		out[r.Namespace+"/"+r.ImageName+":"+r.ImageVersion] = r
	}
	return out
}

// waitScanned polls the list until every row and every child of a
// multi-arch row has a finished scan.
func waitScanned(t *testing.T, c *client, v5 string) map[string]scanRow {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	finished := func(status string) bool { return status == "success" || status == "failed" }
	for {
		rows := listScans(t, c, v5)
		done := true
		for _, r := range rows {
			done = done && finished(r.ScanStatus)
			for _, a := range r.AssociationImages {
				done = done && finished(a.ScanStatus)
			}
		}
		if done {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("scans did not finish in 120s: %+v", rows)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
