package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"customs"
)

// apiError is how one application error code is answered (spec §5).
type apiError struct {
	status int
	code   string // HSS or API gateway error code
	// gateway errors have the API gateway's body shape, with the request id.
	gateway bool
	// message, when set, replaces the application message (for HSS and
	// gateway bodies; IAM bodies always carry the application message).
	message func(msg string) string
}

// errorTable is the one mapping from application error codes to answers.
var errorTable = map[string]apiError{
	customs.EINVALID:   {status: http.StatusBadRequest, code: "HSS.0001"},
	customs.EMALFORMED: {status: http.StatusBadRequest, code: "HSS.0002"},
	customs.EUNAUTHORIZED: {status: http.StatusUnauthorized, code: "APIGW.0301", gateway: true,
		message: func(msg string) string { return "Incorrect IAM authentication information: " + msg }},
	customs.ETOKENREGION: {status: http.StatusUnauthorized, code: "APIGW.0307", gateway: true,
		message: func(string) string { return "The token must be updated." }},
	customs.EFORBIDDEN:    {status: http.StatusForbidden, code: "HSS.0013"},
	customs.ENOPERMISSION: {status: http.StatusForbidden, code: "APIGW.0302", gateway: true},
	customs.ENOTFOUND:     {status: http.StatusNotFound, code: "HSS.0011"},
	customs.ECONFLICT:     {status: http.StatusConflict, code: "HSS.0009"},
	customs.ERATELIMIT:    {status: http.StatusTooManyRequests, code: "APIGW.0308", gateway: true},
	customs.EINTERNAL:     {status: http.StatusInternalServerError, code: "HSS.0004"},
}

// internalMessage is all a caller learns of an internal failure; the details
// are logged with the request id.
const internalMessage = "Internal error."

// hssError is the body of an HSS error.
type hssError struct {
	ErrorCode        string `json:"error_code"`
	ErrorDescription string `json:"error_description"`
	ErrorMsg         string `json:"error_msg"`
}

// gatewayError is the body of an API gateway error.
type gatewayError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

// keystoneError is the body of an IAM error.
type keystoneError struct {
	Error keystoneErrorBody `json:"error"`
}

type keystoneErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Title   string `json:"title"`
}

// writeError answers err through the error table, in the IAM shape on IAM
// and enterprise project paths and the HSS or gateway shape elsewhere.
// Internal errors are logged with the request id and never shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := customs.ErrorCode(err)
	e, ok := errorTable[code]
	if !ok {
		code, e = customs.EINTERNAL, errorTable[customs.EINTERNAL]
	}
	requestID := w.Header().Get("X-Request-Id")
	msg := customs.ErrorMessage(err)
	if code == customs.EINTERNAL {
		msg = internalMessage
		if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
			s.logger().InfoContext(r.Context(), "request abandoned by the client", "request_id", requestID, "err", err)
		} else {
			s.logger().ErrorContext(r.Context(), "request failed", "request_id", requestID, "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if isIAMPath(r.URL.Path) {
		writeJSON(w, e.status, keystoneError{Error: keystoneErrorBody{Code: e.status, Message: msg, Title: http.StatusText(e.status)}})
		return
	}
	if e.message != nil {
		msg = e.message(msg)
	}
	if e.gateway {
		writeJSON(w, e.status, gatewayError{ErrorCode: e.code, ErrorMsg: msg, RequestID: requestID})
		return
	}
	writeJSON(w, e.status, hssError{ErrorCode: e.code, ErrorDescription: msg, ErrorMsg: msg})
}

// isIAMPath reports whether path belongs to the Keystone-shaped APIs: IAM
// (/v3, /v3.0) and enterprise projects (/v1.0).
func isIAMPath(path string) bool {
	for _, prefix := range []string{"/v3/", "/v3.0/", "/v1.0/"} {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// writeJSON answers v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // a failed write means the client left; nothing to tell it
}
