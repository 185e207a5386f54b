// Package iam authenticates callers and says what they may do: it bootstraps
// the first domain, user and project, hashes passwords, issues, verifies and
// revokes tokens, verifies AK/SK request signatures, computes a principal's
// permissions from its grants, administers a domain's users, groups,
// projects, enterprise projects, policies, grants and access keys, and
// encrypts secrets (registry passwords, secret keys) at rest.
//
// It does not serve HTTP (package httpapi does: the Keystone-shaped token API
// of spec §4.1 is converted there) and it stores nothing itself: a Store
// does. Tokens are opaque random secrets of which the store keeps only a
// SHA-256 hash, so any number of API processes sharing one store accept the
// same tokens (design §7).
package iam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"customs"
)

// Store is what iam needs from storage.
type Store interface {
	// Bootstrap creates the first domain, its user and a project atomically;
	// it returns created=false and changes nothing when any domain already
	// exists.
	Bootstrap(ctx context.Context, d *customs.Domain, u *customs.User, p *customs.Project) (created bool, err error)
	FindDomainByID(ctx context.Context, id string) (*customs.Domain, error)     // ENOTFOUND if none
	FindDomainByName(ctx context.Context, name string) (*customs.Domain, error) // ENOTFOUND if none
	FindUserByID(ctx context.Context, id string) (*customs.User, error)         // ENOTFOUND if none
	FindUserByName(ctx context.Context, domainID, name string) (*customs.User, error)
	FindProjects(ctx context.Context, f customs.ProjectFilter) ([]*customs.Project, error)
	CreateToken(ctx context.Context, t *customs.Token) error
	FindToken(ctx context.Context, hash []byte) (*customs.Token, error) // ENOTFOUND if none
	RevokeToken(ctx context.Context, hash []byte) error                 // ENOTFOUND if none

	// Permissions.
	FindUserGrants(ctx context.Context, userID, projectID string) ([]*customs.Grant, error)
	FindPolicies(ctx context.Context, domainID string) ([]*customs.Policy, error)

	// Access keys and the throttling of failed logins and signatures.
	CreateCredential(ctx context.Context, c *customs.Credential, secret string) error
	FindCredential(ctx context.Context, accessKey string) (*customs.Credential, string, error)
	FindCredentials(ctx context.Context, userID string) ([]*customs.Credential, error)
	DeleteCredential(ctx context.Context, domainID, accessKey string) error
	RecordSignatureFailure(ctx context.Context, accessKey string, threshold int, lockUntil time.Time) (bool, error)
	RecordSignatureSuccess(ctx context.Context, c *customs.Credential) error
	RecordLoginFailure(ctx context.Context, key string, window time.Duration, threshold int, lockFor time.Duration) (time.Time, error)
	LoginLockedUntil(ctx context.Context, key string) (time.Time, error)
	ResetLoginFailures(ctx context.Context, key string) error

	// Administration of a domain.
	CreateDomain(ctx context.Context, d *customs.Domain) error
	CreateUser(ctx context.Context, u *customs.User) error
	FindUsers(ctx context.Context, domainID string) ([]*customs.User, error)
	UpdateUser(ctx context.Context, u *customs.User) error
	DeleteUser(ctx context.Context, domainID, id string) error
	CreateProject(ctx context.Context, p *customs.Project) error
	CreateGroup(ctx context.Context, g *customs.Group) error
	FindGroups(ctx context.Context, domainID string) ([]*customs.Group, error)
	DeleteGroup(ctx context.Context, domainID, id string) error
	AddGroupMember(ctx context.Context, domainID, groupID, userID string) error
	RemoveGroupMember(ctx context.Context, domainID, groupID, userID string) error
	FindGroupMembers(ctx context.Context, domainID, groupID string) ([]*customs.User, error)
	CreateEnterpriseProject(ctx context.Context, ep *customs.EnterpriseProject) error
	FindEnterpriseProjects(ctx context.Context, domainID string) ([]*customs.EnterpriseProject, error)
	UpdateEnterpriseProject(ctx context.Context, ep *customs.EnterpriseProject) error
	CreatePolicy(ctx context.Context, p *customs.Policy) error
	DeletePolicy(ctx context.Context, domainID, id string) error
	CreateGrant(ctx context.Context, g *customs.Grant) error
	FindGrants(ctx context.Context, domainID string, f customs.GrantFilter) ([]*customs.Grant, error)
	DeleteGrant(ctx context.Context, domainID, id string) error
}

