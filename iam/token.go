package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"customs"
)

// Token secrets are tokenPrefix followed by 32 random bytes in unpadded
// base64url: 47 characters that need no escaping in a header. The prefix
// versions the format and lets a leaked secret be recognized by scanners.
const (
	tokenPrefix      = "CST1"
	tokenSecretBytes = 32
)

var tokenSecretLen = len(tokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenSecretBytes)

// Failed password logins: MaxFailedLogins within LoginWindow refuse further
// logins of that user for LoginLockout (429), whatever the password.
const (
	MaxFailedLogins = 10
	LoginWindow     = 15 * time.Minute
	LoginLockout    = 15 * time.Minute
)

// loginKey names the user a login attempt is counted against: the user when
// it exists (however the request names it), else the name the request gives.
func loginKey(r customs.TokenRequest, u *customs.User) string {
	if u != nil {
		return "user:" + u.ID
	}
	return "name:" + strings.ToLower(firstNonEmpty(r.UserID, firstNonEmpty(r.UserDomainID, r.UserDomainName)+"/"+r.UserName))
}

// MethodPassword is the token method of a password login.
const MethodPassword = "password"

// Messages of refused credentials. A wrong password and an unknown user get
// the same one, so that a caller cannot probe which users exist.
const (
	msgBadLogin        = "The username or password is wrong."
	msgTokenMalformed  = "The token is malformed: it is not a token this service issues."
	msgTokenUnknown    = "The token is not known to this service (it may have expired long ago); request a new one."
	msgTokenRevoked    = "The token has been revoked; request a new one."
	msgTokenExpired    = "The token has expired; request a new one."
	msgTokenNotFound   = "The token does not exist."
	msgNoUser          = "The user of this credential no longer exists."
	msgUserDisabled    = "The user of this credential is disabled."
	msgNoDomain        = "The domain of this credential no longer exists."
	msgNoProject       = "The project of this credential no longer exists."
	msgProjectDisabled = "The project of this credential is disabled."
)

// IssueToken checks the password of the user the request names and issues a
// token for the requested project or domain (spec §4.1). It does the same
// work whether or not the user exists, so that timing does not tell.
//
// It returns EINVALID for a request that lacks what it needs, naming the
// missing field, and EUNAUTHORIZED for a wrong user or password, a disabled
// user, or a scope the user may not use.
func (s *Service) IssueToken(ctx context.Context, r customs.TokenRequest) (*customs.IssuedToken, error) {
	if err := validateTokenRequest(r); err != nil {
		return nil, err
	}
	u, d, err := s.loginUser(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	key := loginKey(r, u)
	if until, err := s.Store.LoginLockedUntil(ctx, key); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	} else if until.After(s.now()) {
		return nil, customs.Errorf(customs.ERATELIMIT, "Too many failed logins for this user; try again after %s.", until.UTC().Format(time.RFC3339))
	}
	hash, err := dummyHash()
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := checkPassword(ctx, hash, r.Password)
	if err != nil {
		return nil, fmt.Errorf("issue token: check password of user %s: %w", userLabel(r), err)
	}
	if u == nil || !ok {
		if u == nil {
			s.logger().InfoContext(ctx, "login refused: unknown user", "user", userLabel(r))
		} else {
			s.logger().InfoContext(ctx, "login refused: wrong password", "user_id", u.ID)
		}
		if until, err := s.Store.RecordLoginFailure(ctx, key, LoginWindow, MaxFailedLogins, LoginLockout); err != nil {
			return nil, fmt.Errorf("issue token: %w", err)
		} else if !until.IsZero() {
			s.logger().WarnContext(ctx, "logins locked after repeated failures", "user", userLabel(r), "until", until)
		}
		return nil, customs.Errorf(customs.EUNAUTHORIZED, msgBadLogin)
	}
	if err := s.Store.ResetLoginFailures(ctx, key); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	switch {
	case !u.Enabled:
		// The caller has proven the password: telling them is safe and useful.
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The user %q is disabled.", u.Name)
	}

	t := &customs.Token{UserID: u.ID, DomainID: d.ID, Methods: []string{MethodPassword}}
	p := &customs.Principal{User: publicUser(u), Domain: d, Region: s.Region}
	if r.ProjectID != "" || r.ProjectName != "" {
		if p.Project, err = s.scopeProject(ctx, d, r.ProjectID, r.ProjectName); err != nil {
			return nil, err
		}
		t.ProjectID = p.Project.ID
	} else if (r.ScopeDomainID != "" && r.ScopeDomainID != d.ID) || (r.ScopeDomainName != "" && r.ScopeDomainName != d.Name) {
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The domain %q does not exist or is not yours.", firstNonEmpty(r.ScopeDomainID, r.ScopeDomainName))
	}

	secret, hashed, err := newTokenSecret()
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	t.Hash = hashed
	t.IssuedAt = s.now()
	t.ExpiresAt = t.IssuedAt.Add(s.ttl())
	if err := s.Store.CreateToken(ctx, t); err != nil {
		return nil, fmt.Errorf("issue token for user %q: %w", u.ID, err)
	}
	p.IssuedAt, p.ExpiresAt = t.IssuedAt, t.ExpiresAt
	s.logger().InfoContext(ctx, "token issued", "user_id", u.ID, "domain_id", d.ID, "project_id", t.ProjectID, "expires_at", t.ExpiresAt)
	return &customs.IssuedToken{Secret: secret, Principal: p, Methods: t.Methods, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt}, nil
}

