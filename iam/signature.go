package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"customs"
)

// AK/SK request signatures, as the Huawei Cloud Go SDK computes them
// (spec §4.2; the SDK's core/auth/signer is the reference):
//
//	CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n BodyHash
//	StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
//	Signature        = hex(hmac_sha256(SK, StringToSign))

// SignatureAlgorithm is the one signing algorithm accepted.
const SignatureAlgorithm = "SDK-HMAC-SHA256"

// MaxClockSkew is how far X-Sdk-Date may be from the server's clock.
const MaxClockSkew = 15 * time.Minute

// sdkDateLayout is the form of X-Sdk-Date (YYYYMMDDTHHMMSSZ, UTC).
const sdkDateLayout = "20060102T150405Z"

// unsignedPayload is the value of X-Sdk-Content-Sha256 with which the SDK
// signs a request without its body (any content type but JSON and BSON);
// the canonical request then carries it in place of the body hash.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// maxAuthorizationLen bounds the Authorization header we parse. The SDK's
// header is about 150 bytes plus the signed header names.
const maxAuthorizationLen = 8 << 10

// maxAccessKeyLen bounds an access key. Ours are 20 characters.
const maxAccessKeyLen = 128

// Authorization is a parsed "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex" header.
type Authorization struct {
	AccessKey     string
	SignedHeaders []string // lower-case, as listed (sorted and unique)
	Signature     string   // lower-case hex, 64 characters
}

// ParseAuthorization parses an Authorization header value as the Huawei
// Cloud SDKs write it: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b,
// Signature=hex". The three parts may come in any order, with or without
// spaces after the commas; anything else (another algorithm, an unknown or
// repeated part, upper-case or unsorted header names, a signature that is
// not 64 lower-case hex digits) is refused. Errors are EUNAUTHORIZED, say
// what is wrong and never repeat the signature.
func ParseAuthorization(header string) (*Authorization, error) {
	if header == "" {
		return nil, unauthorized("The Authorization header is empty; send %s Access=..., SignedHeaders=..., Signature=....", SignatureAlgorithm)
	}
	if len(header) > maxAuthorizationLen {
		return nil, unauthorized("The Authorization header is %d bytes long; at most %d are allowed.", len(header), maxAuthorizationLen)
	}
	alg, rest, _ := strings.Cut(header, " ")
	if alg != SignatureAlgorithm {
		if isShortToken(alg) {
			return nil, unauthorized("The Authorization header uses the scheme %q; only %s is accepted.", alg, SignatureAlgorithm)
		}
		return nil, unauthorized("The Authorization header does not start with %q; only %s is accepted.", SignatureAlgorithm+" ", SignatureAlgorithm)
	}

	if strings.Trim(rest, " \t") == "" {
		return nil, unauthorized("The Authorization header has no Access, SignedHeaders or Signature; send %s Access=..., SignedHeaders=..., Signature=....", SignatureAlgorithm)
	}

	var (
		a                                      Authorization
		haveAccess, haveHeaders, haveSignature bool
		rawSignedHeaders                       string
	)
	for part := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.Trim(part, " \t"), "=")
		if !ok {
			if strings.Trim(part, " \t") == "" {
				return nil, unauthorized("The Authorization header has an empty part; expected Access=..., SignedHeaders=..., Signature=... separated by commas.")
			}
			return nil, unauthorized("The Authorization header has a part without \"=\"; expected Access=..., SignedHeaders=..., Signature=... separated by commas.")
		}
		var seen *bool
		switch name {
		case "Access":
			seen, a.AccessKey = &haveAccess, value
		case "SignedHeaders":
			seen, rawSignedHeaders = &haveHeaders, value
		case "Signature":
			seen, a.Signature = &haveSignature, value
		default:
			if isShortToken(name) {
				return nil, unauthorized("The Authorization header has an unknown part %q; only Access, SignedHeaders and Signature are allowed.", name)
			}
			return nil, unauthorized("The Authorization header has an unknown part; only Access, SignedHeaders and Signature are allowed.")
		}
		if *seen {
			return nil, unauthorized("The Authorization header has %s more than once.", name)
		}
		*seen = true
	}
	switch {
	case !haveAccess:
		return nil, unauthorized("The Authorization header has no Access (the access key).")
	case !haveHeaders:
		return nil, unauthorized("The Authorization header has no SignedHeaders.")
	case !haveSignature:
		return nil, unauthorized("The Authorization header has no Signature.")
	}

	if !validAccessKey(a.AccessKey) {
		return nil, unauthorized("The Access of the Authorization header is not an access key: 1 to %d letters, digits, '-', '_' or '.' are allowed.", maxAccessKeyLen)
	}
	if rawSignedHeaders == "" {
		return nil, unauthorized("The SignedHeaders of the Authorization header are empty; at least x-sdk-date must be signed.")
	}
	a.SignedHeaders = strings.Split(rawSignedHeaders, ";")
	if err := checkSignedHeaders(a.SignedHeaders); err != nil {
		return nil, err
	}
	if !isLowerHex(a.Signature, sha256.Size*2) {
		return nil, unauthorized("The Signature of the Authorization header is not %d lower-case hexadecimal digits.", sha256.Size*2)
	}
	return &a, nil
}

