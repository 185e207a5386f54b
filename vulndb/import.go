package vulndb

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"customs"
)

// Store keeps advisories. Implementations live in the store packages.
type Store interface {
	// AdvisoryModified returns the modified time of every stored advisory, by id.
	AdvisoryModified(ctx context.Context) (map[string]time.Time, error)
	// ImportAdvisories runs fn in one transaction; put stores (inserts or replaces) one advisory.
	// If fn returns an error nothing is stored. source names the import ("Debian/all.zip") for status.
	ImportAdvisories(ctx context.Context, source string, fn func(put func(*customs.Advisory) error) error) error
	// Advisories returns the stored, not withdrawn, advisories naming any of keys.
	Advisories(ctx context.Context, keys []customs.PackageKey) ([]*customs.Advisory, error)
}

// Stats counts what an import did. Read = Added + Updated + Unchanged.
type Stats struct {
	Read      int // records read
	Added     int // records not stored before
	Updated   int // records stored before with an older modified time
	Unchanged int // records whose modified time is not newer than the stored one
	// Withdrawn counts the added or updated records that are withdrawn.
	Withdrawn int
	// Changed are the packages named by the added or updated records,
	// sorted and distinct: the inventories holding them need matching again.
	Changed []customs.PackageKey
	// UpdatedIDs are the ids of the updated records, sorted: a record may
	// no longer name a package it named, whose findings then go
	// (RematchKeys).
	UpdatedIDs []string
	// Missing are the ecosystems Update skipped because the source has no
	// all.zip for them.
	Missing []string
}

func (s *Stats) add(o Stats) {
	s.Read += o.Read
	s.Added += o.Added
	s.Updated += o.Updated
	s.Unchanged += o.Unchanged
	s.Withdrawn += o.Withdrawn
	s.Changed = append(s.Changed, o.Changed...)
	s.UpdatedIDs = append(s.UpdatedIDs, o.UpdatedIDs...)
	s.Missing = append(s.Missing, o.Missing...)
	sortKeys(&s.Changed)
	slices.Sort(s.UpdatedIDs)
}

// maxRecordSize bounds one record read from a zip or a directory: the
// largest published OSV records are a few hundred kilobytes.
const maxRecordSize = 64 << 20

// Import reads the OSV records at path — an ecosystem's all.zip, a
// directory of .json files (searched recursively) or one .json file — and
// stores those that are new or whose modified time is newer than the
// stored one, all in one Store.ImportAdvisories call. A record that cannot
// be read fails the whole import (nothing is stored) with an EINVALID error
// naming the record's file. Records are parsed one at a time as they are
// stored, so a large zip is never held in memory parsed.
//
// The modified times are compared at millisecond precision, the precision
// stores keep. A record is replaced only when its modified time moves
// forward: records published with the zero time ("0001-01-01T00:00:00Z",
// as every record of some Go vulndb exports) are stored once and then
// always count as unchanged.
func Import(ctx context.Context, st Store, path string) (Stats, error) {
	return importPath(ctx, st, path, sourceName(path))
}

// sourceName names an import by the last two elements of its path:
// "Debian/all.zip", "osv/DSA-5139-1.json".
func sourceName(path string) string {
	clean := filepath.Clean(path)
	dir, base := filepath.Split(clean)
	if parent := filepath.Base(dir); parent != "" && parent != "." && parent != string(filepath.Separator) {
		return parent + "/" + base
	}
	return base
}

// record is one OSV record to import: its name inside the source and a
// way to read it.
type record struct {
	name string
	open func() (io.ReadCloser, error)
}

