package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"customs"
	"customs/store/listindex"
)

// imageFrom joins an image row with its manifest and registry.
const imageFrom = `images i JOIN manifests m ON m.id = i.manifest_id LEFT JOIN registries r ON r.id = i.registry_id
	LEFT JOIN shares s ON s.id = i.share_id`

// imageColumns are read for a page of the list.
const imageColumns = `i.id, i.project_id, i.enterprise_project_id, i.registry_id, i.image_type, i.namespace, i.name, i.tag,
	m.digest, m.config_digest, m.size, i.updated_at, i.latest, m.scannable, m.children,
	m.scan_status, m.scan_failed_desc, m.scanned_at, m.vul_num, m.unsafe_setting_num, m.malicious_file_num,
	i.domain_name, coalesce(s.deadline, -1), coalesce(r.name, ''), coalesce(r.addr, '')`

// indexColumns are what a list index holds of each row.
const indexColumns = `i.id, i.image_type, i.enterprise_project_id,
	CASE i.image_type WHEN 'instance_image' THEN i.registry_id ELSE '' END,
	CASE i.image_type WHEN 'instance_image' THEN coalesce(r.name, '') ELSE '' END,
	i.namespace, i.name, i.tag, m.size, i.updated_at, m.scanned_at, m.scan_status, i.latest,
	m.vul_num > 0, m.unsafe_setting_num > 0, m.malicious_file_num > 0`

// The queries of every list, prepared at Open. A page is read with a fixed
// number of ids (the largest page; the rest padded with 0, which no row has),
// so that one statement serves every page.
const (
	maxPage           = 200
	qImageSeq         = `SELECT value FROM meta WHERE key = 'image_seq'`
	qTombstonesPruned = `SELECT value FROM meta WHERE key = 'tombstones_pruned_seq'`
)

var qImagesByID = `SELECT ` + imageColumns + ` FROM ` + imageFrom + ` WHERE i.id IN (` + placeholders(maxPage) + `)`

// FindImages returns one page of the images in scope that match f, in list
// order, and the exact number that match.
func (db *DB) FindImages(ctx context.Context, scope customs.Scope, f customs.ImageFilter) ([]*customs.Image, int, error) {
	if err := scope.Validate(); err != nil {
		return nil, 0, err
	}
	pi := db.index(scope.ProjectID)
	for attempt := 0; ; attempt++ {
		var imgs []*customs.Image
		var total int
		var ok bool
		err := db.view(ctx, func(tx *Tx) error {
			seq, err := tx.imageSeq(ctx)
			if err != nil {
				return err
			}
			if err := pi.catchUp(ctx, tx, scope.ProjectID, seq); err != nil {
				return err
			}
			var ids []int64
			if ids, total, ok = pi.ix.Query(seq, scope, &f); !ok {
				return nil // another reader moved the index past this snapshot
			}
			imgs, err = tx.imagesByID(ctx, ids)
			return err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("find images: %w", err)
		}
		if ok {
			return imgs, total, nil
		}
		if attempt == 10 {
			return nil, 0, fmt.Errorf("find images: the list index could not settle on a snapshot")
		}
	}
}

func (tx *Tx) imageSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := tx.queryRow(ctx, qImageSeq).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read change sequence: %w", err)
	}
	return seq, nil
}

