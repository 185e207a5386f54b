package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"customs"
)

// notFound turns sql.ErrNoRows into ENOTFOUND with the message.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return customs.Errorf(customs.ENOTFOUND, format, args...)
	}
	return err
}

// changed reports ENOTFOUND when a statement matched no row.
func changed(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return customs.Errorf(customs.ENOTFOUND, format, args...)
	}
	return nil
}

// --- users

const userColumns = `id, domain_id, name, password_hash, admin, enabled, created_at`

func scanUser(r scanner) (*customs.User, error) {
	var u customs.User
	var created int64
	if err := r.Scan(&u.ID, &u.DomainID, &u.Name, &u.PasswordHash, &u.Admin, &u.Enabled, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = customs.FromUnixMilli(created)
	return &u, nil
}

// FindUsers returns the users of a domain, by name.
func (db *DB) FindUsers(ctx context.Context, domainID string) ([]*customs.User, error) {
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM users WHERE domain_id = ? ORDER BY name`, domainID)
	return collect(rows, err, scanUser)
}

// UpdateUser saves a user's name, password hash, admin flag and state.
func (db *DB) UpdateUser(ctx context.Context, u *customs.User) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE users SET name = ?, password_hash = ?, admin = ?, enabled = ? WHERE domain_id = ? AND id = ?`,
			u.Name, u.PasswordHash, u.Admin, u.Enabled, u.DomainID, u.ID)
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A user named %q already exists in the domain.", u.Name)
		}
		return changed(res, err, "User %q not found.", u.ID)
	})
}

// DeleteUser removes a user with its access keys, tokens, memberships and grants.
func (db *DB) DeleteUser(ctx context.Context, domainID, id string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM grants WHERE domain_id = ? AND user_id = ?`, domainID, id); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM users WHERE domain_id = ? AND id = ?`, domainID, id)
		return changed(res, err, "User %q not found.", id)
	})
}

// --- groups

const groupColumns = `id, domain_id, name, description, created_at`

func scanGroup(r scanner) (*customs.Group, error) {
	var g customs.Group
	var created int64
	if err := r.Scan(&g.ID, &g.DomainID, &g.Name, &g.Description, &created); err != nil {
		return nil, err
	}
	g.CreatedAt = customs.FromUnixMilli(created)
	return &g, nil
}

// CreateGroup stores a new group, assigning its id.
func (db *DB) CreateGroup(ctx context.Context, g *customs.Group) error {
	return db.update(ctx, func(tx *Tx) error {
		g.ID, g.CreatedAt = newID(), tx.now
		_, err := tx.exec(ctx, `INSERT INTO groups (`+groupColumns+`) VALUES (?, ?, ?, ?, ?)`, g.ID, g.DomainID, g.Name, g.Description, ms(g.CreatedAt))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A group named %q already exists in the domain.", g.Name)
		}
		return err
	})
}

// FindGroups returns the groups of a domain, by name.
func (db *DB) FindGroups(ctx context.Context, domainID string) ([]*customs.Group, error) {
	rows, err := db.query(ctx, `SELECT `+groupColumns+` FROM groups WHERE domain_id = ? ORDER BY name`, domainID)
	return collect(rows, err, scanGroup)
}

// FindUserGroups returns the groups a user belongs to.
func (db *DB) FindUserGroups(ctx context.Context, userID string) ([]*customs.Group, error) {
	rows, err := db.query(ctx, `SELECT g.id, g.domain_id, g.name, g.description, g.created_at FROM groups g
		JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name`, userID)
	return collect(rows, err, scanGroup)
}

// FindGroupMembers returns the users of a group of the domain.
func (db *DB) FindGroupMembers(ctx context.Context, domainID, groupID string) ([]*customs.User, error) {
	rows, err := db.query(ctx, `SELECT u.id, u.domain_id, u.name, u.password_hash, u.admin, u.enabled, u.created_at FROM users u
		JOIN group_members m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id
		WHERE g.domain_id = ? AND g.id = ? ORDER BY u.name`, domainID, groupID)
	return collect(rows, err, scanUser)
}

// DeleteGroup removes a group with its memberships and grants.
func (db *DB) DeleteGroup(ctx context.Context, domainID, id string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM grants WHERE domain_id = ? AND group_id = ?`, domainID, id); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM groups WHERE domain_id = ? AND id = ?`, domainID, id)
		return changed(res, err, "Group %q not found.", id)
	})
}

