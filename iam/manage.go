package iam

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

	"customs"
)

// The administration of a domain: its users, groups, projects, enterprise
// projects, policies, grants and access keys. Only the domain's
// administrators may change them; a user may read itself and manage its own
// password and access keys. Every call stays inside the caller's domain.

// authenticated refuses a request without a caller.
func authenticated(caller *customs.Principal) error {
	if caller == nil || caller.User == nil || caller.Domain == nil {
		return customs.Errorf(customs.EUNAUTHORIZED, "The request carries no credentials.")
	}
	return nil
}

// admin refuses a caller that is not an administrator of its domain.
func admin(caller *customs.Principal, what string) error {
	if err := authenticated(caller); err != nil {
		return err
	}
	if !caller.User.Admin {
		return customs.Errorf(customs.EFORBIDDEN, "Only an administrator of the domain may %s.", what)
	}
	return nil
}

// selfOrAdmin refuses a caller that is neither the user userID nor an
// administrator of its domain.
func selfOrAdmin(caller *customs.Principal, userID, what string) error {
	if caller != nil && caller.User != nil && caller.User.ID == userID {
		return nil
	}
	return admin(caller, what)
}

func checkName(field, v string, max int) error {
	if v == "" || len(v) > max || strings.TrimSpace(v) != v {
		return customs.Errorf(customs.EINVALID, "Invalid parameter %s: %q; allowed: 1 to %d characters, without leading or trailing spaces.", field, v, max)
	}
	return nil
}

func checkPasswordPolicy(password string) error {
	if len(password) < MinPasswordLen || len(password) > 128 {
		return customs.Errorf(customs.EINVALID, "Invalid parameter password: %d characters; allowed: %d to 128.", len(password), MinPasswordLen)
	}
	return nil
}

// CreateDomain creates a domain with its administrator and a project named
// after the Region. It is the operator's act (the command line), not an API's.
func (s *Service) CreateDomain(ctx context.Context, name, adminName, password string) (*customs.Domain, *customs.User, *customs.Project, error) {
	if err := checkName("domain name", name, 64); err != nil {
		return nil, nil, nil, err
	}
	if err := checkName("user name", adminName, 64); err != nil {
		return nil, nil, nil, err
	}
	if err := checkPasswordPolicy(password); err != nil {
		return nil, nil, nil, err
	}
	hash, err := hashPassword(ctx, password)
	if err != nil {
		return nil, nil, nil, err
	}
	d := &customs.Domain{ID: newID(), Name: name}
	if err := s.Store.CreateDomain(ctx, d); err != nil {
		return nil, nil, nil, fmt.Errorf("create domain %q: %w", name, err)
	}
	u := &customs.User{ID: newID(), DomainID: d.ID, Name: adminName, PasswordHash: hash, Admin: true, Enabled: true}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, nil, nil, fmt.Errorf("create the administrator of domain %q: %w", name, err)
	}
	p := &customs.Project{ID: newID(), DomainID: d.ID, Name: s.Region, Enabled: true}
	if err := s.Store.CreateProject(ctx, p); err != nil {
		return nil, nil, nil, fmt.Errorf("create the project of domain %q: %w", name, err)
	}
	return d, publicUser(u), p, nil
}

// CreateUser creates a user of the caller's domain.
func (s *Service) CreateUser(ctx context.Context, caller *customs.Principal, name, password string, enabled bool) (*customs.User, error) {
	if err := admin(caller, "create users"); err != nil {
		return nil, err
	}
	if err := checkName("name", name, 64); err != nil {
		return nil, err
	}
	if err := checkPasswordPolicy(password); err != nil {
		return nil, err
	}
	hash, err := hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	u := &customs.User{ID: newID(), DomainID: caller.Domain.ID, Name: name, PasswordHash: hash, Enabled: enabled}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("create user %q: %w", name, err)
	}
	return publicUser(u), nil
}