// CanonicalRequest builds the canonical request of r for the signed
// headers exactly as the Huawei Cloud Go SDK does:
//
//	METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//
// with the literal UNSIGNED-PAYLOAD in place of the body hash when header
// X-Sdk-Content-Sha256 is "UNSIGNED-PAYLOAD".
//
// r.Path is the decoded path; r.RawQuery the query as sent. Query keys and
// values are percent-decoded the way net/url decodes a query ("+" is a
// space), so that the signature covers the values a handler reading
// URL.Query() acts on; the Go SDK never sends a literal "+" (it sends %2B
// and %20), so its signatures verify either way. A bare key "k" is "k=".
//
// Headers are looked up by lower-case name. net/http moves the Host header
// to Request.Host: a caller that accepts "host" among the signed headers
// must put it back into r.Header["Host"] first. A signed header missing
// from the request is an EUNAUTHORIZED error naming it, as are signed
// header names that are not lower-case, sorted and unique and a query that
// is not valid percent-encoding.
func CanonicalRequest(r *customs.SignedRequest, signedHeaders []string) (string, error) {
	if err := checkSignedHeaders(signedHeaders); err != nil {
		return "", err
	}
	query, err := canonicalQuery(r.RawQuery)
	if err != nil {
		return "", err
	}
	header := lowerHeader(r.Header)
	headers, err := canonicalHeaders(header, signedHeaders)
	if err != nil {
		return "", err
	}
	bodyHash := unsignedPayload
	if v := header["x-sdk-content-sha256"]; len(v) != 1 || strings.TrimSpace(v[0]) != unsignedPayload {
		sum := sha256.Sum256(r.Body)
		bodyHash = hex.EncodeToString(sum[:])
	}

	var b strings.Builder
	for i, s := range []string{r.Method, canonicalURI(r.Path), query, headers, strings.Join(signedHeaders, ";"), bodyHash} {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// StringToSign is "SDK-HMAC-SHA256\n" + sdkDate + "\n" + hex(sha256(canonicalRequest)).
func StringToSign(sdkDate, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return SignatureAlgorithm + "\n" + sdkDate + "\n" + hex.EncodeToString(sum[:])
}

// Signature is hex(hmac_sha256(secretKey, stringToSign)).
func Signature(secretKey, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secretKey))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks r against auth with the secret key: no
// X-Security-Token (temporary credentials are not supported); x-sdk-date
// among the signed headers; one X-Sdk-Date header, in the form
// YYYYMMDDTHHMMSSZ, within MaxClockSkew of now either way (which bounds
// how long a captured request can be replayed); and a signature equal to
// the one computed here, compared in constant time. Errors are
// EUNAUTHORIZED and say which check failed, never the expected signature;
// an empty secretKey is an internal error.
func VerifySignature(r *customs.SignedRequest, auth *Authorization, secretKey string, now time.Time) error {
	if auth == nil {
		return unauthorized("The request has no Authorization header.")
	}
	if secretKey == "" {
		// Anyone can compute an HMAC with an empty key: a credential
		// without a secret is a storage fault, never a match.
		return errors.New("verify signature: the access key has an empty secret key")
	}
	header := lowerHeader(r.Header)
	if _, ok := header["x-security-token"]; ok {
		return unauthorized("The request has an X-Security-Token header: temporary security credentials are not supported; sign with a permanent access key.")
	}
	if !slices.Contains(auth.SignedHeaders, "x-sdk-date") {
		return unauthorized("The SignedHeaders of the Authorization header do not include x-sdk-date; the signing time must be signed.")
	}
	dates := header["x-sdk-date"]
	switch {
	case len(dates) == 0:
		return unauthorized("The request has no X-Sdk-Date header; send the signing time as YYYYMMDDTHHMMSSZ (UTC).")
	case len(dates) > 1:
		return unauthorized("The request has %d X-Sdk-Date headers; send exactly one.", len(dates))
	}
	date := strings.TrimSpace(dates[0])
	signedAt, ok := parseSDKDate(date)
	if !ok {
		if len(date) <= 32 {
			return unauthorized("The X-Sdk-Date header %q is not in the form YYYYMMDDTHHMMSSZ (UTC), for example 20240101T000000Z.", date)
		}
		return unauthorized("The X-Sdk-Date header is not in the form YYYYMMDDTHHMMSSZ (UTC), for example 20240101T000000Z.")
	}
	now = now.UTC()
	switch d := now.Sub(signedAt); {
	case d > MaxClockSkew:
		return unauthorized("The request was signed at %s, more than %s before the server time %s; sign each request when sending it, and check the client's clock.",
			date, formatSkew(), now.Format(sdkDateLayout))
	case d < -MaxClockSkew:
		return unauthorized("The request was signed at %s, more than %s after the server time %s; check the client's clock.",
			date, formatSkew(), now.Format(sdkDateLayout))
	}
	canonical, err := CanonicalRequest(r, auth.SignedHeaders)
	if err != nil {
		return err
	}
	want := Signature(secretKey, StringToSign(date, canonical))
	if !hmac.Equal([]byte(want), []byte(auth.Signature)) {
		return unauthorized("The signature does not match the request; check the secret key, and that nothing in the signed parts (method, path, query, signed headers, body) changed after signing.")
	}
	return nil
}

func unauthorized(format string, args ...any) error {
	return customs.Errorf(customs.EUNAUTHORIZED, format, args...)
}

// formatSkew says MaxClockSkew in words: "15 minutes".
func formatSkew() string {
	return strconv.Itoa(int(MaxClockSkew/time.Minute)) + " minutes"
}

// parseSDKDate parses YYYYMMDDTHHMMSSZ strictly: time.Parse alone would
// accept one-digit hours, minutes and seconds.
func parseSDKDate(s string) (time.Time, bool) {
	if len(s) != len(sdkDateLayout) {
		return time.Time{}, false
	}
	for i := range len(s) {
		switch i {
		case 8:
			if s[i] != 'T' {
				return time.Time{}, false
			}
		case 15:
			if s[i] != 'Z' {
				return time.Time{}, false
			}
		default:
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, false
			}
		}
	}
	t, err := time.Parse(sdkDateLayout, s)
	return t, err == nil
}