// AddGroupMember puts a user of the domain in a group of the domain.
func (db *DB) AddGroupMember(ctx context.Context, domainID, groupID, userID string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `INSERT INTO group_members (group_id, user_id)
			SELECT g.id, u.id FROM groups g, users u WHERE g.domain_id = ? AND g.id = ? AND u.domain_id = ? AND u.id = ?
			ON CONFLICT DO NOTHING`, domainID, groupID, domainID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			err := tx.queryRow(ctx, `SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id
				WHERE g.domain_id = ? AND m.group_id = ? AND m.user_id = ?`, domainID, groupID, userID).Scan(&exists)
			if err != nil {
				return err
			}
			if exists == 0 {
				return customs.Errorf(customs.ENOTFOUND, "Group %q or user %q not found in the domain.", groupID, userID)
			}
		}
		return nil
	})
}

// RemoveGroupMember takes a user out of a group.
func (db *DB) RemoveGroupMember(ctx context.Context, domainID, groupID, userID string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM group_members WHERE user_id = ? AND group_id = (SELECT id FROM groups WHERE domain_id = ? AND id = ?)`,
			userID, domainID, groupID)
		return changed(res, err, "User %q is not in group %q.", userID, groupID)
	})
}

// --- enterprise projects

const epColumns = `id, domain_id, name, description, enabled, created_at`

func scanEP(r scanner) (*customs.EnterpriseProject, error) {
	var ep customs.EnterpriseProject
	var created int64
	if err := r.Scan(&ep.ID, &ep.DomainID, &ep.Name, &ep.Description, &ep.Enabled, &created); err != nil {
		return nil, err
	}
	ep.CreatedAt = customs.FromUnixMilli(created)
	return &ep, nil
}

// CreateEnterpriseProject stores a new enterprise project, assigning its id.
func (db *DB) CreateEnterpriseProject(ctx context.Context, ep *customs.EnterpriseProject) error {
	return db.update(ctx, func(tx *Tx) error {
		ep.ID, ep.CreatedAt = newID(), tx.now
		_, err := tx.exec(ctx, `INSERT INTO enterprise_projects (`+epColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			ep.ID, ep.DomainID, ep.Name, ep.Description, ep.Enabled, ms(ep.CreatedAt))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "An enterprise project named %q already exists in the domain.", ep.Name)
		}
		return err
	})
}

// FindEnterpriseProjects returns the enterprise projects of a domain (the
// default one, "0", has no row), by name.
func (db *DB) FindEnterpriseProjects(ctx context.Context, domainID string) ([]*customs.EnterpriseProject, error) {
	rows, err := db.query(ctx, `SELECT `+epColumns+` FROM enterprise_projects WHERE domain_id = ? ORDER BY name`, domainID)
	return collect(rows, err, scanEP)
}

// UpdateEnterpriseProject saves an enterprise project's name, description and state.
func (db *DB) UpdateEnterpriseProject(ctx context.Context, ep *customs.EnterpriseProject) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE enterprise_projects SET name = ?, description = ?, enabled = ? WHERE domain_id = ? AND id = ?`,
			ep.Name, ep.Description, ep.Enabled, ep.DomainID, ep.ID)
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "An enterprise project named %q already exists in the domain.", ep.Name)
		}
		return changed(res, err, "Enterprise project %q not found.", ep.ID)
	})
}

// --- policies and grants

const policyColumns = `id, domain_id, name, description, actions, created_at`

func scanPolicy(r scanner) (*customs.Policy, error) {
	var p customs.Policy
	var actions string
	var created int64
	if err := r.Scan(&p.ID, &p.DomainID, &p.Name, &p.Description, &actions, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(actions), &p.Actions); err != nil {
		return nil, fmt.Errorf("policy %s actions: %w", p.ID, err)
	}
	p.CreatedAt = customs.FromUnixMilli(created)
	return &p, nil
}

// CreatePolicy stores a new custom policy, assigning its id.
func (db *DB) CreatePolicy(ctx context.Context, p *customs.Policy) error {
	return db.update(ctx, func(tx *Tx) error {
		p.ID, p.CreatedAt = newID(), tx.now
		_, err := tx.exec(ctx, `INSERT INTO policies (`+policyColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.DomainID, p.Name, p.Description, encodeJSON(p.Actions), ms(p.CreatedAt))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A policy named %q already exists in the domain.", p.Name)
		}
		return err
	})
}

// FindPolicies returns the custom policies of a domain, by name.
func (db *DB) FindPolicies(ctx context.Context, domainID string) ([]*customs.Policy, error) {
	rows, err := db.query(ctx, `SELECT `+policyColumns+` FROM policies WHERE domain_id = ? ORDER BY name`, domainID)
	return collect(rows, err, scanPolicy)
}

// DeletePolicy removes a custom policy and its grants.
func (db *DB) DeletePolicy(ctx context.Context, domainID, id string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM grants WHERE domain_id = ? AND policy_id = ?`, domainID, id); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM policies WHERE domain_id = ? AND id = ?`, domainID, id)
		return changed(res, err, "Policy %q not found.", id)
	})
}

