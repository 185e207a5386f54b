package customs

import "time"

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
