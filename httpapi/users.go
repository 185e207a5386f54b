package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"customs"
)

// Users, groups and projects, as Keystone (Huawei IAM) shapes them.

type userRecord struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DomainID    string    `json:"domain_id"`
	Enabled     bool      `json:"enabled"`
	Description string    `json:"description"`
	Links       selfLinks `json:"links"`
}

func toUserRecord(r *http.Request, u *customs.User) userRecord {
	return userRecord{
		ID:       u.ID,
		Name:     u.Name,
		DomainID: u.DomainID,
		Enabled:  u.Enabled,
		Links:    selfLinks{Self: baseURL(r) + "/v3/users/" + url.PathEscape(u.ID)},
	}
}

type userBody struct {
	User userRecord `json:"user"`
}

type userList struct {
	Users []userRecord `json:"users"`
	Links listLinks    `json:"links"`
}

// userRequest is the body of a user's creation or change.
type userRequest struct {
	User *struct {
		Name        *string `json:"name"`
		Password    *string `json:"password"`
		Enabled     *bool   `json:"enabled"`
		DomainID    *string `json:"domain_id"`
		Description *string `json:"description"`
	} `json:"user"`
}

// createUser is POST /v3/users.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b userRequest
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.User == nil:
		return missingParam("user", "an object with name and password")
	case b.User.Name == nil:
		return missingParam("user.name", lengths(1, 64))
	case b.User.Password == nil:
		return missingParam("user.password", "a password of 8 to 128 characters")
	}
	if err := checkDomain(caller, "user.domain_id", b.User.DomainID); err != nil {
		return err
	}
	if err := noDescription("user.description", b.User.Description); err != nil {
		return err
	}
	enabled := b.User.Enabled == nil || *b.User.Enabled
	u, err := s.IAM.CreateUser(r.Context(), caller, *b.User.Name, *b.User.Password, enabled)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return created(w, userBody{User: toUserRecord(r, u)})
}

// listUsers is GET /v3/users: every user of the domain for an
// administrator, the caller alone for anyone else.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	name := q.str("name", 1, 64)
	enabled := q.bool("enabled")
	domainID, hasDomain := q.get("domain_id")
	if q.err != nil {
		return q.err
	}
	if hasDomain {
		if err := checkDomain(caller, "domain_id", &domainID); err != nil {
			return err
		}
	}
	us, err := s.IAM.Users(r.Context(), caller)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	out := userList{Users: []userRecord{}, Links: listLinks{Self: baseURL(r) + r.URL.RequestURI()}}
	for _, u := range us {
		if (name == "" || u.Name == name) && (enabled == nil || u.Enabled == *enabled) {
			out.Users = append(out.Users, toUserRecord(r, u))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// showUser is GET /v3/users/{user_id}.
func (s *Server) showUser(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	u, err := s.IAM.User(r.Context(), caller, r.PathValue("user_id"))
	if err != nil {
		return fmt.Errorf("show user: %w", err)
	}
	writeJSON(w, http.StatusOK, userBody{User: toUserRecord(r, u)})
	return nil
}

// updateUser is PATCH /v3/users/{user_id}.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b userRequest
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if b.User == nil {
		return missingParam("user", "an object with name, password or enabled")
	}
	if err := checkDomain(caller, "user.domain_id", b.User.DomainID); err != nil {
		return err
	}
	if err := noDescription("user.description", b.User.Description); err != nil {
		return err
	}
	upd := customs.UserUpdate{Name: b.User.Name, Password: b.User.Password, Enabled: b.User.Enabled}
	if upd == (customs.UserUpdate{}) {
		return missingParam("user.name, user.password or user.enabled", "at least one of them: the change to make")
	}
	u, err := s.IAM.UpdateUser(r.Context(), caller, r.PathValue("user_id"), upd)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	writeJSON(w, http.StatusOK, userBody{User: toUserRecord(r, u)})
	return nil
}

// deleteUser is DELETE /v3/users/{user_id}.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	if err := s.IAM.DeleteUser(r.Context(), caller, r.PathValue("user_id")); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return noContent(w)
}

type groupRecord struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	DomainID    string    `json:"domain_id"`
	Links       selfLinks `json:"links"`
}

func toGroupRecord(r *http.Request, g *customs.Group) groupRecord {
	return groupRecord{
		ID:          g.ID,
		Name:        g.Name,
		Description: g.Description,
		DomainID:    g.DomainID,
		Links:       selfLinks{Self: baseURL(r) + "/v3/groups/" + url.PathEscape(g.ID)},
	}
}

