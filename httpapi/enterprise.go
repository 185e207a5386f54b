package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"customs"
)

// Enterprise projects, as Huawei's Enterprise Project Management Service
// (EPS) API shapes them.

// epsTime is how EPS writes instants.
const epsTime = "2006-01-02T15:04:05Z"

// Enterprise project states (EPS status).
const (
	epEnabled  = 1
	epDisabled = 2
)

// Paging of the enterprise project list (EPS ListEnterpriseProject).
const (
	maxEPListLimit = 1000
	maxEPNameLen   = 64
	maxEPDescLen   = 512
)

type enterpriseProjectRecord struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Status      int    `json:"status"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// toEnterpriseProjectRecord writes ep. The default enterprise project has
// no row and no time of its own: it exists since its domain does. Changes
// are not timed, so updated_at is the creation time.
func toEnterpriseProjectRecord(caller *customs.Principal, ep *customs.EnterpriseProject) enterpriseProjectRecord {
	createdAt := ep.CreatedAt
	if createdAt.IsZero() && caller.Domain != nil {
		createdAt = caller.Domain.CreatedAt
	}
	rec := enterpriseProjectRecord{
		ID:          ep.ID,
		Name:        ep.Name,
		Description: ep.Description,
		Status:      epEnabled,
		CreatedAt:   createdAt.UTC().Format(epsTime),
		UpdatedAt:   createdAt.UTC().Format(epsTime),
	}
	if !ep.Enabled {
		rec.Status = epDisabled
	}
	return rec
}

type enterpriseProjectBody struct {
	EnterpriseProject enterpriseProjectRecord `json:"enterprise_project"`
}

// enterpriseProjectRequest is the body of an enterprise project's creation
// or change.
type enterpriseProjectRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (b *enterpriseProjectRequest) validate() error {
	if b.Name == nil {
		return missingParam("name", lengths(1, maxEPNameLen))
	}
	if b.Description != nil {
		return checkLen("description", *b.Description, 0, maxEPDescLen)
	}
	return nil
}

// createEnterpriseProject is POST /v1.0/enterprise-projects.
func (s *Server) createEnterpriseProject(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b enterpriseProjectRequest
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	var description string
	if b.Description != nil {
		description = *b.Description
	}
	ep, err := s.IAM.CreateEnterpriseProject(r.Context(), caller, *b.Name, description)
	if err != nil {
		return fmt.Errorf("create enterprise project: %w", err)
	}
	writeJSON(w, http.StatusOK, enterpriseProjectBody{toEnterpriseProjectRecord(caller, ep)})
	return nil
}

// listEnterpriseProjects is GET /v1.0/enterprise-projects: the domain's
// enterprise projects, the default one first. name matches as a substring
// (EPS: "fuzzy search"); total_count counts every match, before the page.
func (s *Server) listEnterpriseProjects(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	name := q.str("name", 1, maxEPNameLen)
	id := q.str("id", 1, maxEPIDLen)
	status := q.int("status", epEnabled, epDisabled, 0)
	offset := int(q.int("offset", 0, maxOffset, 0))
	limit := int(q.int("limit", 1, maxEPListLimit, maxEPListLimit))
	if q.err != nil {
		return q.err
	}
	eps, err := s.IAM.EnterpriseProjects(r.Context(), caller)
	if err != nil {
		return fmt.Errorf("list enterprise projects: %w", err)
	}
	var recs []enterpriseProjectRecord
	for _, ep := range eps {
		rec := toEnterpriseProjectRecord(caller, ep)
		if strings.Contains(rec.Name, name) && (id == "" || rec.ID == id) && (status == 0 || int64(rec.Status) == status) {
			recs = append(recs, rec)
		}
	}
	out := struct {
		EnterpriseProjects []enterpriseProjectRecord `json:"enterprise_projects"`
		TotalCount         int                       `json:"total_count"`
	}{EnterpriseProjects: []enterpriseProjectRecord{}, TotalCount: len(recs)}
	out.EnterpriseProjects = append(out.EnterpriseProjects, recs[min(offset, len(recs)):min(offset+limit, len(recs))]...)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// enterpriseProject returns the enterprise project of the caller's domain
// named in the path.
func (s *Server) enterpriseProject(r *http.Request, caller *customs.Principal) (*customs.EnterpriseProject, error) {
	id := r.PathValue("id")
	eps, err := s.IAM.EnterpriseProjects(r.Context(), caller)
	if err != nil {
		return nil, fmt.Errorf("list enterprise projects: %w", err)
	}
	i := slices.IndexFunc(eps, func(ep *customs.EnterpriseProject) bool { return ep.ID == id })
	if i < 0 {
		return nil, customs.Errorf(customs.ENOTFOUND, "Enterprise project %q not found.", truncate(id))
	}
	return eps[i], nil
}

// showEnterpriseProject is GET /v1.0/enterprise-projects/{id}.
func (s *Server) showEnterpriseProject(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	ep, err := s.enterpriseProject(r, caller)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, enterpriseProjectBody{toEnterpriseProjectRecord(caller, ep)})
	return nil
}

// updateEnterpriseProject is PUT /v1.0/enterprise-projects/{id}: a new name,
// and a new description when one is given.
func (s *Server) updateEnterpriseProject(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b enterpriseProjectRequest
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	ep, err := s.enterpriseProject(r, caller)
	if err != nil {
		return err
	}
	ep.Name = *b.Name
	if b.Description != nil {
		ep.Description = *b.Description
	}
	if err := s.IAM.SetEnterpriseProject(r.Context(), caller, ep); err != nil {
		return fmt.Errorf("update enterprise project: %w", err)
	}
	writeJSON(w, http.StatusOK, enterpriseProjectBody{toEnterpriseProjectRecord(caller, ep)})
	return nil
}

var enterpriseProjectActions = []string{"enable", "disable"}

// enterpriseProjectAction is POST /v1.0/enterprise-projects/{id}/action:
// enable or disable. Either is accepted in either state.
func (s *Server) enterpriseProjectAction(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b struct {
		Action *string `json:"action"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.Action == nil:
		return missingParam("action", oneOf(enterpriseProjectActions))
	case !slices.Contains(enterpriseProjectActions, *b.Action):
		return invalidParam("action", *b.Action, oneOf(enterpriseProjectActions))
	}
	ep, err := s.enterpriseProject(r, caller)
	if err != nil {
		return err
	}
	ep.Enabled = *b.Action == "enable"
	if err := s.IAM.SetEnterpriseProject(r.Context(), caller, ep); err != nil {
		return fmt.Errorf("%s enterprise project: %w", *b.Action, err)
	}
	return noContent(w)
}
