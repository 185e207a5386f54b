package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"customs"
)

// Errors a registry answers with, for errors.Is. Other failures are wrapped
// with the operation and the registry address.
var (
	// ErrNotFound: 404, the repository, tag or blob is gone.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: 401, missing or wrong credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: 403, the credentials lack access.
	ErrDenied = errors.New("denied")
)

// statusError is an HTTP error answer of a registry.
type statusError struct {
	Status  int
	Message string // the registry's own explanation, if it gave one
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if sentinel := e.sentinel(); sentinel != nil {
		s = sentinel.Error()
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap gives the sentinel for errors.Is and, for a 404, the application
// code customs.ENOTFOUND, which is how consumers that do not import this
// package (reposync) learn that a tag or repository is gone; for a 401 or
// 403, customs.ErrRegistryAuth (the scanner's authentication_failed).
func (e *statusError) Unwrap() []error {
	sentinel := e.sentinel()
	switch {
	case sentinel == nil:
		return nil
	case e.Status == http.StatusNotFound:
		return []error{sentinel, &customs.Error{Code: customs.ENOTFOUND, Message: "Not found in the registry."}}
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return []error{sentinel, customs.ErrRegistryAuth}
	}
	return []error{sentinel}
}

func (e *statusError) sentinel() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrDenied
	}
	return nil
}

// maxErrorBody bounds how much of an error answer is read for its message.
const maxErrorBody = 64 << 10

// responseError reads the error answer resp (and closes its body).
func responseError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Errors []transport.Diagnostic `json:"errors"`
	}
	var msgs []string
	if json.Unmarshal(b, &body) == nil {
		for _, d := range body.Errors {
			msgs = append(msgs, diagnosticMessage(d))
		}
	}
	return &statusError{Status: resp.StatusCode, Message: strings.Join(msgs, "; ")}
}

func diagnosticMessage(d transport.Diagnostic) string {
	if d.Message != "" {
		return d.Message
	}
	return strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
}

// fromTransport turns the error answers go-containerregistry reports during a
// token exchange into statusError, so that they classify like ours.
func fromTransport(err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	var msgs []string
	for _, d := range terr.Errors {
		msgs = append(msgs, diagnosticMessage(d))
	}
	return fmt.Errorf("get token: %w", &statusError{Status: terr.StatusCode, Message: strings.Join(msgs, "; ")})
}
