package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"customs"
	"customs/vulndb"
)

// demoAdvisories are two Debian advisories in the OSV schema (see
// demodata/README.md).
//
//go:embed demodata/advisories.json
var demoAdvisories []byte

// importDemoAdvisories stores the demo's sample advisories.
func (m *Main) importDemoAdvisories(ctx context.Context) error {
	var records []json.RawMessage
	if err := json.Unmarshal(demoAdvisories, &records); err != nil {
		return err
	}
	return m.DB.ImportAdvisories(ctx, "demo", func(put func(*customs.Advisory) error) error {
		for _, r := range records {
			a, err := vulndb.Parse(r)
			if err != nil {
				return err
			}
			if err := put(a); err != nil {
				return err
			}
		}
		return nil
	})
}

// legacyImage is a sample image with something to find of every kind:
// Debian 11 packages with known vulnerabilities, the EICAR test file, and
// unsafe settings (root user, a password in the environment, SSH exposed,
// a root account without a password).
func legacyImage() sampleImage {
	files := osRelease("debian", "11", "Debian GNU/Linux 11 (bullseye)")
	files["var/lib/dpkg/status"] = demoDpkgStatus
	files["etc/passwd"] = "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"
	files["etc/shadow"] = "root::19000:0:99999:7:::\napp:!:19000:0:99999:7:::\n"
	// The EICAR anti-virus test file, harmless by design, assembled here so
	// that no scanner flags this source file.
	files["opt/legacy/samples/eicar.com"] = strings.Join([]string{`X5O!P%@AP[4\PZX54(P^)7CC)7}$`, `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`}, "")
	s := linux("amd64", "2023-01-15T12:00:00Z", files)
	s.env = append(s.env, "DB_PASSWORD=legacy-demo-password")
	s.ports = []string{"22/tcp", "8080/tcp"}
	s.cmd = []string{"/opt/legacy/run.sh"}
	return s
}

const demoDpkgStatus = `Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 11.1+deb11u5
Essential: yes
Description: Debian base system miscellaneous files

Package: libssl1.1
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 4109
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 1.1.1n-0+deb11u3
Depends: libc6 (>= 2.25), debconf (>= 0.5) | debconf-2.0
Description: Secure Sockets Layer toolkit - shared libraries

Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 1465
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 1.1.1n-0+deb11u3
Depends: libc6 (>= 2.15), libssl1.1 (>= 1.1.1)
Description: Secure Sockets Layer toolkit - cryptographic utility

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 164
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.11.dfsg-2+deb11u1
Provides: libz1
Depends: libc6 (>= 2.14)
Description: compression library - runtime
`

// waitForScans waits until no scan is pending, or timeout.
func (m *Main) waitForScans(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		pending, err := m.DB.PendingScans(ctx)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d scans still pending after %s", len(pending), timeout)
		case <-tick.C:
		}
	}
}

// legacyImageID returns the image id of payments/legacy:2.3.0.
func (m *Main) legacyImageID(ctx context.Context, p *customs.Project) (string, error) {
	imgs, _, err := m.DB.FindImages(ctx, customs.ProjectScope(p.ID),
		customs.ImageFilter{Type: customs.PrivateImage, Namespace: "payments", Name: "legacy", Tag: "2.3.0", Limit: 1})
	if err != nil {
		return "", err
	}
	if len(imgs) == 0 {
		return "", fmt.Errorf("payments/legacy:2.3.0 was not synchronized")
	}
	return imgs[0].ImageID, nil
}
