package scan

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"customs"
	"customs/analyzer"
)

// Source reads the blobs of one repository. The caller binds the repository
// and the credentials the job resolved when it started.
type Source interface {
	// Blob opens the blob digest for reading. An error whose chain holds
	// customs.ErrRegistryAuth fails the scan with authentication_failed;
	// any other with download_failed.
	Blob(ctx context.Context, digest string) (io.ReadCloser, error)
}

// Scanner scans image manifests. It is safe for concurrent use: scans share
// the cache and nothing else.
type Scanner struct {
	// Cache holds the blobs; it is required.
	Cache *Cache
	// Analyzers look at each image, in this order.
	Analyzers []analyzer.Analyzer
	// Limits bound each scan; a zero field takes customs.DefaultScanLimits'.
	Limits customs.ScanLimits
	// TempDir holds wanted files too large to keep in memory while the
	// analyzers read them, each deleted right after; "" is os.TempDir().
	TempDir string
	// Logger defaults to slog.Default() with component=scan.
	Logger *slog.Logger
}

// maxConfigSize bounds an image config blob (what Distribution accepts).
const maxConfigSize = 8 << 20

// errTimeLimit is the cause of a scan's context when Limits.Time ran out.
var errTimeLimit = errors.New("scan time limit reached")

// Scan scans the single-platform image m, whose blobs src serves, with
// every analyzer, and returns what they found. An index, a schema-1 manifest
// or an artifact is a *customs.ScanFailure (the caller scans an index's
// children one by one): schema_v1_not_support for schema 1, unknown_error
// for the others.
//
// Every error is a *customs.ScanFailure whose Reason is the image's
// scan_failed_desc (customs.ScanFailureReason reads it), except the error of
// a cancelled or expired ctx: that one is not a failure of the image but a
// scan that was stopped, and comes back as ctx's error (errors.Is(err,
// context.Canceled)) so that the job runs again. The reasons:
//
//   - the layers add up to more than Limits.ImageSize, or a layer
//     decompresses to more than Limits.Ratio times its size (and more than
//     64 MiB): image_oversized;
//   - more layers than Limits.Layers: image_layer_over_sized;
//   - the registry refused the credentials: authentication_failed; any other
//     failure to fetch a blob, or a blob whose content does not match its
//     digest or size: download_failed;
//   - a config that is not an image config, a layer that is neither gzip,
//     zstd nor tar or is corrupt: failed_to_query_basic_image_information
//     (the image itself is broken; fetching it again will not help);
//   - Limits.Time ran out: response_timed_out;
//   - an analyzer could not start or finish (or panicked doing so): that
//     analyzer's Failure().
//
// An analyzer that fails on some files (an error or a panic in Wants or
// File) does not fail the scan: its AnalyzerStatus is partial, with the
// number of files and the first error.
//
// Limits are checked from the manifest before any blob is fetched. Entries
// with paths longer than Limits.PathLength, or that climb out of the image
// root with "..", are skipped (and logged), not failed on: the rest of the
// image is still worth scanning. Files larger than Limits.FileSize are not
// read, whoever wants them.
func (s *Scanner) Scan(ctx context.Context, src Source, m *customs.Manifest) (*customs.ScanResult, error) {
	limits := s.limits()
	sctx, cancel := context.WithTimeoutCause(ctx, limits.Time, errTimeLimit)
	defer cancel()
	res, err := s.scan(sctx, src, m, limits)
	if err == nil {
		return res, nil
	}
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("scan %s: %w", m.Digest, ctx.Err())
	case errors.Is(context.Cause(sctx), errTimeLimit):
		return nil, failf(customs.FailTimedOut, "scan %s: not done within the scan time limit of %s: %w", m.Digest, limits.Time, err)
	default:
		// The reason of a failure in err's chain, else unknown_error.
		return nil, fail(customs.ScanFailureReason(err), fmt.Errorf("scan %s: %w", m.Digest, err))
	}
}

func (s *Scanner) scan(ctx context.Context, src Source, m *customs.Manifest, limits customs.ScanLimits) (*customs.ScanResult, error) {
	if s.Cache == nil {
		return nil, errors.New("the scanner has no blob cache")
	}
	switch m.Kind {
	case customs.KindImage:
	case customs.KindSchema1:
		return nil, failf(customs.FailSchemaV1, "a Docker schema 1 manifest has no image config to scan")
	default:
		return nil, fmt.Errorf("manifest of kind %q is not a single-platform image: scan an index's children one by one", m.Kind)
	}
	if len(m.Blobs) == 0 {
		return nil, failf(customs.FailQueryBasicInformation, "the manifest lists no config blob")
	}
	config, layers := m.Blobs[0], m.Blobs[1:]
	if err := checkManifest(layers, limits); err != nil {
		return nil, err
	}
	log := s.logger().With("digest", m.Digest)

	img, err := s.readConfig(ctx, src, m, config)
	if err != nil {
		return nil, err
	}
	runs := make([]*run, 0, len(s.Analyzers))
	for _, a := range s.Analyzers {
		r := &run{a: a, log: log.With("analyzer", a.Name())}
		if err := r.start(ctx, img); err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}

	w := &walker{
		log:     log,
		limits:  limits,
		tempDir: cmp.Or(s.TempDir, os.TempDir()),
		runs:    runs,
		final:   analyzer.NewFinal(),
	}
	if err := s.walkLayers(ctx, src, layers, w); err != nil {
		return nil, err
	}

	res := &customs.ScanResult{Digest: m.Digest}
	for _, r := range runs {
		if err := r.finish(ctx, w.final, res); err != nil {
			return nil, err
		}
	}
	for _, r := range runs {
		res.Analyzers = mergeStatus(res.Analyzers, r.status())
	}
	res.ScannedAt = time.Now().UTC()
	return res, nil
}