func validateTokenRequest(r customs.TokenRequest) error {
	invalid := func(format string, args ...any) error { return customs.Errorf(customs.EINVALID, format, args...) }
	switch {
	case r.UserID == "" && r.UserName == "":
		return invalid("No user: give auth.identity.password.user.name (with auth.identity.password.user.domain.name) or auth.identity.password.user.id.")
	case r.UserID == "" && r.UserDomainName == "" && r.UserDomainID == "":
		return invalid("The user %q is named without its domain: give auth.identity.password.user.domain.name or auth.identity.password.user.domain.id.", r.UserName)
	case r.Password == "":
		return invalid("No password: auth.identity.password.user.password is missing or empty.")
	}
	project := r.ProjectID != "" || r.ProjectName != ""
	domain := r.ScopeDomainID != "" || r.ScopeDomainName != ""
	switch {
	case project && domain:
		return invalid("auth.scope names both a project and a domain; give one of them.")
	case !project && !domain:
		return invalid("No scope: give auth.scope.project.id, auth.scope.project.name, auth.scope.domain.id or auth.scope.domain.name.")
	}
	return nil
}

// loginUser finds the user a token request names, and its domain. It
// returns a nil user, and no error, when there is no such user, or when the
// request's other user fields (a name or domain given beside the id)
// disagree with it.
func (s *Service) loginUser(ctx context.Context, r customs.TokenRequest) (*customs.User, *customs.Domain, error) {
	var u *customs.User
	var err error
	if r.UserID != "" {
		u, err = s.Store.FindUserByID(ctx, r.UserID)
	} else {
		var d *customs.Domain
		if r.UserDomainID != "" {
			d, err = s.Store.FindDomainByID(ctx, r.UserDomainID)
		} else {
			d, err = s.Store.FindDomainByName(ctx, r.UserDomainName)
		}
		if err == nil {
			u, err = s.Store.FindUserByName(ctx, d.ID, r.UserName)
		}
	}
	if customs.ErrorCode(err) == customs.ENOTFOUND {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("find user %s: %w", userLabel(r), err)
	}
	d, err := s.Store.FindDomainByID(ctx, u.DomainID)
	if customs.ErrorCode(err) == customs.ENOTFOUND {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("find domain of user %q: %w", u.ID, err)
	}
	if (r.UserName != "" && r.UserName != u.Name) ||
		(r.UserDomainID != "" && r.UserDomainID != d.ID) ||
		(r.UserDomainName != "" && r.UserDomainName != d.Name) {
		return nil, nil, nil
	}
	return u, d, nil
}

// scopeProject returns the project of domain d with the id and name given
// (either may be empty), for a token scoped to it.
func (s *Service) scopeProject(ctx context.Context, d *customs.Domain, id, name string) (*customs.Project, error) {
	ps, err := s.Store.FindProjects(ctx, customs.ProjectFilter{DomainID: d.ID, ID: id, Name: name})
	if err != nil {
		return nil, fmt.Errorf("find project %q of domain %q: %w", firstNonEmpty(id, name), d.ID, err)
	}
	switch {
	case len(ps) == 0:
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The project %q does not exist or is not yours.", firstNonEmpty(id, name))
	case len(ps) > 1:
		return nil, customs.Errorf(customs.EINVALID, "Several projects are named %q: give auth.scope.project.id instead.", name)
	case !ps[0].Enabled:
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The project %q is disabled.", firstNonEmpty(id, name))
	}
	return ps[0], nil
}

// Authenticate resolves a token secret (the X-Auth-Token header) into the
// principal it stands for. It returns EUNAUTHORIZED, saying why, when the
// token is malformed, unknown, revoked or expired, or when its user, domain
// or project no longer exists or is disabled.
func (s *Service) Authenticate(ctx context.Context, secret string) (*customs.Principal, error) {
	hash, ok := parseTokenSecret(secret)
	if !ok {
		return nil, customs.Errorf(customs.EUNAUTHORIZED, msgTokenMalformed)
	}
	t, err := s.Store.FindToken(ctx, hash)
	if customs.ErrorCode(err) == customs.ENOTFOUND {
		return nil, customs.Errorf(customs.EUNAUTHORIZED, msgTokenUnknown)
	} else if err != nil {
		return nil, fmt.Errorf("authenticate token: %w", err)
	}
	switch {
	case !t.RevokedAt.IsZero():
		return nil, customs.Errorf(customs.EUNAUTHORIZED, msgTokenRevoked)
	case !s.now().Before(t.ExpiresAt):
		return nil, customs.Errorf(customs.EUNAUTHORIZED, msgTokenExpired)
	}
	p, err := s.principal(ctx, t.UserID, t.DomainID, t.ProjectID, t.ExpiresAt)
	if err != nil {
		return nil, err
	}
	p.IssuedAt = t.IssuedAt
	return p, nil
}

// principal loads what a valid credential stands for, checking that each
// part still exists and is enabled. Every kind of credential ends here.
func (s *Service) principal(ctx context.Context, userID, domainID, projectID string, expiresAt time.Time) (*customs.Principal, error) {
	refuse := func(msg string) (*customs.Principal, error) {
		return nil, &customs.Error{Code: customs.EUNAUTHORIZED, Message: msg}
	}
	u, err := s.Store.FindUserByID(ctx, userID)
	if customs.ErrorCode(err) == customs.ENOTFOUND {
		return refuse(msgNoUser)
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: find user %q: %w", userID, err)
	}
	switch {
	case u.DomainID != domainID:
		return refuse(msgNoUser)
	case !u.Enabled:
		return refuse(msgUserDisabled)
	}
	d, err := s.Store.FindDomainByID(ctx, domainID)
	if customs.ErrorCode(err) == customs.ENOTFOUND {
		return refuse(msgNoDomain)
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: find domain %q: %w", domainID, err)
	}
	p := &customs.Principal{User: publicUser(u), Domain: d, ExpiresAt: expiresAt, Region: s.Region}
	if projectID == "" {
		return p, nil
	}
	ps, err := s.Store.FindProjects(ctx, customs.ProjectFilter{DomainID: domainID, ID: projectID})
	if err != nil {
		return nil, fmt.Errorf("authenticate: find project %q: %w", projectID, err)
	}
	switch {
	case len(ps) != 1:
		return refuse(msgNoProject)
	case !ps[0].Enabled:
		return refuse(msgProjectDisabled)
	}
	p.Project = ps[0]
	if !u.Admin {
		if p.Permissions, err = s.permissions(ctx, u, p.Project.ID); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// permissions computes what the grants of u and its groups allow in a project.
func (s *Service) permissions(ctx context.Context, u *customs.User, projectID string) (customs.Permissions, error) {
	grants, err := s.Store.FindUserGrants(ctx, u.ID, projectID)
	if err != nil || len(grants) == 0 {
		return customs.Permissions{}, err
	}
	policies := map[string]*customs.Policy{}
	for _, p := range customs.SystemPolicies {
		policies[p.ID] = p
	}
	custom, err := s.Store.FindPolicies(ctx, u.DomainID)
	if err != nil {
		return nil, fmt.Errorf("authenticate: policies of domain %q: %w", u.DomainID, err)
	}
	for _, p := range custom {
		policies[p.ID] = p
	}
	perms := customs.Permissions{}
	for _, g := range grants {
		if p, ok := policies[g.PolicyID]; ok {
			perms[g.EnterpriseProjectID] = append(perms[g.EnterpriseProjectID], p.Actions...)
		}
	}
	return perms, nil
}

// RevokeToken revokes the token whose secret is given, so that Authenticate
// refuses it from then on. It returns ENOTFOUND when there is no such token.
func (s *Service) RevokeToken(ctx context.Context, secret string) error {
	hash, ok := parseTokenSecret(secret)
	if !ok {
		return customs.Errorf(customs.ENOTFOUND, msgTokenNotFound)
	}
	err := s.Store.RevokeToken(ctx, hash)
	if customs.ErrorCode(err) == customs.ENOTFOUND {
		return customs.Errorf(customs.ENOTFOUND, msgTokenNotFound)
	} else if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// newTokenSecret returns a new token secret and its hash.
func newTokenSecret() (secret string, hash []byte, err error) {
	b := make([]byte, tokenSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new token secret: %w", err)
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret), nil
}

// parseTokenSecret returns the hash of secret, and false when secret does
// not have the shape of a token secret (so that no lookup is wasted on it).
func parseTokenSecret(secret string) ([]byte, bool) {
	if len(secret) != tokenSecretLen {
		return nil, false
	}
	rest, ok := strings.CutPrefix(secret, tokenPrefix)
	if !ok {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(rest); err != nil {
		return nil, false
	}
	return hashSecret(secret), true
}

// hashSecret is what stores keep of a token secret. The secret has 256
// random bits, so a plain SHA-256 (unlike a password's hash) cannot be
// reversed by guessing.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// publicUser is u without its password hash, for a principal that travels
// through the rest of the program.
func publicUser(u *customs.User) *customs.User {
	c := *u
	c.PasswordHash = ""
	return &c
}

// userLabel names the user of a request in logs and errors.
func userLabel(r customs.TokenRequest) string {
	if r.UserID != "" {
		return fmt.Sprintf("id %q", r.UserID)
	}
	return fmt.Sprintf("%q in domain %q", r.UserName, firstNonEmpty(r.UserDomainID, r.UserDomainName))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
