package packages

import (
	"context"
	"fmt"
	"log/slog"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// RouteLibraryLogs sends what osv-scalibr's extractors log (to standard
// error by default, through one process-wide logger) to l instead.
func RouteLibraryLogs(l *slog.Logger) { scalibrlog.SetLogger(slogLogger{l}) }

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) log(level slog.Level, msg string) { s.l.Log(context.Background(), level, msg) }

func (s slogLogger) Errorf(format string, args ...any) {
	s.log(slog.LevelError, fmt.Sprintf(format, args...))
}
func (s slogLogger) Error(args ...any) { s.log(slog.LevelError, fmt.Sprint(args...)) }
func (s slogLogger) Warnf(format string, args ...any) {
	s.log(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (s slogLogger) Warn(args ...any) { s.log(slog.LevelWarn, fmt.Sprint(args...)) }
func (s slogLogger) Infof(format string, args ...any) {
	s.log(slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (s slogLogger) Info(args ...any) { s.log(slog.LevelInfo, fmt.Sprint(args...)) }
func (s slogLogger) Debugf(format string, args ...any) {
	s.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (s slogLogger) Debug(args ...any) { s.log(slog.LevelDebug, fmt.Sprint(args...)) }
