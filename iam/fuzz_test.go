package iam_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
)

const emptyBodyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// renderAuthorization writes a as the Go SDK writes the header.
func renderAuthorization(a *iam.Authorization) string {
	return "SDK-HMAC-SHA256 Access=" + a.AccessKey + ", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
}

// FuzzParseAuthorization checks that ParseAuthorization never panics, that
// what it accepts is what the API promises, and that a parsed value written
// back as the SDK writes it parses to the same value.
func FuzzParseAuthorization(f *testing.F) {
	const sig = "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
	for _, s := range []string{
		"SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=" + sig,
		"SDK-HMAC-SHA256 Signature=" + sig + ",Access=AK,SignedHeaders=x-sdk-date",
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date;host, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=A=K, SignedHeaders=a;;b, Signature=" + strings.ToUpper(sig),
		"SDK-HMAC-SHA256 ,,,",
		"V11-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig,
		"Bearer token",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		a, err := iam.ParseAuthorization(header)
		if err != nil {
			if a != nil {
				t.Fatalf("ParseAuthorization(%q) = %+v and error %v", header, a, err)
			}
			if code := customs.ErrorCode(err); code != customs.EUNAUTHORIZED {
				t.Fatalf("ParseAuthorization(%q) error code = %q, want %q", header, code, customs.EUNAUTHORIZED)
			}
			return
		}
		if len(a.Signature) != 64 || strings.ToLower(a.Signature) != a.Signature {
			t.Fatalf("ParseAuthorization(%q) accepted the signature %q", header, a.Signature)
		}
		if len(a.SignedHeaders) == 0 {
			t.Fatalf("ParseAuthorization(%q) accepted no signed headers", header)
		}
		for i, h := range a.SignedHeaders {
			if h == "" || strings.ToLower(h) != h || (i > 0 && h <= a.SignedHeaders[i-1]) {
				t.Fatalf("ParseAuthorization(%q) accepted the signed headers %q", header, a.SignedHeaders)
			}
		}
		rendered := renderAuthorization(a)
		again, err := iam.ParseAuthorization(rendered)
		if err != nil {
			t.Fatalf("ParseAuthorization(%q) = %+v, but its rendering %q does not parse: %v", header, a, rendered, err)
		}
		if diff := cmp.Diff(a, again); diff != "" {
			t.Fatalf("ParseAuthorization(%q) round trip mismatch (-first +second):\n%s", header, diff)
		}
	})
}

// FuzzCanonicalRequest checks that CanonicalRequest never panics on
// arbitrary paths, queries, headers and bodies, and that its lines have the
// shape of the SDK's: a URI that decodes back to the path, and a query that
// is its own canonical form.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/v5/0123456789abcdef0123456789abcdef/image/swr-repository", "enterprise_project_id=all_granted_eps&limit=10&offset=0", "x-project-id", "0123456789abcdef0123456789abcdef", "", "x-project-id;x-sdk-date")
	f.Add("POST", "/v5/p/镜像/a b", "a&b=&c=x+y&d=x%20y&e=%2B&tag=2&tag=1", "Region", " cn-north-4 ", "{}\n", "region;x-sdk-date")
	f.Add("PUT", "", "&&;=;&=&%", "X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD", "raw", "x-sdk-content-sha256;x-sdk-date")
	f.Add("GET", "//a//b/", "%zz=1", "host", "example.com", "", "host")
	f.Add("DELETE", "/%/\x00/\xff", "k=%E9%95%9C&%E9%95%9C=v", "X-Multi", "b", "", "x-multi;x-sdk-date")
	f.Add("GET", "/", "a=1", "", "", "", "")
	f.Add("GET", "/", "", "x-sdk-date", "x", "", "x-sdk-date;x-sdk-date")
	f.Fuzz(func(t *testing.T, method, path, rawQuery, headerName, headerValue, body, signedHeaders string) {
		r := &customs.SignedRequest{
			Method:   method,
			Path:     path,
			RawQuery: rawQuery,
			Header: map[string][]string{
				"X-Sdk-Date": {"20240101T000000Z"},
				headerName:   {headerValue},
			},
			Body: []byte(body),
		}
		var signed []string
		if signedHeaders != "" {
			signed = strings.Split(signedHeaders, ";")
		}
		canonical, err := iam.CanonicalRequest(r, signed)
		if err != nil {
			if code := customs.ErrorCode(err); code != customs.EUNAUTHORIZED {
				t.Fatalf("CanonicalRequest error code = %q, want %q", code, customs.EUNAUTHORIZED)
			}
			return
		}
		if !strings.HasPrefix(canonical, method+"\n") {
			t.Fatalf("canonical request %q does not start with the method %q", canonical, method)
		}
		rest := strings.TrimPrefix(canonical, method+"\n")
		uri, rest, _ := strings.Cut(rest, "\n")
		query, _, _ := strings.Cut(rest, "\n")

		decoded, err := url.PathUnescape(uri)
		if err != nil {
			t.Fatalf("canonical URI %q does not decode: %v", uri, err)
		}
		if decoded != path && decoded != path+"/" {
			t.Fatalf("canonical URI %q decodes to %q, want %q or %q", uri, decoded, path, path+"/")
		}

		// The canonical query is itself a raw query whose canonical form
		// is the same.
		again, err := iam.CanonicalRequest(&customs.SignedRequest{Method: "GET", RawQuery: query}, nil)
		if err != nil {
			t.Fatalf("canonical query %q of %q is not canonicalizable: %v", query, rawQuery, err)
		}
		if want := "GET\n/\n" + query + "\n\n\n\n" + emptyBodyHash; again != want {
			t.Fatalf("canonical query %q of %q gives the canonical request %q, want %q", query, rawQuery, again, want)
		}
	})
}