// DefaultTokenTTL is how long a token lives unless Service.TokenTTL says
// otherwise (spec §4.1).
const DefaultTokenTTL = 24 * time.Hour

// Bootstrap names: the first domain and its administrator.
const (
	AdminDomain = "admin"
	AdminUser   = "admin"
)

// MinPasswordLen is the shortest password Bootstrap accepts.
const MinPasswordLen = 8

// Service authenticates callers against a Store. Zero fields take their
// defaults, except Store, which is required, and Region, which names the
// bootstrap project and is set on every principal.
type Service struct {
	Store    Store
	Region   string        // the deployment's region name (projects are named after regions)
	TokenTTL time.Duration // default DefaultTokenTTL
	Now      func() time.Time
	Logger   *slog.Logger
}

func (s *Service) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	// Stores keep milliseconds; a token read back must equal the one issued.
	return now().UTC().Truncate(time.Millisecond)
}

func (s *Service) ttl() time.Duration {
	if s.TokenTTL > 0 {
		return s.TokenTTL
	}
	return DefaultTokenTTL
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default().With("component", "iam")
}

// BootstrapResult says what Bootstrap did. GeneratedPassword is set only
// when Bootstrap created the user with a password it generated, so that the
// caller can show it once.
type BootstrapResult struct {
	Created           bool
	Domain            *customs.Domain
	User              *customs.User
	Project           *customs.Project
	GeneratedPassword string
}

// Bootstrap creates, on a store without any domain, domain "admin", its
// enabled administrator "admin" with password (or with a generated one when
// password is empty) and a project named after the Region. On a store that
// has a domain it changes nothing and returns Created false.
func (s *Service) Bootstrap(ctx context.Context, password string) (*BootstrapResult, error) {
	if s.Region == "" {
		return nil, customs.Errorf(customs.EINVALID, "No region: the first project is named after the deployment's region, and none is set.")
	}
	generated := ""
	if password == "" {
		// 26 characters of A-Z and 2-7: 130 random bits, easy to copy.
		password = rand.Text()
		generated = password
	} else if len(password) < MinPasswordLen {
		return nil, customs.Errorf(customs.EINVALID, "The administrator password has %d characters; it must have at least %d (or leave it empty to have one generated).", len(password), MinPasswordLen)
	}
	hash, err := hashPassword(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	d := &customs.Domain{ID: newID(), Name: AdminDomain}
	u := &customs.User{ID: newID(), DomainID: d.ID, Name: AdminUser, PasswordHash: hash, Admin: true, Enabled: true}
	p := &customs.Project{ID: newID(), DomainID: d.ID, Name: s.Region, Enabled: true}
	created, err := s.Store.Bootstrap(ctx, d, u, p)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if !created {
		return &BootstrapResult{}, nil
	}
	s.logger().InfoContext(ctx, "created the first domain, user and project",
		"domain_id", d.ID, "user_id", u.ID, "project_id", p.ID, "project", p.Name, "password_generated", generated != "")
	return &BootstrapResult{Created: true, Domain: d, User: u, Project: p, GeneratedPassword: generated}, nil
}

// Projects lists the projects of the principal's domain, only the one named
// name when name is not empty.
func (s *Service) Projects(ctx context.Context, p *customs.Principal, name string) ([]*customs.Project, error) {
	if p == nil || p.Domain == nil {
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The request carries no credentials.")
	}
	ps, err := s.Store.FindProjects(ctx, customs.ProjectFilter{DomainID: p.Domain.ID, Name: name})
	if err != nil {
		return nil, fmt.Errorf("list projects of domain %q: %w", p.Domain.ID, err)
	}
	return ps, nil
}

// newID returns a random 32-hex-character id, the shape of Huawei Cloud ids.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