// Users lists the users of the caller's domain (an administrator), or the
// caller alone.
func (s *Service) Users(ctx context.Context, caller *customs.Principal) ([]*customs.User, error) {
	if err := authenticated(caller); err != nil {
		return nil, err
	}
	if !caller.User.Admin {
		return []*customs.User{caller.User}, nil
	}
	us, err := s.Store.FindUsers(ctx, caller.Domain.ID)
	if err != nil {
		return nil, err
	}
	for i, u := range us {
		us[i] = publicUser(u)
	}
	return us, nil
}

// User returns a user of the caller's domain: itself, or any for an administrator.
func (s *Service) User(ctx context.Context, caller *customs.Principal, id string) (*customs.User, error) {
	if err := selfOrAdmin(caller, id, "read other users"); err != nil {
		return nil, err
	}
	u, err := s.Store.FindUserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.DomainID != caller.Domain.ID {
		return nil, customs.Errorf(customs.ENOTFOUND, "User %q not found.", id)
	}
	return publicUser(u), nil
}

// UpdateUser changes a user: a user may change its own password; the rest,
// and other users, take an administrator. An administrator cannot disable
// itself (the domain would be left without one).
func (s *Service) UpdateUser(ctx context.Context, caller *customs.Principal, id string, upd customs.UserUpdate) (*customs.User, error) {
	self := caller != nil && caller.User != nil && caller.User.ID == id
	if !self || upd.Name != nil || upd.Enabled != nil {
		if err := admin(caller, "change users"); err != nil {
			return nil, err
		}
	}
	u, err := s.Store.FindUserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.DomainID != caller.Domain.ID {
		return nil, customs.Errorf(customs.ENOTFOUND, "User %q not found.", id)
	}
	if upd.Name != nil {
		if err := checkName("name", *upd.Name, 64); err != nil {
			return nil, err
		}
		u.Name = *upd.Name
	}
	if upd.Enabled != nil {
		if self && !*upd.Enabled {
			return nil, customs.Errorf(customs.EINVALID, "Invalid parameter enabled: an administrator cannot disable itself.")
		}
		u.Enabled = *upd.Enabled
	}
	if upd.Password != nil {
		if err := checkPasswordPolicy(*upd.Password); err != nil {
			return nil, err
		}
		if u.PasswordHash, err = hashPassword(ctx, *upd.Password); err != nil {
			return nil, err
		}
	}
	if err := s.Store.UpdateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("update user %q: %w", id, err)
	}
	return publicUser(u), nil
}

// DeleteUser removes a user of the caller's domain with its access keys,
// tokens, memberships and grants. An administrator cannot delete itself.
func (s *Service) DeleteUser(ctx context.Context, caller *customs.Principal, id string) error {
	if err := admin(caller, "delete users"); err != nil {
		return err
	}
	if caller.User.ID == id {
		return customs.Errorf(customs.EINVALID, "An administrator cannot delete itself.")
	}
	return s.Store.DeleteUser(ctx, caller.Domain.ID, id)
}

// CreateGroup creates a group of the caller's domain.
func (s *Service) CreateGroup(ctx context.Context, caller *customs.Principal, name, description string) (*customs.Group, error) {
	if err := admin(caller, "create groups"); err != nil {
		return nil, err
	}
	if err := checkName("name", name, 64); err != nil {
		return nil, err
	}
	g := &customs.Group{DomainID: caller.Domain.ID, Name: name, Description: description}
	if err := s.Store.CreateGroup(ctx, g); err != nil {
		return nil, fmt.Errorf("create group %q: %w", name, err)
	}
	return g, nil
}

// Groups lists the groups of the caller's domain.
func (s *Service) Groups(ctx context.Context, caller *customs.Principal) ([]*customs.Group, error) {
	if err := admin(caller, "list groups"); err != nil {
		return nil, err
	}
	return s.Store.FindGroups(ctx, caller.Domain.ID)
}

// DeleteGroup removes a group of the caller's domain with its grants.
func (s *Service) DeleteGroup(ctx context.Context, caller *customs.Principal, id string) error {
	if err := admin(caller, "delete groups"); err != nil {
		return err
	}
	return s.Store.DeleteGroup(ctx, caller.Domain.ID, id)
}

