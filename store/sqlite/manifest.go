package sqlite

import (
	"context"
	"database/sql"
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

// blob is the stored form of a customs.Blob.
type blob struct {
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
}

func encodeBlobs(bs []customs.Blob) string {
	out := make([]blob, len(bs))
	for i, b := range bs {
		out[i] = blob(b)
	}
	j, _ := json.Marshal(out)
	return string(j)
}

func decodeBlobs(s string) ([]customs.Blob, error) {
	var bs []blob
	if err := json.Unmarshal([]byte(s), &bs); err != nil {
		return nil, fmt.Errorf("decode blobs: %w", err)
	}
	if len(bs) == 0 {
		return nil, nil
	}
	out := make([]customs.Blob, len(bs))
	for i, b := range bs {
		out[i] = customs.Blob(b)
	}
	return out, nil
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
	rows := make([][]any, len(manifests))
	for i, m := range manifests {
		if m.Digest == "" {
			return customs.Errorf(customs.EINTERNAL, "manifest without a digest")
		}
		rows[i] = []any{m.Digest, m.MediaType, m.Kind, m.ConfigDigest, m.Size, ms(m.Created),
			m.Platform.OS, m.Platform.Architecture, m.Platform.Variant, m.Scannable, encodeChildren(m.Children), encodeBlobs(m.Blobs)}
	}
	return db.update(ctx, func(tx *Tx) error {
		err := tx.execValues(ctx, `INSERT INTO manifests (digest, media_type, kind, config_digest, size, created, os, architecture, variant, scannable, children, blobs)`,
			`ON CONFLICT (digest) DO NOTHING RETURNING digest, id`, rows, func(r *sql.Rows) error {
				var d string
				var id int64
				if err := r.Scan(&d, &id); err != nil {
					return err
				}
				tx.learnManifestID(d, id)
				return nil
			})
		if err != nil {
			return fmt.Errorf("put manifests: %w", err)
		}
		var links [][]any
		for _, m := range manifests {
			for _, c := range m.Children {
				links = append(links, []any{m.Digest, c.Digest})
			}
		}
		err = tx.execValues(ctx, `WITH l (parent, child) AS (`, `) INSERT OR IGNORE INTO manifest_children (parent_id, child_digest)
			SELECT p.id, l.child FROM l JOIN manifests p ON p.digest = l.parent`, links, nil)
		if err != nil {
			return fmt.Errorf("put manifests: link children: %w", err)
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
		rows, err := tx.query(ctx, `SELECT digest, media_type, kind, config_digest, size, created, os, architecture, variant, scannable, children, blobs
			FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("find manifests: %w", err)
		}
		for rows.Next() {
			var m customs.Manifest
			var created int64
			var children, blobs string
			if err := rows.Scan(&m.Digest, &m.MediaType, &m.Kind, &m.ConfigDigest, &m.Size, &created,
				&m.Platform.OS, &m.Platform.Architecture, &m.Platform.Variant, &m.Scannable, &children, &blobs); err != nil {
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
			if m.Blobs, err = decodeBlobs(blobs); err != nil {
				rows.Close()
				return nil, err
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
