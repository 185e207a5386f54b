// Package scan is the scanner core. It fetches an image's blobs into a
// content-addressed cache on disk, streams each layer once (gzip, zstd or
// plain tar), builds the image's final filesystem view from the layers and
// their whiteouts, and offers every file to the analyzers (package analyzer),
// giving each one that wants a file its own reader over one copy of the
// content. It enforces the scan limits (customs.ScanLimits) and turns every
// way a scan can end badly into a *customs.ScanFailure with a
// scan_failed_desc reason.
//
// It is not for finding anything itself: what to look for is the analyzers'
// business. It does not talk to registries (a Source gives it one
// repository's blobs, with the credentials the caller chose), store results,
// match advisories or schedule scans, and it never extracts a layer: nothing
// from an image is written to disk under a name the image chose.
package scan
