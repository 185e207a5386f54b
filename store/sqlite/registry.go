package sqlite

import (
	"context"
	"fmt"

	"customs"
)

const registryColumns = `id, project_id, enterprise_project_id, name, type, protocol, addr, username, password, namespace,
	status, fail_reason, images_num, latest_sync_time, created_at, updated_at`

// CreateRegistry stores a new registry, assigning its id. ECONFLICT for a
// name the project already has, or a second SwrPrivate registry.
func (db *DB) CreateRegistry(ctx context.Context, scope customs.Scope, r *customs.Registry) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	if r.EnterpriseProjectID == "" {
		r.EnterpriseProjectID = customs.DefaultEnterpriseProject
	}
	if !scope.Allows(r.EnterpriseProjectID) {
		return customs.Errorf(customs.EFORBIDDEN, "Insufficient permissions for enterprise project %q.", r.EnterpriseProjectID)
	}
	sealed, err := db.seal(r.Password)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		r.ID, r.ProjectID = newID(), scope.ProjectID
		r.CreatedAt, r.UpdatedAt = tx.now, tx.now
		if r.Status == "" {
			r.Status = customs.RegistryAccessing
		}
		_, err := tx.exec(ctx, `INSERT INTO registries (`+registryColumns+`) VALUES (`+placeholders(16)+`)`,
			r.ID, r.ProjectID, r.EnterpriseProjectID, r.Name, r.Type, r.Protocol, r.Addr, r.Username, sealed, r.Namespace,
			r.Status, r.FailReason, r.ImagesNum, ms(r.LatestSyncTime), ms(r.CreatedAt), ms(r.UpdatedAt))
		switch {
		case isUnique(err) && r.Type == customs.SwrPrivate && db.hasPrimary(ctx, tx, scope.ProjectID):
			return customs.Errorf(customs.ECONFLICT, "The project already has a SwrPrivate registry; a project has one primary registry (use SwrEnterprise, Harbor, Jfrog or Other for more).")
		case isUnique(err):
			return customs.Errorf(customs.ECONFLICT, "A registry named %q already exists in this project.", r.Name)
		case err != nil:
			return fmt.Errorf("insert registry: %w", err)
		}
		return nil
	})
}

func (db *DB) hasPrimary(ctx context.Context, tx *Tx, projectID string) bool {
	var n int
	tx.queryRow(ctx, `SELECT count(*) FROM registries WHERE project_id = ? AND type = ?`, projectID, customs.SwrPrivate).Scan(&n)
	return n > 0
}

// FindRegistries returns the registries in scope that match f, oldest first,
// with their passwords unsealed.
func (db *DB) FindRegistries(ctx context.Context, scope customs.Scope, f customs.RegistryFilter) ([]*customs.Registry, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	var regs []*customs.Registry
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		regs, err = db.findRegistries(ctx, tx, scope, f)
		return err
	})
	return regs, err
}

