package customs

import (
	"slices"
	"strings"
	"time"
)

// Credential is a permanent access key (AK/SK) of a user. The secret key is
// shown once, when the credential is created; stores keep it sealed.
type Credential struct {
	AccessKey   string
	UserID      string
	DomainID    string
	Description string
	Status      string // "active" or "inactive"
	CreatedAt   time.Time
	LastUsedAt  time.Time
	// Failures counts the bad signatures in a row; LockedUntil is set after
	// too many.
	Failures    int
	LockedUntil time.Time
}

// Credential states.
const (
	CredentialActive   = "active"
	CredentialInactive = "inactive"
)

// Group is a set of users of a domain that grants are given to.
type Group struct {
	ID          string
	DomainID    string
	Name        string
	Description string
	CreatedAt   time.Time
}

// EnterpriseProject groups a domain's resources across its projects.
// DefaultEnterpriseProject ("0") exists in every domain without a row.
type EnterpriseProject struct {
	ID          string
	DomainID    string
	Name        string
	Description string
	Enabled     bool
	CreatedAt   time.Time
}

// Policy is a named set of actions: a system policy, the same in every
// domain, or a custom policy of one domain.
type Policy struct {
	ID          string
	DomainID    string // empty for a system policy
	Name        string
	Description string
	Actions     []string // actions, or patterns with * for any segment ("hss:*:*")
	CreatedAt   time.Time
}

// The system policies.
var (
	PolicyHSSAdmin    = &Policy{ID: "hss-admin", Name: "HSS Administrator", Description: "All operations of Host Security Service.", Actions: []string{"hss:*:*"}}
	PolicyHSSReadOnly = &Policy{ID: "hss-readonly", Name: "HSS ReadOnlyAccess", Description: "Read-only access to Host Security Service.", Actions: []string{"hss:*:list", "hss:*:get"}}
)

// SystemPolicies lists the system policies.
var SystemPolicies = []*Policy{PolicyHSSAdmin, PolicyHSSReadOnly}

// Allows reports whether the policy grants action.
func (p *Policy) Allows(action string) bool {
	return slices.ContainsFunc(p.Actions, func(pattern string) bool { return ActionMatches(pattern, action) })
}

// ActionMatches reports whether an action pattern ("service:resource:verb",
// where a segment may be *) matches action.
func ActionMatches(pattern, action string) bool {
	ps, as := strings.Split(pattern, ":"), strings.Split(action, ":")
	if len(ps) != len(as) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != as[i] {
			return false
		}
	}
	return true
}

// AllEnterpriseProjectsGrant is the EnterpriseProjectID of a grant that
// applies in every enterprise project of its project.
const AllEnterpriseProjectsGrant = "*"

// Grant gives a user or a group a policy, as Huawei IAM does: in one project
// for every enterprise project (a project grant), or in one enterprise
// project in every project of the domain (an enterprise project grant).
type Grant struct {
	ID                  string
	DomainID            string
	UserID              string // one of UserID and GroupID is set
	GroupID             string
	PolicyID            string
	ProjectID           string // empty for every project of the domain
	EnterpriseProjectID string // AllEnterpriseProjectsGrant, or one enterprise project
	CreatedAt           time.Time
}

// GrantFilter selects grants of a domain. Zero values do not filter.
type GrantFilter struct {
	UserID    string
	GroupID   string
	ProjectID string
}

// Permissions are the actions a principal may perform in its project, by
// enterprise project (AllEnterpriseProjectsGrant for every one).
type Permissions map[string][]string

// Allows reports whether action is permitted in enterprise project ep.
func (p Permissions) Allows(action, ep string) bool {
	for _, key := range []string{AllEnterpriseProjectsGrant, ep} {
		if slices.ContainsFunc(p[key], func(pattern string) bool { return ActionMatches(pattern, action) }) {
			return true
		}
	}
	return false
}

// Share gives another domain read access to one repository of a project's
// primary registry until a deadline, or forever (zero Deadline).
type Share struct {
	ID             string
	OwnerDomainID  string
	OwnerProjectID string
	RegistryID     string // the owner project's SwrPrivate registry
	Namespace      string
	Repository     string // the image name inside the namespace
	AccessDomainID string
	AccessDomain   string // the recipient domain's name
	Permit         string // "read"
	Deadline       time.Time
	Description    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ShareFilter selects the shares of a project's primary registry. Zero
// values do not filter.
type ShareFilter struct {
	Namespace      string
	Repository     string
	AccessDomainID string
}

// Shared image states (spec §1.2 shared_status).
const (
	ShareEffective = "effective"
	ShareExpired   = "expired"
)

// Effective reports whether the share is in force at now.
func (s *Share) Effective(now time.Time) bool { return s.Deadline.IsZero() || now.Before(s.Deadline) }

// SignedRequest is what an AK/SK signature covers (spec §4.2): the request
// as it arrived, with its body.
type SignedRequest struct {
	Method        string
	Path          string              // the decoded URL path
	RawQuery      string              // the query as sent (bare keys and encodings matter)
	Header        map[string][]string // canonical header names, as net/http keeps them
	Body          []byte
	Authorization string
}
