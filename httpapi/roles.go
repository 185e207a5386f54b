package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"customs"
)

// Roles are policies, as Huawei IAM calls both: the system policies and a
// domain's custom ones. A grant gives a role to a user or a group in one
// project, or in one enterprise project (of every project of the domain).

// policyVersion is the only policy language version accepted (Huawei IAM's
// fine-grained policies).
const policyVersion = "1.1"

// Role types: Huawei IAM writes "AA" for system policies and "AX" (global)
// or "XA" (project-level) for custom ones.
const (
	roleTypeSystem = "AA"
	roleTypeCustom = "AX"
)

var customRoleTypes = []string{"AX", "XA"}

type roleRecord struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	DisplayName string     `json:"display_name"`
	Description string     `json:"description"`
	Type        string     `json:"type"`
	DomainID    *string    `json:"domain_id"` // null for a system policy
	Policy      rolePolicy `json:"policy"`
	Links       selfLinks  `json:"links"`
}

type rolePolicy struct {
	Version   string          `json:"Version"`
	Statement []roleStatement `json:"Statement"`
}

type roleStatement struct {
	Effect string   `json:"Effect"`
	Action []string `json:"Action"`
}

// toRoleRecord is a policy as a role: a system policy is named by its id,
// a custom one by its display name.
func toRoleRecord(r *http.Request, p *customs.Policy) roleRecord {
	rec := roleRecord{
		ID:          p.ID,
		Name:        p.Name,
		DisplayName: p.Name,
		Description: p.Description,
		Type:        roleTypeCustom,
		Policy:      rolePolicy{Version: policyVersion, Statement: []roleStatement{{Effect: "Allow", Action: p.Actions}}},
		Links:       selfLinks{Self: baseURL(r) + "/v3/roles/" + url.PathEscape(p.ID)},
	}
	if p.DomainID == "" {
		rec.Name, rec.Type = p.ID, roleTypeSystem
	} else {
		rec.DomainID = &p.DomainID
	}
	return rec
}

type roleList struct {
	Roles []roleRecord `json:"roles"`
	Links listLinks    `json:"links"`
}

