package customs

import (
	"errors"
	"io/fs"
	"time"
)

// ScanSummary is the outcome of scanning one manifest digest, as every image
// row with that digest shows it (spec §1.2 scan fields).
type ScanSummary struct {
	Status           ScanStatus
	FailedDesc       string
	ScannedAt        time.Time
	VulNum           int
	UnsafeSettingNum int
	MaliciousFileNum int
}

// Reasons a scan failed (spec §1.2 scan_failed_desc).
const (
	FailUnknown               = "unknown_error"
	FailAuthentication        = "authentication_failed"
	FailDownload              = "download_failed"
	FailImageOversized        = "image_oversized"
	FailLayerOversized        = "image_layer_over_sized"
	FailTimedOut              = "response_timed_out"
	FailSchemaV1              = "schema_v1_not_support"
	FailScanVulnerability     = "failed_to_scan_vulnerability"
	FailScanFile              = "failed_to_scan_file"
	FailScanSoftware          = "failed_to_scan_software"
	FailCheckBaseline         = "failed_to_check_baseline"
	FailDatabase              = "database_error"
	FailQueryBasicInformation = "failed_to_query_basic_image_information"
)

// Package is a software package found in an image.
type Package struct {
	Name    string
	Version string
	// Ecosystem is the OSV ecosystem the package's advisories are in:
	// "Debian:12", "Alpine:v3.19", "AlmaLinux:9", "Go", "npm", "PyPI", "Maven".
	Ecosystem string
	// SourceName and SourceVersion name the source package of a binary
	// package (dpkg), which Debian advisories name.
	SourceName    string
	SourceVersion string
	// OS is true for a package of the operating system's package manager
	// (linux_vul), false for an application's (app_vul).
	OS bool
	// Path is where the package was found: its database, binary, manifest or archive.
	Path string
	// Layer is the digest of the layer that added the package.
	Layer string
}

// Finding is a vulnerability of a package.
type Finding struct {
	VulnID  string // the advisory id (CVE, GHSA, GO-, DSA-, ALSA-...)
	Aliases []string
	Package Package
	// Severity is "critical", "high", "medium", "low" or "unknown".
	Severity     string
	Summary      string
	FixedVersion string // the first version without the vulnerability, if known
	URL          string
}

// RepairNecessity is HSS's repair_necessity of a severity. A finding whose
// advisory states no severity (Debian's DSAs, for one) is to be repaired,
// later: only a low severity is said to need no repair.
func (f *Finding) RepairNecessity() string {
	switch f.Severity {
	case "critical", "high":
		return "immediate_repair"
	case "low":
		return "not_needed_repair"
	default:
		return "delay_repair"
	}
}

// MaliciousFile is a file of an image that matches a malware signature. A
// file deleted by a later layer still counts: it is in the image.
type MaliciousFile struct {
	Path      string
	Signature string // the signature's name, e.g. "Eicar-Signature"
	Size      int64
	SHA256    string
	Layer     string
	Deleted   bool // removed by a later layer
}

// Baseline rule severities (HSS severity).
const (
	SeveritySecurity = "Security"
	SeverityLow      = "Low"
	SeverityMedium   = "Medium"
	SeverityHigh     = "High"
)

// BaselineResult is one baseline rule checked on an image.
type BaselineResult struct {
	RuleID       string // check_rule_id
	RuleName     string // check_rule_name
	CheckName    string // the group of rules, e.g. "Docker image security" (check_name)
	CheckType    string // check_type
	Standard     string // "hw_standard" or "cn_standard"
	Severity     string
	Description  string
	Reference    string
	Audit        string
	Remediation  string
	Passed       bool
	CurrentValue string // what the image has
	SuggestValue string // what it should have
}

// ImageConfig is what baseline rules read of an image's configuration.
type ImageConfig struct {
	User         string
	Env          []string
	ExposedPorts []string // "22/tcp"
	Labels       map[string]string
	Healthcheck  []string // the test, empty when there is none; ["NONE"] when disabled
	Entrypoint   []string
	Cmd          []string
	// History is the image's build history, oldest first.
	History []HistoryEntry
}

// HistoryEntry is one step of an image's build history.
type HistoryEntry struct {
	CreatedBy  string
	EmptyLayer bool
	Comment    string
}

// AnalyzerStatus is how one analyzer fared on an image: partial success is
// a result, not a failure.
type AnalyzerStatus struct {
	Name   string
	Status string // "succeeded", "partial" or "failed"
	Reason string
}

// Analyzer outcomes.
const (
	AnalyzerSucceeded = "succeeded"
	AnalyzerPartial   = "partial"
	AnalyzerFailed    = "failed"
)

