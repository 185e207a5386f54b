package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"customs"
)

// keystoneTime is how IAM writes instants (spec §4.1).
const keystoneTime = "2006-01-02T15:04:05.000000Z"

// Keystone token request (spec §4.1), as Huawei IAM takes it.
type tokenRequestBody struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					ID       string  `json:"id"`
					Name     string  `json:"name"`
					Password string  `json:"password"`
					Domain   *idName `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope *struct {
			Project *idName `json:"project"`
			Domain  *idName `json:"domain"`
		} `json:"scope"`
	} `json:"auth"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// tokenRequest checks the structure of a token request and converts it; iam
// checks that what it needs is there.
func (b *tokenRequestBody) tokenRequest() (customs.TokenRequest, error) {
	missing := func(path string) error {
		return customs.Errorf(customs.EINVALID, "Missing %s in the request body.", path)
	}
	var req customs.TokenRequest
	switch {
	case b.Auth == nil:
		return req, missing("auth")
	case b.Auth.Identity == nil:
		return req, missing("auth.identity")
	case len(b.Auth.Identity.Methods) == 0:
		return req, missing("auth.identity.methods")
	case !slices.Contains(b.Auth.Identity.Methods, "password"):
		return req, customs.Errorf(customs.EINVALID, "Invalid auth.identity.methods %q; allowed: [\"password\"] (the only method this service supports).", b.Auth.Identity.Methods)
	case b.Auth.Identity.Password == nil:
		return req, missing("auth.identity.password")
	case b.Auth.Identity.Password.User == nil:
		return req, missing("auth.identity.password.user")
	}
	u := b.Auth.Identity.Password.User
	req.UserID, req.UserName, req.Password = u.ID, u.Name, u.Password
	if u.Domain != nil {
		req.UserDomainID, req.UserDomainName = u.Domain.ID, u.Domain.Name
	}
	if sc := b.Auth.Scope; sc != nil {
		switch {
		case sc.Project != nil && sc.Project.ID == "" && sc.Project.Name == "":
			return req, missing("auth.scope.project.id or auth.scope.project.name")
		case sc.Domain != nil && sc.Domain.ID == "" && sc.Domain.Name == "":
			return req, missing("auth.scope.domain.id or auth.scope.domain.name")
		}
		if sc.Project != nil {
			req.ProjectID, req.ProjectName = sc.Project.ID, sc.Project.Name
		}
		if sc.Domain != nil {
			req.ScopeDomainID, req.ScopeDomainName = sc.Domain.ID, sc.Domain.Name
		}
	}
	return req, nil
}

// tokenBody is a Keystone token (KeystoneCreateUserTokenByPassword).
type tokenBody struct {
	Token tokenWire `json:"token"`
}

type tokenWire struct {
	ExpiresAt string        `json:"expires_at"`
	IssuedAt  string        `json:"issued_at"`
	Methods   []string      `json:"methods"`
	Project   *tokenProject `json:"project,omitempty"`
	Domain    *idName       `json:"domain,omitempty"`
	Roles     []idName      `json:"roles"`
	User      tokenUser     `json:"user"`
	Catalog   []struct{}    `json:"catalog"`
}

type tokenProject struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Domain idName `json:"domain"`
}

type tokenUser struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Domain            idName `json:"domain"`
	PasswordExpiresAt string `json:"password_expires_at"`
}

// adminRole is the role a domain's administrator holds.
var adminRole = idName{ID: "0", Name: "admin"}

// toTokenBody is the token of principal p. issuedAt is zero when unknown
// (a validated token's principal does not carry it) and then written empty.
func toTokenBody(p *customs.Principal, methods []string, issuedAt time.Time) tokenBody {
	t := tokenWire{
		ExpiresAt: p.ExpiresAt.UTC().Format(keystoneTime),
		Methods:   methods,
		Roles:     []idName{},
		Catalog:   []struct{}{},
	}
	if !issuedAt.IsZero() {
		t.IssuedAt = issuedAt.UTC().Format(keystoneTime)
	}
	var domain idName
	if p.Domain != nil {
		domain = idName{ID: p.Domain.ID, Name: p.Domain.Name}
	}
	if p.Project != nil {
		t.Project = &tokenProject{ID: p.Project.ID, Name: p.Project.Name, Domain: domain}
	} else {
		t.Domain = &domain
	}
	if p.User != nil {
		t.User = tokenUser{ID: p.User.ID, Name: p.User.Name, Domain: domain}
		if p.User.Admin {
			t.Roles = append(t.Roles, adminRole)
		}
	}
	return tokenBody{Token: t}
}