// listRoles is GET /v3/roles: the system policies and the domain's custom
// ones, by name or display_name when given.
func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	name := q.str("name", 1, 128)
	displayName := q.str("display_name", 1, 128)
	if q.err != nil {
		return q.err
	}
	ps, err := s.IAM.Policies(r.Context(), caller)
	if err != nil {
		return fmt.Errorf("list roles: %w", err)
	}
	out := roleList{Roles: []roleRecord{}, Links: listLinks{Self: baseURL(r) + r.URL.RequestURI()}}
	for _, p := range ps {
		rec := toRoleRecord(r, p)
		if (name == "" || rec.Name == name) && (displayName == "" || rec.DisplayName == displayName) {
			out.Roles = append(out.Roles, rec)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// showRole is GET /v3/roles/{role_id}.
func (s *Server) showRole(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	id := r.PathValue("role_id")
	ps, err := s.IAM.Policies(r.Context(), caller)
	if err != nil {
		return fmt.Errorf("list roles: %w", err)
	}
	i := slices.IndexFunc(ps, func(p *customs.Policy) bool { return p.ID == id })
	if i < 0 {
		return customs.Errorf(customs.ENOTFOUND, "Role %q not found.", truncate(id))
	}
	writeJSON(w, http.StatusOK, struct {
		Role roleRecord `json:"role"`
	}{toRoleRecord(r, ps[i])})
	return nil
}

// createRole is POST /v3.0/OS-ROLE/roles: a custom policy of the caller's
// domain. Only Allow statements without conditions or resources can be
// enforced here; the actions of every statement form the policy.
func (s *Server) createRole(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b struct {
		Role *struct {
			DisplayName *string `json:"display_name"`
			Type        *string `json:"type"`
			Description *string `json:"description"`
			Policy      *struct {
				Version   *string `json:"Version"`
				Statement []struct {
					Effect    *string   `json:"Effect"`
					Action    []string  `json:"Action"`
					Condition *struct{} `json:"Condition"`
					Resource  []string  `json:"Resource"`
				} `json:"Statement"`
			} `json:"policy"`
		} `json:"role"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	role := b.Role
	switch {
	case role == nil:
		return missingParam("role", "an object with display_name and policy")
	case role.DisplayName == nil:
		return missingParam("role.display_name", lengths(1, 64))
	case role.Policy == nil:
		return missingParam("role.policy", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":[...]}]}`)
	case role.Policy.Version == nil:
		return missingParam("role.policy.Version", `"1.1"`)
	case *role.Policy.Version != policyVersion:
		return invalidParam("role.policy.Version", *role.Policy.Version, `"1.1"`)
	case len(role.Policy.Statement) == 0:
		return missingParam("role.policy.Statement", "a non-empty list of statements")
	}
	if role.Type != nil && !slices.Contains(customRoleTypes, *role.Type) {
		return invalidParam("role.type", *role.Type, oneOf(customRoleTypes))
	}
	var description string
	if role.Description != nil {
		description = *role.Description
		if err := checkLen("role.description", description, 0, 256); err != nil {
			return err
		}
	}
	var actions []string
	for i, st := range role.Policy.Statement {
		path := fmt.Sprintf("role.policy.Statement[%d]", i)
		switch {
		case st.Effect == nil:
			return missingParam(path+".Effect", `"Allow"`)
		case *st.Effect != "Allow":
			return invalidParam(path+".Effect", *st.Effect, `"Allow" (the only effect this service enforces)`)
		case len(st.Action) == 0:
			return missingParam(path+".Action", "a non-empty list of actions such as "+customs.ActionImagesList)
		case st.Condition != nil:
			return invalidParam(path+".Condition", "{...}", "absent (this service does not enforce conditions)")
		case st.Resource != nil:
			return invalidParam(path+".Resource", fmt.Sprint(st.Resource), "absent (this service does not enforce resources)")
		}
		for _, a := range st.Action {
			if !slices.Contains(actions, a) {
				actions = append(actions, a)
			}
		}
	}
	p, err := s.IAM.CreatePolicy(r.Context(), caller, *role.DisplayName, description, actions)
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return created(w, struct {
		Role roleRecord `json:"role"`
	}{toRoleRecord(r, p)})
}

// deleteRole is DELETE /v3.0/OS-ROLE/roles/{role_id}.
func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	id := r.PathValue("role_id")
	if slices.ContainsFunc(customs.SystemPolicies, func(p *customs.Policy) bool { return p.ID == id }) {
		return customs.Errorf(customs.EFORBIDDEN, "Role %q is a system policy, the same in every domain; only custom policies can be deleted.", id)
	}
	if err := s.IAM.DeletePolicy(r.Context(), caller, id); err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	return noContent(w)
}

// granteeKind is the path segment naming who holds a grant.
type granteeKind string

const (
	groupGrantee granteeKind = "groups"
	userGrantee  granteeKind = "users"
)

// grantOf is the grant a grant path names, without its role when the path
// has none: in a project (every enterprise project of it) on
// /v3/projects/..., in an enterprise project (every project) on
// /v3.0/OS-PERMISSION/enterprise-projects/....
func grantOf(r *http.Request, kind granteeKind) customs.Grant {
	g := customs.Grant{PolicyID: r.PathValue("role_id"), ProjectID: r.PathValue("project_id")}
	if g.ProjectID != "" {
		g.EnterpriseProjectID = customs.AllEnterpriseProjectsGrant
	} else {
		g.EnterpriseProjectID = r.PathValue("enterprise_project_id")
	}
	if kind == userGrantee {
		g.UserID = r.PathValue("grantee_id")
	} else {
		g.GroupID = r.PathValue("grantee_id")
	}
	return g
}

// sameHolder reports whether grants a and b are held by the same user or
// group in the same project and enterprise project.
func sameHolder(a, b *customs.Grant) bool {
	return a.UserID == b.UserID && a.GroupID == b.GroupID && a.ProjectID == b.ProjectID && a.EnterpriseProjectID == b.EnterpriseProjectID
}

// describeGrant names the holder and scope of a grant in messages.
func describeGrant(g *customs.Grant) string {
	who := fmt.Sprintf("group %q", truncate(g.GroupID))
	if g.UserID != "" {
		who = fmt.Sprintf("user %q", truncate(g.UserID))
	}
	if g.ProjectID != "" {
		return fmt.Sprintf("%s in project %q", who, truncate(g.ProjectID))
	}
	return fmt.Sprintf("%s in enterprise project %q", who, truncate(g.EnterpriseProjectID))
}