// AddGroupMember puts a user of the caller's domain in one of its groups.
func (s *Service) AddGroupMember(ctx context.Context, caller *customs.Principal, groupID, userID string) error {
	if err := admin(caller, "change groups"); err != nil {
		return err
	}
	return s.Store.AddGroupMember(ctx, caller.Domain.ID, groupID, userID)
}

// RemoveGroupMember takes a user out of a group of the caller's domain.
func (s *Service) RemoveGroupMember(ctx context.Context, caller *customs.Principal, groupID, userID string) error {
	if err := admin(caller, "change groups"); err != nil {
		return err
	}
	return s.Store.RemoveGroupMember(ctx, caller.Domain.ID, groupID, userID)
}

// GroupMembers lists the users of a group of the caller's domain.
func (s *Service) GroupMembers(ctx context.Context, caller *customs.Principal, groupID string) ([]*customs.User, error) {
	if err := admin(caller, "list groups"); err != nil {
		return nil, err
	}
	us, err := s.Store.FindGroupMembers(ctx, caller.Domain.ID, groupID)
	for i, u := range us {
		us[i] = publicUser(u)
	}
	return us, err
}

// CreateProject creates a project of the caller's domain. Projects are named
// after the region, or the region and a suffix ("local-1_payments"), as
// Huawei Cloud's sub-projects are.
func (s *Service) CreateProject(ctx context.Context, caller *customs.Principal, name string) (*customs.Project, error) {
	if err := admin(caller, "create projects"); err != nil {
		return nil, err
	}
	suffix, ok := strings.CutPrefix(name, s.Region+"_")
	if name != s.Region && (!ok || checkName("name", suffix, 64) != nil || strings.ContainsAny(suffix, "/ ")) {
		return nil, customs.Errorf(customs.EINVALID, "Invalid parameter name: %q; allowed: %q or %q followed by a suffix (letters, digits, - and _).", name, s.Region, s.Region+"_")
	}
	p := &customs.Project{ID: newID(), DomainID: caller.Domain.ID, Name: name, Enabled: true}
	if err := s.Store.CreateProject(ctx, p); err != nil {
		return nil, fmt.Errorf("create project %q: %w", name, err)
	}
	return p, nil
}

// CreateEnterpriseProject creates an enterprise project of the caller's domain.
func (s *Service) CreateEnterpriseProject(ctx context.Context, caller *customs.Principal, name, description string) (*customs.EnterpriseProject, error) {
	if err := admin(caller, "create enterprise projects"); err != nil {
		return nil, err
	}
	if err := checkName("name", name, 64); err != nil {
		return nil, err
	}
	if name == "default" {
		return nil, customs.Errorf(customs.EINVALID, "Invalid parameter name: %q is the default enterprise project's name.", name)
	}
	ep := &customs.EnterpriseProject{DomainID: caller.Domain.ID, Name: name, Description: description, Enabled: true}
	if err := s.Store.CreateEnterpriseProject(ctx, ep); err != nil {
		return nil, fmt.Errorf("create enterprise project %q: %w", name, err)
	}
	return ep, nil
}

// EnterpriseProjects lists the enterprise projects of the caller's domain,
// the default one ("0", "default") first.
func (s *Service) EnterpriseProjects(ctx context.Context, caller *customs.Principal) ([]*customs.EnterpriseProject, error) {
	if err := authenticated(caller); err != nil {
		return nil, err
	}
	eps, err := s.Store.FindEnterpriseProjects(ctx, caller.Domain.ID)
	if err != nil {
		return nil, err
	}
	def := &customs.EnterpriseProject{ID: customs.DefaultEnterpriseProject, DomainID: caller.Domain.ID, Name: "default", Enabled: true}
	return append([]*customs.EnterpriseProject{def}, eps...), nil
}

