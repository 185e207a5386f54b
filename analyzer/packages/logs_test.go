package packages_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	scalibrlog "github.com/google/osv-scalibr/log"

	"customs/analyzer/packages"
)

func TestRouteLibraryLogs(t *testing.T) {
	var buf bytes.Buffer
	packages.RouteLibraryLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { scalibrlog.SetLogger(&scalibrlog.DefaultLogger{}) })
	scalibrlog.Warnf("extractor %s failed", "dpkg")
	scalibrlog.Debug("detail")
	got := buf.String()
	if !strings.Contains(got, `level=WARN msg="extractor dpkg failed"`) || !strings.Contains(got, "level=DEBUG msg=detail") {
		t.Errorf("routed logs:\n%s", got)
	}
}
