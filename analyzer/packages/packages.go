// Package packages is the analyzer that lists the software in an image: the
// packages of its operating system's package manager (dpkg, apk, rpm) and of
// its applications (Go binaries, npm packages under node_modules, Python
// dist-info and egg-info, Java archives), each with the OSV ecosystem its
// advisories are published in ("Debian:12", "Alpine:v3.19", "Go", "npm") and
// the layer that added it. It reads files with osv-scalibr's filesystem
// extractors while the scanner core streams the layers.
//
// It does not match packages against advisories (that is the vulnerability
// database's job), and it does not look at lock files or manifests of
// software that is not installed.
package packages

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"

	"customs"
	"customs/analyzer"
)

// maxRelease is the largest os-release file read; real ones are a few
// hundred bytes.
const maxRelease = 64 << 10

// Analyzer lists an image's packages.
type Analyzer struct {
	Logger *slog.Logger
	// TempDir is where an rpm database is written while it is read (the
	// reader needs a file); os.TempDir() when empty. Each file is removed as
	// soon as it has been read.
	TempDir string
}

var _ analyzer.Analyzer = (*Analyzer)(nil)

// Name is "packages".
func (a *Analyzer) Name() string { return "packages" }

// Failure is customs.FailScanSoftware.
func (a *Analyzer) Failure() string { return customs.FailScanSoftware }

// Start begins listing the packages of img.
func (a *Analyzer) Start(ctx context.Context, img *analyzer.Image) (analyzer.Scan, error) {
	exts, err := newExtractors()
	if err != nil {
		return nil, fmt.Errorf("start package analysis of %s: %w", img.Digest, err)
	}
	logger := a.Logger
	if logger == nil {
		logger = slog.Default().With("component", "analyzer/packages")
	}
	return &scan{
		img:      img,
		logger:   logger.With("image", img.Digest),
		tempDir:  cmp.Or(a.TempDir, os.TempDir()),
		exts:     exts,
		releases: make(map[string]layerData),
		files:    make(map[string]*fileResult),
	}, nil
}

// scan is the analysis of one image.
type scan struct {
	img     *analyzer.Image
	logger  *slog.Logger
	tempDir string
	exts    []filesystem.Extractor

	// releases are the os-release files seen, the latest layer's per path.
	releases map[string]layerData
	// files are the packages found, the latest layer's per path.
	files  map[string]*fileResult
	failed int
}

type layerData struct {
	layer int
	data  []byte
}

// fileResult is what one version of a file holds.
type fileResult struct {
	layer int
	pkgs  []found
}

type found struct {
	pkg       *extractor.Package
	extractor string
	// since is the index of the layer the package came with: for a package
	// database, the first of the layers since which the database has listed
	// it without a break; for any other file, the file's layer.
	since int
}

// key identifies a package within the versions of one database.
func (f found) key() string { return f.extractor + "\x00" + f.pkg.Name + "\x00" + version(f.pkg) }

// Wants reports whether f is an os-release file or a file one of the
// extractors reads.
func (s *scan) Wants(f *analyzer.File) bool {
	if !f.Mode.IsRegular() {
		return false
	}
	if slices.Contains(osReleasePaths, f.Path) {
		return true
	}
	api := fileAPI{f}
	for _, e := range s.exts {
		if s.required(e, api) {
			return true
		}
	}
	return false
}

// required is an extractor's FileRequired, narrowed where the extractor
// reads more than installed software.
func (s *scan) required(e filesystem.Extractor, api fileAPI) bool {
	if !e.FileRequired(api) {
		return false
	}
	if e.Name() == packagejson.Name {
		// An application's own package.json is not an installed package.
		return inNodeModules(api.f.Path)
	}
	return true
}

