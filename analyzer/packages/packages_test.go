package packages_test

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/analyzer"
	"customs/analyzer/packages"
)

// layers are the digests of the test images' layers.
var layers = []string{
	"sha256:0000000000000000000000000000000000000000000000000000000000000000",
	"sha256:1111111111111111111111111111111111111111111111111111111111111111",
	"sha256:2222222222222222222222222222222222222222222222222222222222222222",
}

// entry is one entry of a layer, in tar order.
type entry struct {
	layer int
	path  string
	data  []byte
	mode  fs.FileMode // 0o644 when zero
	link  string      // a symbolic link's target
	gone  bool        // a whiteout: the path is deleted
}

// scanImage drives the analyzer through the contract as the scanner core
// does: Wants for every regular file, File for the wanted ones, Finish with
// the final filesystem. It returns the result and the errors of File.
func scanImage(t *testing.T, a *packages.Analyzer, entries []entry) (*customs.ScanResult, []error) {
	t.Helper()
	img := &analyzer.Image{Digest: "sha256:feedface", Layers: layers}
	s, err := a.Start(t.Context(), img)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	final := analyzer.NewFinal()
	var errs []error
	for _, e := range entries {
		if e.gone {
			final.Delete(e.path)
			continue
		}
		f := &analyzer.File{Layer: e.layer, FileInfo: customs.FileInfo{Path: e.path, Mode: e.mode, Size: int64(len(e.data))}}
		switch {
		case e.link != "":
			f.Mode = fs.ModeSymlink | 0o777
			f.Linkname = e.link
		case f.Mode == 0:
			f.Mode = 0o644
		}
		// Layers hold the directories on the way, as a tar of a root
		// filesystem does.
		for dir := path.Dir(e.path); dir != "."; dir = path.Dir(dir) {
			if _, ok := final.Lookup(dir); !ok {
				final.Put(&analyzer.File{Layer: e.layer, FileInfo: customs.FileInfo{Path: dir, Mode: fs.ModeDir | 0o755}})
			}
		}
		final.Put(f)
		if !f.Mode.IsRegular() || !s.Wants(f) {
			continue
		}
		if err := s.File(t.Context(), f, io.NewSectionReader(bytes.NewReader(e.data), 0, int64(len(e.data)))); err != nil {
			errs = append(errs, err)
		}
	}
	res := &customs.ScanResult{Digest: img.Digest}
	if err := s.Finish(t.Context(), final, res); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return res, errs
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// osRelease is the usual layout: /etc/os-release links to the real file.
func osRelease(t *testing.T, layer int, name string) []entry {
	t.Helper()
	return []entry{
		{layer: layer, path: "usr/lib/os-release", data: readTestdata(t, "os-release/"+name)},
		{layer: layer, path: "etc/os-release", link: "../usr/lib/os-release"},
	}
}

var succeeded = []customs.AnalyzerStatus{{Name: "packages", Status: customs.AnalyzerSucceeded}}

func TestDebian(t *testing.T) {
	// The status file comes before os-release in tar order.
	entries := append([]entry{{path: "var/lib/dpkg/status", data: readTestdata(t, "status")}}, osRelease(t, 0, "debian-12")...)
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	deb := func(name, version, srcName, srcVersion string) customs.Package {
		return customs.Package{Name: name, Version: version, Ecosystem: "Debian:12", SourceName: srcName, SourceVersion: srcVersion,
			OS: true, Path: "/var/lib/dpkg/status", Layer: layers[0]}
	}
	want := []customs.Package{
		deb("base-files", "12.4+deb12u11", "base-files", "12.4+deb12u11"),
		deb("bash", "5.2.15-2+b8", "bash", "5.2.15-2"),
		deb("bsdutils", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3"),
		deb("libbz2-1.0", "1.0.8-5+b1", "bzip2", "1.0.8-5"),
		// "Source: openssl" without a version: the binary's version.
		deb("libssl3", "3.0.19-1~deb12u2", "openssl", "3.0.19-1~deb12u2"),
		// No Source field: the package is its own source.
		deb("openssl", "3.0.19-1~deb12u2", "openssl", "3.0.19-1~deb12u2"),
		deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1"),
		// libgdbm6 is "deinstall ok config-files": not installed.
	}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
	if res.OS != "Debian:12" {
		t.Errorf("OS = %q, want Debian:12", res.OS)
	}
	if diff := cmp.Diff(succeeded, res.Analyzers); diff != "" {
		t.Errorf("Analyzers mismatch (-want +got):\n%s", diff)
	}
}

func TestDpkgStatusD(t *testing.T) {
	// Distroless images keep one file per package in status.d, without a
	// Status field.
	const tzdata = "Package: tzdata\nVersion: 2025b-0+deb12u2\nArchitecture: all\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nInstalled-Size: 2565\nDepends: debconf (>= 0.5) | debconf-2.0\nProvides: tzdata-bookworm\nSection: localization\nPriority: required\nMulti-Arch: foreign\nHomepage: https://www.iana.org/time-zones\nDescription: time zone and daylight-saving time data\n"
	entries := append(osRelease(t, 0, "debian-12"), entry{layer: 1, path: "var/lib/dpkg/status.d/tzdata", data: []byte(tzdata)})
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	want := []customs.Package{{Name: "tzdata", Version: "2025b-0+deb12u2", Ecosystem: "Debian:12", SourceName: "tzdata",
		SourceVersion: "2025b-0+deb12u2", OS: true, Path: "/var/lib/dpkg/status.d/tzdata", Layer: layers[1]}}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
}

func TestAlpine(t *testing.T) {
	entries := []entry{
		{path: "etc/os-release", data: readTestdata(t, "os-release/alpine-3.19")},
		{path: "lib/apk/db/installed", data: readTestdata(t, "installed")},
	}
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	apk := func(name, version, origin string) customs.Package {
		return customs.Package{Name: name, Version: version, Ecosystem: "Alpine:v3.19", SourceName: origin, SourceVersion: version,
			OS: true, Path: "/lib/apk/db/installed", Layer: layers[0]}
	}
	want := []customs.Package{
		apk("busybox", "1.36.1-r15", "busybox"),
		apk("libcrypto3", "3.1.4-r2", "openssl"),
		apk("libssl3", "3.1.4-r2", "openssl"),
		apk("musl", "1.2.4_git20230717-r4", "musl"),
	}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
	if res.OS != "Alpine:v3.19" {
		t.Errorf("OS = %q, want Alpine:v3.19", res.OS)
	}
}

func TestRPM(t *testing.T) {
	db := readTestdata(t, "rpmdb.sqlite")
	tests := []struct {
		name      string
		release   string
		ecosystem string
	}{
		{"Rocky Linux", "rocky-9", "Rocky Linux:9"},
		{"AlmaLinux", "almalinux-9", "AlmaLinux:9"},
		{"Red Hat", "rhel-9", "Red Hat:enterprise_linux:9::baseos"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			entries := append(osRelease(t, 0, tt.release), entry{layer: 1, path: "var/lib/rpm/rpmdb.sqlite", data: db})
			res, errs := scanImage(t, &packages.Analyzer{TempDir: tmp}, entries)
			if len(errs) > 0 {
				t.Fatalf("File errors: %v", errs)
			}
			rpm := func(name, version string) customs.Package {
				return customs.Package{Name: name, Version: version, Ecosystem: tt.ecosystem, OS: true,
					Path: "/var/lib/rpm/rpmdb.sqlite", Layer: layers[1]}
			}
			want := []customs.Package{
				// openssl-libs has epoch 1, which advisories write (its source rpm
				// is openssl-3.0.7-6.el9_2.src.rpm).
				rpm("openssl-libs", "1:3.0.7-6.el9_2"),
				rpm("rocky-release", "9.2-1.4.el9"),
				rpm("zlib", "1.2.11-39.el9"),
			}
			if diff := cmp.Diff(want, res.Packages); diff != "" {
				t.Errorf("Packages mismatch (-want +got):\n%s", diff)
			}
			if res.OS != tt.ecosystem {
				t.Errorf("OS = %q, want %q", res.OS, tt.ecosystem)
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("temporary files left behind in TempDir: %v", left)
			}
		})
	}
}

func TestOS(t *testing.T) {
	const status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.35-0ubuntu3.6\n"
	tests := []struct {
		name    string
		release string // testdata/os-release file, "" for none
		wantOS  string
		wantEco string // of the dpkg package
	}{
		{"Debian 12", "debian-12", "Debian:12", "Debian:12"},
		{"Ubuntu 22.04 LTS", "ubuntu-22.04", "Ubuntu:22.04:LTS", "Ubuntu:22.04:LTS"},
		{"Ubuntu 24.10", "ubuntu-24.10", "Ubuntu:24.10", "Ubuntu:24.10"},
		{"Alpine 3.19", "alpine-3.19", "Alpine:v3.19", "Alpine:v3.19"},
		{"AlmaLinux 9", "almalinux-9", "AlmaLinux:9", "AlmaLinux:9"},
		// No os-release: the release is unknown, and so is the ecosystem of
		// OS packages (not "Linux", the kernel's).
		{"unknown", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := []entry{{path: "var/lib/dpkg/status", data: []byte(status)}}
			if tt.release != "" {
				entries = append(entries, osRelease(t, 0, tt.release)...)
			}
			res, errs := scanImage(t, &packages.Analyzer{}, entries)
			if len(errs) > 0 {
				t.Fatalf("File errors: %v", errs)
			}
			if res.OS != tt.wantOS {
				t.Errorf("OS = %q, want %q", res.OS, tt.wantOS)
			}
			if len(res.Packages) != 1 {
				t.Fatalf("Packages = %+v, want libc6 only", res.Packages)
			}
			// An Alpine or AlmaLinux release with a dpkg database is odd,
			// but its packages still belong to that release.
			if tt.release == "alpine-3.19" || tt.release == "almalinux-9" {
				return
			}
			if got := res.Packages[0].Ecosystem; got != tt.wantEco {
				t.Errorf("libc6 Ecosystem = %q, want %q", got, tt.wantEco)
			}
		})
	}
}