// SetEnterpriseProject renames, describes, enables or disables an
// enterprise project of the caller's domain.
func (s *Service) SetEnterpriseProject(ctx context.Context, caller *customs.Principal, ep *customs.EnterpriseProject) error {
	if err := admin(caller, "change enterprise projects"); err != nil {
		return err
	}
	if ep.ID == customs.DefaultEnterpriseProject {
		return customs.Errorf(customs.EINVALID, "The default enterprise project cannot be changed.")
	}
	if err := checkName("name", ep.Name, 64); err != nil {
		return err
	}
	ep.DomainID = caller.Domain.ID
	return s.Store.UpdateEnterpriseProject(ctx, ep)
}

// CreatePolicy creates a custom policy of the caller's domain from actions
// ("hss:images:list", "hss:images:set", or patterns with * segments).
func (s *Service) CreatePolicy(ctx context.Context, caller *customs.Principal, name, description string, actions []string) (*customs.Policy, error) {
	if err := admin(caller, "create policies"); err != nil {
		return nil, err
	}
	if err := checkName("name", name, 64); err != nil {
		return nil, err
	}
	if len(actions) == 0 {
		return nil, customs.Errorf(customs.EINVALID, "Invalid parameter actions: empty; allowed: one or more actions such as %s or %s.", customs.ActionImagesList, customs.ActionImagesSet)
	}
	for _, a := range actions {
		parts := strings.Split(a, ":")
		if len(parts) != 3 || slices.Contains(parts, "") {
			return nil, customs.Errorf(customs.EINVALID, "Invalid parameter actions: %q; allowed: service:resource:verb, each part a name or *.", a)
		}
	}
	p := &customs.Policy{DomainID: caller.Domain.ID, Name: name, Description: description, Actions: actions}
	if err := s.Store.CreatePolicy(ctx, p); err != nil {
		return nil, fmt.Errorf("create policy %q: %w", name, err)
	}
	return p, nil
}

// Policies lists the system policies and the custom policies of the caller's domain.
func (s *Service) Policies(ctx context.Context, caller *customs.Principal) ([]*customs.Policy, error) {
	if err := authenticated(caller); err != nil {
		return nil, err
	}
	custom, err := s.Store.FindPolicies(ctx, caller.Domain.ID)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(customs.SystemPolicies), custom...), nil
}

// DeletePolicy removes a custom policy of the caller's domain and its grants.
func (s *Service) DeletePolicy(ctx context.Context, caller *customs.Principal, id string) error {
	if err := admin(caller, "delete policies"); err != nil {
		return err
	}
	return s.Store.DeletePolicy(ctx, caller.Domain.ID, id)
}

