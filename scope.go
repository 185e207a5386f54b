package customs

import "slices"

// DefaultEnterpriseProject is the enterprise project every project has.
const DefaultEnterpriseProject = "0"

// Scope is what a query may see: one project and a set of enterprise projects
// in it. Every store method takes a Scope and refuses to run without a
// project, so no query can run unscoped.
type Scope struct {
	ProjectID string
	// AllEnterpriseProjects lets the query see every enterprise project of the
	// project (an administrator asking for all_granted_eps).
	AllEnterpriseProjects bool
	// EnterpriseProjectIDs lists the enterprise projects the query may see
	// when AllEnterpriseProjects is false.
	EnterpriseProjectIDs []string
}

// Validate reports an EINTERNAL error for a scope that would run unscoped or
// see nothing by construction: it is a programming error, never user input.
func (s Scope) Validate() error {
	if s.ProjectID == "" {
		return Errorf(EINTERNAL, "query without a project scope")
	}
	if !s.AllEnterpriseProjects && len(s.EnterpriseProjectIDs) == 0 {
		return Errorf(EINTERNAL, "query without an enterprise project scope")
	}
	return nil
}

// Allows reports whether the scope includes enterprise project ep.
func (s Scope) Allows(ep string) bool {
	return s.AllEnterpriseProjects || slices.Contains(s.EnterpriseProjectIDs, ep)
}

// ProjectScope is the scope of a whole project, for the service's own work
// (synchronization, scanning) on behalf of that project.
func ProjectScope(projectID string) Scope {
	return Scope{ProjectID: projectID, AllEnterpriseProjects: true}
}
