package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"customs"
)

// ShareService keeps the repositories a project shares with other domains
// (implemented by the store).
type ShareService interface {
	CreateShare(ctx context.Context, scope customs.Scope, sh *customs.Share) error
	FindShares(ctx context.Context, scope customs.Scope, f customs.ShareFilter) ([]*customs.Share, error)
	UpdateShare(ctx context.Context, scope customs.Scope, sh *customs.Share) error
	DeleteShare(ctx context.Context, scope customs.Scope, id string) error
}

// The SWR-style sharing API: a repository of the project's primary registry
// shared with another domain, read-only, until a deadline or forever.
//
//	POST   /v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains
//	GET    /v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains
//	PATCH  /v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains/{access_domain}
//	DELETE /v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains/{access_domain}
//
// SWR's own path segment "repos" is accepted as well as "repositories"; a
// repository name with a slash is given with "$" for it, as SWR does.
func (s *Server) shareRoutes(mux *http.ServeMux) {
	for _, seg := range []string{"repositories", "repos"} {
		base := "/v2/manage/namespaces/{namespace}/" + seg + "/{repository}/access-domains"
		mux.Handle("POST "+base, s.swr(s.createShare))
		mux.Handle("GET "+base, s.swr(s.listShares))
		mux.Handle("PATCH "+base+"/{access_domain}", s.swr(s.updateShare))
		mux.Handle("DELETE "+base+"/{access_domain}", s.swr(s.deleteShare))
	}
}

// swr authenticates a request of the sharing API: the project is the one
// the credential is scoped to (the token's, or X-Project-Id for AK/SK).
func (s *Server) swr(fn hssFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if p.Region != s.Region {
			return customs.Errorf(customs.ETOKENREGION, "The token was issued for region %q, not %q.", p.Region, s.Region)
		}
		if p.Project == nil {
			return customs.Errorf(customs.EFORBIDDEN, "Insufficient permissions: the credential is not scoped to a project.")
		}
		return fn(w, r, p)
	})
}

// shareBody is the body of a share's creation or change.
type shareBody struct {
	AccessDomain *string `json:"access_domain"`
	Permit       *string `json:"permit"`
	Deadline     *string `json:"deadline"`
	Description  *string `json:"description"`
}

// shareRecord is a share as SWR lists it.
type shareRecord struct {
	Namespace    string `json:"namespace"`
	Repository   string `json:"repository"`
	AccessDomain string `json:"access_domain"`
	Permit       string `json:"permit"`
	Deadline     string `json:"deadline"`
	Description  string `json:"description"`
	CreatorID    string `json:"creator_id"`
	CreatorName  string `json:"creator_name"`
	Created      string `json:"created"`
	Updated      string `json:"updated"`
	Status       bool   `json:"status"` // in force now
}

// repository reads the namespace and repository of a sharing path.
func repository(r *http.Request) (namespace, repo string, err error) {
	namespace = r.PathValue("namespace")
	repo = strings.ReplaceAll(r.PathValue("repository"), "$", "/")
	if err := checkLen("namespace", namespace, 1, maxNamespaceLen); err != nil {
		return "", "", err
	}
	if err := checkLen("repository", repo, 1, maxImageNameLen); err != nil {
		return "", "", err
	}
	return namespace, repo, nil
}

// deadline parses "forever" (the zero time) or an RFC 3339 time in the future.
func (s *Server) deadline(v string) (time.Time, error) {
	if v == "forever" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || !t.After(s.now()) {
		return time.Time{}, invalidParam("deadline", v, `"forever" or an RFC 3339 time in the future, e.g. 2027-01-01T00:00:00Z`)
	}
	return t.UTC(), nil
}