const grantColumns = `id, domain_id, user_id, group_id, policy_id, project_id, enterprise_project_id, created_at`

func scanGrant(r scanner) (*customs.Grant, error) {
	var g customs.Grant
	var created int64
	if err := r.Scan(&g.ID, &g.DomainID, &g.UserID, &g.GroupID, &g.PolicyID, &g.ProjectID, &g.EnterpriseProjectID, &created); err != nil {
		return nil, err
	}
	g.CreatedAt = customs.FromUnixMilli(created)
	return &g, nil
}

// CreateGrant stores a new grant, assigning its id. The user or group and
// the project must be the domain's; ECONFLICT for a grant that exists.
func (db *DB) CreateGrant(ctx context.Context, g *customs.Grant) error {
	return db.update(ctx, func(tx *Tx) error {
		var n int
		err := tx.queryRow(ctx, `SELECT (?2 = '' OR (SELECT count(*) FROM projects WHERE domain_id = ?1 AND id = ?2))
			* ((SELECT count(*) FROM users WHERE domain_id = ?1 AND id = ?3) + (SELECT count(*) FROM groups WHERE domain_id = ?1 AND id = ?4))`,
			g.DomainID, g.ProjectID, g.UserID, g.GroupID).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return customs.Errorf(customs.ENOTFOUND, "The project, user or group of the grant is not in the domain.")
		}
		g.ID, g.CreatedAt = newID(), tx.now
		_, err = tx.exec(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.DomainID, g.UserID, g.GroupID, g.PolicyID, g.ProjectID, g.EnterpriseProjectID, ms(g.CreatedAt))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "The grant exists already.")
		}
		return err
	})
}

// FindGrants returns the grants of a domain that match f.
func (db *DB) FindGrants(ctx context.Context, domainID string, f customs.GrantFilter) ([]*customs.Grant, error) {
	rows, err := db.query(ctx, `SELECT `+grantColumns+` FROM grants WHERE domain_id = ?
		AND (?2 = '' OR user_id = ?2) AND (?3 = '' OR group_id = ?3) AND (?4 = '' OR project_id = ?4) ORDER BY created_at, id`,
		domainID, f.UserID, f.GroupID, f.ProjectID)
	return collect(rows, err, scanGrant)
}

// FindUserGrants returns the grants a user holds in a project, its own and
// its groups', project grants and enterprise project grants.
func (db *DB) FindUserGrants(ctx context.Context, userID, projectID string) ([]*customs.Grant, error) {
	rows, err := db.query(ctx, `SELECT `+grantColumns+` FROM grants WHERE project_id IN (?1, '')
		AND (user_id = ?2 OR group_id IN (SELECT group_id FROM group_members WHERE user_id = ?2)) ORDER BY created_at, id`,
		projectID, userID)
	return collect(rows, err, scanGrant)
}

// DeleteGrant removes a grant of the domain.
func (db *DB) DeleteGrant(ctx context.Context, domainID, id string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM grants WHERE domain_id = ? AND id = ?`, domainID, id)
		return changed(res, err, "Grant %q not found.", id)
	})
}

// --- access keys

const credentialColumns = `access_key, user_id, domain_id, description, status, created_at, last_used_at, failures, locked_until`

func scanCredential(r scanner) (*customs.Credential, error) {
	var c customs.Credential
	var created, used, locked int64
	if err := r.Scan(&c.AccessKey, &c.UserID, &c.DomainID, &c.Description, &c.Status, &created, &used, &c.Failures, &locked); err != nil {
		return nil, err
	}
	c.CreatedAt, c.LastUsedAt, c.LockedUntil = customs.FromUnixMilli(created), customs.FromUnixMilli(used), customs.FromUnixMilli(locked)
	return &c, nil
}

// CreateCredential stores an access key with its secret key, sealed.
func (db *DB) CreateCredential(ctx context.Context, c *customs.Credential, secret string) error {
	sealed, err := db.Cipher.Seal([]byte(secret))
	if err != nil {
		return fmt.Errorf("seal secret key: %w", err)
	}
	return db.update(ctx, func(tx *Tx) error {
		c.CreatedAt = tx.now
		if c.Status == "" {
			c.Status = customs.CredentialActive
		}
		_, err := tx.exec(ctx, `INSERT INTO credentials (access_key, user_id, domain_id, secret, description, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.AccessKey, c.UserID, c.DomainID, sealed, c.Description, c.Status, ms(c.CreatedAt))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "The access key exists already.")
		}
		return err
	})
}

