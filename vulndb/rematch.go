package vulndb

import (
	"context"
	"fmt"
	"slices"

	"customs"
)

// RematchStore is a Store that also keeps the package inventories of the
// scanned images and their findings.
type RematchStore interface {
	Store
	// Inventories calls fn for every stored scan (by manifest digest) that has a package with one of keys
	// (all stored scans when keys is nil), with all its packages.
	Inventories(ctx context.Context, keys []customs.PackageKey, fn func(digest string, pkgs []customs.Package) error) error
	// ReplaceFindings sets the findings of each digest and moves the counters of every image row with that
	// digest, all in one transaction.
	ReplaceFindings(ctx context.Context, findings map[string][]customs.Finding) error
	// FindingKeys returns the packages (by Package.Key) that have stored findings of the advisories ids.
	FindingKeys(ctx context.Context, ids []string) ([]customs.PackageKey, error)
}

// RematchKeys returns the packages whose inventories an import calls to be
// matched again: those its added and updated records name, and those with
// findings of an updated record, which may no longer name them.
func RematchKeys(ctx context.Context, st RematchStore, s Stats) ([]customs.PackageKey, error) {
	keys := slices.Clone(s.Changed)
	if len(s.UpdatedIDs) > 0 {
		old, err := st.FindingKeys(ctx, s.UpdatedIDs)
		if err != nil {
			return nil, fmt.Errorf("packages with findings of updated advisories: %w", err)
		}
		keys = append(keys, old...)
	}
	sortKeys(&keys)
	return keys, nil
}

// rematchBatch is how many inventories are matched and written together.
const rematchBatch = 1000

// Rematch matches again every stored inventory that has a package named by
// keys (every inventory when keys is nil) and replaces its findings, in
// batches of rematchBatch digests per ReplaceFindings call. An inventory's
// findings are replaced whole, so it is matched against the advisories of
// all its packages, not only of keys: those are loaded once each, as the
// batches need them. It returns the number of inventories matched.
//
// Store calls are made from inside the Inventories callback, which the
// store must allow (store/sqlite reads inventories in snapshots and calls
// back outside them).
func Rematch(ctx context.Context, st RematchStore, keys []customs.PackageKey) (int, error) {
	m, err := NewMatcher(nil) // advisories are added as the batches need them
	if err != nil {
		return 0, err
	}
	loaded := map[customs.PackageKey]bool{}
	load := func(keys []customs.PackageKey) error {
		var missing []customs.PackageKey
		for _, k := range keys {
			if !loaded[k] {
				loaded[k] = true
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		sortKeys(&missing)
		advs, err := st.Advisories(ctx, missing)
		if err != nil {
			return fmt.Errorf("load advisories: %w", err)
		}
		return m.add(advs)
	}
	if err := load(keys); err != nil {
		return 0, fmt.Errorf("match inventories again: %w", err)
	}

	type inventory struct {
		digest string
		pkgs   []customs.Package
	}
	var batch []inventory
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var need []customs.PackageKey
		for _, inv := range batch {
			for i := range inv.pkgs {
				if k := inv.pkgs[i].Key(); !loaded[k] {
					need = append(need, k)
				}
			}
		}
		if err := load(need); err != nil {
			return err
		}
		findings := make(map[string][]customs.Finding, len(batch))
		for _, inv := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			f := m.Match(inv.pkgs)
			if f == nil {
				f = []customs.Finding{}
			}
			findings[inv.digest] = f
		}
		if err := st.ReplaceFindings(ctx, findings); err != nil {
			return fmt.Errorf("write findings: %w", err)
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err = st.Inventories(ctx, keys, func(digest string, pkgs []customs.Package) error {
		batch = append(batch, inventory{digest: digest, pkgs: pkgs})
		if len(batch) >= rematchBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, fmt.Errorf("match inventories again: %w", err)
	}
	return n, nil
}
