package sqlite

import (
	"context"
	"fmt"

	"customs"
)

const shareColumns = `s.id, s.owner_domain_id, s.owner_project_id, s.registry_id, s.namespace, s.repository,
	s.access_domain_id, d.name, s.permit, s.deadline, s.description, s.created_at, s.updated_at`

const shareFrom = `shares s JOIN domains d ON d.id = s.access_domain_id`

func scanShare(r scanner) (*customs.Share, error) {
	var sh customs.Share
	var deadline, created, updated int64
	if err := r.Scan(&sh.ID, &sh.OwnerDomainID, &sh.OwnerProjectID, &sh.RegistryID, &sh.Namespace, &sh.Repository,
		&sh.AccessDomainID, &sh.AccessDomain, &sh.Permit, &deadline, &sh.Description, &created, &updated); err != nil {
		return nil, err
	}
	sh.Deadline, sh.CreatedAt, sh.UpdatedAt = customs.FromUnixMilli(deadline), customs.FromUnixMilli(created), customs.FromUnixMilli(updated)
	return &sh, nil
}

// CreateShare shares a repository of the scope's primary (SwrPrivate)
// registry with the domain named sh.AccessDomain. ENOTFOUND when the project
// has no primary registry or the domain does not exist (the message does not
// tell which domains exist); ECONFLICT when the share exists.
func (db *DB) CreateShare(ctx context.Context, scope customs.Scope, sh *customs.Share) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		regs, err := db.findRegistries(ctx, tx, scope, customs.RegistryFilter{Types: []customs.RegistryType{customs.SwrPrivate}})
		if err != nil {
			return err
		}
		if len(regs) == 0 {
			return customs.Errorf(customs.ENOTFOUND, "The project has no SwrPrivate registry to share from.")
		}
		var ownerDomain string
		if err := tx.queryRow(ctx, `SELECT domain_id FROM projects WHERE id = ?`, scope.ProjectID).Scan(&ownerDomain); err != nil {
			return notFound(err, "Project not found.")
		}
		if err := tx.queryRow(ctx, `SELECT id FROM domains WHERE name = ?`, sh.AccessDomain).Scan(&sh.AccessDomainID); err != nil {
			return notFound(err, "Invalid parameter access_domain: %q is not a domain of this service.", sh.AccessDomain)
		}
		if sh.AccessDomainID == ownerDomain {
			return customs.Errorf(customs.EINVALID, "Invalid parameter access_domain: %q is the owner's own domain.", sh.AccessDomain)
		}
		sh.ID, sh.OwnerDomainID, sh.OwnerProjectID, sh.RegistryID = newID(), ownerDomain, scope.ProjectID, regs[0].ID
		sh.CreatedAt, sh.UpdatedAt = tx.now, tx.now
		_, err = tx.exec(ctx, `INSERT INTO shares (id, owner_domain_id, owner_project_id, registry_id, namespace, repository, access_domain_id,
			permit, deadline, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sh.ID, sh.OwnerDomainID, sh.OwnerProjectID, sh.RegistryID, sh.Namespace, sh.Repository, sh.AccessDomainID,
			sh.Permit, ms(sh.Deadline), sh.Description, ms(sh.CreatedAt), ms(sh.UpdatedAt))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "The repository %s/%s is shared with %q already.", sh.Namespace, sh.Repository, sh.AccessDomain)
		}
		return err
	})
}

// FindShares returns the shares of the scope's project that match f.
func (db *DB) FindShares(ctx context.Context, scope customs.Scope, f customs.ShareFilter) ([]*customs.Share, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, `SELECT `+shareColumns+` FROM `+shareFrom+` WHERE s.owner_project_id = ?1
		AND (?2 = '' OR s.namespace = ?2) AND (?3 = '' OR s.repository = ?3) AND (?4 = '' OR s.access_domain_id = ?4)
		ORDER BY s.namespace, s.repository, d.name`, scope.ProjectID, f.Namespace, f.Repository, f.AccessDomainID)
	return collect(rows, err, scanShare)
}

// UpdateShare saves a share's permit, deadline and description.
func (db *DB) UpdateShare(ctx context.Context, scope customs.Scope, sh *customs.Share) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		sh.UpdatedAt = tx.now
		res, err := tx.exec(ctx, `UPDATE shares SET permit = ?, deadline = ?, description = ?, updated_at = ? WHERE owner_project_id = ? AND id = ?`,
			sh.Permit, ms(sh.Deadline), sh.Description, ms(sh.UpdatedAt), scope.ProjectID, sh.ID)
		return changed(res, err, "Share not found.")
	})
}

// DeleteShare ends a share of the scope's project and removes the images it
// showed to the other domain.
func (db *DB) DeleteShare(ctx context.Context, scope customs.Scope, id string) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.deleteImages(ctx, `share_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM shares WHERE owner_project_id = ? AND id = ?`, scope.ProjectID, id)
		return changed(res, err, "Share not found.")
	})
}

// RefreshSharedImages brings the shared images of the scope's project in
// line with the shares to its domain and the owners' tags, in one
// transaction: a row per tag of every shared repository, in the default
// enterprise project, with the owner's domain name. Rows of a share that
// ended go; an expired share's rows stay and show as expired.
func (db *DB) RefreshSharedImages(ctx context.Context, scope customs.Scope) (customs.SyncCounts, error) {
	var counts customs.SyncCounts
	if err := scope.Validate(); err != nil {
		return counts, err
	}
	err := db.update(ctx, func(tx *Tx) error {
		type key struct{ registry, namespace, name, tag string }
		type row struct {
			id, manifestID, updated int64
			shareID, domain         string
		}
		want := map[key]row{}
		rows, err := tx.query(ctx, `SELECT i.registry_id, i.namespace, i.name, i.tag, i.manifest_id, i.updated_at, s.id, od.name
			FROM shares s JOIN projects p ON p.domain_id = s.access_domain_id AND p.id = ?
			JOIN domains od ON od.id = s.owner_domain_id
			JOIN images i ON i.registry_id = s.registry_id AND i.project_id = s.owner_project_id AND i.namespace = s.namespace AND i.name = s.repository`,
			scope.ProjectID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k key
			var r row
			if err := rows.Scan(&k.registry, &k.namespace, &k.name, &k.tag, &r.manifestID, &r.updated, &r.shareID, &r.domain); err != nil {
				rows.Close()
				return err
			}
			want[k] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		have := map[key]row{}
		rows, err = tx.query(ctx, `SELECT registry_id, namespace, name, tag, id, manifest_id, updated_at, share_id, domain_name
			FROM images WHERE project_id = ? AND image_type = ?`, scope.ProjectID, customs.SharedImage)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k key
			var r row
			if err := rows.Scan(&k.registry, &k.namespace, &k.name, &k.tag, &r.id, &r.manifestID, &r.updated, &r.shareID, &r.domain); err != nil {
				rows.Close()
				return err
			}
			have[k] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		seq, err := tx.nextSeq(ctx)
		if err != nil {
			return err
		}
		touched := map[[3]string]bool{} // repositories whose latest flag may change
		var inserts [][]any
		for k, w := range want {
			h, ok := have[k]
			switch {
			case !ok:
				inserts = append(inserts, []any{scope.ProjectID, customs.DefaultEnterpriseProject, k.registry, customs.SharedImage,
					k.namespace, k.name, k.tag, w.manifestID, w.updated, seq, w.domain, w.shareID})
				counts.Added++
			case h.manifestID != w.manifestID || h.updated != w.updated || h.shareID != w.shareID || h.domain != w.domain:
				if _, err := tx.exec(ctx, `UPDATE images SET manifest_id = ?, updated_at = ?, share_id = ?, domain_name = ?, seq = ? WHERE id = ?`,
					w.manifestID, w.updated, w.shareID, w.domain, seq, h.id); err != nil {
					return err
				}
				counts.Updated++
			default:
				continue
			}
			touched[[3]string{k.registry, k.namespace, k.name}] = true
		}
		if err := tx.insertImages(ctx, inserts); err != nil {
			return err
		}
		for k, h := range have {
			if _, ok := want[k]; ok {
				continue
			}
			if _, err := tx.deleteImages(ctx, `id = ?`, h.id); err != nil {
				return err
			}
			counts.Removed++
			touched[[3]string{k.registry, k.namespace, k.name}] = true
		}
		for repo := range touched {
			err := tx.recomputeLatest(ctx, `registry_id = ? AND project_id = ? AND namespace = ? AND name = ?`,
				[]any{repo[0], scope.ProjectID, repo[1], repo[2]})
			if err != nil {
				return fmt.Errorf("refresh shared images: %w", err)
			}
		}
		return nil
	})
	return counts, err
}
