package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"customs"
)

// child is the stored form of a customs.ChildImage (without its scan status,
// which comes from the child's own scan summary).
type child struct {
	Digest       string `json:"digest"`
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

func encodeChildren(cs []customs.ChildImage) string {
	out := make([]child, len(cs))
	for i, c := range cs {
		out[i] = child{Digest: c.Digest, OS: c.Platform.OS, Architecture: c.Platform.Architecture, Variant: c.Platform.Variant}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func decodeChildren(s string) ([]customs.ChildImage, error) {
	var cs []child
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, fmt.Errorf("decode children: %w", err)
	}
	out := make([]customs.ChildImage, len(cs))
	for i, c := range cs {
		out[i] = customs.ChildImage{Digest: c.Digest, Platform: customs.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}, ScanStatus: customs.ScanUnscan}
	}
	return out, nil
}

// PutManifests stores manifests by digest. A digest already stored is left
// as it is: its content, and so what was learned from it, cannot change.
func (db *DB) PutManifests(ctx context.Context, manifests []*customs.Manifest) error {
	if len(manifests) == 0 {
		return nil
	}
	return db.update(ctx, func(tx *Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO manifests (digest, media_type, kind, config_digest, size, created, os, architecture, variant, scannable, children)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("put manifests: %w", err)
		}
		defer stmt.Close()
		for _, m := range manifests {
			if m.Digest == "" {
				return customs.Errorf(customs.EINTERNAL, "manifest without a digest")
			}
			_, err := stmt.ExecContext(ctx, m.Digest, m.MediaType, m.Kind, m.ConfigDigest, m.Size, ms(m.Created),
				m.Platform.OS, m.Platform.Architecture, m.Platform.Variant, m.Scannable, encodeChildren(m.Children))
			if err != nil {
				return fmt.Errorf("put manifest %s: %w", m.Digest, err)
			}
		}
		return nil
	})
}

// FindManifests returns the stored manifests among digests, by digest.
func (db *DB) FindManifests(ctx context.Context, digests []string) (map[string]*customs.Manifest, error) {
	out := map[string]*customs.Manifest{}
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.findManifests(ctx, digests)
		return err
	})
	return out, err
}

func (tx *Tx) findManifests(ctx context.Context, digests []string) (map[string]*customs.Manifest, error) {
	out := map[string]*customs.Manifest{}
	for chunk := range slices.Chunk(digests, 500) {
		args := make([]any, len(chunk))
		for i, d := range chunk {
			args[i] = d
		}
		rows, err := tx.QueryContext(ctx, `SELECT digest, media_type, kind, config_digest, size, created, os, architecture, variant, scannable, children
			FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("find manifests: %w", err)
		}
		for rows.Next() {
			var m customs.Manifest
			var created int64
			var children string
			if err := rows.Scan(&m.Digest, &m.MediaType, &m.Kind, &m.ConfigDigest, &m.Size, &created,
				&m.Platform.OS, &m.Platform.Architecture, &m.Platform.Variant, &m.Scannable, &children); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find manifests: %w", err)
			}
			m.Created = customs.FromUnixMilli(created)
			if m.Children, err = decodeChildren(children); err != nil {
				rows.Close()
				return nil, err
			}
			if len(m.Children) == 0 {
				m.Children = nil
			}
			out[m.Digest] = &m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("find manifests: %w", err)
		}
	}
	return out, nil
}