// inNodeModules reports whether p is the package.json of a package
// installed in a node_modules directory ("node_modules/x/package.json",
// "node_modules/@scope/x/package.json").
func inNodeModules(p string) bool {
	parent := path.Dir(path.Dir(p))
	if path.Base(parent) == "node_modules" {
		return true
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules"
}

// File runs the extractors that want f on its content. Packages already
// found in an earlier layer's version of the same path are replaced.
func (s *scan) File(ctx context.Context, f *analyzer.File, content analyzer.Content) error {
	if slices.Contains(osReleasePaths, f.Path) {
		data, err := io.ReadAll(io.LimitReader(content, maxRelease))
		if err != nil {
			return fmt.Errorf("read /%s: %w", f.Path, err)
		}
		s.releases[f.Path] = layerData{layer: f.Layer, data: data}
		return nil
	}

	var pkgs []found
	var errs []error
	api := fileAPI{f}
	for _, e := range s.exts {
		if !s.required(e, api) {
			continue
		}
		extracted, err := s.extract(ctx, e, f, content)
		if err != nil {
			errs = append(errs, fmt.Errorf("extract %s packages from /%s: %w", e.Name(), f.Path, err))
		}
		for _, p := range extracted {
			pkgs = append(pkgs, found{pkg: p, extractor: e.Name(), since: f.Layer})
		}
	}

	// A package database is rewritten whole by every layer that installs
	// anything: a package it listed before keeps the layer it came with.
	if prev, ok := s.files[f.Path]; ok {
		first := make(map[string]int)
		for _, p := range prev.pkgs {
			if isOSExtractor(p.extractor) {
				first[p.key()] = p.since
			}
		}
		for i, p := range pkgs {
			if since, ok := first[p.key()]; ok {
				pkgs[i].since = since
			}
		}
	}
	s.files[f.Path] = &fileResult{layer: f.Layer, pkgs: pkgs}

	if err := errors.Join(errs...); err != nil {
		s.failed++
		s.logger.Warn("package extraction failed", "path", "/"+f.Path, "layer", f.Layer, "err", err)
		return err
	}
	return nil
}

// extract runs one extractor on a file's content.
func (s *scan) extract(ctx context.Context, e filesystem.Extractor, f *analyzer.File, content analyzer.Content) (_ []*extractor.Package, err error) {
	// Each extractor gets a reader of its own at the start; it is also an
	// io.Seeker, which the Java archive extractor relies on.
	r := io.NewSectionReader(content, 0, content.Size())
	input := &filesystem.ScanInput{FS: noRelease, Path: f.Path, Info: fileInfo{f}, Reader: r}
	if e.Name() == rpm.Name {
		// The rpm database reader opens a file by name.
		dir, err := os.MkdirTemp(s.tempDir, "rpmdb-")
		if err != nil {
			return nil, fmt.Errorf("create temporary directory for the rpm database: %w", err)
		}
		defer func() {
			if rerr := os.RemoveAll(dir); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove temporary rpm database: %w", rerr))
			}
		}()
		name := path.Base(f.Path)
		if err := writeFile(filepath.Join(dir, name), r); err != nil {
			return nil, err
		}
		input.Root, input.Path, input.Reader = dir, name, nil
	}
	inv, err := e.Extract(ctx, input)
	return inv.Packages, err
}

func writeFile(name string, r io.Reader) error {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create temporary rpm database: %w", err)
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("write temporary rpm database: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write temporary rpm database: %w", err)
	}
	return nil
}

