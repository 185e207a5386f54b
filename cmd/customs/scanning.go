package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"customs"
	"customs/analyzer"
	"customs/analyzer/baseline"
	"customs/analyzer/malware"
	"customs/analyzer/packages"
	"customs/oci"
	"customs/scan"
	"customs/scanjob"
	"customs/store/sqlite"
	"customs/vulndb"
)

// openScans prepares scanning over the opened store: the blob cache, the
// analyzers, the scanner and the scan job runner with workers workers (0:
// a runner that only queues, or scans in the foreground).
func (m *Main) openScans(ctx context.Context, workers int) error {
	c := m.Config
	cache, err := scan.Open(filepath.Join(c.DataDir, "cache", "blobs"), c.ScanCacheSize)
	if err != nil {
		return fmt.Errorf("blob cache: %w", err)
	}
	tmp := filepath.Join(c.DataDir, "cache", "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("scan spool directory: %w", err)
	}
	scanner := &scan.Scanner{
		Cache:     cache,
		Analyzers: m.analyzers(tmp),
		Limits:    c.ScanLimits,
		TempDir:   tmp,
		Logger:    m.Logger.With("component", "scan"),
	}
	m.Scans = &scanjob.Runner{
		Store:   m.DB,
		Scanner: &registryScanner{db: m.DB, scanner: scanner, concurrency: c.RegistryConcurrency, logger: m.Logger},
		Matcher: advisoryMatcher{m.DB},
		Workers: workers,
		Timeout: c.ScanLimits.Time + 5*time.Minute,
		Logger:  m.Logger.With("component", "scanjob"),
	}
	h, err := m.DB.Handle()
	if err != nil {
		return err
	}
	m.scanDB = h
	return m.Scans.Open(ctx, h)
}

// analyzers returns the analyzers every scan runs.
func (m *Main) analyzers(tmp string) []analyzer.Analyzer {
	packages.RouteLibraryLogs(m.Logger.With("component", "osv-scalibr"))
	as := []analyzer.Analyzer{
		&packages.Analyzer{TempDir: tmp, Logger: m.Logger.With("component", "packages")},
		&signatures{db: m.DB, logger: m.Logger.With("component", "malware")},
		&baseline.Analyzer{Logger: m.Logger.With("component", "baseline")},
	}
	if addr := m.Config.Clamd; addr != "" {
		network, address, _ := strings.Cut(addr, ":")
		as = append(as, &malware.Clamd{Network: network, Address: address})
	}
	return as
}

// checkTypeDescriptions describes the baseline rules' check types.
func checkTypeDescriptions() map[string]string {
	out := map[string]string{}
	for _, g := range baseline.Groups() {
		out[g.CheckType] = g.Description
	}
	return out
}

// registryScanner pulls an image from the registry a scan target names, with
// that registry's credentials as they are when the scan starts.
type registryScanner struct {
	db          *sqlite.DB
	scanner     *scan.Scanner
	concurrency int
	logger      *slog.Logger
}

func (s *registryScanner) Scan(ctx context.Context, t customs.ScanTarget, m *customs.Manifest) (*customs.ScanResult, error) {
	regs, err := s.db.FindRegistries(ctx, customs.ProjectScope(t.ProjectID), customs.RegistryFilter{ID: t.RegistryID})
	if err != nil {
		return nil, &customs.ScanFailure{Reason: customs.FailDatabase, Err: err}
	}
	if len(regs) == 0 {
		return nil, &customs.ScanFailure{Reason: customs.FailQueryBasicInformation, Err: fmt.Errorf("registry %s is gone", t.RegistryID)}
	}
	client, err := oci.New(regs[0], oci.WithConcurrency(s.concurrency), oci.WithLogger(s.logger.With("component", "oci", "registry", regs[0].Name)))
	if err != nil {
		return nil, &customs.ScanFailure{Reason: customs.FailDownload, Err: err}
	}
	return s.scanner.Scan(ctx, repositoryBlobs{client, t.Repository}, m)
}

// repositoryBlobs reads the blobs of one repository.
type repositoryBlobs struct {
	client *oci.Client
	repo   string
}

func (r repositoryBlobs) Blob(ctx context.Context, digest string) (io.ReadCloser, error) {
	return r.client.Blob(ctx, r.repo, digest)
}

// advisoryMatcher matches packages against the stored advisories that name
// them.
type advisoryMatcher struct{ db *sqlite.DB }

func (a advisoryMatcher) Match(ctx context.Context, pkgs []customs.Package) ([]customs.Finding, error) {
	keys := make([]customs.PackageKey, 0, len(pkgs))
	for _, p := range pkgs {
		keys = append(keys, p.Key())
	}
	advs, err := a.db.Advisories(ctx, keys)
	if err != nil {
		return nil, err
	}
	matcher, err := vulndb.NewMatcher(advs)
	if err != nil {
		return nil, err
	}
	return matcher.Match(pkgs), nil
}

// signatures is the hash-signature malware analyzer over the signature files
// in the store (with the built-in set): it rebuilds its database when the
// stored files change, so every replica scans with what was imported last.
type signatures struct {
	db     *sqlite.DB
	logger *slog.Logger

	mu      sync.Mutex
	version string
	current *malware.Analyzer
}

func (s *signatures) Name() string    { return "malware" }
func (s *signatures) Failure() string { return customs.FailScanFile }

