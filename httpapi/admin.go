package httpapi

import (
	"context"
	"net/http"

	"customs"
)

// IdentityAdmin administers the caller's domain: users, groups, projects,
// enterprise projects, policies, grants and access keys (implemented by
// iam.Service). Every method acts in the domain of caller and refuses,
// with EFORBIDDEN, what caller may not do; what is not in that domain is
// ENOTFOUND.
type IdentityAdmin interface {
	CreateUser(ctx context.Context, caller *customs.Principal, name, password string, enabled bool) (*customs.User, error)
	Users(ctx context.Context, caller *customs.Principal) ([]*customs.User, error)
	User(ctx context.Context, caller *customs.Principal, id string) (*customs.User, error)
	UpdateUser(ctx context.Context, caller *customs.Principal, id string, upd customs.UserUpdate) (*customs.User, error)
	DeleteUser(ctx context.Context, caller *customs.Principal, id string) error

	CreateGroup(ctx context.Context, caller *customs.Principal, name, description string) (*customs.Group, error)
	Groups(ctx context.Context, caller *customs.Principal) ([]*customs.Group, error)
	DeleteGroup(ctx context.Context, caller *customs.Principal, id string) error
	AddGroupMember(ctx context.Context, caller *customs.Principal, groupID, userID string) error
	RemoveGroupMember(ctx context.Context, caller *customs.Principal, groupID, userID string) error
	GroupMembers(ctx context.Context, caller *customs.Principal, groupID string) ([]*customs.User, error)

	CreateProject(ctx context.Context, caller *customs.Principal, name string) (*customs.Project, error)

	CreateEnterpriseProject(ctx context.Context, caller *customs.Principal, name, description string) (*customs.EnterpriseProject, error)
	EnterpriseProjects(ctx context.Context, caller *customs.Principal) ([]*customs.EnterpriseProject, error)
	SetEnterpriseProject(ctx context.Context, caller *customs.Principal, ep *customs.EnterpriseProject) error

	CreatePolicy(ctx context.Context, caller *customs.Principal, name, description string, actions []string) (*customs.Policy, error)
	Policies(ctx context.Context, caller *customs.Principal) ([]*customs.Policy, error)
	DeletePolicy(ctx context.Context, caller *customs.Principal, id string) error
	Grant(ctx context.Context, caller *customs.Principal, g *customs.Grant) error
	Grants(ctx context.Context, caller *customs.Principal, f customs.GrantFilter) ([]*customs.Grant, error)
	Revoke(ctx context.Context, caller *customs.Principal, id string) error

	CreateCredential(ctx context.Context, caller *customs.Principal, userID, description string) (*customs.Credential, string, error)
	Credentials(ctx context.Context, caller *customs.Principal, userID string) ([]*customs.Credential, error)
	Credential(ctx context.Context, caller *customs.Principal, accessKey string) (*customs.Credential, error)
	DeleteCredential(ctx context.Context, caller *customs.Principal, accessKey string) error
}

