package scan

import (
	"fmt"

	"customs"
)

// failf returns a scan failure with the given scan_failed_desc reason (a
// customs.Fail* value) and a cause formatted as fmt.Errorf does.
func failf(reason, format string, args ...any) *customs.ScanFailure {
	return &customs.ScanFailure{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// fail returns a scan failure with the given reason and cause.
func fail(reason string, err error) *customs.ScanFailure {
	return &customs.ScanFailure{Reason: reason, Err: err}
}