// Grant gives a policy to a user or group of the caller's domain: in one
// project (every enterprise project), or in one enterprise project (every
// project of the domain).
func (s *Service) Grant(ctx context.Context, caller *customs.Principal, g *customs.Grant) error {
	if err := admin(caller, "grant policies"); err != nil {
		return err
	}
	g.DomainID = caller.Domain.ID
	switch {
	case (g.UserID == "") == (g.GroupID == ""):
		return customs.Errorf(customs.EINVALID, "A grant is given to one user or one group.")
	case (g.ProjectID == "") == (g.EnterpriseProjectID == customs.AllEnterpriseProjectsGrant || g.EnterpriseProjectID == ""):
		return customs.Errorf(customs.EINVALID, "A grant is given in one project (every enterprise project of it) or in one enterprise project (every project).")
	}
	if g.EnterpriseProjectID == "" {
		g.EnterpriseProjectID = customs.AllEnterpriseProjectsGrant
	}
	policies, err := s.Policies(ctx, caller)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(policies, func(p *customs.Policy) bool { return p.ID == g.PolicyID }) {
		return customs.Errorf(customs.ENOTFOUND, "Policy %q not found.", g.PolicyID)
	}
	if ep := g.EnterpriseProjectID; ep != customs.AllEnterpriseProjectsGrant && ep != customs.DefaultEnterpriseProject {
		eps, err := s.Store.FindEnterpriseProjects(ctx, caller.Domain.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(eps, func(e *customs.EnterpriseProject) bool { return e.ID == ep }) {
			return customs.Errorf(customs.ENOTFOUND, "Enterprise project %q not found.", ep)
		}
	}
	return s.Store.CreateGrant(ctx, g)
}

// Grants lists the grants of the caller's domain that match f.
func (s *Service) Grants(ctx context.Context, caller *customs.Principal, f customs.GrantFilter) ([]*customs.Grant, error) {
	if err := admin(caller, "list grants"); err != nil {
		return nil, err
	}
	return s.Store.FindGrants(ctx, caller.Domain.ID, f)
}

// Revoke removes a grant of the caller's domain.
func (s *Service) Revoke(ctx context.Context, caller *customs.Principal, id string) error {
	if err := admin(caller, "revoke grants"); err != nil {
		return err
	}
	return s.Store.DeleteGrant(ctx, caller.Domain.ID, id)
}

// MaxCredentials is how many access keys a user may have, as in Huawei IAM.
const MaxCredentials = 2

// CreateCredential creates an access key for a user of the caller's domain
// (itself, or any for an administrator) and returns it with its secret key,
// which is shown this once.
func (s *Service) CreateCredential(ctx context.Context, caller *customs.Principal, userID, description string) (*customs.Credential, string, error) {
	if err := selfOrAdmin(caller, userID, "create access keys for other users"); err != nil {
		return nil, "", err
	}
	if len(description) > 255 {
		return nil, "", customs.Errorf(customs.EINVALID, "Invalid parameter description: %d characters; allowed: up to 255.", len(description))
	}
	u, err := s.Store.FindUserByID(ctx, userID)
	if err != nil || u.DomainID != caller.Domain.ID {
		return nil, "", customs.Errorf(customs.ENOTFOUND, "User %q not found.", userID)
	}
	existing, err := s.Store.FindCredentials(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	if len(existing) >= MaxCredentials {
		return nil, "", customs.Errorf(customs.ECONFLICT, "The user has %d access keys, the most allowed; delete one first.", len(existing))
	}
	c := &customs.Credential{AccessKey: randomString(20, upperDigits), UserID: userID, DomainID: u.DomainID, Description: description, Status: customs.CredentialActive}
	secret := randomString(40, alphaDigits)
	if err := s.Store.CreateCredential(ctx, c, secret); err != nil {
		return nil, "", fmt.Errorf("create access key for user %q: %w", userID, err)
	}
	s.logger().InfoContext(ctx, "access key created", "access_key", c.AccessKey, "user_id", userID)
	return c, secret, nil
}

// Credentials lists the access keys of a user of the caller's domain: its
// own (userID empty or its id), or any user's for an administrator.
func (s *Service) Credentials(ctx context.Context, caller *customs.Principal, userID string) ([]*customs.Credential, error) {
	if userID == "" && caller != nil && caller.User != nil {
		userID = caller.User.ID
	}
	if err := selfOrAdmin(caller, userID, "list other users' access keys"); err != nil {
		return nil, err
	}
	cs, err := s.Store.FindCredentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(cs, func(c *customs.Credential) bool { return c.DomainID != caller.Domain.ID }), nil
}

// Credential returns an access key the caller may see.
func (s *Service) Credential(ctx context.Context, caller *customs.Principal, accessKey string) (*customs.Credential, error) {
	c, _, err := s.Store.FindCredential(ctx, accessKey)
	if err != nil || caller == nil || caller.Domain == nil || c.DomainID != caller.Domain.ID || selfOrAdmin(caller, c.UserID, "") != nil {
		return nil, customs.Errorf(customs.ENOTFOUND, "Access key %q not found.", accessKey)
	}
	return c, nil
}

// DeleteCredential removes an access key the caller may manage.
func (s *Service) DeleteCredential(ctx context.Context, caller *customs.Principal, accessKey string) error {
	c, err := s.Credential(ctx, caller, accessKey)
	if err != nil {
		return err
	}
	return s.Store.DeleteCredential(ctx, c.DomainID, accessKey)
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alphaDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// randomString returns n characters drawn uniformly from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		// Reject values past the largest multiple of len(alphabet): no bias.
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}
