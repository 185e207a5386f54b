package iam

import (
	"context"
	"fmt"
	"slices"
	"time"

	"customs"
)

// An access key that signs MaxBadSignatures requests wrongly in a row is
// refused for SignatureLockout, even with a right signature: a brute force
// of a secret key cannot get far.
const (
	MaxBadSignatures = 5
	SignatureLockout = 5 * time.Minute
)

// AuthenticateSigned verifies an AK/SK-signed request (spec §4.2) and
// returns its principal: the access key's user, scoped to projectID (the
// request's X-Project-Id) when it is not empty. Errors are EUNAUTHORIZED
// and say which check failed, never the expected signature.
func (s *Service) AuthenticateSigned(ctx context.Context, r *customs.SignedRequest, projectID string) (*customs.Principal, error) {
	auth, err := ParseAuthorization(r.Authorization)
	if err != nil {
		return nil, err
	}
	c, secret, err := s.Store.FindCredential(ctx, auth.AccessKey)
	switch {
	case customs.ErrorCode(err) == customs.ENOTFOUND:
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The access key %q is not known to this service.", auth.AccessKey)
	case err != nil:
		return nil, fmt.Errorf("authenticate access key: %w", err)
	case c.Status != customs.CredentialActive:
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The access key %q is not active.", auth.AccessKey)
	}
	if _, sent := r.Header["X-Project-Id"]; sent && !slices.Contains(auth.SignedHeaders, "x-project-id") {
		// Unsigned, the header could be changed to replay the request
		// against another project of the same user.
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The request sends X-Project-Id without signing it; add x-project-id to SignedHeaders.")
	}
	now := s.now()
	if c.LockedUntil.After(now) {
		return nil, customs.Errorf(customs.EUNAUTHORIZED, "The access key %q is locked after repeated bad signatures until %s.", auth.AccessKey, c.LockedUntil.UTC().Format(time.RFC3339))
	}
	if err := VerifySignature(r, auth, secret, now); err != nil {
		if customs.ErrorCode(err) != customs.EUNAUTHORIZED {
			return nil, err
		}
		locked, lerr := s.Store.RecordSignatureFailure(ctx, c.AccessKey, MaxBadSignatures, now.Add(SignatureLockout))
		if lerr != nil {
			return nil, fmt.Errorf("authenticate access key: %w", lerr)
		}
		if locked {
			s.logger().WarnContext(ctx, "access key locked after repeated bad signatures", "access_key", c.AccessKey, "user_id", c.UserID)
		}
		return nil, err
	}
	if err := s.Store.RecordSignatureSuccess(ctx, c); err != nil {
		return nil, fmt.Errorf("authenticate access key: %w", err)
	}
	if projectID != "" {
		// A signature proves the key; a project of another domain is a
		// permission question, answered the same whether or not it exists.
		ps, err := s.Store.FindProjects(ctx, customs.ProjectFilter{DomainID: c.DomainID, ID: projectID})
		if err != nil {
			return nil, fmt.Errorf("authenticate access key: %w", err)
		}
		if len(ps) == 0 {
			return nil, customs.Errorf(customs.EFORBIDDEN, "Insufficient permissions: project %q is not a project of the access key's domain.", projectID)
		}
	}
	p, err := s.principal(ctx, c.UserID, c.DomainID, projectID, time.Time{})
	if err != nil {
		return nil, err
	}
	p.AccessKey = c.AccessKey
	return p, nil
}
