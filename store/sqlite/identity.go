package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"customs"
)

// Bootstrap creates the first domain, its user and a project in one
// transaction. It changes nothing and answers false when a domain exists.
func (db *DB) Bootstrap(ctx context.Context, d *customs.Domain, u *customs.User, p *customs.Project) (created bool, err error) {
	err = db.update(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT count(*) FROM domains`).Scan(&n); err != nil || n > 0 {
			return err
		}
		for _, x := range []*string{&d.ID, &u.ID, &p.ID} {
			if *x == "" {
				*x = newID()
			}
		}
		d.CreatedAt, u.CreatedAt, p.CreatedAt = tx.now, tx.now, tx.now
		u.DomainID, p.DomainID = d.ID, d.ID
		if _, err := tx.exec(ctx, `INSERT INTO domains (id, name, created_at) VALUES (?, ?, ?)`, d.ID, d.Name, ms(tx.now)); err != nil {
			return fmt.Errorf("insert domain: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO users (id, domain_id, name, password_hash, admin, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.DomainID, u.Name, u.PasswordHash, u.Admin, u.Enabled, ms(tx.now)); err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO projects (id, domain_id, name, enabled, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.DomainID, p.Name, p.Enabled, ms(tx.now)); err != nil {
			return fmt.Errorf("insert project: %w", err)
		}
		created = true
		return nil
	})
	return created, err
}

// FindDomainByID returns the domain with the id, or ENOTFOUND.
func (db *DB) FindDomainByID(ctx context.Context, id string) (*customs.Domain, error) {
	return db.findDomain(ctx, "id", id)
}

// FindDomainByName returns the domain with the name, or ENOTFOUND.
func (db *DB) FindDomainByName(ctx context.Context, name string) (*customs.Domain, error) {
	return db.findDomain(ctx, "name", name)
}

func (db *DB) findDomain(ctx context.Context, col, v string) (*customs.Domain, error) {
	var d customs.Domain
	var created int64
	err := db.queryRow(ctx, `SELECT id, name, created_at FROM domains WHERE `+col+` = ?`, v).Scan(&d.ID, &d.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, customs.Errorf(customs.ENOTFOUND, "Domain not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find domain: %w", err)
	}
	d.CreatedAt = customs.FromUnixMilli(created)
	return &d, nil
}

// FindUserByID returns the user with the id, or ENOTFOUND.
func (db *DB) FindUserByID(ctx context.Context, id string) (*customs.User, error) {
	return db.findUser(ctx, `id = ?`, id)
}

// FindUserByName returns the user with the name in the domain, or ENOTFOUND.
func (db *DB) FindUserByName(ctx context.Context, domainID, name string) (*customs.User, error) {
	return db.findUser(ctx, `domain_id = ? AND name = ?`, domainID, name)
}

func (db *DB) findUser(ctx context.Context, where string, args ...any) (*customs.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, args...))
	if err != nil {
		return nil, notFound(err, "User not found.")
	}
	return u, nil
}

// FindProjects returns the projects that match f, by name then id.
func (db *DB) FindProjects(ctx context.Context, f customs.ProjectFilter) ([]*customs.Project, error) {
	var where []string
	var args []any
	for col, v := range map[string]string{"domain_id": f.DomainID, "name": f.Name, "id": f.ID} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	q := `SELECT id, domain_id, name, enabled, created_at FROM projects`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.query(ctx, q+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find projects: %w", err)
	}
	defer rows.Close()
	ps := []*customs.Project{}
	for rows.Next() {
		var p customs.Project
		var created int64
		if err := rows.Scan(&p.ID, &p.DomainID, &p.Name, &p.Enabled, &created); err != nil {
			return nil, fmt.Errorf("find projects: %w", err)
		}
		p.CreatedAt = customs.FromUnixMilli(created)
		ps = append(ps, &p)
	}
	return ps, rows.Err()
}

// CreateToken stores an issued token (its hash, never the secret).
func (db *DB) CreateToken(ctx context.Context, t *customs.Token) error {
	if len(t.Hash) == 0 {
		return customs.Errorf(customs.EINTERNAL, "token without a hash")
	}
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO tokens (hash, user_id, domain_id, project_id, methods, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Hash, t.UserID, t.DomainID, t.ProjectID, strings.Join(t.Methods, ","), ms(t.IssuedAt), ms(t.ExpiresAt))
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		// Expired tokens are useless; drop them as new ones come.
		_, err = tx.exec(ctx, `DELETE FROM tokens WHERE expires_at < ?`, ms(tx.now))
		return err
	})
}

// FindToken returns the token with the hash, or ENOTFOUND.
func (db *DB) FindToken(ctx context.Context, hash []byte) (*customs.Token, error) {
	t := customs.Token{Hash: hash}
	var methods string
	var issued, expires, revoked int64
	err := db.queryRow(ctx, `SELECT user_id, domain_id, project_id, methods, issued_at, expires_at, revoked_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.UserID, &t.DomainID, &t.ProjectID, &methods, &issued, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, customs.Errorf(customs.ENOTFOUND, "Token not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	if methods != "" {
		t.Methods = strings.Split(methods, ",")
	}
	t.IssuedAt, t.ExpiresAt, t.RevokedAt = customs.FromUnixMilli(issued), customs.FromUnixMilli(expires), customs.FromUnixMilli(revoked)
	return &t, nil
}

// RevokeToken marks the token revoked (again is fine); ENOTFOUND if there is none.
func (db *DB) RevokeToken(ctx context.Context, hash []byte) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE tokens SET revoked_at = CASE revoked_at WHEN 0 THEN ? ELSE revoked_at END WHERE hash = ?`, ms(tx.now), hash)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return customs.Errorf(customs.ENOTFOUND, "Token not found.")
		}
		return nil
	})
}

// CreateDomain stores a new domain, assigning its id if empty. ECONFLICT for a taken name.
func (db *DB) CreateDomain(ctx context.Context, d *customs.Domain) error {
	return db.update(ctx, func(tx *Tx) error {
		if d.ID == "" {
			d.ID = newID()
		}
		d.CreatedAt = tx.now
		_, err := tx.exec(ctx, `INSERT INTO domains (id, name, created_at) VALUES (?, ?, ?)`, d.ID, d.Name, ms(tx.now))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A domain named %q already exists.", d.Name)
		} else if err != nil {
			return fmt.Errorf("create domain: %w", err)
		}
		return nil
	})
}

// CreateUser stores a new user, assigning its id if empty. ECONFLICT for a
// name its domain already has.
func (db *DB) CreateUser(ctx context.Context, u *customs.User) error {
	return db.update(ctx, func(tx *Tx) error {
		if u.ID == "" {
			u.ID = newID()
		}
		u.CreatedAt = tx.now
		_, err := tx.exec(ctx, `INSERT INTO users (id, domain_id, name, password_hash, admin, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.DomainID, u.Name, u.PasswordHash, u.Admin, u.Enabled, ms(tx.now))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A user named %q already exists in the domain.", u.Name)
		} else if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		return nil
	})
}

// CreateProject stores a new project, assigning its id if empty. ECONFLICT
// for a name its domain already has.
func (db *DB) CreateProject(ctx context.Context, p *customs.Project) error {
	return db.update(ctx, func(tx *Tx) error {
		if p.ID == "" {
			p.ID = newID()
		}
		p.CreatedAt = tx.now
		_, err := tx.exec(ctx, `INSERT INTO projects (id, domain_id, name, enabled, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.DomainID, p.Name, p.Enabled, ms(tx.now))
		if isUnique(err) {
			return customs.Errorf(customs.ECONFLICT, "A project named %q already exists in the domain.", p.Name)
		} else if err != nil {
			return fmt.Errorf("create project: %w", err)
		}
		return nil
	})
}