func (s *Server) createShare(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	ns, repo, err := repository(r)
	if err != nil {
		return err
	}
	var b shareBody
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.AccessDomain == nil || *b.AccessDomain == "":
		return missingParam("access_domain", "the name of the domain to share with")
	case b.Permit == nil || *b.Permit != "read":
		return invalidParam("permit", deref(b.Permit), `"read"`)
	case b.Deadline == nil:
		return missingParam("deadline", `"forever" or an RFC 3339 time`)
	}
	sh := &customs.Share{Namespace: ns, Repository: repo, AccessDomain: *b.AccessDomain, Permit: *b.Permit, Description: deref(b.Description)}
	if sh.Deadline, err = s.deadline(*b.Deadline); err != nil {
		return err
	}
	if err := checkLen("description", sh.Description, 0, 1024); err != nil {
		return err
	}
	scope, err := p.Scope(customs.ActionImagesSet, customs.AllGrantedEnterpriseProjects)
	if err != nil {
		return err
	}
	if !scope.AllEnterpriseProjects {
		return customs.Errorf(customs.EFORBIDDEN, "Insufficient permissions: sharing needs %s in every enterprise project of the project.", customs.ActionImagesSet)
	}
	if err := s.Shares.CreateShare(r.Context(), scope, sh); err != nil {
		return fmt.Errorf("share %s/%s: %w", ns, repo, err)
	}
	writeJSON(w, http.StatusCreated, struct{}{})
	return nil
}

func (s *Server) listShares(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	ns, repo, err := repository(r)
	if err != nil {
		return err
	}
	scope, err := p.Scope(customs.ActionImagesList, customs.AllGrantedEnterpriseProjects)
	if err != nil {
		return err
	}
	shares, err := s.Shares.FindShares(r.Context(), scope, customs.ShareFilter{Namespace: ns, Repository: repo})
	if err != nil {
		return fmt.Errorf("list shares of %s/%s: %w", ns, repo, err)
	}
	out := make([]shareRecord, len(shares))
	for i, sh := range shares {
		out[i] = shareRecord{
			Namespace: sh.Namespace, Repository: strings.ReplaceAll(sh.Repository, "/", "$"), AccessDomain: sh.AccessDomain,
			Permit: sh.Permit, Deadline: "forever", Description: sh.Description,
			CreatorID: p.User.ID, CreatorName: p.User.Name,
			Created: sh.CreatedAt.UTC().Format(time.RFC3339), Updated: sh.UpdatedAt.UTC().Format(time.RFC3339),
			Status: sh.Effective(s.now()),
		}
		if !sh.Deadline.IsZero() {
			out[i].Deadline = sh.Deadline.UTC().Format(time.RFC3339)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// share finds the share a path names.
func (s *Server) share(r *http.Request, scope customs.Scope) (*customs.Share, error) {
	ns, repo, err := repository(r)
	if err != nil {
		return nil, err
	}
	domain := r.PathValue("access_domain")
	shares, err := s.Shares.FindShares(r.Context(), scope, customs.ShareFilter{Namespace: ns, Repository: repo})
	if err != nil {
		return nil, fmt.Errorf("find share: %w", err)
	}
	for _, sh := range shares {
		if sh.AccessDomain == domain {
			return sh, nil
		}
	}
	return nil, customs.Errorf(customs.ENOTFOUND, "The repository %s/%s is not shared with %q.", ns, repo, domain)
}

func (s *Server) updateShare(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	scope, err := p.Scope(customs.ActionImagesSet, customs.AllGrantedEnterpriseProjects)
	if err != nil {
		return err
	}
	sh, err := s.share(r, scope)
	if err != nil {
		return err
	}
	var b shareBody
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	if b.Permit != nil && *b.Permit != "read" {
		return invalidParam("permit", *b.Permit, `"read"`)
	}
	if b.Deadline != nil {
		if sh.Deadline, err = s.deadline(*b.Deadline); err != nil {
			return err
		}
	}
	if b.Description != nil {
		if err := checkLen("description", *b.Description, 0, 1024); err != nil {
			return err
		}
		sh.Description = *b.Description
	}
	if err := s.Shares.UpdateShare(r.Context(), scope, sh); err != nil {
		return fmt.Errorf("update share: %w", err)
	}
	writeJSON(w, http.StatusCreated, struct{}{})
	return nil
}

func (s *Server) deleteShare(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	scope, err := p.Scope(customs.ActionImagesSet, customs.AllGrantedEnterpriseProjects)
	if err != nil {
		return err
	}
	sh, err := s.share(r, scope)
	if err != nil {
		return err
	}
	if err := s.Shares.DeleteShare(r.Context(), scope, sh.ID); err != nil {
		return fmt.Errorf("delete share: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