func importPath(ctx context.Context, st Store, path, source string) (Stats, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Stats{}, customs.Errorf(customs.EINVALID, "There is no file or directory %q to import advisories from.", path)
		}
		return Stats{}, fmt.Errorf("import advisories from %s: %w", path, err)
	}
	var records func(yield func(record) bool) error
	switch {
	case fi.IsDir():
		records = dirRecords(path)
	case strings.EqualFold(filepath.Ext(path), ".zip"):
		zr, err := zip.OpenReader(path)
		if err != nil {
			return Stats{}, customs.Errorf(customs.EINVALID, "%s is not a readable zip file: %v.", path, err)
		}
		defer zr.Close()
		records = zipRecords(&zr.Reader)
	case strings.EqualFold(filepath.Ext(path), ".json"):
		records = func(yield func(record) bool) error {
			yield(record{name: filepath.Base(path), open: func() (io.ReadCloser, error) { return os.Open(path) }})
			return nil
		}
	default:
		return Stats{}, customs.Errorf(customs.EINVALID, "Cannot import advisories from %s: give an OSV all.zip, a directory of .json records or one .json record.", path)
	}

	known, err := st.AdvisoryModified(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("import advisories from %s: %w", path, err)
	}
	var stats Stats
	changed := map[customs.PackageKey]bool{}
	err = st.ImportAdvisories(ctx, source, func(put func(*customs.Advisory) error) error {
		var failed error
		err := records(func(r record) bool {
			if failed = ctx.Err(); failed != nil {
				return false
			}
			a, err := readRecord(r)
			if err != nil {
				failed = customs.Errorf(customs.EINVALID, "Record %s in %s cannot be imported, so nothing was imported: %s", r.name, path, customs.ErrorMessage(err))
				if customs.ErrorCode(err) != customs.EINVALID {
					failed = fmt.Errorf("read %s in %s: %w", r.name, path, err)
				}
				return false
			}
			stats.Read++
			modified := a.Modified.Truncate(time.Millisecond)
			prev, ok := known[a.ID]
			if ok && !modified.After(prev.Truncate(time.Millisecond)) {
				stats.Unchanged++
				return true
			}
			if failed = put(a); failed != nil {
				return false
			}
			known[a.ID] = modified
			if ok {
				stats.Updated++
				stats.UpdatedIDs = append(stats.UpdatedIDs, a.ID)
			} else {
				stats.Added++
			}
			if !a.Withdrawn.IsZero() {
				stats.Withdrawn++
			}
			for _, k := range a.Affected {
				changed[k] = true
			}
			return true
		})
		if err != nil {
			return err
		}
		return failed
	})
	if err != nil {
		if customs.ErrorCode(err) == customs.EINVALID {
			return Stats{}, err
		}
		return Stats{}, fmt.Errorf("import advisories from %s: %w", path, err)
	}
	for k := range changed {
		stats.Changed = append(stats.Changed, k)
	}
	sortKeys(&stats.Changed)
	slices.Sort(stats.UpdatedIDs)
	return stats, nil
}

func readRecord(r record) (*customs.Advisory, error) {
	rc, err := r.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxRecordSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecordSize {
		return nil, customs.Errorf(customs.EINVALID, "The record is larger than %d MiB.", maxRecordSize>>20)
	}
	return Parse(data)
}

// zipRecords yields the .json files of an OSV all.zip in archive order.
func zipRecords(zr *zip.Reader) func(yield func(record) bool) error {
	return func(yield func(record) bool) error {
		for _, f := range zr.File {
			if f.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(f.Name), ".json") {
				continue
			}
			if !yield(record{name: f.Name, open: f.Open}) {
				return nil
			}
		}
		return nil
	}
}

// dirRecords yields the .json files under dir in lexical order.
func dirRecords(dir string) func(yield func(record) bool) error {
	return func(yield func(record) bool) error {
		stop := errors.New("stop")
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".json") {
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				rel = p
			}
			if !yield(record{name: filepath.ToSlash(rel), open: func() (io.ReadCloser, error) { return os.Open(p) }}) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			return fmt.Errorf("walk %s: %w", dir, err)
		}
		return nil
	}
}

func sortKeys(keys *[]customs.PackageKey) {
	slices.SortFunc(*keys, compareKeys)
	*keys = slices.Compact(*keys)
}

func compareKeys(a, b customs.PackageKey) int {
	if c := strings.Compare(a.Ecosystem, b.Ecosystem); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