// ScanResult is everything a scan of one image manifest found. An index
// has no result of its own: its rows show the union of its children's.
type ScanResult struct {
	Digest    string
	ScannedAt time.Time
	// OS is the operating system release ("Debian:12"), empty when unknown.
	OS        string
	Packages  []Package
	Findings  []Finding // matched from Packages against the advisories
	Malware   []MaliciousFile
	Baseline  []BaselineResult
	Analyzers []AnalyzerStatus
}

// Key is what makes a package distinct within an image's findings.
func (p *Package) Key() PackageKey {
	if p.SourceName != "" {
		return PackageKey{Ecosystem: p.Ecosystem, Name: p.SourceName}
	}
	return PackageKey{Ecosystem: p.Ecosystem, Name: p.Name}
}

// ScanLimits bound what a scan reads, so that a hostile or huge image ends
// as a failed scan with a reason, never a crash, a hang or a full disk.
type ScanLimits struct {
	ImageSize  int64         // compressed bytes of all layers (image_oversized)
	Layers     int           // layers (image_layer_over_sized)
	FileSize   int64         // bytes of one file an analyzer reads; larger files are skipped
	Ratio      int64         // decompressed / compressed bytes of a layer (a tar bomb)
	PathLength int           // bytes of a path inside a layer
	Entries    int           // tar entries over all layers (image_oversized): bounds the memory of the final view
	Time       time.Duration // one scan (response_timed_out)
}

// DefaultScanLimits are safe defaults for images up to a few gigabytes.
var DefaultScanLimits = ScanLimits{
	ImageSize:  10 << 30,
	Layers:     200,
	FileSize:   512 << 20,
	Ratio:      100,
	PathLength: 4096,
	Entries:    2_000_000,
	Time:       30 * time.Minute,
}

// FileInfo is what a layer says of one file.
type FileInfo struct {
	Path     string // cleaned, relative to the image root, without a leading "/"
	Mode     fs.FileMode
	Size     int64
	UID, GID int
	Linkname string // symbolic or hard link target
	ModTime  time.Time
}

// ImageSelector picks the image versions a detail query (vulnerabilities,
// malware, baseline) reads: the rows of Type in the caller's scope whose
// given fields match exactly. At least one of (Namespace, Name, Tag) or
// ImageID must be given. When it picks several manifests, or a multi-arch
// index, the details are the distinct union over their image manifests,
// counted the way the list's counters count them.
type ImageSelector struct {
	Type      ImageType
	Namespace string
	// ExactNamespace compares Namespace even when it is empty: the
	// repositories without a namespace ("nginx", not "team/nginx").
	ExactNamespace bool
	Name           string
	Tag            string
	ImageID        string
	InstanceID     string
}

// Repair necessities (HSS repair_necessity).
const (
	RepairImmediate = "immediate_repair"
	RepairDelay     = "delay_repair"
	RepairNotNeeded = "not_needed_repair"
)

// Vulnerability types (HSS type).
const (
	VulLinux = "linux_vul" // a package of the operating system's package manager
	VulApp   = "app_vul"   // an application's package
)

// VulnerabilityFilter narrows an image's findings (spec §3
// ListImageVulnerabilities). Zero values do not filter.
type VulnerabilityFilter struct {
	RepairNecessity string
	VulID           string // substring of the advisory id
	AppName         string // the package name, exactly
	Type            string // VulLinux or VulApp
	Offset, Limit   int
}

// MalwareFilter narrows an image's malicious files.
type MalwareFilter struct {
	FileName      string // substring of the file's base name
	Offset, Limit int
}

// BaselineFilter narrows an image's baseline results. Zero values do not filter.
type BaselineFilter struct {
	CheckName     string
	CheckType     string
	Standard      string
	Severity      string
	RuleID        string
	RuleName      string // substring
	Result        string // "pass" or "failed"
	Offset, Limit int
}

// BaselineCheck summarises one group of baseline rules on an image (spec §3
// ListImageRiskConfigs).
type BaselineCheck struct {
	CheckName   string
	CheckType   string
	Standard    string
	Severity    string // the highest severity among the group's failed rules, else among its rules
	RuleNum     int
	FailedNum   int
	Description string // check_type_desc
}

// ScanTarget is where a manifest digest can be pulled from: one of the
// repositories whose tags point at it (or at an index holding it).
type ScanTarget struct {
	ProjectID  string
	RegistryID string
	Repository string
}

// ScanFailure is a scan that ended without a result: Reason is the
// scan_failed_desc (a Fail* value), Err the cause.
type ScanFailure struct {
	Reason string
	Err    error
}

func (f *ScanFailure) Error() string { return f.Reason + ": " + f.Err.Error() }
func (f *ScanFailure) Unwrap() error { return f.Err }

// ScanFailureReason is the scan_failed_desc of a scan error:
// FailUnknown unless a *ScanFailure in err's chain says otherwise.
func ScanFailureReason(err error) string {
	var f *ScanFailure
	if errors.As(err, &f) && f.Reason != "" {
		return f.Reason
	}
	return FailUnknown
}
