package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"customs"
)

// AdvisoryModified returns the modified time of every stored advisory, by id.
func (db *DB) AdvisoryModified(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := db.view(ctx, func(tx *Tx) error {
		return tx.each(ctx, `SELECT id, modified FROM advisories`, nil, func(r *sql.Rows) error {
			var id string
			var modified int64
			if err := r.Scan(&id, &modified); err != nil {
				return err
			}
			out[id] = customs.FromUnixMilli(modified)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read advisory times: %w", err)
	}
	return out, nil
}

// ImportAdvisories runs fn in one transaction; put inserts or replaces one
// advisory. If fn fails, nothing is stored.
func (db *DB) ImportAdvisories(ctx context.Context, source string, fn func(put func(*customs.Advisory) error) error) error {
	err := db.update(ctx, func(tx *Tx) error {
		now := ms(tx.now)
		return fn(func(a *customs.Advisory) error {
			if a.ID == "" {
				return customs.Errorf(customs.EINVALID, "An advisory without an id.")
			}
			_, err := tx.exec(ctx, `INSERT INTO advisories (id, modified, withdrawn, source, imported_at, record) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn, source = excluded.source,
				imported_at = excluded.imported_at, record = excluded.record`,
				a.ID, ms(a.Modified), ms(a.Withdrawn), source, now, a.JSON)
			if err != nil {
				return fmt.Errorf("store advisory %s: %w", a.ID, err)
			}
			if _, err := tx.exec(ctx, `DELETE FROM advisory_packages WHERE advisory_id = ?`, a.ID); err != nil {
				return err
			}
			rows := make([][]any, len(a.Affected))
			for i, k := range a.Affected {
				rows[i] = []any{k.Ecosystem, k.Name, a.ID}
			}
			return tx.execValues(ctx, `INSERT INTO advisory_packages (ecosystem, name, advisory_id)`, `ON CONFLICT DO NOTHING`, rows, nil)
		})
	})
	if err != nil {
		return fmt.Errorf("import advisories from %s: %w", source, err)
	}
	return nil
}

// Advisories returns the stored advisories, not withdrawn, that name any of
// keys.
func (db *DB) Advisories(ctx context.Context, keys []customs.PackageKey) ([]*customs.Advisory, error) {
	var out []*customs.Advisory
	err := db.view(ctx, func(tx *Tx) error {
		seen := map[string]bool{}
		for chunk := range slices.Chunk(keys, 200) {
			args := make([]any, 0, 2*len(chunk))
			for _, k := range chunk {
				args = append(args, k.Ecosystem, k.Name)
			}
			values := ""
			for i := range chunk {
				if i > 0 {
					values += ", "
				}
				values += "(?, ?)"
			}
			err := tx.each(ctx, `WITH k (ecosystem, name) AS (VALUES `+values+`)
				SELECT DISTINCT a.id, a.modified, a.record FROM k JOIN advisory_packages p ON p.ecosystem = k.ecosystem AND p.name = k.name
				JOIN advisories a ON a.id = p.advisory_id WHERE a.withdrawn = 0`, args, func(r *sql.Rows) error {
				var a customs.Advisory
				var modified int64
				if err := r.Scan(&a.ID, &modified, &a.JSON); err != nil {
					return err
				}
				if seen[a.ID] {
					return nil
				}
				seen[a.ID] = true
				a.Modified = customs.FromUnixMilli(modified)
				out = append(out, &a)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find advisories: %w", err)
	}
	slices.SortFunc(out, func(a, b *customs.Advisory) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// EcosystemStatuses describes the advisories held, per ecosystem.
func (db *DB) EcosystemStatuses(ctx context.Context) ([]customs.EcosystemStatus, error) {
	var out []customs.EcosystemStatus
	err := db.view(ctx, func(tx *Tx) error {
		return tx.each(ctx, `SELECT p.ecosystem, count(DISTINCT a.id), count(DISTINCT CASE WHEN a.withdrawn <> 0 THEN a.id END), max(a.modified), max(a.imported_at)
			FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id GROUP BY p.ecosystem ORDER BY p.ecosystem`, nil, func(r *sql.Rows) error {
			var s customs.EcosystemStatus
			var newest, imported int64
			if err := r.Scan(&s.Ecosystem, &s.Records, &s.Withdrawn, &newest, &imported); err != nil {
				return err
			}
			s.Newest, s.ImportedAt = customs.FromUnixMilli(newest), customs.FromUnixMilli(imported)
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("advisory status: %w", err)
	}
	return out, nil
}

// Inventories calls fn with the packages of every stored scan that has a
// package named by one of keys (every stored scan when keys is nil), by
// image manifest digest, in batches each in digest order.
func (db *DB) Inventories(ctx context.Context, keys []customs.PackageKey, fn func(digest string, pkgs []customs.Package) error) error {
	var ids []int64
	err := db.view(ctx, func(tx *Tx) error {
		if keys == nil {
			return tx.each(ctx, `SELECT DISTINCT manifest_id FROM scan_packages`, nil, func(r *sql.Rows) error {
				var id int64
				err := r.Scan(&id)
				ids = append(ids, id)
				return err
			})
		}
		for _, k := range keys {
			err := tx.each(ctx, `SELECT manifest_id FROM scan_packages WHERE ecosystem = ? AND key_name = ?`, []any{k.Ecosystem, k.Name}, func(r *sql.Rows) error {
				var id int64
				err := r.Scan(&id)
				ids = append(ids, id)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find inventories: %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// Read in batches, each in its own snapshot, so a long re-match does not
	// hold one read transaction open. The packages are read by manifest
	// through its index, in stored order, and the batch is put in digest
	// order here: sorting the joined rows in SQL costs more than the read.
	for chunk := range slices.Chunk(ids, 200) {
		type inventory struct {
			digest string
			pkgs   []customs.Package
		}
		var batch []*inventory
		err := db.view(ctx, func(tx *Tx) error {
			byID := make(map[int64]*inventory, len(chunk))
			err := tx.each(ctx, `SELECT id, digest FROM manifests WHERE id IN (`+placeholders(len(chunk))+`)`, anys(chunk), func(r *sql.Rows) error {
				var id int64
				inv := &inventory{}
				if err := r.Scan(&id, &inv.digest); err != nil {
					return err
				}
				byID[id] = inv
				return nil
			})
			if err != nil {
				return err
			}
			return tx.each(ctx, `SELECT manifest_id, ecosystem, name, version, source_name, source_version, os, path, layer
				FROM scan_packages WHERE manifest_id IN (`+placeholders(len(chunk))+`) ORDER BY manifest_id, rowid`,
				anys(chunk), func(r *sql.Rows) error {
					var id int64
					var p customs.Package
					if err := r.Scan(&id, &p.Ecosystem, &p.Name, &p.Version, &p.SourceName, &p.SourceVersion, &p.OS, &p.Path, &p.Layer); err != nil {
						return err
					}
					inv := byID[id]
					if inv == nil {
						return nil // no manifest row: not an inventory
					}
					if inv.pkgs == nil {
						batch = append(batch, inv)
					}
					inv.pkgs = append(inv.pkgs, p)
					return nil
				})
		})
		if err != nil {
			return fmt.Errorf("read inventories: %w", err)
		}
		slices.SortFunc(batch, func(a, b *inventory) int { return strings.Compare(a.digest, b.digest) })
		for _, inv := range batch {
			if err := fn(inv.digest, inv.pkgs); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReplaceFindings sets the findings of image manifests, by digest, and
// moves the counters of every row showing them, in one transaction.
func (db *DB) ReplaceFindings(ctx context.Context, findings map[string][]customs.Finding) error {
	digests := make([]string, 0, len(findings))
	for d := range findings {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	err := db.update(ctx, func(tx *Tx) error {
		ids, err := tx.imageManifestIDs(ctx, digests)
		if err != nil {
			return err
		}
		var rows [][]any
		kept := make([]int64, 0, len(ids))
		for i, d := range digests {
			id := ids[i]
			if id == 0 {
				continue // gone since its inventory was read
			}
			if rows, err = appendFindingRows(rows, id, findings[d]); err != nil {
				return err
			}
			kept = append(kept, id)
		}
		for chunk := range slices.Chunk(kept, 500) {
			if _, err := tx.exec(ctx, `DELETE FROM scan_findings WHERE manifest_id IN (`+placeholders(len(chunk))+`)`, anys(chunk)...); err != nil {
				return err
			}
		}
		if err := tx.insertFindingRows(ctx, rows); err != nil {
			return err
		}
		return tx.summariseChildren(ctx, kept)
	})
	if err != nil {
		return fmt.Errorf("replace findings: %w", err)
	}
	return nil
}

// imageManifestIDs returns the row ids of the image manifests digests (in
// order, sorted and distinct), 0 for one not stored; like imageManifestID,
// it fails on the first (in digests' order) that is not an image.
func (tx *Tx) imageManifestIDs(ctx context.Context, digests []string) ([]int64, error) {
	type row struct {
		id   int64
		kind string
	}
	found := make(map[string]row, len(digests))
	for chunk := range slices.Chunk(digests, 500) {
		err := tx.each(ctx, `SELECT digest, id, kind FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`)`, anys(chunk), func(r *sql.Rows) error {
			var d string
			var m row
			if err := r.Scan(&d, &m.id, &m.kind); err != nil {
				return err
			}
			found[d] = m
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	ids := make([]int64, len(digests))
	for i, d := range digests {
		m, ok := found[d]
		switch {
		case !ok:
			continue
		case customs.ManifestKind(m.kind) != customs.KindImage:
			return nil, customs.Errorf(customs.EINVALID, "Manifest %s is a %s, not an image: only image manifests are scanned.", d, m.kind)
		}
		ids[i] = m.id
	}
	return ids, nil
}

// PutSignatureFile stores a malware signature file as imported, replacing
// one of the same name.
func (db *DB) PutSignatureFile(ctx context.Context, f *customs.SignatureFile) error {
	err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO signature_files (name, sha256, content, imported_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, content = excluded.content, imported_at = excluded.imported_at`,
			f.Name, f.SHA256, f.Content, ms(tx.now))
		return err
	})
	if err != nil {
		return fmt.Errorf("store signature file %s: %w", f.Name, err)
	}
	return nil
}

// SignatureFiles returns the stored signature files, by name; with content
// false, without their content.
func (db *DB) SignatureFiles(ctx context.Context, content bool) ([]*customs.SignatureFile, error) {
	var out []*customs.SignatureFile
	col := `x''`
	if content {
		col = `content`
	}
	err := db.view(ctx, func(tx *Tx) error {
		return tx.each(ctx, `SELECT name, sha256, length(content), `+col+`, imported_at FROM signature_files ORDER BY name`, nil, func(r *sql.Rows) error {
			var f customs.SignatureFile
			var at int64
			if err := r.Scan(&f.Name, &f.SHA256, &f.Size, &f.Content, &at); err != nil {
				return err
			}
			f.ImportedAt = customs.FromUnixMilli(at)
			out = append(out, &f)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read signature files: %w", err)
	}
	return out, nil
}

// DeleteSignatureFile removes a stored signature file.
func (db *DB) DeleteSignatureFile(ctx context.Context, name string) error {
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM signature_files WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return customs.Errorf(customs.ENOTFOUND, "No signature file %q is stored.", name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete signature file %s: %w", name, err)
	}
	return nil
}

// FindingKeys returns the packages (by customs.Package.Key: the source
// package when there is one) that have stored findings of the advisories
// ids, sorted and distinct.
func (db *DB) FindingKeys(ctx context.Context, ids []string) ([]customs.PackageKey, error) {
	var out []customs.PackageKey
	err := db.view(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(ids, 500) {
			err := tx.each(ctx, `SELECT DISTINCT ecosystem, CASE WHEN source_name <> '' THEN source_name ELSE name END
				FROM scan_findings WHERE vul_id IN (`+placeholders(len(chunk))+`)`, anys(chunk), func(r *sql.Rows) error {
				var k customs.PackageKey
				err := r.Scan(&k.Ecosystem, &k.Name)
				out = append(out, k)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("packages with findings of %d advisories: %w", len(ids), err)
	}
	slices.SortFunc(out, func(a, b customs.PackageKey) int {
		return cmp.Or(strings.Compare(a.Ecosystem, b.Ecosystem), strings.Compare(a.Name, b.Name))
	})
	return slices.Compact(out), nil
}
