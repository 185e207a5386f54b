package customs

import (
	"slices"
	"strings"
	"time"
)

// Domain is an account: it owns users and projects.
type Domain struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// User is a person or a program in a domain.
type User struct {
	ID           string
	DomainID     string
	Name         string
	PasswordHash string // never the password itself
	// Admin users hold every permission in their domain.
	Admin     bool
	Enabled   bool
	CreatedAt time.Time
}

// UserUpdate changes a user; nil fields are left as they are.
type UserUpdate struct {
	Name     *string
	Password *string // in clear: the identity service hashes it
	Enabled  *bool
}

// Project is a domain's project in one region; images and registries belong
// to a project. A project's name is its region's name.
type Project struct {
	ID        string
	DomainID  string
	Name      string
	Enabled   bool
	CreatedAt time.Time
}

// ProjectFilter selects projects. Zero values do not filter.
type ProjectFilter struct {
	DomainID string
	Name     string
	ID       string
}

// Token is an issued token. Stores keep only a hash of the secret the
// caller holds.
type Token struct {
	Hash      []byte // SHA-256 of the token secret
	UserID    string
	DomainID  string
	ProjectID string // empty for a domain-scoped token
	Methods   []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Actions a principal can be granted (spec §4.3).
const (
	ActionImagesList = "hss:images:list"
	ActionImagesSet  = "hss:images:set"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	User    *User
	Domain  *Domain
	Project *Project // the project the credential is scoped to; nil for a domain-scoped token
	// IssuedAt and ExpiresAt bound the credential's validity.
	IssuedAt  time.Time
	ExpiresAt time.Time
	Region    string
	// AccessKey is the access key that signed the request; empty for a token.
	AccessKey string
	// Permissions are what the grants of the user and its groups allow in
	// Project. A domain's admin may do everything without grants.
	Permissions Permissions
}

// Can reports whether the principal may perform action in enterprise project
// ep of its project.
func (p *Principal) Can(action, ep string) bool {
	return p != nil && p.User != nil && (p.User.Admin || p.Permissions.Allows(action, ep))
}

// Scope is the scope of the principal's project for action in the requested
// enterprise project ("" or "0" for the default, a specific id, or
// "all_granted_eps" for every one it may act in). It returns ENOPERMISSION
// when the principal holds no permission on the service at all, EFORBIDDEN
// when it lacks this action in this enterprise project.
func (p *Principal) Scope(action, enterpriseProjectID string) (Scope, error) {
	if p == nil || p.User == nil || p.Project == nil {
		return Scope{}, Errorf(EFORBIDDEN, "Insufficient permissions: the credential is not scoped to a project.")
	}
	if !p.User.Admin && !p.holdsService(action) {
		return Scope{}, Errorf(ENOPERMISSION, "Insufficient permissions: the user has no permission on this service in project %q.", p.Project.Name)
	}
	switch enterpriseProjectID {
	case "", DefaultEnterpriseProject:
		enterpriseProjectID = DefaultEnterpriseProject
	case AllGrantedEnterpriseProjects:
		if p.User.Admin || p.Permissions.Allows(action, AllEnterpriseProjectsGrant) {
			return Scope{ProjectID: p.Project.ID, AllEnterpriseProjects: true}, nil
		}
		var eps []string
		for ep := range p.Permissions {
			if ep != AllEnterpriseProjectsGrant && p.Permissions.Allows(action, ep) {
				eps = append(eps, ep)
			}
		}
		if len(eps) == 0 {
			return Scope{}, Errorf(EFORBIDDEN, "Insufficient permissions: %s is not granted in any enterprise project.", action)
		}
		slices.Sort(eps)
		return Scope{ProjectID: p.Project.ID, EnterpriseProjectIDs: eps}, nil
	}
	if !p.Can(action, enterpriseProjectID) {
		return Scope{}, Errorf(EFORBIDDEN, "Insufficient permissions: %s is not granted in enterprise project %q.", action, enterpriseProjectID)
	}
	return Scope{ProjectID: p.Project.ID, EnterpriseProjectIDs: []string{enterpriseProjectID}}, nil
}

// holdsService reports whether any grant gives the principal an action of
// action's service ("hss" of "hss:images:list").
func (p *Principal) holdsService(action string) bool {
	service, _, _ := strings.Cut(action, ":")
	for _, actions := range p.Permissions {
		for _, a := range actions {
			if s, _, _ := strings.Cut(a, ":"); s == service || s == "*" {
				return true
			}
		}
	}
	return false
}

// AllGrantedEnterpriseProjects is the enterprise_project_id value that asks
// for every enterprise project the caller may read.
const AllGrantedEnterpriseProjects = "all_granted_eps"

// TokenRequest asks for a token with the password method (spec §4.1). The user
// is named by UserID, or by UserName in the domain named UserDomainName (or
// UserDomainID). The scope is a project (by ProjectID, or ProjectName in the
// user's domain) or a domain (ScopeDomainID or ScopeDomainName).
type TokenRequest struct {
	UserID         string
	UserName       string
	UserDomainName string
	UserDomainID   string
	Password       string

	ProjectID       string
	ProjectName     string
	ScopeDomainID   string
	ScopeDomainName string
}

// IssuedToken is a new token: Secret is what the caller sends back in
// X-Auth-Token; it is shown once and stored only as a hash.
type IssuedToken struct {
	Secret    string
	Principal *Principal
	Methods   []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}