// createGroup is POST /v3/groups.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b struct {
		Group *struct {
			Name        *string `json:"name"`
			Description *string `json:"description"`
			DomainID    *string `json:"domain_id"`
		} `json:"group"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.Group == nil:
		return missingParam("group", "an object with name")
	case b.Group.Name == nil:
		return missingParam("group.name", lengths(1, 64))
	}
	if err := checkDomain(caller, "group.domain_id", b.Group.DomainID); err != nil {
		return err
	}
	var description string
	if b.Group.Description != nil {
		description = *b.Group.Description
		if err := checkLen("group.description", description, 0, 255); err != nil {
			return err
		}
	}
	g, err := s.IAM.CreateGroup(r.Context(), caller, *b.Group.Name, description)
	if err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	return created(w, struct {
		Group groupRecord `json:"group"`
	}{toGroupRecord(r, g)})
}

// listGroups is GET /v3/groups.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	name := q.str("name", 1, 64)
	domainID, hasDomain := q.get("domain_id")
	if q.err != nil {
		return q.err
	}
	if hasDomain {
		if err := checkDomain(caller, "domain_id", &domainID); err != nil {
			return err
		}
	}
	gs, err := s.IAM.Groups(r.Context(), caller)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	out := struct {
		Groups []groupRecord `json:"groups"`
		Links  listLinks     `json:"links"`
	}{Groups: []groupRecord{}, Links: listLinks{Self: baseURL(r) + r.URL.RequestURI()}}
	for _, g := range gs {
		if name == "" || g.Name == name {
			out.Groups = append(out.Groups, toGroupRecord(r, g))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// showGroup is GET /v3/groups/{group_id}.
func (s *Server) showGroup(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	g, err := s.group(r, caller, r.PathValue("group_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Group groupRecord `json:"group"`
	}{toGroupRecord(r, g)})
	return nil
}

// deleteGroup is DELETE /v3/groups/{group_id}.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	if err := s.IAM.DeleteGroup(r.Context(), caller, r.PathValue("group_id")); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return noContent(w)
}

// listGroupUsers is GET /v3/groups/{group_id}/users.
func (s *Server) listGroupUsers(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	groupID := r.PathValue("group_id")
	// The members of a group that is not the domain's would be an empty
	// list; it is "not found", as every other call says.
	if err := s.groupExists(r, caller, groupID); err != nil {
		return err
	}
	us, err := s.IAM.GroupMembers(r.Context(), caller, groupID)
	if err != nil {
		return fmt.Errorf("list users of group: %w", err)
	}
	out := userList{Users: []userRecord{}, Links: listLinks{Self: baseURL(r) + r.URL.RequestURI()}}
	for _, u := range us {
		out.Users = append(out.Users, toUserRecord(r, u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// group returns the group of the caller's domain with id groupID:
// ENOTFOUND if there is none, EFORBIDDEN for a caller who may not list
// groups.
func (s *Server) group(r *http.Request, caller *customs.Principal, groupID string) (*customs.Group, error) {
	gs, err := s.IAM.Groups(r.Context(), caller)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	i := slices.IndexFunc(gs, func(g *customs.Group) bool { return g.ID == groupID })
	if i < 0 {
		return nil, customs.Errorf(customs.ENOTFOUND, "Group %q not found.", truncate(groupID))
	}
	return gs[i], nil
}

// groupExists is group for a caller that needs only to know it exists.
func (s *Server) groupExists(r *http.Request, caller *customs.Principal, groupID string) error {
	_, err := s.group(r, caller, groupID)
	return err
}

// addGroupUser is PUT /v3/groups/{group_id}/users/{user_id}.
func (s *Server) addGroupUser(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	if err := s.IAM.AddGroupMember(r.Context(), caller, r.PathValue("group_id"), r.PathValue("user_id")); err != nil {
		return fmt.Errorf("add user to group: %w", err)
	}
	return noContent(w)
}

// removeGroupUser is DELETE /v3/groups/{group_id}/users/{user_id}.
func (s *Server) removeGroupUser(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	if err := s.IAM.RemoveGroupMember(r.Context(), caller, r.PathValue("group_id"), r.PathValue("user_id")); err != nil {
		return fmt.Errorf("remove user from group: %w", err)
	}
	return noContent(w)
}

// createProject is POST /v3/projects. The name is the region's, or the
// region's and a suffix ("region_suffix").
func (s *Server) createProject(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b struct {
		Project *struct {
			Name        *string `json:"name"`
			DomainID    *string `json:"domain_id"`
			Description *string `json:"description"`
		} `json:"project"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.Project == nil:
		return missingParam("project", "an object with name")
	case b.Project.Name == nil:
		return missingParam("project.name", fmt.Sprintf("%q or %q followed by a suffix", s.Region, s.Region+"_"))
	}
	if err := checkDomain(caller, "project.domain_id", b.Project.DomainID); err != nil {
		return err
	}
	if err := noDescription("project.description", b.Project.Description); err != nil {
		return err
	}
	p, err := s.IAM.CreateProject(r.Context(), caller, *b.Project.Name)
	if err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	return created(w, struct {
		Project projectRecord `json:"project"`
	}{toProjectRecord(r, p)})
}