// FindCredential returns an access key and its secret key, unsealed.
func (db *DB) FindCredential(ctx context.Context, accessKey string) (*customs.Credential, string, error) {
	var sealed []byte
	row := db.queryRow(ctx, `SELECT `+credentialColumns+`, secret FROM credentials WHERE access_key = ?`, accessKey)
	var created, used, locked int64
	c := &customs.Credential{}
	err := row.Scan(&c.AccessKey, &c.UserID, &c.DomainID, &c.Description, &c.Status, &created, &used, &c.Failures, &locked, &sealed)
	if err != nil {
		return nil, "", notFound(err, "Access key not found.")
	}
	c.CreatedAt, c.LastUsedAt, c.LockedUntil = customs.FromUnixMilli(created), customs.FromUnixMilli(used), customs.FromUnixMilli(locked)
	secret, err := db.Cipher.Open(sealed)
	if err != nil {
		return nil, "", fmt.Errorf("unseal secret key of %s (was the data directory's key changed?): %w", accessKey, err)
	}
	return c, string(secret), nil
}

// FindCredentials returns a user's access keys, oldest first.
func (db *DB) FindCredentials(ctx context.Context, userID string) ([]*customs.Credential, error) {
	rows, err := db.query(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE user_id = ? ORDER BY created_at, access_key`, userID)
	return collect(rows, err, scanCredential)
}

// DeleteCredential removes an access key of the domain.
func (db *DB) DeleteCredential(ctx context.Context, domainID, accessKey string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM credentials WHERE domain_id = ? AND access_key = ?`, domainID, accessKey)
		return changed(res, err, "Access key %q not found.", accessKey)
	})
}

// RecordSignatureFailure counts a bad signature made with an access key and
// locks the key until lockUntil when it makes threshold in a row. It reports
// whether the key is now locked.
func (db *DB) RecordSignatureFailure(ctx context.Context, accessKey string, threshold int, lockUntil time.Time) (bool, error) {
	var locked int64
	err := db.update(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `UPDATE credentials SET failures = failures + 1,
			locked_until = CASE WHEN failures + 1 >= ? THEN ? ELSE locked_until END
			WHERE access_key = ? RETURNING locked_until`, threshold, ms(lockUntil), accessKey).Scan(&locked)
		return notFound(err, "Access key not found.")
	})
	return err == nil && locked > ms(db.Now()), err
}

// RecordSignatureSuccess clears an access key's count of bad signatures and
// notes its use, writing only when something changes (at most once a minute
// for the use), so that signed reads do not all become writes.
func (db *DB) RecordSignatureSuccess(ctx context.Context, c *customs.Credential) error {
	now := db.Now()
	if c.Failures == 0 && c.LockedUntil.IsZero() && c.LastUsedAt.After(now.Add(-time.Minute)) {
		return nil
	}
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE credentials SET failures = 0, locked_until = 0, last_used_at = ? WHERE access_key = ?`, ms(tx.now), c.AccessKey)
		return err
	})
}

// --- failed logins

// RecordLoginFailure counts a failed password login for key (domain and user
// name) in a window that starts with its first failure; at threshold
// failures in the window, logins for key are refused until the returned time.
func (db *DB) RecordLoginFailure(ctx context.Context, key string, window time.Duration, threshold int, lockFor time.Duration) (time.Time, error) {
	var locked int64
	err := db.update(ctx, func(tx *Tx) error {
		now := ms(tx.now)
		return tx.queryRow(ctx, `INSERT INTO login_failures (key, failures, first_at, locked_until) VALUES (?1, 1, ?2, 0)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN first_at < ?2 - ?3 THEN 1 ELSE failures + 1 END,
				first_at = CASE WHEN first_at < ?2 - ?3 THEN ?2 ELSE first_at END,
				locked_until = CASE WHEN first_at >= ?2 - ?3 AND failures + 1 >= ?4 THEN ?2 + ?5 ELSE locked_until END
			RETURNING locked_until`, key, now, window.Milliseconds(), threshold, lockFor.Milliseconds()).Scan(&locked)
	})
	return customs.FromUnixMilli(locked), err
}

// LoginLockedUntil returns until when password logins for key are refused;
// the zero time when they are not.
func (db *DB) LoginLockedUntil(ctx context.Context, key string) (time.Time, error) {
	var locked int64
	err := db.queryRow(ctx, `SELECT locked_until FROM login_failures WHERE key = ?`, key).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return customs.FromUnixMilli(locked), err
}

// ResetLoginFailures forgets the failed logins of key after a success.
func (db *DB) ResetLoginFailures(ctx context.Context, key string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM login_failures WHERE key = ?`, key)
		return err
	})
}

// collect reads every row of a query with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