// checkManifest applies the limits a manifest alone decides.
func checkManifest(layers []customs.Blob, limits customs.ScanLimits) error {
	var total int64
	for i, l := range layers {
		if l.Size < 0 {
			return failf(customs.FailQueryBasicInformation, "layer %d (%s) has a negative size", i, l.Digest)
		}
		if l.Size > limits.ImageSize-total {
			return failf(customs.FailImageOversized, "the layers are larger than the image size limit of %d bytes", limits.ImageSize)
		}
		total += l.Size
	}
	if len(layers) > limits.Layers {
		return failf(customs.FailLayerOversized, "the image has %d layers, more than the limit of %d", len(layers), limits.Layers)
	}
	return nil
}

// walkLayers streams the layers in order, fetching the next one while the
// current one is read.
func (s *Scanner) walkLayers(ctx context.Context, src Source, layers []customs.Blob, w *walker) error {
	type fetched struct {
		blob *Blob
		err  error
	}
	fetch := func(ctx context.Context, l customs.Blob) chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			b, err := s.fetch(ctx, src, l)
			ch <- fetched{b, err}
		}()
		return ch
	}
	ctx, cancel := context.WithCancel(ctx)
	var next chan fetched
	defer func() {
		// Stop a prefetch the scan no longer needs, and give its blob back.
		cancel()
		if next != nil {
			if f := <-next; f.blob != nil {
				f.blob.Release()
			}
		}
	}()
	if len(layers) > 0 {
		next = fetch(ctx, layers[0])
	}
	for i := range layers {
		f := <-next
		next = nil
		if i+1 < len(layers) {
			next = fetch(ctx, layers[i+1])
		}
		if f.err != nil {
			return fmt.Errorf("layer %d: %w", i, f.err)
		}
		err := w.layer(ctx, i, f.blob)
		f.blob.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// fetch gets a blob through the cache, classifying the failures.
func (s *Scanner) fetch(ctx context.Context, src Source, b customs.Blob) (*Blob, error) {
	blob, err := s.Cache.Fetch(ctx, b.Digest, b.Size, func(ctx context.Context) (io.ReadCloser, error) {
		return src.Blob(ctx, b.Digest)
	})
	var f *customs.ScanFailure
	switch {
	case err == nil:
		return blob, nil
	case ctx.Err() != nil || errors.As(err, &f):
		return nil, err
	case errors.Is(err, customs.ErrRegistryAuth):
		return nil, fail(customs.FailAuthentication, err)
	default:
		return nil, fail(customs.FailDownload, err)
	}
}

// configFile is the part of an OCI or Docker image config a scan reads.
type configFile struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant"`
	Config       struct {
		User         string                     `json:"User"`
		Env          []string                   `json:"Env"`
		ExposedPorts map[string]json.RawMessage `json:"ExposedPorts"`
		Labels       map[string]string          `json:"Labels"`
		Healthcheck  *struct {
			Test stringList `json:"Test"`
		} `json:"Healthcheck"`
		Entrypoint stringList `json:"Entrypoint"`
		Cmd        stringList `json:"Cmd"`
	} `json:"config"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
		Comment    string `json:"comment"`
	} `json:"history"`
}

// stringList is a list of strings that Docker also accepts as one string.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// readConfig fetches and parses the image config.
func (s *Scanner) readConfig(ctx context.Context, src Source, m *customs.Manifest, config customs.Blob) (*analyzer.Image, error) {
	if config.Size > maxConfigSize {
		return nil, failf(customs.FailQueryBasicInformation, "config blob %s is %d bytes, more than the %d an image config may have", config.Digest, config.Size, maxConfigSize)
	}
	blob, err := s.fetch(ctx, src, config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer blob.Release()
	f, err := blob.Open()
	if err != nil {
		return nil, fmt.Errorf("read config blob %s: %w", config.Digest, err)
	}
	defer f.Close()
	var cf configFile
	if err := json.NewDecoder(f).Decode(&cf); err != nil {
		return nil, failf(customs.FailQueryBasicInformation, "config blob %s is not an image config: %w", config.Digest, err)
	}

	img := &analyzer.Image{
		Digest:   m.Digest,
		Platform: m.Platform,
		Config: customs.ImageConfig{
			User:         cf.Config.User,
			Env:          cf.Config.Env,
			ExposedPorts: slices.Sorted(maps.Keys(cf.Config.ExposedPorts)),
			Labels:       cf.Config.Labels,
			Entrypoint:   cf.Config.Entrypoint,
			Cmd:          cf.Config.Cmd,
		},
	}
	if cf.OS != "" || cf.Architecture != "" {
		img.Platform = customs.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}
	if hc := cf.Config.Healthcheck; hc != nil {
		img.Config.Healthcheck = hc.Test
	}
	for _, h := range cf.History {
		img.Config.History = append(img.Config.History, customs.HistoryEntry{CreatedBy: h.CreatedBy, EmptyLayer: h.EmptyLayer, Comment: h.Comment})
	}
	for _, l := range m.Blobs[1:] {
		img.Layers = append(img.Layers, l.Digest)
	}
	return img, nil
}

func (s *Scanner) limits() customs.ScanLimits {
	l, d := s.Limits, customs.DefaultScanLimits
	if l.ImageSize <= 0 {
		l.ImageSize = d.ImageSize
	}
	if l.Layers <= 0 {
		l.Layers = d.Layers
	}
	if l.FileSize <= 0 {
		l.FileSize = d.FileSize
	}
	if l.Ratio <= 0 {
		l.Ratio = d.Ratio
	}
	if l.PathLength <= 0 {
		l.PathLength = d.PathLength
	}
	if l.Entries <= 0 {
		l.Entries = d.Entries
	}
	if l.Time <= 0 {
		l.Time = d.Time
	}
	return l
}

func (s *Scanner) logger() *slog.Logger {
	return cmp.Or(s.Logger, slog.Default().With("component", "scan"))
}

// run is one analyzer's work on one image.
type run struct {
	a    analyzer.Analyzer
	scan analyzer.Scan
	log  *slog.Logger

	failed int   // files the analyzer failed on
	first  error // the first of them
}

func (r *run) start(ctx context.Context, img *analyzer.Image) error {
	err := r.guard("start", func() error {
		sc, err := r.a.Start(ctx, img)
		if err == nil && sc == nil {
			err = errors.New("no scan returned")
		}
		r.scan = sc
		return err
	})
	if err != nil {
		return r.failure(fmt.Errorf("start analyzer %s: %w", r.a.Name(), err))
	}
	return nil
}

// wants asks the analyzer about f; a panic counts as a failure on f.
func (r *run) wants(f *analyzer.File) bool {
	var want bool
	if err := r.guard("wants", func() error { want = r.scan.Wants(f); return nil }); err != nil {
		r.fileFailed(f, err)
		return false
	}
	return want
}

func (r *run) file(ctx context.Context, f *analyzer.File, content analyzer.Content) {
	if err := r.guard("file", func() error { return r.scan.File(ctx, f, content) }); err != nil {
		r.fileFailed(f, err)
	}
}

func (r *run) fileFailed(f *analyzer.File, err error) {
	r.failed++
	if r.first == nil {
		r.first = fmt.Errorf("%s: %w", f.Path, err)
	}
	r.log.Debug("analyzer failed on a file", "layer", f.Layer, "path", f.Path, "error", err)
}

func (r *run) finish(ctx context.Context, final *analyzer.Final, res *customs.ScanResult) error {
	if err := r.guard("finish", func() error { return r.scan.Finish(ctx, final, res) }); err != nil {
		return r.failure(fmt.Errorf("analyzer %s: %w", r.a.Name(), err))
	}
	return nil
}

// failure is the scan's failure when the analyzer failed as a whole. (When
// the scan's context ended, Scan reports that instead.)
func (r *run) failure(err error) error {
	return fail(cmp.Or(r.a.Failure(), customs.FailUnknown), err)
}

func (r *run) status() customs.AnalyzerStatus {
	st := customs.AnalyzerStatus{Name: r.a.Name(), Status: customs.AnalyzerSucceeded}
	if r.failed > 0 {
		st.Status = customs.AnalyzerPartial
		st.Reason = fmt.Sprintf("failed on %d files; first: %v", r.failed, r.first)
	}
	return st
}

// mergeStatus adds the core's view of an analyzer (files it failed on) to
// the status the analyzer reported itself, if it did: one entry per
// analyzer. An analyzer that says it was partial has said why, its file
// failures included; one that says it succeeded is corrected.
func mergeStatus(all []customs.AnalyzerStatus, st customs.AnalyzerStatus) []customs.AnalyzerStatus {
	i := slices.IndexFunc(all, func(a customs.AnalyzerStatus) bool { return a.Name == st.Name })
	if i < 0 {
		return append(all, st)
	}
	if own := &all[i]; own.Status == customs.AnalyzerSucceeded && st.Status != customs.AnalyzerSucceeded {
		*own = st
	}
	return all
}

// errPanic is in the chain of the error of an analyzer call that panicked.
var errPanic = errors.New("analyzer panicked")

// guard calls fn, turning a panic into an error: a hostile file that trips
// an analyzer must not take the process down.
func (r *run) guard(call string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("analyzer panicked", "call", call, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return fn()
}
