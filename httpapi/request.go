package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"customs"
)

// Limits shared by several endpoints (spec §0).
const (
	maxOffset  = 2_000_000
	minLimit   = 10
	maxLimit   = 200
	maxTimeMS  = 4_070_880_000_000
	maxEPIDLen = 256
)

// invalidParam is the EINVALID error for parameter name given value, saying
// what is allowed (spec §5: which parameter, what was given, what is allowed).
func invalidParam(name, value, allowed string) error {
	given := fmt.Sprintf("%q", truncate(value))
	if n := utf8.RuneCountInString(value); n > maxEcho {
		given += fmt.Sprintf(" (%d characters)", n)
	}
	return customs.Errorf(customs.EINVALID, "Invalid parameter %s: %s; allowed: %s.", name, given, allowed)
}

// missingParam is the EINVALID error for a required parameter that is absent.
func missingParam(name, allowed string) error {
	return customs.Errorf(customs.EINVALID, "Missing parameter %s; allowed: %s.", name, allowed)
}

// maxEcho is how much of a value an error message repeats.
const maxEcho = 64

// truncate shortens s for an error message.
func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	return string([]rune(s)[:maxEcho]) + "..."
}

// lengths describes a length limit.
func lengths(min, max int) string {
	if min == 0 {
		return fmt.Sprintf("text of at most %d characters", max)
	}
	return fmt.Sprintf("text of %d to %d characters", min, max)
}

// checkLen checks the length of a text parameter in characters.
func checkLen(name, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return invalidParam(name, v, "valid UTF-8 "+lengths(min, max))
	}
	if n := utf8.RuneCountInString(v); n < min || n > max {
		return invalidParam(name, v, lengths(min, max))
	}
	return nil
}

func oneOf[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return "one of " + strings.Join(s, ", ")
}

// query reads query parameters strictly (spec §0, §1.1). It keeps the first
// error; reads after it return zero values, so a handler reads every
// parameter and checks err once.
//
// A bare key ("&image_type&") reads as the empty string. Unknown parameters
// are ignored; a known one given twice is an error, since either reading
// would be a guess.
type query struct {
	v   url.Values
	err error
}

func parseQuery(r *http.Request) (*query, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, customs.Errorf(customs.EINVALID, "The query string cannot be decoded (%v); percent-encode parameter values.", err)
	}
	return &query{v: v}, nil
}

// get returns the value of name and whether it was given.
func (q *query) get(name string) (string, bool) {
	if q.err != nil {
		return "", false
	}
	vs, ok := q.v[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		q.err = customs.Errorf(customs.EINVALID, "Invalid parameter %s: given %d times; allowed: one value.", name, len(vs))
		return "", false
	}
	return vs[0], true
}

// str returns text parameter name, "" when absent.
func (q *query) str(name string, min, max int) string {
	v, _ := q.optStr(name, min, max)
	return v
}

// optStr returns text parameter name and whether it was given.
func (q *query) optStr(name string, min, max int) (string, bool) {
	v, ok := q.get(name)
	if !ok {
		return "", false
	}
	if err := checkLen(name, v, min, max); err != nil {
		q.err = err
		return "", false
	}
	return v, true
}

// enum returns parameter name, which must be one of allowed; "" when absent.
// When required, absence is an error too.
func enum[T ~string](q *query, name string, allowed []T, required bool) T {
	v, ok := q.get(name)
	if q.err != nil {
		return ""
	}
	if !ok {
		if required {
			q.err = missingParam(name, oneOf(allowed))
		}
		return ""
	}
	for _, a := range allowed {
		if string(a) == v {
			return a
		}
	}
	q.err = invalidParam(name, v, oneOf(allowed))
	return ""
}

// int returns integer parameter name in [min, max], def when absent.
func (q *query) int(name string, min, max, def int64) int64 {
	n, ok := q.optInt(name, min, max)
	if !ok {
		return def
	}
	return n
}

// optInt returns integer parameter name in [min, max] and whether it was given.
func (q *query) optInt(name string, min, max int64) (int64, bool) {
	v, ok := q.get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		q.err = invalidParam(name, v, fmt.Sprintf("an integer from %d to %d", min, max))
		return 0, false
	}
	return n, true
}

// bool returns boolean parameter name, nil when absent. Only "true" and
// "false" are booleans.
func (q *query) bool(name string) *bool {
	v, ok := q.get(name)
	if !ok {
		return nil
	}
	switch v {
	case "true", "false":
		b := v == "true"
		return &b
	}
	q.err = invalidParam(name, v, "true or false")
	return nil
}

// enterpriseProject returns the enterprise_project_id parameter, the
// default enterprise project when absent.
func (q *query) enterpriseProject() string {
	if ep := q.str("enterprise_project_id", 1, maxEPIDLen); ep != "" {
		return ep
	}
	return customs.DefaultEnterpriseProject
}

// page returns the offset and limit parameters.
func (q *query) page() (offset, limit int) {
	return int(q.int("offset", 0, maxOffset, 0)), int(q.int("limit", minLimit, maxLimit, minLimit))
}

// decodeBody decodes the JSON object in the request body into v. A body
// that is not JSON is EMALFORMED; a field of the wrong type is EINVALID
// naming the field. Unknown fields are ignored.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	switch {
	case err != nil:
		return bodyReadError(err)
	case len(bytes.TrimSpace(b)) == 0:
		return customs.Errorf(customs.EMALFORMED, "The request body is empty; it must be a JSON object.")
	}
	// Unmarshal checks the whole body is one JSON value before it decodes,
	// so "000" or an object followed by more is malformed, not mistyped.
	err = json.Unmarshal(b, v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) && syntax.Offset >= int64(len(b)):
		return customs.Errorf(customs.EMALFORMED, "The request body is not valid JSON: it ends before the JSON value does.")
	case errors.As(err, &syntax):
		return customs.Errorf(customs.EMALFORMED, "The request body is not valid JSON: %v (at byte %d).", err, syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return customs.Errorf(customs.EINVALID, "Invalid request body: a JSON %s was given; allowed: a JSON object.", typ.Value)
	case errors.As(err, &typ):
		return customs.Errorf(customs.EINVALID, "Invalid parameter %s: a JSON %s was given; allowed: %s.", typ.Field, typ.Value, jsonKind(typ.Type))
	case err != nil:
		return customs.Errorf(customs.EMALFORMED, "The request body is not valid JSON: %v.", err)
	}
	return nil
}

// bodyReadError is the error of a request body that could not be read.
func bodyReadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return customs.Errorf(customs.EMALFORMED, "The request body is larger than the %d bytes allowed.", maxBodyBytes)
	}
	return customs.Errorf(customs.EMALFORMED, "The request body could not be read: %v.", err)
}

// jsonKind names the JSON kind of values a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}