// issueToken is POST /v3/auth/tokens.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) error {
	var b tokenRequestBody
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	req, err := b.tokenRequest()
	if err != nil {
		return err
	}
	tok, err := s.Auth.IssueToken(r.Context(), req)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	w.Header().Set("X-Subject-Token", tok.Secret)
	writeJSON(w, http.StatusCreated, toTokenBody(tok.Principal, tok.Methods, tok.IssuedAt))
	return nil
}

// subject authenticates the caller and resolves the token in X-Subject-Token,
// which must belong to the caller, or to the caller's domain when the caller
// administers it. Any other subject is "not found", as an invalid one is.
func (s *Server) subject(r *http.Request) (caller *customs.Principal, secret string, err error) {
	caller, err = s.authenticate(r)
	if err != nil {
		return nil, "", err
	}
	secret = r.Header.Get("X-Subject-Token")
	if secret == "" {
		return nil, "", customs.Errorf(customs.EINVALID, "Missing header X-Subject-Token: give the token to validate or revoke.")
	}
	return caller, secret, nil
}

func mayManage(caller, subject *customs.Principal) bool {
	switch {
	case caller.User == nil || subject.User == nil || caller.Domain == nil || subject.Domain == nil:
		return false
	case caller.User.ID == subject.User.ID:
		return true
	}
	return caller.User.Admin && caller.Domain.ID == subject.Domain.ID
}

const msgNoSubject = "The token in X-Subject-Token does not exist."

// subjectToken authenticates the caller and the token it names in
// X-Subject-Token, which the caller must be allowed to manage: its own, or
// any of its domain's for a domain admin. Anything else is "not found".
func (s *Server) subjectToken(r *http.Request) (secret string, subject *customs.Principal, err error) {
	caller, secret, err := s.subject(r)
	if err != nil {
		return "", nil, err
	}
	p, err := s.Auth.Authenticate(r.Context(), secret)
	switch {
	case customs.ErrorCode(err) == customs.EUNAUTHORIZED:
		return "", nil, customs.Errorf(customs.ENOTFOUND, "The token in X-Subject-Token is not valid: %s", customs.ErrorMessage(err))
	case err != nil:
		return "", nil, fmt.Errorf("authenticate the subject token: %w", err)
	case !mayManage(caller, p):
		return "", nil, customs.Errorf(customs.ENOTFOUND, msgNoSubject)
	}
	return secret, p, nil
}

// validateToken is GET /v3/auth/tokens.
func (s *Server) validateToken(w http.ResponseWriter, r *http.Request) error {
	secret, p, err := s.subjectToken(r)
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", secret)
	writeJSON(w, http.StatusOK, toTokenBody(p, []string{"password"}, p.IssuedAt))
	return nil
}

// revokeToken is DELETE /v3/auth/tokens.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	secret, _, err := s.subjectToken(r)
	if err != nil {
		return err
	}
	if err := s.Auth.RevokeToken(r.Context(), secret); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type projectList struct {
	Projects []projectRecord `json:"projects"`
	Links    listLinks       `json:"links"`
}

type projectRecord struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DomainID    string    `json:"domain_id"`
	Enabled     bool      `json:"enabled"`
	Description string    `json:"description"`
	IsDomain    bool      `json:"is_domain"`
	ParentID    string    `json:"parent_id"`
	Links       selfLinks `json:"links"`
}

type selfLinks struct {
	Self string `json:"self"`
}

type listLinks struct {
	Self     string  `json:"self"`
	Previous *string `json:"previous"`
	Next     *string `json:"next"`
}

// listProjects is GET /v3/projects: the caller's projects, by name when
// name is given (the SDK finds a region's project id this way, with a
// request signed by an access key and no X-Project-Id).
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.authenticate(r)
	if err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	name := q.str("name", 1, 256)
	if q.err != nil {
		return q.err
	}
	ps, err := s.Auth.Projects(r.Context(), caller, name)
	if err != nil {
		return fmt.Errorf("list projects: %w", err)
	}
	out := projectList{Projects: []projectRecord{}, Links: listLinks{Self: baseURL(r) + r.URL.RequestURI()}}
	for _, p := range ps {
		out.Projects = append(out.Projects, toProjectRecord(r, p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func toProjectRecord(r *http.Request, p *customs.Project) projectRecord {
	return projectRecord{
		ID:       p.ID,
		Name:     p.Name,
		DomainID: p.DomainID,
		Enabled:  p.Enabled,
		ParentID: p.DomainID,
		Links:    selfLinks{Self: baseURL(r) + "/v3/projects/" + url.PathEscape(p.ID)},
	}
}

// baseURL is the URL the client reached this server at.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
