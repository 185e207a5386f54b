package customs

import (
	"slices"
	"strings"
	"time"
)

// ImageType is the kind of registry an image version comes from
// (spec §1.1 image_type).
type ImageType string

const (
	PrivateImage  ImageType = "private_image"  // the project's own (primary) registry
	SharedImage   ImageType = "shared_image"   // repositories other accounts share with this one
	InstanceImage ImageType = "instance_image" // enterprise registry instances (Harbor, Jfrog, ...)
	LocalImage    ImageType = "local_image"    // images on protected hosts (reported by host agents)
)

// ImageTypes lists every image type, in the order the API documents them.
var ImageTypes = []ImageType{PrivateImage, SharedImage, InstanceImage, LocalImage}

// Valid reports whether t is one of ImageTypes.
func (t ImageType) Valid() bool { return slices.Contains(ImageTypes, t) }

// ScanStatus is the scan state of an image version (spec §1.2 scan_status).
type ScanStatus string

const (
	ScanUnscan         ScanStatus = "unscan"
	ScanWaiting        ScanStatus = "waiting_for_scan"
	ScanScanning       ScanStatus = "scanning"
	ScanSuccess        ScanStatus = "success"
	ScanFailed         ScanStatus = "failed"
	ScanDownloadFailed ScanStatus = "download_failed" // older API value, still accepted as a filter
	ScanImageOversized ScanStatus = "image_oversized" // older API value, still accepted as a filter
)

// ScanStatuses lists every scan status, in the order the API documents them.
var ScanStatuses = []ScanStatus{ScanUnscan, ScanWaiting, ScanScanning, ScanSuccess, ScanFailed, ScanDownloadFailed, ScanImageOversized}

// Valid reports whether s is one of ScanStatuses.
func (s ScanStatus) Valid() bool { return slices.Contains(ScanStatuses, s) }

// Platform is the os/architecture/variant triple of an image manifest.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Image is one image version: one tag of one repository in one registry, as
// the last synchronization saw it, with its scan summary (spec §1.2).
//
// A repository path "a/b/c" has Namespace "a" and Name "b/c"; a repository
// with a single path segment "c" has Namespace "" and Name "c".
type Image struct {
	ID                  int64
	ProjectID           string
	EnterpriseProjectID string
	RegistryID          string
	Type                ImageType

	Namespace string
	Name      string
	Tag       string
	Digest    string // manifest or index digest, "sha256:..."
	ImageID   string // config digest hex without "sha256:" (for an index: the chosen child's)
	Size      int64  // bytes, per spec §1.2 image_size
	UpdatedAt time.Time
	Latest    bool // the newest tag of its repository (spec §1.1 latest_version)
	Scannable bool

	ScanStatus       ScanStatus
	ScanFailedDesc   string
	ScannedAt        time.Time // zero if never scanned
	VulNum           int
	UnsafeSettingNum int
	MaliciousFileNum int

	// Shared images only.
	DomainName   string
	SharedStatus string

	// Instance images only (from the registry the image was synchronized from).
	InstanceID   string
	InstanceName string
	InstanceURL  string

	// Children are the platform manifests of a multi-arch index, in index order;
	// empty for a single manifest.
	Children []ChildImage
}

// Repository returns the repository path of the image in its registry.
func (i *Image) Repository() string { return JoinRepository(i.Namespace, i.Name) }

// ChildImage is one platform manifest of a multi-arch index.
type ChildImage struct {
	Digest     string
	Platform   Platform
	ScanStatus ScanStatus
}

// SplitRepository splits a repository path into its namespace (the first path
// segment) and its name (the rest). A single-segment path has no namespace.
func SplitRepository(repo string) (namespace, name string) {
	for i := 0; i < len(repo); i++ {
		if repo[i] == '/' {
			return repo[:i], repo[i+1:]
		}
	}
	return "", repo
}

// JoinRepository is the inverse of SplitRepository.
func JoinRepository(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// ImageFilter selects image versions (spec §1.1). Zero values do not filter.
// String fields Name, Tag and InstanceName match as case-sensitive substrings;
// Namespace and InstanceID match exactly.
type ImageFilter struct {
	Type         ImageType // required
	Namespace    string
	Name         string
	Tag          string
	InstanceName string
	InstanceID   string
	LatestOnly   bool
	ScanStatus   ScanStatus
	MinSize      int64 // keeps Size >= MinSize; 0 does not filter

	UpdatedAt TimeRange
	ScannedAt TimeRange // a never-scanned image has ScannedAt at the Unix epoch for this filter

	HasVul           *bool
	HasUnsafeSetting *bool
	HasMaliciousFile *bool

	Offset int
	Limit  int
}

// TimeRange is an inclusive range of instants. A zero From or To leaves that
// end open; both zero means no filter.
type TimeRange struct {
	From time.Time
	To   time.Time
}

// IsZero reports whether the range filters nothing.
func (r TimeRange) IsZero() bool { return r.From.IsZero() && r.To.IsZero() }

// Contains reports whether t lies in the range. A zero t counts as the Unix
// epoch, so "scanned before X" includes images never scanned, as the API's
// literal range [0, X] does.
func (r TimeRange) Contains(t time.Time) bool {
	ms := UnixMilli(t)
	if !r.From.IsZero() && ms < UnixMilli(r.From) {
		return false
	}
	if !r.To.IsZero() && ms > UnixMilli(r.To) {
		return false
	}
	return true
}

// UnixMilli is t in Unix milliseconds, with the zero time as 0.
func UnixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromUnixMilli is the inverse of UnixMilli: 0 is the zero time.
func FromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Match reports whether img passes every filter in f except paging. It is the
// reference semantics of the filter, used by tests to check the stores.
func (f *ImageFilter) Match(img *Image) bool {
	switch {
	case img.Type != f.Type:
		return false
	case f.Namespace != "" && img.Namespace != f.Namespace:
		return false
	case f.Name != "" && !strings.Contains(img.Name, f.Name):
		return false
	case f.Tag != "" && !strings.Contains(img.Tag, f.Tag):
		return false
	case f.InstanceName != "" && !strings.Contains(img.InstanceName, f.InstanceName):
		return false
	case f.InstanceID != "" && img.InstanceID != f.InstanceID:
		return false
	case f.LatestOnly && !img.Latest:
		return false
	case f.ScanStatus != "" && img.ScanStatus != f.ScanStatus:
		return false
	case img.Size < f.MinSize:
		return false
	case !f.UpdatedAt.IsZero() && !f.UpdatedAt.Contains(img.UpdatedAt):
		return false
	case !f.ScannedAt.IsZero() && !f.ScannedAt.Contains(img.ScannedAt):
		return false
	case f.HasVul != nil && *f.HasVul != (img.VulNum > 0):
		return false
	case f.HasUnsafeSetting != nil && *f.HasUnsafeSetting != (img.UnsafeSettingNum > 0):
		return false
	case f.HasMaliciousFile != nil && *f.HasMaliciousFile != (img.MaliciousFileNum > 0):
		return false
	}
	return true
}

// ImageLess is the list order: newest UpdatedAt first, then greater ID first.
// It is a total order, so offset paging never repeats or skips a row.
func ImageLess(a, b *Image) bool {
	am, bm := UnixMilli(a.UpdatedAt), UnixMilli(b.UpdatedAt)
	if am != bm {
		return am > bm
	}
	return a.ID > b.ID
}
