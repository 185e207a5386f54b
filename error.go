package customs

import (
	"errors"
	"fmt"
)

// Application error codes. The HTTP edge maps each to an HTTP status and an
// HSS or IAM error code in one table; nothing else inspects them.
const (
	EINVALID      = "invalid"       // a parameter is outside its type, range or enum
	EMALFORMED    = "malformed"     // a request body cannot be parsed
	EUNAUTHORIZED = "unauthorized"  // no, bad or expired credentials
	ETOKENREGION  = "token_region"  // a token issued for another region
	EFORBIDDEN    = "forbidden"     // authenticated, but lacking the action or scope
	ENOPERMISSION = "no_permission" // authenticated, but with no permission on the service at all
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	ERATELIMIT    = "rate_limited"
	EINTERNAL     = "internal"
)

// Error is the application error. Message is safe to show to the caller:
// it names what was wrong and what is allowed, and never carries internals.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("customs error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the application error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the application error in err's chain,
// or a generic message for any other non-nil error (internal details are
// logged, never shown).
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "Internal error."
	}
}

// ErrRegistryAuth is in the chain of every error of a registry that refused
// the credentials it was given (HTTP 401 or 403), whatever the operation.
var ErrRegistryAuth = errors.New("the registry refused the credentials")
