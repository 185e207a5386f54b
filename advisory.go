package customs

import "time"

// Advisory is one vulnerability record in the OSV schema, as published.
// Stores keep the record whole and index it by the packages it names;
// vulndb parses and matches it.
type Advisory struct {
	ID        string
	Modified  time.Time
	Withdrawn time.Time // zero unless withdrawn
	// Affected are the (ecosystem, package) pairs the record names, for
	// finding the records that may affect a package.
	Affected []PackageKey
	// JSON is the OSV record as published.
	JSON []byte
}

// PackageKey names a package in an ecosystem, as advisories name it:
// {"Debian:12", "openssl"} (a source package), {"Go", "stdlib"}.
type PackageKey struct {
	Ecosystem string
	Name      string
}

// EcosystemStatus describes the advisories held for one ecosystem.
type EcosystemStatus struct {
	Ecosystem  string // "Debian:12", "Go"
	Records    int
	Withdrawn  int
	Newest     time.Time // the newest record's modified time
	ImportedAt time.Time // when the last import changed a record
}

// SignatureFile is a malware signature file as imported (ClamAV formats:
// .hdb, .hsb, .hdu, .hsu, .fp, .sfp, .cvd, .cld). Workers build their
// signature database from the stored files.
type SignatureFile struct {
	Name       string // the file name, whose extension says its format
	SHA256     string
	Size       int64
	Content    []byte
	ImportedAt time.Time
}