// Finish adds the packages of the files the final filesystem still holds
// (in the version the packages were read from) to res, with their
// ecosystems now that the release is known, and sets res.OS.
func (s *scan) Finish(ctx context.Context, final *analyzer.Final, res *customs.ScanResult) error {
	rel := s.release(final)
	var pkgs []customs.Package
	for p, fr := range s.files {
		cur, ok := final.Lookup(p)
		if !ok || cur.Layer != fr.layer || !cur.Mode.IsRegular() {
			continue // deleted or replaced by a later layer
		}
		for _, fd := range fr.pkgs {
			pkgs = append(pkgs, s.convert(fd, p, rel))
		}
	}
	slices.SortFunc(pkgs, func(x, y customs.Package) int {
		return cmp.Or(
			cmp.Compare(x.Ecosystem, y.Ecosystem),
			cmp.Compare(x.Name, y.Name),
			cmp.Compare(x.Version, y.Version),
			cmp.Compare(x.Path, y.Path),
			cmp.Compare(x.Layer, y.Layer),
			cmp.Compare(x.SourceName, y.SourceName),
		)
	})
	pkgs = slices.Compact(pkgs)
	res.Packages = append(res.Packages, pkgs...)
	if eco := rel.osEcosystem(); eco != "" {
		res.OS = eco
	}

	status := customs.AnalyzerStatus{Name: "packages", Status: customs.AnalyzerSucceeded}
	if s.failed > 0 {
		status.Status = customs.AnalyzerPartial
		status.Reason = fmt.Sprintf("packages of %d files could not be read", s.failed)
	}
	res.Analyzers = append(res.Analyzers, status)
	s.logger.Debug("packages listed", "packages", len(pkgs), "os", res.OS, "failed_files", s.failed)
	return nil
}

// release is the image's os-release, as the container sees it.
func (s *scan) release(final *analyzer.Final) release {
	for _, p := range osReleasePaths {
		f, ok := final.Resolve(p)
		if !ok {
			// Layers need not hold entries for the directories on the way.
			if f, ok = final.Lookup(p); !ok {
				continue
			}
		}
		if d, ok := s.releases[f.Path]; ok && d.layer == f.Layer {
			return parseRelease(d.data)
		}
	}
	return release{}
}

// convert turns a package found in the file at p into a customs.Package.
func (s *scan) convert(fd found, p string, rel release) customs.Package {
	pkg := fd.pkg
	osPkg := isOSExtractor(fd.extractor)
	if osPkg {
		rel.fill(pkg.Metadata)
	}
	out := customs.Package{
		Name:      pkg.Name,
		Version:   version(pkg),
		Ecosystem: rel.ecosystem(pkg, osPkg),
		OS:        osPkg,
		Path:      "/" + p,
	}
	if fd.since >= 0 && fd.since < len(s.img.Layers) {
		out.Layer = s.img.Layers[fd.since]
	}
	switch m := pkg.Metadata.(type) {
	case *dpkgmeta.Metadata:
		// Debian advisories name source packages; a binary package without
		// a Source field is built from the source package of its own name
		// and version.
		out.SourceName = cmp.Or(m.SourceName, pkg.Name)
		out.SourceVersion = cmp.Or(m.SourceVersion, pkg.Version)
	case *apkmeta.Metadata:
		// Alpine advisories name the origin (source) package too.
		if m.OriginName != "" {
			out.SourceName = m.OriginName
			out.SourceVersion = pkg.Version
		}
	}
	if fd.extractor == gobinary.Name && pkg.Name == "go" {
		// The toolchain that built the binary: Go advisories name the
		// standard library "stdlib".
		out.Name = "stdlib"
	}
	return out
}

// version is a package's version as its ecosystem's advisories write it:
// rpm versions carry the epoch when it is not zero ("1:3.0.7-16.el9").
func version(p *extractor.Package) string {
	if m, ok := p.Metadata.(*rpmmeta.Metadata); ok && m.Epoch > 0 {
		return fmt.Sprintf("%d:%s", m.Epoch, p.Version)
	}
	return p.Version
}

// fileAPI is what extractors know of a file before it is read.
type fileAPI struct{ f *analyzer.File }

var _ filesystem.FileAPI = fileAPI{}

func (a fileAPI) Path() string               { return a.f.Path }
func (a fileAPI) Stat() (fs.FileInfo, error) { return fileInfo(a), nil }

// fileInfo is a layer entry as an fs.FileInfo.
type fileInfo struct{ f *analyzer.File }

func (i fileInfo) Name() string       { return path.Base(i.f.Path) }
func (i fileInfo) Size() int64        { return i.f.Size }
func (i fileInfo) Mode() fs.FileMode  { return i.f.Mode }
func (i fileInfo) ModTime() time.Time { return i.f.ModTime }
func (i fileInfo) IsDir() bool        { return i.f.Mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }
