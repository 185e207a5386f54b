// Package analyzer is the contract between the scanner core and the
// analyzers that look inside an image: package extraction, malware
// signatures and baseline rules. The core streams each layer once and offers
// every file to every analyzer; an analyzer reads only the files it wants and
// writes what it found into the image's result when the last layer is done.
//
// Analyzers know nothing of registries, blobs, compression or storage, and
// the core knows nothing of what analyzers look for.
package analyzer

import (
	"context"
	"io"
	"io/fs"
	"iter"
	"maps"
	"slices"
	"strings"

	"customs"
)

// Analyzer is one kind of analysis. It is safe for concurrent use: the work
// on one image happens in the Scan it starts.
type Analyzer interface {
	// Name names the analyzer in logs and in customs.AnalyzerStatus.
	Name() string
	// Failure is the scan_failed_desc of an image this analyzer could not
	// analyze at all (customs.FailScanSoftware, FailScanFile, FailCheckBaseline).
	Failure() string
	// Start begins the analysis of one image.
	Start(ctx context.Context, img *Image) (Scan, error)
}

// Scan is one analyzer's work on one image. The core calls Wants for every
// regular file of every layer, base layer first and in tar order within a
// layer; File for each file Wants accepted; and Finish once after the last
// layer. Calls on one Scan are never concurrent.
type Scan interface {
	// Wants reports whether the analyzer reads this file's content. It must
	// decide from the path, mode and size alone: a file nobody wants is
	// never read.
	Wants(f *File) bool
	// File reads one wanted file. An error fails this file only: the core
	// records the analyzer's result as partial and goes on.
	File(ctx context.Context, f *File, content Content) error
	// Finish adds what the analyzer found to res, given the image's final
	// filesystem. An error fails the analyzer and the scan with Failure().
	Finish(ctx context.Context, final *Final, res *customs.ScanResult) error
}

// Image is what analyzers know of the image being scanned.
type Image struct {
	Digest   string // the image manifest digest
	Platform customs.Platform
	Config   customs.ImageConfig
	// Layers are the layer digests, base layer first.
	Layers []string
}

// File is one entry of a layer.
type File struct {
	customs.FileInfo
	// Layer is the index in Image.Layers of the layer the entry is in.
	Layer int
}

// Content is a wanted file's bytes. Every analyzer that wants a file gets a
// Content of its own, positioned at the start; ReadAt does not move it. It
// is valid only until File returns: the scanner reuses its memory and
// removes its spool file; an analyzer copies what it keeps.
type Content interface {
	io.Reader
	io.ReaderAt
	Size() int64
}

// Final is the filesystem an image's container starts with: every entry of
// every layer that no later layer replaced or deleted (whiteouts applied).
// Directories, symbolic links and other non-regular entries are included.
type Final struct {
	files map[string]*File
}

// NewFinal returns an empty filesystem.
func NewFinal() *Final { return &Final{files: make(map[string]*File)} }

// Put adds or replaces an entry.
func (f *Final) Put(file *File) { f.files[file.Path] = file }

// Delete removes entries and everything below those that are directories,
// in one pass over the filesystem however many paths it is given. An empty
// path removes everything.
func (f *Final) Delete(paths ...string) {
	gone := make(map[string]bool, len(paths))
	for _, p := range paths {
		if p == "" {
			clear(f.files)
			return
		}
		gone[p] = true
	}
	for p := range f.files {
		for q := p; ; {
			if gone[q] {
				delete(f.files, p)
				break
			}
			i := strings.LastIndexByte(q, '/')
			if i < 0 {
				break
			}
			q = q[:i]
		}
	}
}

// Lookup returns the entry at path ("etc/passwd": relative, no leading "/").
func (f *Final) Lookup(path string) (*File, bool) {
	file, ok := f.files[path]
	return file, ok
}

// Resolve returns the entry at path with every symbolic link on the way
// followed, as the container would see it: absolute targets start at the
// image root and ".." never climbs above it. It reports false for a path that
// does not exist, a dangling link, or a chain of more than 40 links (a loop).
func (f *Final) Resolve(path string) (*File, bool) {
	const maxLinks = 40
	links := 0
	var done []string // resolved components
	todo := strings.Split(path, "/")
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := strings.Join(append(done, name), "/")
		file, ok := f.files[p]
		if !ok {
			return nil, false
		}
		if file.Mode&fs.ModeSymlink == 0 {
			done = append(done, name)
			continue
		}
		if links++; links > maxLinks {
			return nil, false
		}
		target := file.Linkname
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	file, ok := f.files[strings.Join(done, "/")]
	return file, ok
}

// Len is the number of entries.
func (f *Final) Len() int { return len(f.files) }

// All yields every entry in path order.
func (f *Final) All() iter.Seq[*File] {
	return func(yield func(*File) bool) {
		for _, p := range slices.Sorted(maps.Keys(f.files)) {
			if !yield(f.files[p]) {
				return
			}
		}
	}
}