func (s *signatures) Start(ctx context.Context, img *analyzer.Image) (analyzer.Scan, error) {
	a, err := s.analyzer(ctx)
	if err != nil {
		return nil, err
	}
	return a.Start(ctx, img)
}

func (s *signatures) analyzer(ctx context.Context) (*malware.Analyzer, error) {
	files, err := s.db.SignatureFiles(ctx, false)
	if err != nil {
		return nil, err
	}
	var version strings.Builder
	for _, f := range files {
		fmt.Fprintf(&version, "%s=%s;", f.Name, f.SHA256)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil && s.version == version.String() {
		return s.current, nil
	}
	db, err := loadSignatures(ctx, s.db)
	if err != nil {
		return nil, err
	}
	st := db.Stats()
	s.logger.Info("loaded malware signatures", "files", len(files), "signatures", db.Len(), "per_format", st.Signatures,
		"ignored_files", st.Ignored, "skipped_for_level", st.Skipped)
	if st.Wildcard > 0 {
		s.logger.Warn("signatures of unknown size make every file of every image be read and hashed", "signatures", st.Wildcard)
	}
	s.version, s.current = version.String(), &malware.Analyzer{DB: db}
	return s.current, nil
}

// loadSignatures builds the signature database from the stored files and
// the built-in set.
func loadSignatures(ctx context.Context, db *sqlite.DB) (*malware.DB, error) {
	files, err := db.SignatureFiles(ctx, true)
	if err != nil {
		return nil, err
	}
	var b malware.Builder
	b.AddBuiltin()
	for _, f := range files {
		if err := b.Add(f.Name, bytes.NewReader(f.Content)); err != nil {
			return nil, fmt.Errorf("signature file %s: %w", f.Name, err)
		}
	}
	return b.Build(), nil
}

// rematch matches again every stored inventory the imports changed
// advisories for.
func (m *Main) rematch(ctx context.Context, imports ...vulndb.Stats) error {
	var keys []customs.PackageKey
	for _, st := range imports {
		k, err := vulndb.RematchKeys(ctx, m.DB, st)
		if err != nil {
			return err
		}
		keys = append(keys, k...)
	}
	if len(keys) == 0 {
		return nil
	}
	n, err := vulndb.Rematch(ctx, m.DB, keys)
	if err != nil {
		return fmt.Errorf("match the stored images again: %w", err)
	}
	fmt.Fprintf(m.Stdout, "Matched %d scanned images against the changed advisories.\n", n)
	return nil
}

// warnStaleAdvisories logs a warning when the advisories are missing or
// older than the configured age.
func (m *Main) warnStaleAdvisories(ctx context.Context) {
	st, err := m.DB.EcosystemStatuses(ctx)
	if err != nil {
		m.Logger.Warn("read the advisory status", "err", err)
		return
	}
	if msg := staleAdvisories(st, m.Config.VulnDBMaxAge, time.Now()); msg != "" {
		m.Logger.Warn(msg)
	}
}

// staleAdvisories says what is wrong with the advisories held, or "".
func staleAdvisories(st []customs.EcosystemStatus, maxAge time.Duration, now time.Time) string {
	if len(st) == 0 {
		return "no vulnerability advisories are loaded: scans find no vulnerabilities until you run customs vulndb update (or import)"
	}
	var last time.Time
	for _, s := range st {
		if s.ImportedAt.After(last) {
			last = s.ImportedAt
		}
	}
	if maxAge > 0 && now.Sub(last) > maxAge {
		return fmt.Sprintf("the vulnerability advisories were last updated %s ago (%s), more than CUSTOMS_VULNDB_MAX_AGE=%s: run customs vulndb update",
			now.Sub(last).Round(time.Hour), last.UTC().Format(time.RFC3339), maxAge)
	}
	return ""
}

// scanDigests selects the image manifests a scan command works on in scope:
// every image of the project, or those of the named repositories
// ("namespace/name" or "namespace/name:tag").
func (m *Main) scanDigests(ctx context.Context, scope customs.Scope, refs []string) ([]string, error) {
	var out []string
	for _, typ := range []customs.ImageType{customs.PrivateImage, customs.InstanceImage} {
		if len(refs) == 0 {
			ds, err := m.DB.FindImageDigests(ctx, scope, customs.ImageFilter{Type: typ})
			if err != nil {
				return nil, err
			}
			out = append(out, ds...)
			continue
		}
		for _, ref := range refs {
			repo, tag := splitReference(ref)
			ns, name := customs.SplitRepository(repo)
			const page = 200 // the store's largest page
			for offset := 0; ; offset += page {
				imgs, total, err := m.DB.FindImages(ctx, scope, customs.ImageFilter{Type: typ, Namespace: ns, Name: name, Tag: tag, Offset: offset, Limit: page})
				if err != nil {
					return nil, err
				}
				for _, img := range imgs {
					if img.Repository() == repo && (tag == "" || img.Tag == tag) {
						out = append(out, img.Digest)
					}
				}
				if offset+page >= total {
					break
				}
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 && len(refs) > 0 {
		return nil, fmt.Errorf("no image in the project matches %s", strings.Join(refs, ", "))
	}
	return out, nil
}

// splitReference splits "repo:tag" (a colon after the last slash).
func splitReference(ref string) (repo, tag string) {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}
