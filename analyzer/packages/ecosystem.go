package packages

import (
	"strings"
	"testing/fstest"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/purl"
	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// osReleasePaths are where os-release(5) may be, in the order it is looked
// for. /etc/os-release is usually a symbolic link to the other.
var osReleasePaths = []string{"etc/os-release", "usr/lib/os-release"}

// release is an os-release file's variables.
type release map[string]string

// parseRelease parses an os-release file with scalibr's parser, which reads
// it from a filesystem: the file is served from memory.
func parseRelease(data []byte) release {
	m, err := osrelease.GetOSRelease(fstest.MapFS{"etc/os-release": {Data: data}})
	if err != nil { // cannot happen: the file is there
		return release{}
	}
	return m
}

// noRelease is the filesystem extractors see while a layer streams by: the
// release is not known yet (os-release may come later in tar order), so
// they get an empty one and Finish fills the release in.
var noRelease = fstest.MapFS{"etc/os-release": {}}

// fill sets the release fields of an OS package's metadata, as the
// extractor would have had it read os-release itself.
func (r release) fill(metadata any) {
	switch m := metadata.(type) {
	case *dpkgmeta.Metadata:
		m.OSID = r["ID"]
		m.OSVersionCodename = r["VERSION_CODENAME"]
		m.OSVersionID = r["VERSION_ID"]
	case *apkmeta.Metadata:
		m.OSID = r["ID"]
		m.OSVersionID = r["VERSION_ID"]
	case *rpmmeta.Metadata:
		m.OSName = r["NAME"]
		m.OSPrettyName = r["PRETTY_NAME"]
		m.OSID = r["ID"]
		m.OSVersionID = r["VERSION_ID"]
		m.OSBuildID = r["BUILD_ID"]
		m.OSCPEName = r["CPE_NAME"]
	}
}

// ecosystem is the OSV ecosystem of a package: scalibr's, with the release
// suffixes OSV uses that scalibr leaves out. OS packages of an image without
// a known release have none: advisories for "Debian" without a release, or
// the Linux kernel's "Linux", would match the wrong versions.
func (r release) ecosystem(p *extractor.Package, osPackage bool) string {
	if osPackage && r["ID"] == "" {
		return ""
	}
	eco := p.Ecosystem()
	s := eco.String()
	switch eco.Ecosystem {
	case osvconstants.EcosystemUbuntu:
		// OSV names Ubuntu's long-term releases "Ubuntu:22.04:LTS".
		if eco.Suffix != "" && strings.Contains(r["VERSION"], "LTS") {
			s += ":LTS"
		}
	case osvconstants.EcosystemRockyLinux:
		// Rocky Linux advisories are per major release: "Rocky Linux:9".
		if major, _, _ := strings.Cut(r["VERSION_ID"], "."); eco.Suffix == "" && major != "" {
			s += ":" + major
		}
	}
	return s
}

// osEcosystem is the ecosystem of the release's own packages ("Debian:12",
// "Alpine:v3.19"), empty when the distribution is unknown.
func (r release) osEcosystem() string {
	var p extractor.Package
	switch r["ID"] {
	case "":
		return ""
	case "alpine", "alpaquita", "wolfi", "chainguard", "minimos", "bellsoft-hardened-containers":
		p = extractor.Package{PURLType: purl.TypeApk, Metadata: &apkmeta.Metadata{}}
	case "rhel", "rocky", "almalinux", "openEuler", "mageia", "sles", "opensuse-leap", "azurelinux", "mariner":
		p = extractor.Package{PURLType: purl.TypeRPM, Metadata: &rpmmeta.Metadata{}}
	default:
		p = extractor.Package{PURLType: purl.TypeDebian, Metadata: &dpkgmeta.Metadata{}}
	}
	r.fill(p.Metadata)
	eco := r.ecosystem(&p, true)
	if eco == string(osvconstants.EcosystemLinux) { // an unknown ID, not the kernel
		return ""
	}
	return eco
}

// isOSExtractor reports whether an extractor reads an OS package database.
func isOSExtractor(name string) bool {
	switch name {
	case dpkg.Name, apk.Name, rpm.Name:
		return true
	}
	return false
}
