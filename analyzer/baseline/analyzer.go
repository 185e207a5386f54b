package baseline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"

	"customs"
	"customs/analyzer"
)

// Read limits: configuration and credential files are small, and a private
// key shows itself in its first lines.
const (
	maxConfigSize = 1 << 20
	maxKeyRead    = 4 << 10
	maxPEMSize    = 64 << 10
)

// Analyzer checks images against the catalogue of Rules.
type Analyzer struct {
	Logger *slog.Logger // default slog.Default().With("component", "baseline")
}

var _ analyzer.Analyzer = (*Analyzer)(nil)

// Name implements analyzer.Analyzer.
func (a *Analyzer) Name() string { return "baseline" }

// Failure implements analyzer.Analyzer.
func (a *Analyzer) Failure() string { return customs.FailCheckBaseline }

// Start implements analyzer.Analyzer.
func (a *Analyzer) Start(ctx context.Context, img *analyzer.Image) (analyzer.Scan, error) {
	if img == nil {
		return nil, errors.New("start baseline check: no image")
	}
	logger := a.Logger
	if logger == nil {
		logger = slog.Default().With("component", "baseline")
	}
	return &scan{
		name:    a.Name(),
		img:     img,
		logger:  logger.With("digest", img.Digest),
		files:   make(map[string]content),
		skipped: make(map[string]int),
	}, nil
}

type scan struct {
	name   string
	img    *analyzer.Image
	logger *slog.Logger
	// files holds the latest version read of each wanted path.
	files map[string]content
	// skipped are configuration files too large to read, by path, with
	// their layer.
	skipped map[string]int
	// held is the bytes of files kept, bounded by maxHeld.
	held   int64
	failed int
	first  error
}

// maxHeld bounds the bytes of file contents one scan keeps until Finish:
// an image with a great many key-like or configuration files cannot make
// it hold them all. Files past it count as not read (a partial result).
const maxHeld = 64 << 20

type content struct {
	layer int
	data  []byte
}

// Wants implements analyzer.Scan.
func (s *scan) Wants(f *analyzer.File) bool {
	if !f.Mode.IsRegular() || f.Linkname != "" {
		return false
	}
	n := readLimit(f.Path, f.Size)
	if n < 0 || s.held-int64(len(s.files[f.Path].data))+n > maxHeld {
		s.drop(f.Path)
		s.skipped[f.Path] = f.Layer
		return false
	}
	delete(s.skipped, f.Path)
	if n == 0 {
		// Not wanted, or wanted and empty: an empty file still replaces
		// what an earlier layer had.
		if wanted(f.Path) {
			s.drop(f.Path)
			s.files[f.Path] = content{layer: f.Layer}
		}
		return false
	}
	return true
}

// readLimit is how many bytes of the file at p the rules read: 0 for none,
// -1 for a configuration file too large to read.
func readLimit(p string, size int64) int64 {
	if configFile(p) || credentialFile(p) {
		if size > maxConfigSize {
			return -1
		}
		return size
	}
	if keyCandidate(p) {
		ext := path.Ext(p)
		if (ext == ".pem" || ext == ".key") && size <= maxPEMSize {
			return size
		}
		return min(size, maxKeyRead)
	}
	return 0
}

func wanted(p string) bool { return configFile(p) || credentialFile(p) || keyCandidate(p) }

// File implements analyzer.Scan.
func (s *scan) File(ctx context.Context, f *analyzer.File, c analyzer.Content) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := readLimit(f.Path, f.Size)
	data, err := io.ReadAll(io.LimitReader(c, n))
	if err != nil {
		// An unreadable version must not leave an older one standing.
		s.drop(f.Path)
		s.failed++
		err = fmt.Errorf("read /%s: %w", f.Path, err)
		if s.first == nil {
			s.first = err
		}
		return err
	}
	s.drop(f.Path)
	s.files[f.Path] = content{layer: f.Layer, data: data}
	s.held += int64(len(data))
	return nil
}

// drop forgets the content kept of path.
func (s *scan) drop(path string) {
	s.held -= int64(len(s.files[path].data))
	delete(s.files, path)
}

// Finish implements analyzer.Scan.
func (s *scan) Finish(ctx context.Context, final *analyzer.Final, res *customs.ScanResult) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check baseline of %s: %w", s.img.Digest, err)
	}
	st := &state{cfg: &s.img.Config, files: make(map[string][]byte)}
	for p, c := range s.files {
		if f, ok := final.Lookup(p); ok && f.Layer == c.layer && f.Mode.IsRegular() {
			st.files[p] = c.data
		}
	}
	st.walk(final)

	failed := 0
	for _, r := range catalogue {
		o := checks[r.ID](st)
		if !o.passed {
			failed++
		}
		res.Baseline = append(res.Baseline, customs.BaselineResult{
			RuleID:       r.ID,
			RuleName:     r.Name,
			CheckName:    r.CheckName,
			CheckType:    r.CheckType,
			Standard:     r.Standard,
			Severity:     r.Severity,
			Description:  r.Description,
			Reference:    r.Reference,
			Audit:        r.Audit,
			Remediation:  r.Remediation,
			Passed:       o.passed,
			CurrentValue: o.current,
			SuggestValue: r.SuggestValue,
		})
	}

	status := customs.AnalyzerStatus{Name: s.name, Status: customs.AnalyzerSucceeded}
	var reasons []string
	if s.failed > 0 {
		reasons = append(reasons, fmt.Sprintf("%d files could not be read; the first: %v", s.failed, s.first))
	}
	var big []string
	for p, layer := range s.skipped {
		if f, ok := final.Lookup(p); ok && f.Layer == layer {
			big = append(big, "/"+p)
		}
	}
	if len(big) > 0 {
		reasons = append(reasons, fmt.Sprintf("not read, larger than %d bytes or past %d bytes of files read: %s", maxConfigSize, maxHeld, strings.Join(sorted(big), ", ")))
	}
	if len(reasons) > 0 {
		status.Status = customs.AnalyzerPartial
		status.Reason = strings.Join(reasons, "; ")
	}
	res.Analyzers = append(res.Analyzers, status)
	s.logger.Debug("baseline check finished", "rules", len(catalogue), "failed", failed, "status", status.Status)
	return nil
}