// routeIAM adds the IAM administration endpoints, in the shapes of Huawei
// IAM (Keystone /v3 and its /v3.0 extensions) and of the Enterprise Project
// Management Service (/v1.0).
func (s *Server) routeIAM(mux *http.ServeMux) {
	mux.Handle("POST /v3/users", s.iamAPI(s.createUser))
	mux.Handle("GET /v3/users", s.iamAPI(s.listUsers))
	mux.Handle("GET /v3/users/{user_id}", s.iamAPI(s.showUser))
	mux.Handle("PATCH /v3/users/{user_id}", s.iamAPI(s.updateUser))
	mux.Handle("DELETE /v3/users/{user_id}", s.iamAPI(s.deleteUser))

	mux.Handle("POST /v3/groups", s.iamAPI(s.createGroup))
	mux.Handle("GET /v3/groups", s.iamAPI(s.listGroups))
	mux.Handle("GET /v3/groups/{group_id}", s.iamAPI(s.showGroup))
	mux.Handle("DELETE /v3/groups/{group_id}", s.iamAPI(s.deleteGroup))
	mux.Handle("GET /v3/groups/{group_id}/users", s.iamAPI(s.listGroupUsers))
	mux.Handle("PUT /v3/groups/{group_id}/users/{user_id}", s.iamAPI(s.addGroupUser))
	mux.Handle("DELETE /v3/groups/{group_id}/users/{user_id}", s.iamAPI(s.removeGroupUser))

	mux.Handle("POST /v3/projects", s.iamAPI(s.createProject))

	mux.Handle("GET /v3/roles", s.iamAPI(s.listRoles))
	mux.Handle("GET /v3/roles/{role_id}", s.iamAPI(s.showRole))
	mux.Handle("POST /v3.0/OS-ROLE/roles", s.iamAPI(s.createRole))
	mux.Handle("DELETE /v3.0/OS-ROLE/roles/{role_id}", s.iamAPI(s.deleteRole))
	for _, kind := range []granteeKind{groupGrantee, userGrantee} {
		for _, base := range []string{
			"/v3/projects/{project_id}/" + string(kind) + "/{grantee_id}/roles",
			"/v3.0/OS-PERMISSION/enterprise-projects/{enterprise_project_id}/" + string(kind) + "/{grantee_id}/roles",
		} {
			mux.Handle("GET "+base, s.iamAPI(s.listGrants(kind)))
			mux.Handle("PUT "+base+"/{role_id}", s.iamAPI(s.putGrant(kind)))
			mux.Handle("DELETE "+base+"/{role_id}", s.iamAPI(s.deleteGrant(kind)))
		}
	}

	mux.Handle("POST /v1.0/enterprise-projects", s.iamAPI(s.createEnterpriseProject))
	mux.Handle("GET /v1.0/enterprise-projects", s.iamAPI(s.listEnterpriseProjects))
	mux.Handle("GET /v1.0/enterprise-projects/{id}", s.iamAPI(s.showEnterpriseProject))
	mux.Handle("PUT /v1.0/enterprise-projects/{id}", s.iamAPI(s.updateEnterpriseProject))
	mux.Handle("POST /v1.0/enterprise-projects/{id}/action", s.iamAPI(s.enterpriseProjectAction))

	mux.Handle("POST /v3.0/OS-CREDENTIAL/credentials", s.iamAPI(s.createCredential))
	mux.Handle("GET /v3.0/OS-CREDENTIAL/credentials", s.iamAPI(s.listCredentials))
	mux.Handle("GET /v3.0/OS-CREDENTIAL/credentials/{access_key}", s.iamAPI(s.showCredential))
	mux.Handle("DELETE /v3.0/OS-CREDENTIAL/credentials/{access_key}", s.iamAPI(s.deleteCredential))
}

// iamAPI authenticates an IAM administration request: a token, project- or
// domain-scoped, or a signature. What the caller may do there is the
// identity service's decision.
func (s *Server) iamAPI(fn hssFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		return fn(w, r, p)
	})
}

// checkDomain refuses a domain_id, at JSON path field of a body or query,
// that is not the caller's domain: every administration call acts there.
func checkDomain(caller *customs.Principal, field string, domainID *string) error {
	if domainID != nil && (caller.Domain == nil || *domainID != caller.Domain.ID) {
		return customs.Errorf(customs.EFORBIDDEN, "Insufficient permissions: %s %q is not your domain; you may act only in your own domain.", field, truncate(*domainID))
	}
	return nil
}

// noDescription refuses a description, at JSON path field, for a record
// that has none here, rather than accepting and losing it.
func noDescription(field string, v *string) error {
	if v != nil && *v != "" {
		return invalidParam(field, *v, "empty or absent (this service does not keep a description for it)")
	}
	return nil
}

// created answers 201 with v.
func created(w http.ResponseWriter, v any) error {
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// noContent answers 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