// checkSignedHeaders checks that names are lower-case header names
// (RFC 9110 tokens), sorted and unique, as the SDK lists them.
func checkSignedHeaders(names []string) error {
	for i, name := range names {
		if name == "" {
			return unauthorized("The SignedHeaders of the Authorization header have an empty name; list lower-case header names separated by ';'.")
		}
		if !isLowerToken(name) {
			if len(name) <= 64 {
				return unauthorized("The SignedHeaders of the Authorization header have %q, which is not a lower-case header name.", name)
			}
			return unauthorized("The SignedHeaders of the Authorization header have a name that is not a lower-case header name.")
		}
		if i > 0 && name <= names[i-1] {
			return unauthorized("The SignedHeaders of the Authorization header are not sorted and unique: %q comes after %q.", name, names[i-1])
		}
	}
	return nil
}

// canonicalURI escapes each segment of the decoded path and ends it with "/".
func canonicalURI(path string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = escape(s)
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri
}

// canonicalQuery decodes every key and value of the raw query, then lists
// them as escape(k)=escape(v), keys sorted and each key's values sorted.
// It parses the query itself because url.ParseQuery drops pairs with a
// semicolon, which the signature must still cover; empty pairs ("a&&b")
// carry nothing and are skipped, as url.ParseQuery skips them.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	query := make(map[string][]string)
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return "", badQuery(rawKey)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return "", badQuery(rawValue)
		}
		query[key] = append(query[key], value)
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		values := query[k]
		slices.Sort(values)
		for _, v := range values {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k))
			b.WriteByte('=')
			b.WriteString(escape(v))
		}
	}
	return b.String(), nil
}

func badQuery(s string) error {
	if len(s) <= 64 {
		return unauthorized("The query has %q, which is not valid percent-encoding; encode '%%' as %%25.", s)
	}
	return unauthorized("The query has a key or value that is not valid percent-encoding; encode '%%' as %%25.")
}

// lowerHeader indexes h by lower-case name, merging names that differ only
// in case (values then come in no particular order; canonicalHeaders sorts
// them).
func lowerHeader(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for name, values := range h {
		l := strings.ToLower(name)
		out[l] = append(out[l], values...)
	}
	return out
}

// canonicalHeaders lists name:value for each signed header, as the SDK
// does: a header with several values gives one line per value, sorted,
// each value trimmed of surrounding space.
func canonicalHeaders(header map[string][]string, signedHeaders []string) (string, error) {
	var lines []string
	for _, name := range signedHeaders {
		values := header[name]
		if len(values) == 0 {
			return "", unauthorized("The signed header %q is missing from the request; send it, or do not list it in SignedHeaders.", name)
		}
		values = slices.Clone(values)
		slices.Sort(values)
		for _, v := range values {
			lines = append(lines, name+":"+strings.TrimSpace(v))
		}
	}
	// The SDK joins the lines and ends them with "\n" even when there are
	// none.
	return strings.Join(lines, "\n") + "\n", nil
}

// escape keeps A-Z a-z 0-9 _ - ~ . and writes every other byte as %XX
// (upper-case hex), as the SDK's signer does.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := range len(s) {
		if shouldEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := range len(s) {
		c := s[i]
		if shouldEscape(c) {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func shouldEscape(c byte) bool {
	return !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.')
}

func validAccessKey(s string) bool {
	if s == "" || len(s) > maxAccessKeyLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isShortToken reports whether s is short and plain enough to repeat in an
// error message without echoing arbitrary input.
func isShortToken(s string) bool {
	return s != "" && len(s) <= 32 && validAccessKey(s)
}

// isLowerToken reports whether s is an RFC 9110 token without upper-case
// letters.
func isLowerToken(s string) bool {
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
