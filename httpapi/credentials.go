package httpapi

import (
	"fmt"
	"net/http"

	"customs"
)

// Access keys (permanent AK/SK pairs), as Huawei IAM's OS-CREDENTIAL API
// shapes them.

const maxCredentialDescLen = 255

type credentialRecord struct {
	Access string `json:"access"`
	// Secret is the secret key, shown when the key is created and never again.
	Secret      string `json:"secret,omitempty"`
	Status      string `json:"status"`
	UserID      string `json:"user_id"`
	Description string `json:"description"`
	CreateTime  string `json:"create_time"`
}

func toCredentialRecord(c *customs.Credential) credentialRecord {
	return credentialRecord{
		Access:      c.AccessKey,
		Status:      c.Status,
		UserID:      c.UserID,
		Description: c.Description,
		CreateTime:  c.CreatedAt.UTC().Format(keystoneTime),
	}
}

type credentialBody struct {
	Credential credentialRecord `json:"credential"`
}

// createCredential is POST /v3.0/OS-CREDENTIAL/credentials: a new access key
// for the caller, or for any user of the domain for an administrator.
func (s *Server) createCredential(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	var b struct {
		Credential *struct {
			UserID      *string `json:"user_id"`
			Description *string `json:"description"`
		} `json:"credential"`
	}
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.Credential == nil:
		return missingParam("credential", "an object with user_id")
	case b.Credential.UserID == nil:
		return missingParam("credential.user_id", "the id of the user the access key is for")
	}
	var description string
	if b.Credential.Description != nil {
		description = *b.Credential.Description
		if err := checkLen("credential.description", description, 0, maxCredentialDescLen); err != nil {
			return err
		}
	}
	c, secret, err := s.IAM.CreateCredential(r.Context(), caller, *b.Credential.UserID, description)
	if err != nil {
		return fmt.Errorf("create access key: %w", err)
	}
	rec := toCredentialRecord(c)
	rec.Secret = secret
	return created(w, credentialBody{rec})
}

// listCredentials is GET /v3.0/OS-CREDENTIAL/credentials: the access keys of
// the user given by user_id, or the caller's own.
func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	userID := q.str("user_id", 1, 64)
	if q.err != nil {
		return q.err
	}
	if userID != "" {
		// A user that is not the domain's has no keys to list: "not found".
		if _, err := s.IAM.User(r.Context(), caller, userID); err != nil {
			return fmt.Errorf("find user: %w", err)
		}
	}
	cs, err := s.IAM.Credentials(r.Context(), caller, userID)
	if err != nil {
		return fmt.Errorf("list access keys: %w", err)
	}
	out := struct {
		Credentials []credentialRecord `json:"credentials"`
	}{Credentials: []credentialRecord{}}
	for _, c := range cs {
		out.Credentials = append(out.Credentials, toCredentialRecord(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// showCredential is GET /v3.0/OS-CREDENTIAL/credentials/{access_key}.
func (s *Server) showCredential(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	c, err := s.IAM.Credential(r.Context(), caller, r.PathValue("access_key"))
	if err != nil {
		return fmt.Errorf("show access key: %w", err)
	}
	writeJSON(w, http.StatusOK, credentialBody{toCredentialRecord(c)})
	return nil
}

// deleteCredential is DELETE /v3.0/OS-CREDENTIAL/credentials/{access_key}.
func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request, caller *customs.Principal) error {
	if err := s.IAM.DeleteCredential(r.Context(), caller, r.PathValue("access_key")); err != nil {
		return fmt.Errorf("delete access key: %w", err)
	}
	return noContent(w)
}