// imagesByID reads the rows with the ids, in the order given.
func (tx *Tx) imagesByID(ctx context.Context, ids []int64) ([]*customs.Image, error) {
	imgs := make([]*customs.Image, 0, len(ids))
	if len(ids) == 0 {
		return imgs, nil
	}
	if len(ids) > maxPage {
		return nil, fmt.Errorf("a page of %d images; at most %d", len(ids), maxPage)
	}
	args := make([]any, maxPage)
	for i := range args {
		args[i] = int64(0)
		if i < len(ids) {
			args[i] = ids[i]
		}
	}
	rows, err := tx.query(ctx, qImagesByID, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[int64]*customs.Image, len(ids))
	var childDigests []string
	for rows.Next() {
		var img customs.Image
		var configDigest, children, regName, regAddr string
		var updated, scanned, deadline int64
		if err := rows.Scan(&img.ID, &img.ProjectID, &img.EnterpriseProjectID, &img.RegistryID, &img.Type, &img.Namespace, &img.Name, &img.Tag,
			&img.Digest, &configDigest, &img.Size, &updated, &img.Latest, &img.Scannable, &children,
			&img.ScanStatus, &img.ScanFailedDesc, &scanned, &img.VulNum, &img.UnsafeSettingNum, &img.MaliciousFileNum,
			&img.DomainName, &deadline, &regName, &regAddr); err != nil {
			return nil, err
		}
		img.ImageID = customs.ImageIDFromConfig(configDigest)
		img.UpdatedAt, img.ScannedAt = customs.FromUnixMilli(updated), customs.FromUnixMilli(scanned)
		switch img.Type {
		case customs.InstanceImage:
			img.InstanceID, img.InstanceName, img.InstanceURL = img.RegistryID, regName, regAddr
		case customs.SharedImage:
			// The deadline is read now, so a share that expired since the
			// last refresh already shows as expired.
			share := customs.Share{Deadline: customs.FromUnixMilli(max(deadline, 0))}
			img.SharedStatus = customs.ShareExpired
			if deadline >= 0 && share.Effective(tx.now) {
				img.SharedStatus = customs.ShareEffective
			}
			img.Scannable = img.Scannable && img.SharedStatus == customs.ShareEffective
		}
		if img.Children, err = decodeChildren(children); err != nil {
			return nil, err
		}
		for _, c := range img.Children {
			childDigests = append(childDigests, c.Digest)
		}
		byID[img.ID] = &img
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	statuses, err := tx.scanStatuses(ctx, childDigests)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		img, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("image %d is in the list index but not in the table", id)
		}
		for i, c := range img.Children {
			if s, ok := statuses[c.Digest]; ok {
				img.Children[i].ScanStatus = s
			}
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

func (tx *Tx) scanStatuses(ctx context.Context, digests []string) (map[string]customs.ScanStatus, error) {
	out := map[string]customs.ScanStatus{}
	for chunk := range slices.Chunk(digests, 500) {
		args := make([]any, len(chunk))
		for i, d := range chunk {
			args[i] = d
		}
		rows, err := tx.query(ctx, `SELECT digest, scan_status FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d string
			var s customs.ScanStatus
			if err := rows.Scan(&d, &s); err != nil {
				rows.Close()
				return nil, err
			}
			out[d] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindRepositories returns the repository paths of a registry that have rows.
func (db *DB) FindRepositories(ctx context.Context, scope customs.Scope, registryID string) ([]string, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	where, args := scopeWhere(scope, "")
	rows, err := db.query(ctx, `SELECT DISTINCT namespace, name FROM images WHERE registry_id = ? AND `+where+` ORDER BY namespace, name`,
		append([]any{registryID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("find repositories: %w", err)
	}
	defer rows.Close()
	repos := []string{}
	for rows.Next() {
		var ns, name string
		if err := rows.Scan(&ns, &name); err != nil {
			return nil, fmt.Errorf("find repositories: %w", err)
		}
		repos = append(repos, customs.JoinRepository(ns, name))
	}
	return repos, rows.Err()
}

// FindTags returns the stored tags of one repository of a registry.
func (db *DB) FindTags(ctx context.Context, scope customs.Scope, registryID, repository string) ([]customs.TagState, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	ns, name := customs.SplitRepository(repository)
	where, args := scopeWhere(scope, "i.")
	rows, err := db.query(ctx, `SELECT i.tag, m.digest, i.updated_at FROM images i JOIN manifests m ON m.id = i.manifest_id
		WHERE i.registry_id = ? AND i.namespace = ? AND i.name = ? AND `+where+` ORDER BY i.tag`,
		append([]any{registryID, ns, name}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("find tags: %w", err)
	}
	defer rows.Close()
	tags := []customs.TagState{}
	for rows.Next() {
		var t customs.TagState
		var updated int64
		if err := rows.Scan(&t.Tag, &t.Digest, &updated); err != nil {
			return nil, fmt.Errorf("find tags: %w", err)
		}
		t.UpdatedAt = customs.FromUnixMilli(updated)
		tags = append(tags, t)
	}
	return tags, rows.Err()
}

// ApplyRepositoryUpdates writes what a synchronization found in some
// repositories of a registry, in one transaction: new tags are inserted, tags
// whose digest changed are updated (and take the scan summary of their new
// digest), vanished tags are removed, and the latest-version flag of every
// changed repository is recomputed. Nothing that is unchanged is written.
func (db *DB) ApplyRepositoryUpdates(ctx context.Context, scope customs.Scope, registryID string, us []customs.RepositoryUpdate) (customs.SyncCounts, error) {
	var counts customs.SyncCounts
	if err := scope.Validate(); err != nil {
		return counts, err
	}
	err := db.update(ctx, func(tx *Tx) error {
		reg, err := db.findRegistry(ctx, tx, scope, registryID)
		if err != nil {
			return err
		}
		for _, u := range us {
			c, err := tx.applyRepositoryUpdate(ctx, reg, u)
			if err != nil {
				return fmt.Errorf("repository %q: %w", customs.JoinRepository(u.Namespace, u.Name), err)
			}
			counts = counts.Add(c)
		}
		return nil
	})
	if err != nil {
		return customs.SyncCounts{}, err
	}
	return counts, nil
}

func (tx *Tx) applyRepositoryUpdate(ctx context.Context, reg *customs.Registry, u customs.RepositoryUpdate) (customs.SyncCounts, error) {
	var c customs.SyncCounts
	repoWhere := `registry_id = ? AND project_id = ? AND namespace = ? AND name = ?`
	repoArgs := []any{reg.ID, reg.ProjectID, u.Namespace, u.Name}
	if u.DeleteAll {
		n, err := tx.deleteImages(ctx, repoWhere, repoArgs...)
		c.Removed = n
		return c, err
	}
	for _, tag := range u.Deletes {
		n, err := tx.deleteImages(ctx, repoWhere+` AND tag = ?`, append(repoArgs, tag)...)
		if err != nil {
			return c, err
		}
		c.Removed += n
	}
	if len(u.Upserts) > 0 {
		type row struct{ id, manifestID int64 }
		existing := map[string]row{}
		rows, err := tx.query(ctx, `SELECT tag, id, manifest_id FROM images WHERE `+repoWhere, repoArgs...)
		if err != nil {
			return c, err
		}
		for rows.Next() {
			var tag string
			var r row
			if err := rows.Scan(&tag, &r.id, &r.manifestID); err != nil {
				rows.Close()
				return c, err
			}
			existing[tag] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, err
		}
		var digests []string
		for _, t := range u.Upserts {
			digests = append(digests, t.Digest)
		}
		ids, err := tx.manifestIDs(ctx, digests)
		if err != nil {
			return c, err
		}
		seq, err := tx.nextSeq(ctx)
		if err != nil {
			return c, err
		}
		var inserts [][]any
		for _, t := range u.Upserts {
			mid, ok := ids[t.Digest]
			if !ok {
				return c, fmt.Errorf("tag %q: manifest %s is not stored", t.Tag, t.Digest)
			}
			old, ok := existing[t.Tag]
			switch {
			case !ok:
				inserts = append(inserts, []any{reg.ProjectID, reg.EnterpriseProjectID, reg.ID, reg.ImageType(), u.Namespace, u.Name, t.Tag, mid, ms(t.UpdatedAt), seq, "", ""})
				c.Added++
			case old.manifestID != mid:
				if _, err := tx.exec(ctx, `UPDATE images SET manifest_id = ?, updated_at = ?, seq = ? WHERE id = ?`, mid, ms(t.UpdatedAt), seq, old.id); err != nil {
					return c, fmt.Errorf("write tag %q: %w", t.Tag, err)
				}
				c.Updated++
			}
		}
		if err := tx.insertImages(ctx, inserts); err != nil {
			return c, err
		}
	}
	if c != (customs.SyncCounts{}) {
		return c, tx.recomputeLatest(ctx, repoWhere, repoArgs)
	}
	return c, nil
}

// manifestIDs returns the row ids of the stored manifests among digests.
func (tx *Tx) manifestIDs(ctx context.Context, digests []string) (map[string]int64, error) {
	out := make(map[string]int64, len(digests))
	var missing []string
	for _, d := range digests {
		if id, ok := tx.learnedIDs[d]; ok {
			out[d] = id
		} else if id, ok := tx.db.rememberedManifestID(d); ok {
			out[d] = id
		} else {
			missing = append(missing, d)
		}
	}
	for chunk := range slices.Chunk(missing, 500) {
		args := make([]any, len(chunk))
		for i, d := range chunk {
			args[i] = d
		}
		err := tx.each(ctx, `SELECT digest, id FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`)`, args, func(r *sql.Rows) error {
			var d string
			var id int64
			if err := r.Scan(&d, &id); err != nil {
				return err
			}
			out[d] = id
			tx.learnManifestID(d, id)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// insertImages inserts rows of the values below.
func (tx *Tx) insertImages(ctx context.Context, rows [][]any) error {
	err := tx.execValues(ctx, `INSERT INTO images (project_id, enterprise_project_id, registry_id, image_type, namespace, name, tag,
		manifest_id, updated_at, seq, domain_name, share_id)`, "", rows, nil)
	if err != nil {
		return fmt.Errorf("insert images: %w", err)
	}
	return nil
}

// recomputeLatest flags the newest tag of one repository (ties: greater id)
// as its latest version, touching only rows whose flag changes.
func (tx *Tx) recomputeLatest(ctx context.Context, repoWhere string, repoArgs []any) error {
	var newest int64
	err := tx.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM (SELECT id FROM images WHERE `+repoWhere+` ORDER BY updated_at DESC, id DESC LIMIT 1)`, repoArgs...).Scan(&newest)
	if err != nil {
		return fmt.Errorf("find latest version: %w", err)
	}
	seq, err := tx.nextSeq(ctx)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE images SET latest = (id = ?), seq = ? WHERE `+repoWhere+` AND latest != (id = ?)`,
		append(append([]any{newest, seq}, repoArgs...), newest)...)
	if err != nil {
		return fmt.Errorf("set latest version: %w", err)
	}
	return nil
}

// deleteImages removes the rows matching where, leaving tombstones for the
// list indexes, and returns how many it removed.
func (tx *Tx) deleteImages(ctx context.Context, where string, args ...any) (int, error) {
	seq, err := tx.nextSeq(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := tx.exec(ctx, `INSERT INTO image_tombstones (seq, project_id, id) SELECT ?, project_id, id FROM images WHERE `+where, append([]any{seq}, args...)...); err != nil {
		return 0, fmt.Errorf("delete images: %w", err)
	}
	res, err := tx.exec(ctx, `DELETE FROM images WHERE `+where, args...)
	if err != nil {
		return 0, fmt.Errorf("delete images: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SetScanSummaries records scan outcomes by manifest digest, on the
// manifest's row that every image row with that digest reads, and marks
// those rows changed for the list indexes, in one transaction. Scans are
// keyed by digest across projects (the same content is scanned once), so
// this is the service's own write and takes no scope. A digest whose
// manifest is not stored is an error: only what was synchronized is scanned.
func (db *DB) SetScanSummaries(ctx context.Context, summaries map[string]customs.ScanSummary) error {
	if len(summaries) == 0 {
		return nil
	}
	digests := make([]string, 0, len(summaries))
	for d := range summaries {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		if s := summaries[d]; !s.Status.Valid() {
			return customs.Errorf(customs.EINTERNAL, "scan summary of %s has status %q", d, s.Status)
		}
	}
	return db.update(ctx, func(tx *Tx) error {
		seq, err := tx.nextSeq(ctx)
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(digests, 70) {
			args := make([]any, 0, 7*len(chunk))
			for _, d := range chunk {
				s := summaries[d]
				args = append(args, d, s.Status, s.FailedDesc, ms(s.ScannedAt), s.VulNum, s.UnsafeSettingNum, s.MaliciousFileNum)
			}
			values := strings.TrimSuffix(strings.Repeat("("+placeholders(7)+"), ", len(chunk)), ", ")
			rows, err := tx.query(ctx, `WITH s (digest, status, failed_desc, scanned_at, vul, unsafe, malicious) AS (VALUES `+values+`)
				UPDATE manifests SET scan_status = s.status, scan_failed_desc = s.failed_desc, scanned_at = s.scanned_at,
				vul_num = s.vul, unsafe_setting_num = s.unsafe, malicious_file_num = s.malicious
				FROM s WHERE manifests.digest = s.digest RETURNING manifests.id`, args...)
			if err != nil {
				return fmt.Errorf("set scan summaries: %w", err)
			}
			var ids []any
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return fmt.Errorf("set scan summaries: %w", err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("set scan summaries: %w", err)
			}
			if len(ids) != len(chunk) {
				return customs.Errorf(customs.EINTERNAL, "scan summaries of %d digests whose manifests are not stored", len(chunk)-len(ids))
			}
			if _, err := tx.exec(ctx, `UPDATE images SET seq = ? WHERE manifest_id IN (`+placeholders(len(ids))+`)`, append([]any{seq}, ids...)...); err != nil {
				return fmt.Errorf("set scan summaries: %w", err)
			}
		}
		return nil
	})
}

// WarmIndexes loads the list index of every project, so that the first list
// after a start does not pay for it. It runs until done or ctx ends.
func (db *DB) WarmIndexes(ctx context.Context) error {
	projects, err := db.FindProjects(ctx, customs.ProjectFilter{})
	if err != nil {
		return err
	}
	for _, p := range projects {
		pi := db.index(p.ID)
		err := db.view(ctx, func(tx *Tx) error {
			seq, err := tx.imageSeq(ctx)
			if err != nil {
				return err
			}
			return pi.catchUp(ctx, tx, p.ID, seq)
		})
		if err != nil {
			return fmt.Errorf("warm the list index of project %s: %w", p.ID, err)
		}
	}
	return nil
}

// projectIndex is the list index of one project and the lock that lets one
// reader at a time bring it up to date.
type projectIndex struct {
	mu sync.Mutex
	ix *listindex.Index
}

func (db *DB) index(projectID string) *projectIndex {
	db.mu.Lock()
	defer db.mu.Unlock()
	pi, ok := db.indexes[projectID]
	if !ok {
		pi = &projectIndex{ix: listindex.New()}
		db.indexes[projectID] = pi
	}
	return pi
}

// catchUp brings the index to sequence seq from the snapshot of tx: the rows
// changed and the tombstones left since the sequence it holds, or a full load
// when it holds nothing or the tombstones it would need were pruned.
func (pi *projectIndex) catchUp(ctx context.Context, tx *Tx, projectID string, seq int64) error {
	if at, loaded := pi.ix.Seq(); loaded && at >= seq {
		return nil
	}
	pi.mu.Lock()
	defer pi.mu.Unlock()
	at, loaded := pi.ix.Seq()
	if loaded && at >= seq {
		return nil
	}
	var pruned int64
	if err := tx.queryRow(ctx, qTombstonesPruned).Scan(&pruned); err != nil {
		return fmt.Errorf("catch up list index: %w", err)
	}
	if !loaded || at < pruned {
		b := listindex.NewBuilder(0)
		err := tx.indexRows(ctx, `i.project_id = ?`, []any{projectID}, func(r listindex.Row) { b.Add(r) })
		if err != nil {
			return fmt.Errorf("load list index: %w", err)
		}
		pi.ix.Replace(b, seq)
		return nil
	}
	var ups []listindex.Row
	err := tx.indexRows(ctx, `i.project_id = ? AND i.seq > ?`, []any{projectID, at}, func(r listindex.Row) { ups = append(ups, r) })
	if err != nil {
		return fmt.Errorf("catch up list index: %w", err)
	}
	rows, err := tx.query(ctx, `SELECT id FROM image_tombstones WHERE project_id = ? AND seq > ?`, projectID, at)
	if err != nil {
		return fmt.Errorf("catch up list index: %w", err)
	}
	defer rows.Close()
	var dels []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("catch up list index: %w", err)
		}
		dels = append(dels, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catch up list index: %w", err)
	}
	pi.ix.Apply(ups, dels, seq)
	return nil
}

func (tx *Tx) indexRows(ctx context.Context, where string, args []any, fn func(listindex.Row)) error {
	rows, err := tx.query(ctx, `SELECT `+indexColumns+` FROM `+imageFrom+` WHERE `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r listindex.Row
		if err := rows.Scan(&r.ID, &r.Type, &r.EnterpriseProjectID, &r.InstanceID, &r.InstanceName, &r.Namespace, &r.Name, &r.Tag,
			&r.Size, &r.UpdatedAt, &r.ScannedAt, &r.ScanStatus, &r.Latest, &r.HasVul, &r.HasUnsafeSetting, &r.HasMaliciousFile); err != nil {
			return err
		}
		fn(r)
	}
	return rows.Err()
}

// ScanSummaries returns the scan outcome of each stored manifest among
// digests, by digest (an index's is the aggregate of its children's).
func (db *DB) ScanSummaries(ctx context.Context, digests []string) (map[string]customs.ScanSummary, error) {
	out := make(map[string]customs.ScanSummary, len(digests))
	err := db.view(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(digests, 500) {
			args := make([]any, len(chunk))
			for i, d := range chunk {
				args[i] = d
			}
			err := tx.each(ctx, `SELECT digest, scan_status, scan_failed_desc, scanned_at, vul_num, unsafe_setting_num, malicious_file_num
				FROM manifests WHERE digest IN (`+placeholders(len(chunk))+`)`, args, func(r *sql.Rows) error {
				var d string
				var s customs.ScanSummary
				var at int64
				if err := r.Scan(&d, &s.Status, &s.FailedDesc, &at, &s.VulNum, &s.UnsafeSettingNum, &s.MaliciousFileNum); err != nil {
					return err
				}
				s.ScannedAt = customs.FromUnixMilli(at)
				out[d] = s
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read scan summaries: %w", err)
	}
	return out, nil
}