func TestOSReleaseWithoutLink(t *testing.T) {
	// A regular /etc/os-release wins over /usr/lib/os-release.
	entries := []entry{
		{path: "usr/lib/os-release", data: readTestdata(t, "os-release/debian-12")},
		{path: "etc/os-release", data: readTestdata(t, "os-release/ubuntu-22.04")},
	}
	res, _ := scanImage(t, &packages.Analyzer{}, entries)
	if res.OS != "Ubuntu:22.04:LTS" {
		t.Errorf("OS = %q, want Ubuntu:22.04:LTS", res.OS)
	}
}

func TestGoBinary(t *testing.T) {
	bin := buildGoBinary(t)
	entries := []entry{{path: "usr/local/bin/hello", data: bin, mode: 0o755}}
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	goPkg := func(name, version string) customs.Package {
		return customs.Package{Name: name, Version: version, Ecosystem: "Go", Path: "/usr/local/bin/hello", Layer: layers[0]}
	}
	goVersion, _, _ := strings.Cut(strings.TrimPrefix(runtime.Version(), "go"), " ")
	want := []customs.Package{
		goPkg("example.com/hello", "(devel)"),
		goPkg("golang.org/x/text", "0.3.7"),
		goPkg("stdlib", goVersion),
	}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
}

// buildGoBinary builds a program that uses golang.org/x/text v0.3.7, a
// version with known vulnerabilities, with the local toolchain.
func buildGoBinary(t *testing.T) []byte {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build a test binary: %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.7\n",
		"main.go": `package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English) }
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.CommandContext(t.Context(), goTool, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, output)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestNPM(t *testing.T) {
	const lodash = `{
  "name": "lodash",
  "version": "4.17.20",
  "description": "Lodash modular utilities.",
  "keywords": "modules, stdlib, util",
  "homepage": "https://lodash.com/",
  "repository": "lodash/lodash",
  "icon": "https://lodash.com/icon.svg",
  "license": "MIT",
  "main": "lodash.js",
  "author": "John-David Dalton <john.david.dalton@gmail.com>",
  "contributors": [
    "John-David Dalton <john.david.dalton@gmail.com>",
    "Mathias Bynens <mathias@qiwi.be>"
  ],
  "scripts": { "test": "echo \"See https://travis-ci.org/lodash-archive/lodash-cli for testing details.\"" }
}
`
	const babel = `{"name":"@babel/traverse","version":"7.23.0","description":"The Babel Traverse module maintains the overall tree state","author":"The Babel Team (https://babel.dev/team)","license":"MIT","main":"./lib/index.js","dependencies":{"@babel/code-frame":"^7.22.13","debug":"^4.1.0"}}`
	const app = `{"name":"my-app","version":"1.0.0","dependencies":{"lodash":"4.17.20"}}`
	entries := []entry{
		{path: "app/node_modules/lodash/package.json", data: []byte(lodash)},
		{path: "app/node_modules/@babel/traverse/package.json", data: []byte(babel)},
		// The application itself is not an installed package.
		{path: "app/package.json", data: []byte(app)},
	}
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	want := []customs.Package{
		{Name: "@babel/traverse", Version: "7.23.0", Ecosystem: "npm", Path: "/app/node_modules/@babel/traverse/package.json", Layer: layers[0]},
		{Name: "lodash", Version: "4.17.20", Ecosystem: "npm", Path: "/app/node_modules/lodash/package.json", Layer: layers[0]},
	}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
}

func TestPython(t *testing.T) {
	const metadata = `Metadata-Version: 2.1
Name: requests
Version: 2.25.1
Summary: Python HTTP for Humans.
Home-page: https://requests.readthedocs.io
Author: Kenneth Reitz
Author-email: me@kennethreitz.org
License: Apache 2.0
Platform: UNKNOWN
Classifier: Development Status :: 5 - Production/Stable
Requires-Python: >=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*
Description-Content-Type: text/markdown
Requires-Dist: chardet (<5,>=3.0.2)
Requires-Dist: idna (<3,>=2.5)
Requires-Dist: urllib3 (<1.27,>=1.21.1)
Requires-Dist: certifi (>=2017.4.17)

# Requests
`
	entries := []entry{{path: "usr/lib/python3/dist-packages/requests-2.25.1.dist-info/METADATA", data: []byte(metadata)}}
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	want := []customs.Package{{Name: "requests", Version: "2.25.1", Ecosystem: "PyPI",
		Path: "/usr/lib/python3/dist-packages/requests-2.25.1.dist-info/METADATA", Layer: layers[0]}}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
}

func TestJavaArchive(t *testing.T) {
	jar := buildJar(t, map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nCreated-By: Maven\r\n\r\n",
		"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties": "#Created by Apache Maven 3.6.3\n" +
			"version=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n",
		"org/apache/logging/log4j/core/Logger.class": "\xca\xfe\xba\xbe",
	})
	entries := []entry{{layer: 2, path: "opt/app/lib/log4j-core-2.14.1.jar", data: jar}}
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	want := []customs.Package{{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Ecosystem: "Maven",
		Path: "/opt/app/lib/log4j-core-2.14.1.jar", Layer: layers[2]}}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
}

func buildJar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, content := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(f, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stanzas returns the named packages' entries of the dpkg status fixture.
func stanzas(t *testing.T, names ...string) []byte {
	t.Helper()
	var out []string
	for _, st := range strings.Split(string(readTestdata(t, "status")), "\n\n") {
		for _, name := range names {
			if strings.HasPrefix(st, "Package: "+name+"\n") {
				out = append(out, strings.TrimSpace(st))
			}
		}
	}
	if len(out) != len(names) {
		t.Fatalf("status fixture has %d of the packages %v", len(out), names)
	}
	return []byte(strings.Join(out, "\n\n") + "\n")
}

func TestLayers(t *testing.T) {
	pkgJSON := func(version string) []byte {
		return []byte(`{"name":"left-pad","version":"` + version + `"}`)
	}
	entries := append(osRelease(t, 0, "debian-12"),
		// Layer 0 installs bash and openssl.
		entry{layer: 0, path: "var/lib/dpkg/status", data: stanzas(t, "bash", "openssl")},
		entry{layer: 0, path: "srv/node_modules/left-pad/package.json", data: pkgJSON("1.3.0")},
		entry{layer: 0, path: "srv/node_modules/lodash/package.json", data: []byte(`{"name":"lodash","version":"4.17.20"}`)},
		// Layer 1 removes openssl, upgrades left-pad and deletes lodash.
		entry{layer: 1, path: "var/lib/dpkg/status", data: stanzas(t, "bash")},
		entry{layer: 1, path: "srv/node_modules/left-pad/package.json", data: pkgJSON("1.3.1")},
		entry{layer: 1, path: "srv/node_modules/lodash", gone: true},
		// Layer 2 installs zlib1g and openssl again.
		entry{layer: 2, path: "var/lib/dpkg/status", data: stanzas(t, "bash", "openssl", "zlib1g")},
	)
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	deb := func(name, version, src string, layer int) customs.Package {
		return customs.Package{Name: name, Version: version, Ecosystem: "Debian:12", SourceName: src, OS: true,
			Path: "/var/lib/dpkg/status", Layer: layers[layer]}
	}
	bash := deb("bash", "5.2.15-2+b8", "bash", 0)
	bash.SourceVersion = "5.2.15-2"
	openssl := deb("openssl", "3.0.19-1~deb12u2", "openssl", 2) // not there in layer 1
	openssl.SourceVersion = openssl.Version
	zlib := deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", 2)
	zlib.SourceVersion = zlib.Version
	want := []customs.Package{
		bash, openssl, zlib,
		{Name: "left-pad", Version: "1.3.1", Ecosystem: "npm", Path: "/srv/node_modules/left-pad/package.json", Layer: layers[1]},
	}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
}

func TestDeletedDatabase(t *testing.T) {
	// A database deleted by a later layer lists nothing, and neither does a
	// release file that is gone.
	entries := append(osRelease(t, 0, "debian-12"),
		entry{layer: 0, path: "var/lib/dpkg/status", data: stanzas(t, "bash")},
		entry{layer: 1, path: "var/lib/dpkg", gone: true},
		entry{layer: 1, path: "usr/lib/os-release", gone: true},
	)
	res, errs := scanImage(t, &packages.Analyzer{}, entries)
	if len(errs) > 0 {
		t.Fatalf("File errors: %v", errs)
	}
	if len(res.Packages) != 0 || res.OS != "" {
		t.Errorf("got Packages %+v, OS %q; want none", res.Packages, res.OS)
	}
}

func TestBrokenFile(t *testing.T) {
	// One unreadable database fails that file only: the scan goes on and the
	// analyzer reports partial success.
	tmp := t.TempDir()
	entries := append(osRelease(t, 0, "rocky-9"),
		entry{layer: 0, path: "var/lib/rpm/rpmdb.sqlite", data: []byte("SQLite format 3\x00 but not really")},
		entry{layer: 0, path: "usr/lib/python3.9/site-packages/idna-2.10.dist-info/METADATA", data: []byte("Metadata-Version: 2.1\nName: idna\nVersion: 2.10\n")},
	)
	a := &packages.Analyzer{TempDir: tmp, Logger: slog.New(slog.DiscardHandler)}
	res, errs := scanImage(t, a, entries)
	if len(errs) != 1 {
		t.Fatalf("File errors = %v, want one for the rpm database", errs)
	}
	if !strings.Contains(errs[0].Error(), "/var/lib/rpm/rpmdb.sqlite") {
		t.Errorf("error %q does not name the file", errs[0])
	}
	want := []customs.Package{{Name: "idna", Version: "2.10", Ecosystem: "PyPI",
		Path: "/usr/lib/python3.9/site-packages/idna-2.10.dist-info/METADATA", Layer: layers[0]}}
	if diff := cmp.Diff(want, res.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
	wantStatus := []customs.AnalyzerStatus{{Name: "packages", Status: customs.AnalyzerPartial, Reason: "packages of 1 files could not be read"}}
	if diff := cmp.Diff(wantStatus, res.Analyzers); diff != "" {
		t.Errorf("Analyzers mismatch (-want +got):\n%s", diff)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left behind in TempDir: %v", left)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		mode fs.FileMode
		size int64
		want bool
	}{
		{"var/lib/dpkg/status", 0o644, 1 << 20, true},
		{"var/lib/dpkg/status.d/base", 0o644, 100, true},
		{"var/lib/dpkg/status-old", 0o644, 100, false},
		{"lib/apk/db/installed", 0o644, 100, true},
		{"var/lib/rpm/rpmdb.sqlite", 0o644, 100, true},
		{"usr/lib/sysimage/rpm/rpmdb.sqlite", 0o644, 100, true},
		{"var/lib/rpm/Packages", 0o644, 100, true},
		{"etc/os-release", 0o644, 100, true},
		{"usr/lib/os-release", 0o644, 100, true},
		{"etc/os-release", fs.ModeSymlink | 0o777, 0, false},
		{"etc/passwd", 0o644, 100, false},
		{"usr/bin/app", 0o755, 50 << 20, true}, // an executable: maybe a Go binary
		{"usr/share/doc/README", 0o644, 100, false},
		{"node_modules/x/package.json", 0o644, 100, true},
		{"a/node_modules/@s/x/package.json", 0o644, 100, true},
		{"node_modules/x/package.json", 0o644, 2 << 20, false}, // too big for a manifest
		{"package.json", 0o644, 100, false},
		{"srv/app/package.json", 0o644, 100, false},
		{"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", 0o644, 100, true},
		{"usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", 0o644, 100, true},
		{"opt/app.jar", 0o644, 100, true},
		{"opt/app.war", 0o644, 100, true},
		{"opt/app.ear", 0o644, 100, true},
	}
	s, err := (&packages.Analyzer{}).Start(t.Context(), &analyzer.Image{Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		f := &analyzer.File{FileInfo: customs.FileInfo{Path: tt.path, Mode: tt.mode, Size: tt.size}}
		if got := s.Wants(f); got != tt.want {
			t.Errorf("Wants(%s, %v, %d) = %v, want %v", tt.path, tt.mode, tt.size, got, tt.want)
		}
	}
}

func TestAnalyzer(t *testing.T) {
	var a analyzer.Analyzer = &packages.Analyzer{}
	if a.Name() != "packages" || a.Failure() != customs.FailScanSoftware {
		t.Errorf("Name, Failure = %q, %q; want packages, %s", a.Name(), a.Failure(), customs.FailScanSoftware)
	}
}