func (db *DB) findRegistries(ctx context.Context, tx *Tx, scope customs.Scope, f customs.RegistryFilter) ([]*customs.Registry, error) {
	where, args := scopeWhere(scope, "")
	if f.ID != "" {
		where += ` AND id = ?`
		args = append(args, f.ID)
	}
	if f.Name != "" {
		where += ` AND name = ?`
		args = append(args, f.Name)
	}
	if len(f.Types) > 0 {
		where += ` AND type IN (` + placeholders(len(f.Types)) + `)`
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	rows, err := tx.query(ctx, `SELECT `+registryColumns+` FROM registries WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find registries: %w", err)
	}
	defer rows.Close()
	regs := []*customs.Registry{}
	for rows.Next() {
		var r customs.Registry
		var sealed []byte
		var syncMS, createdMS, updatedMS int64
		if err := rows.Scan(&r.ID, &r.ProjectID, &r.EnterpriseProjectID, &r.Name, &r.Type, &r.Protocol, &r.Addr, &r.Username, &sealed, &r.Namespace,
			&r.Status, &r.FailReason, &r.ImagesNum, &syncMS, &createdMS, &updatedMS); err != nil {
			return nil, fmt.Errorf("find registries: %w", err)
		}
		if r.Password, err = db.open(sealed); err != nil {
			return nil, fmt.Errorf("registry %s: %w", r.ID, err)
		}
		r.LatestSyncTime, r.CreatedAt, r.UpdatedAt = customs.FromUnixMilli(syncMS), customs.FromUnixMilli(createdMS), customs.FromUnixMilli(updatedMS)
		regs = append(regs, &r)
	}
	return regs, rows.Err()
}

func (db *DB) findRegistry(ctx context.Context, tx *Tx, scope customs.Scope, id string) (*customs.Registry, error) {
	regs, err := db.findRegistries(ctx, tx, scope, customs.RegistryFilter{ID: id})
	if err != nil {
		return nil, err
	}
	if len(regs) == 0 {
		return nil, customs.Errorf(customs.ENOTFOUND, "Registry %q not found.", id)
	}
	return regs[0], nil
}

// UpdateRegistry changes the fields of u that are set.
func (db *DB) UpdateRegistry(ctx context.Context, scope customs.Scope, id string, u customs.RegistryUpdate) (*customs.Registry, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	var r *customs.Registry
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		if r, err = db.findRegistry(ctx, tx, scope, id); err != nil {
			return err
		}
		for _, f := range []struct {
			dst *string
			src *string
		}{{&r.Protocol, u.Protocol}, {&r.Addr, u.Addr}, {&r.Username, u.Username}, {&r.Password, u.Password}, {&r.Namespace, u.Namespace}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		sealed, err := db.seal(r.Password)
		if err != nil {
			return err
		}
		r.UpdatedAt = tx.now
		_, err = tx.exec(ctx, `UPDATE registries SET protocol = ?, addr = ?, username = ?, password = ?, namespace = ?, updated_at = ? WHERE id = ?`,
			r.Protocol, r.Addr, r.Username, sealed, r.Namespace, ms(r.UpdatedAt), r.ID)
		if err != nil {
			return fmt.Errorf("update registry: %w", err)
		}
		return nil
	})
	return r, err
}

// DeleteRegistry removes the registry and its images.
func (db *DB) DeleteRegistry(ctx context.Context, scope customs.Scope, id string) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		r, err := db.findRegistry(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		if _, err := tx.deleteImages(ctx, `registry_id = ?`, r.ID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM registries WHERE id = ?`, r.ID); err != nil {
			return fmt.Errorf("delete registry: %w", err)
		}
		return nil
	})
}

// SetRegistrySyncResult records what the last synchronization of a registry found.
func (db *DB) SetRegistrySyncResult(ctx context.Context, scope customs.Scope, id string, res customs.RegistrySyncResult) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		r, err := db.findRegistry(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE registries SET status = ?, fail_reason = ?, images_num = ?, latest_sync_time = ? WHERE id = ?`,
			res.Status, res.FailReason, res.ImagesNum, ms(res.SyncedAt), r.ID)
		if err != nil {
			return fmt.Errorf("set registry sync result: %w", err)
		}
		return nil
	})
}

func (db *DB) seal(password string) ([]byte, error) {
	if password == "" {
		return nil, nil
	}
	b, err := db.Cipher.Seal([]byte(password))
	if err != nil {
		return nil, fmt.Errorf("seal registry password: %w", err)
	}
	return b, nil
}

func (db *DB) open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	b, err := db.Cipher.Open(sealed)
	if err != nil {
		return "", fmt.Errorf("unseal registry password (was the secret key changed?): %w", err)
	}
	return string(b), nil
}

// scopeWhere returns the SQL condition and arguments limiting a query to the
// scope; prefix qualifies the columns ("i." for a join).
func scopeWhere(scope customs.Scope, prefix string) (string, []any) {
	where := prefix + `project_id = ?`
	args := []any{scope.ProjectID}
	if !scope.AllEnterpriseProjects {
		where += ` AND ` + prefix + `enterprise_project_id IN (` + placeholders(len(scope.EnterpriseProjectIDs)) + `)`
		for _, ep := range scope.EnterpriseProjectIDs {
			args = append(args, ep)
		}
	}
	return where, args
}