// listGrants is GET .../{groups|users}/{id}/roles: the roles granted to a
// group or user in a project or an enterprise project.
func (s *Server) listGrants(kind granteeKind) hssFunc {
	return func(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
		want := grantOf(r, kind)
		grants, err := s.IAM.Grants(r.Context(), caller, customs.GrantFilter{UserID: want.UserID, GroupID: want.GroupID, ProjectID: want.ProjectID})
		if err != nil {
			return fmt.Errorf("list grants: %w", err)
		}
		// Grants of what is not the domain's are none; they are "not
		// found", as every other call says.
		if err := s.grantHolderExists(r, caller, &want); err != nil {
			return err
		}
		policies, err := s.IAM.Policies(r.Context(), caller)
		if err != nil {
			return fmt.Errorf("list roles: %w", err)
		}
		// In the order of the role list, whatever the order of the grants.
		out := roleList{Roles: []roleRecord{}, Links: listLinks{Self: baseURL(r) + r.URL.RequestURI()}}
		for _, p := range policies {
			if slices.ContainsFunc(grants, func(g *customs.Grant) bool { return g.PolicyID == p.ID && sameHolder(g, &want) }) {
				out.Roles = append(out.Roles, toRoleRecord(r, p))
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// grantHolderExists returns ENOTFOUND unless the project or enterprise
// project and the user or group of g are the caller's domain's.
func (s *Server) grantHolderExists(r *http.Request, caller *customs.Principal, g *customs.Grant) error {
	if g.ProjectID != "" {
		ps, err := s.Auth.Projects(r.Context(), caller, "")
		if err != nil {
			return fmt.Errorf("list projects: %w", err)
		}
		if !slices.ContainsFunc(ps, func(p *customs.Project) bool { return p.ID == g.ProjectID }) {
			return customs.Errorf(customs.ENOTFOUND, "Project %q not found.", truncate(g.ProjectID))
		}
	} else {
		eps, err := s.IAM.EnterpriseProjects(r.Context(), caller)
		if err != nil {
			return fmt.Errorf("list enterprise projects: %w", err)
		}
		if !slices.ContainsFunc(eps, func(ep *customs.EnterpriseProject) bool { return ep.ID == g.EnterpriseProjectID }) {
			return customs.Errorf(customs.ENOTFOUND, "Enterprise project %q not found.", truncate(g.EnterpriseProjectID))
		}
	}
	if g.UserID != "" {
		if _, err := s.IAM.User(r.Context(), caller, g.UserID); err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		return nil
	}
	return s.groupExists(r, caller, g.GroupID)
}

// putGrant is PUT .../{groups|users}/{id}/roles/{role_id}. Granting a role
// that is granted already succeeds, as in Keystone.
func (s *Server) putGrant(kind granteeKind) hssFunc {
	return func(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
		g := grantOf(r, kind)
		if err := s.IAM.Grant(r.Context(), caller, &g); err != nil && customs.ErrorCode(err) != customs.ECONFLICT {
			return fmt.Errorf("grant role %q to %s: %w", g.PolicyID, describeGrant(&g), err)
		}
		return noContent(w)
	}
}

// deleteGrant is DELETE .../{groups|users}/{id}/roles/{role_id}.
func (s *Server) deleteGrant(kind granteeKind) hssFunc {
	return func(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
		want := grantOf(r, kind)
		grants, err := s.IAM.Grants(r.Context(), caller, customs.GrantFilter{UserID: want.UserID, GroupID: want.GroupID, ProjectID: want.ProjectID})
		if err != nil {
			return fmt.Errorf("list grants: %w", err)
		}
		i := slices.IndexFunc(grants, func(g *customs.Grant) bool { return g.PolicyID == want.PolicyID && sameHolder(g, &want) })
		if i < 0 {
			return customs.Errorf(customs.ENOTFOUND, "Role %q is not granted to %s.", truncate(want.PolicyID), describeGrant(&want))
		}
		if err := s.IAM.Revoke(r.Context(), caller, grants[i].ID); err != nil {
			return fmt.Errorf("revoke role %q from %s: %w", want.PolicyID, describeGrant(&want), err)
		}
		return noContent(w)
	}
}
