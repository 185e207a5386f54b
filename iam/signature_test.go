package iam_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/impl"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"customs"
	"customs/iam"
)

const (
	testAK   = "AKEXAMPLE0000000"
	testSK   = "SKEXAMPLE0000000000000000000000000000000"
	testDate = "20240101T000000Z"
)

var testTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// wantUnauthorized fails t unless err is an EUNAUTHORIZED *customs.Error
// whose message contains want and none of the secrets.
func wantUnauthorized(t *testing.T, err error, want string, secrets ...string) {
	t.Helper()
	var e *customs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *customs.Error with code %q", err, customs.EUNAUTHORIZED)
	}
	if e.Code != customs.EUNAUTHORIZED {
		t.Errorf("error code = %q, want %q (message %q)", e.Code, customs.EUNAUTHORIZED, e.Message)
	}
	if !strings.Contains(e.Message, want) {
		t.Errorf("error message = %q, want it to contain %q", e.Message, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(e.Message, s) {
			t.Errorf("error message %q reveals %q", e.Message, s)
		}
	}
}

// TestSpecVector checks the test vector of spec §4.2.
func TestSpecVector(t *testing.T) {
	r := &customs.SignedRequest{
		Method:   http.MethodGet,
		Path:     "/v5/0123456789abcdef0123456789abcdef/image/swr-repository",
		RawQuery: "enterprise_project_id=all_granted_eps&image_type=private_image&limit=10&offset=0",
		Header: map[string][]string{
			"User-Agent":   {"huaweicloud-usdk-go/3.0"},
			"X-Project-Id": {"0123456789abcdef0123456789abcdef"},
			"X-Sdk-Date":   {testDate},
		},
	}
	signed := []string{"user-agent", "x-project-id", "x-sdk-date"}
	canonical, err := iam.CanonicalRequest(r, signed)
	if err != nil {
		t.Fatalf("CanonicalRequest: %v", err)
	}
	wantCanonical := "GET\n" +
		"/v5/0123456789abcdef0123456789abcdef/image/swr-repository/\n" +
		"enterprise_project_id=all_granted_eps&image_type=private_image&limit=10&offset=0\n" +
		"user-agent:huaweicloud-usdk-go/3.0\nx-project-id:0123456789abcdef0123456789abcdef\nx-sdk-date:20240101T000000Z\n\n" +
		"user-agent;x-project-id;x-sdk-date\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if diff := cmp.Diff(wantCanonical, canonical); diff != "" {
		t.Errorf("CanonicalRequest mismatch (-want +got):\n%s", diff)
	}
	if got, want := sha256Hex(canonical), "8bfb977b55ef8007c715ec0538c6872b970967784ebc8297e35a8477a03f6c75"; got != want {
		t.Errorf("sha256(CanonicalRequest) = %s, want %s", got, want)
	}
	sig := iam.Signature(testSK, iam.StringToSign(testDate, canonical))
	if want := "ad43b2b3b9c8585c43aec783a5538b2c1024b916fd288be309fe694a48b6e106"; sig != want {
		t.Errorf("Signature = %s, want %s", sig, want)
	}

	r.Authorization = "SDK-HMAC-SHA256 Access=" + testAK + ", SignedHeaders=user-agent;x-project-id;x-sdk-date, Signature=" + sig
	auth, err := iam.ParseAuthorization(r.Authorization)
	if err != nil {
		t.Fatalf("ParseAuthorization: %v", err)
	}
	if err := iam.VerifySignature(r, auth, testSK, testTime); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
}

// TestHuaweiDocumentationVector rebuilds the request of Huawei's signing
// guide ("API signing algorithm": list the VPCs of a project), whose
// canonical-request hash and signature the Huawei Java SDK's tests also pin.
func TestHuaweiDocumentationVector(t *testing.T) {
	const (
		sk   = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
		date = "20191115T033655Z"
	)
	r := &customs.SignedRequest{
		Method:   http.MethodGet,
		Path:     "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
		RawQuery: "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
		Header: map[string][]string{
			"Content-Type": {"application/json"},
			"Host":         {"service.region.example.com"},
			"X-Sdk-Date":   {date},
		},
		Authorization: "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, " +
			"Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
	}
	auth, err := iam.ParseAuthorization(r.Authorization)
	if err != nil {
		t.Fatalf("ParseAuthorization: %v", err)
	}
	canonical, err := iam.CanonicalRequest(r, auth.SignedHeaders)
	if err != nil {
		t.Fatalf("CanonicalRequest: %v", err)
	}
	if got, want := sha256Hex(canonical), "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"; got != want {
		t.Errorf("sha256(CanonicalRequest) = %s, want %s; canonical request:\n%s", got, want, canonical)
	}
	if got, want := iam.Signature(sk, iam.StringToSign(date, canonical)), auth.Signature; got != want {
		t.Errorf("Signature = %s, want %s", got, want)
	}
	if err := iam.VerifySignature(r, auth, sk, time.Date(2019, 11, 15, 3, 36, 55, 0, time.UTC)); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
}

// sdkCase is a request built with the Huawei Go SDK's own request builder.
type sdkCase struct {
	name    string
	method  string
	path    string
	query   map[string]any // values as the SDK's client adds them: reflect.Value of the field
	headers map[string]string
	body    any
}

// captured is a request as the server received it.
type captured struct {
	req  *http.Request
	body []byte
}

// sdkServer serves the requests the SDK's HTTP client sends and hands each
// one, with its body, to the test.
func sdkServer(t *testing.T) (url string, requests <-chan captured) {
	t.Helper()
	ch := make(chan captured, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ch <- captured{req: r, body: body}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

// sendWithSDK signs c with the SDK's signer and sends it with the SDK's
// HTTP client to the server at endpoint.
func sendWithSDK(t *testing.T, endpoint string, requests <-chan captured, c sdkCase) captured {
	t.Helper()
	b := request.NewHttpRequestBuilder().WithEndpoint(endpoint).WithMethod(c.method).WithPath(c.path)
	for k, v := range c.headers {
		b.AddHeaderParam(k, v)
	}
	for k, v := range c.query {
		b.AddQueryParam(k, reflect.ValueOf(v))
	}
	if c.body != nil {
		b.WithBody("", c.body)
	}
	req := b.Build()
	extra, err := signer.Sign(req, testAK, testSK)
	if err != nil {
		t.Fatalf("SDK Sign: %v", err)
	}
	for k, v := range extra {
		req.AddHeaderParam(k, v)
	}
	resp, err := impl.NewDefaultHttpClient(config.DefaultHttpConfig()).SyncInvokeHttp(req)
	if err != nil {
		t.Fatalf("SDK request: %v", err)
	}
	if resp.GetStatusCode() != http.StatusOK {
		t.Fatalf("SDK request: status %d", resp.GetStatusCode())
	}
	return <-requests
}

// signedRequest converts what the server received into a SignedRequest,
// as an HTTP handler does (putting Host back into the header).
func signedRequest(c captured) *customs.SignedRequest {
	h := c.req.Header.Clone()
	h["Host"] = []string{c.req.Host}
	return &customs.SignedRequest{
		Method:        c.req.Method,
		Path:          c.req.URL.Path,
		RawQuery:      c.req.URL.RawQuery,
		Header:        h,
		Body:          c.body,
		Authorization: c.req.Header.Get("Authorization"),
	}
}

func TestVerifySignatureWithSDKSigner(t *testing.T) {
	endpoint, requests := sdkServer(t)
	baseHeaders := func(extra map[string]string) map[string]string {
		h := map[string]string{
			"User-Agent":   "huaweicloud-usdk-go/3.0",
			"X-Project-Id": "0123456789abcdef0123456789abcdef",
			"X-Sdk-Date":   testDate,
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	type jsonBody struct {
		Namespace string   `json:"namespace"`
		Tags      []string `json:"tags"`
		Note      string   `json:"note"`
	}
	tests := []struct {
		sdkCase
		wantRawQuery   string   // what the SDK's client sends, when the case is about it
		wantSigned     []string // signed headers the SDK lists
		wantBodySuffix string
		wantUnsigned   bool // the SDK sends X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD
	}{
		{
			sdkCase: sdkCase{
				name: "list images", method: http.MethodGet, path: "/v5/0123456789abcdef0123456789abcdef/image/swr-repository",
				query:   map[string]any{"limit": 10, "offset": 0, "image_type": "private_image", "enterprise_project_id": "all_granted_eps"},
				headers: baseHeaders(nil),
			},
			wantRawQuery: "enterprise_project_id=all_granted_eps&image_type=private_image&limit=10&offset=0",
			wantSigned:   []string{"user-agent", "x-project-id", "x-sdk-date"},
		},
		{
			sdkCase: sdkCase{
				name: "bare query keys", method: http.MethodGet, path: "/v5/p/image/swr-repository",
				query:   map[string]any{"first": "", "limit": "10", "last": ""},
				headers: baseHeaders(nil),
			},
			wantRawQuery: "first&last&limit=10",
		},
		{
			sdkCase: sdkCase{
				name: "space and plus in values", method: http.MethodGet, path: "/v5/p/image/swr-repository",
				query:   map[string]any{"image_name": "a b", "tag": "1.0+build", "both": " + "},
				headers: baseHeaders(nil),
			},
			// The SDK sends a space as %20 and a plus as %2B, never a bare "+".
			wantRawQuery: "both=%20%2B%20&image_name=a%20b&tag=1.0%2Bbuild",
		},
		{
			sdkCase: sdkCase{
				name: "unicode in path and values", method: http.MethodGet, path: "/v5/p/image/镜像/Ünïcödé repo",
				query:   map[string]any{"namespace": "命名空间", "note": "café ☕"},
				headers: baseHeaders(nil),
			},
		},
		{
			sdkCase: sdkCase{
				name: "reserved characters in path", method: http.MethodGet, path: "/v5/p/image/a:b@c!d$e&f'g(h)i*j,k;l=m%n",
				headers: baseHeaders(nil),
			},
		},
		{
			sdkCase: sdkCase{
				name: "repeated keys", method: http.MethodGet, path: "/v5/p/image/swr-repository",
				query:   map[string]any{"tag": []string{"v2", "v1", "v10", "v1"}, "limit": 5},
				headers: baseHeaders(nil),
			},
			wantRawQuery: "limit=5&tag=v2&tag=v1&tag=v10&tag=v1",
		},
		{
			sdkCase: sdkCase{
				name: "map query parameter", method: http.MethodGet, path: "/v5/p/image/swr-repository",
				query:   map[string]any{"filter": map[string]string{"os": "linux"}},
				headers: baseHeaders(nil),
			},
			wantRawQuery: "filter%5Bos%5D=linux",
		},
		{
			sdkCase: sdkCase{
				name: "empty body POST", method: http.MethodPost, path: "/v5/p/image/sync",
				headers: baseHeaders(nil),
			},
		},
		{
			sdkCase: sdkCase{
				name: "JSON body", method: http.MethodPost, path: "/v5/p/image/swr-repository/scan",
				headers: baseHeaders(map[string]string{"Content-Type": "application/json;charset=UTF-8"}),
				body:    jsonBody{Namespace: "library", Tags: []string{"latest", "1.0"}, Note: "<&> ü"},
			},
			wantSigned:     []string{"user-agent", "x-project-id", "x-sdk-date"},
			wantBodySuffix: "}\n",
		},
		{
			sdkCase: sdkCase{
				name: "non-JSON content type", method: http.MethodPut, path: "/v5/p/upload",
				headers: baseHeaders(map[string]string{"Content-Type": "application/octet-stream"}),
				body:    "raw bytes, not JSON",
			},
			wantSigned:   []string{"user-agent", "x-project-id", "x-sdk-content-sha256", "x-sdk-date"},
			wantUnsigned: true,
		},
		{
			sdkCase: sdkCase{
				name: "region and project headers", method: http.MethodGet, path: "/v5/p/image/swr-repository",
				query:   map[string]any{"limit": 1},
				headers: baseHeaders(map[string]string{"Region": "cn-north-4", "X-Language": "en-us"}),
			},
			wantSigned: []string{"region", "user-agent", "x-language", "x-project-id", "x-sdk-date"},
		},
		{
			sdkCase: sdkCase{
				name: "header value with surrounding space", method: http.MethodGet, path: "/v5/p/image/swr-repository",
				headers: baseHeaders(map[string]string{"X-Trace": "  padded value  "}),
			},
		},
		{
			sdkCase: sdkCase{
				name: "DELETE with trailing slash", method: http.MethodDelete, path: "/v5/p/image/",
				headers: baseHeaders(nil),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sendWithSDK(t, endpoint, requests, tt.sdkCase)
			if tt.wantRawQuery != "" && got.req.URL.RawQuery != tt.wantRawQuery {
				t.Errorf("the SDK sent the query %q, want %q", got.req.URL.RawQuery, tt.wantRawQuery)
			}
			if tt.wantBodySuffix != "" && !strings.HasSuffix(string(got.body), tt.wantBodySuffix) {
				t.Errorf("the SDK sent the body %q, want it to end with %q", got.body, tt.wantBodySuffix)
			}
			if gotUnsigned := got.req.Header.Get("X-Sdk-Content-Sha256") == "UNSIGNED-PAYLOAD"; gotUnsigned != tt.wantUnsigned {
				t.Errorf("X-Sdk-Content-Sha256 is UNSIGNED-PAYLOAD: %v, want %v", gotUnsigned, tt.wantUnsigned)
			}
			r := signedRequest(got)
			auth, err := iam.ParseAuthorization(r.Authorization)
			if err != nil {
				t.Fatalf("ParseAuthorization(%q): %v", r.Authorization, err)
			}
			if tt.wantSigned != nil {
				if diff := cmp.Diff(tt.wantSigned, auth.SignedHeaders); diff != "" {
					t.Errorf("SignedHeaders mismatch (-want +got):\n%s", diff)
				}
			}
			if auth.AccessKey != testAK {
				t.Errorf("AccessKey = %q, want %q", auth.AccessKey, testAK)
			}
			if err := iam.VerifySignature(r, auth, testSK, testTime); err != nil {
				canonical, _ := iam.CanonicalRequest(r, auth.SignedHeaders)
				t.Errorf("VerifySignature: %v\ncanonical request:\n%s", err, canonical)
			}
		})
	}

	t.Run("signing time from the SDK's clock", func(t *testing.T) {
		c := sdkCase{method: http.MethodGet, path: "/v5/p/image/swr-repository", headers: map[string]string{"X-Project-Id": "p"}}
		r := signedRequest(sendWithSDK(t, endpoint, requests, c))
		auth, err := iam.ParseAuthorization(r.Authorization)
		if err != nil {
			t.Fatalf("ParseAuthorization: %v", err)
		}
		if err := iam.VerifySignature(r, auth, testSK, time.Now()); err != nil {
			t.Errorf("VerifySignature: %v", err)
		}
	})
}

// TestVerifySignatureRefuses changes one thing in a request the SDK signed
// and sent, and checks that verification fails and says why.
func TestVerifySignatureRefuses(t *testing.T) {
	endpoint, requests := sdkServer(t)
	original := sendWithSDK(t, endpoint, requests, sdkCase{
		method: http.MethodPost, path: "/v5/0123456789abcdef0123456789abcdef/image/swr-repository/scan",
		query: map[string]any{"image_type": "private_image", "tag": "1.0+build", "name": "a b"},
		headers: map[string]string{
			"User-Agent": "huaweicloud-usdk-go/3.0", "X-Project-Id": "0123456789abcdef0123456789abcdef",
			"Region": "cn-north-4", "X-Sdk-Date": testDate, "Content-Type": "application/json",
		},
		body: map[string]string{"namespace": "library"},
	})
	if err := iam.VerifySignature(signedRequest(original), mustParse(t, original.req.Header.Get("Authorization")), testSK, testTime); err != nil {
		t.Fatalf("the untouched request does not verify: %v", err)
	}

	const mismatch = "The signature does not match the request"
	tests := []struct {
		name   string
		change func(r *customs.SignedRequest, a *iam.Authorization)
		secret string    // testSK if empty
		now    time.Time // testTime if zero
		want   string    // in the error message; "" for no error
	}{
		{name: "untouched", want: ""},
		{name: "skew just inside, client behind", now: testTime.Add(iam.MaxClockSkew), want: ""},
		{name: "skew just inside, client ahead", now: testTime.Add(-iam.MaxClockSkew), want: ""},
		{name: "skew just outside, client behind", now: testTime.Add(iam.MaxClockSkew + time.Second), want: "more than 15 minutes before the server time"},
		{name: "skew just outside, client ahead", now: testTime.Add(-iam.MaxClockSkew - time.Second), want: "more than 15 minutes after the server time"},
		{name: "replayed 16 minutes later", now: testTime.Add(16 * time.Minute), want: "more than 15 minutes before the server time"},
		{name: "wrong secret", secret: "SKEXAMPLE0000000000000000000000000000001", want: mismatch},
		{name: "body tampered", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Body = []byte(`{"namespace":"other"}` + "\n")
		}, want: mismatch},
		{name: "body trailing newline removed", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Body = []byte(strings.TrimSuffix(string(r.Body), "\n"))
		}, want: mismatch},
		{name: "body sent unsigned", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Sdk-Content-Sha256"] = []string{"UNSIGNED-PAYLOAD"}
		}, want: mismatch},
		{name: "path tampered", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Path = strings.Replace(r.Path, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", 1)
		}, want: mismatch},
		{name: "trailing slash added to path", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Path += "/"
		}, want: ""}, // the canonical URI always ends with "/": the SDK's rule
		{name: "method changed", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Method = http.MethodPut
		}, want: mismatch},
		{name: "query value changed", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.RawQuery = strings.Replace(r.RawQuery, "private_image", "shared_image", 1)
		}, want: mismatch},
		{name: "query parameter added", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.RawQuery += "&limit=1000"
		}, want: mismatch},
		{name: "bare query key added", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.RawQuery += "&all"
		}, want: mismatch},
		{name: "%2B sent as + (a space to the handler)", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.RawQuery = strings.Replace(r.RawQuery, "%2B", "+", 1)
		}, want: mismatch},
		{name: "%20 sent as + (the same value)", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.RawQuery = strings.Replace(r.RawQuery, "a%20b", "a+b", 1)
		}, want: ""},
		{name: "query reordered", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			parts := strings.Split(r.RawQuery, "&")
			parts[0], parts[len(parts)-1] = parts[len(parts)-1], parts[0]
			r.RawQuery = strings.Join(parts, "&")
		}, want: ""},
		{name: "signed header changed", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Project-Id"] = []string{"fedcba9876543210fedcba9876543210"}
		}, want: mismatch},
		{name: "signed header repeated", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["Region"] = append(r.Header["Region"], "cn-south-1")
		}, want: mismatch},
		{name: "unsigned header changed", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["Accept-Encoding"] = []string{"identity"}
		}, want: ""},
		{name: "signed header removed", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			delete(r.Header, "Region")
		}, want: `The signed header "region" is missing`},
		{name: "signed header dropped from the list", change: func(_ *customs.SignedRequest, a *iam.Authorization) {
			a.SignedHeaders = []string{"user-agent", "x-project-id", "x-sdk-date"}
		}, want: mismatch},
		{name: "x-sdk-date not signed", change: func(_ *customs.SignedRequest, a *iam.Authorization) {
			a.SignedHeaders = []string{"region", "user-agent", "x-project-id"}
		}, want: "do not include x-sdk-date"},
		{name: "X-Sdk-Date missing", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			delete(r.Header, "X-Sdk-Date")
		}, want: "no X-Sdk-Date header"},
		{name: "X-Sdk-Date twice", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Sdk-Date"] = []string{testDate, testDate}
		}, want: "2 X-Sdk-Date headers"},
		{name: "X-Sdk-Date in another form", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Sdk-Date"] = []string{"2024-01-01T00:00:00Z"}
		}, want: "not in the form YYYYMMDDTHHMMSSZ"},
		{name: "X-Sdk-Date with one-digit hour", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Sdk-Date"] = []string{"20240101T00000Z"}
		}, want: "not in the form YYYYMMDDTHHMMSSZ"},
		{name: "X-Sdk-Date one second later", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Sdk-Date"] = []string{"20240101T000001Z"}
		}, want: mismatch},
		{name: "X-Security-Token", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["X-Security-Token"] = []string{"gQpjbi1ub3J0aC00..."}
		}, want: "temporary security credentials are not supported"},
		{name: "X-Security-Token in another case", change: func(r *customs.SignedRequest, _ *iam.Authorization) {
			r.Header["x-security-token"] = []string{""}
		}, want: "temporary security credentials are not supported"},
		{name: "signature of another request", change: func(_ *customs.SignedRequest, a *iam.Authorization) {
			a.Signature = "ad43b2b3b9c8585c43aec783a5538b2c1024b916fd288be309fe694a48b6e106"
		}, want: mismatch},
		{name: "signature in upper case", change: func(_ *customs.SignedRequest, a *iam.Authorization) {
			a.Signature = strings.ToUpper(a.Signature)
		}, want: mismatch},
		{name: "signature truncated", change: func(_ *customs.SignedRequest, a *iam.Authorization) {
			a.Signature = a.Signature[:63]
		}, want: mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signedRequest(original)
			auth := mustParse(t, r.Authorization)
			if tt.change != nil {
				tt.change(r, auth)
			}
			secret, now := tt.secret, testTime
			if secret == "" {
				secret = testSK
			}
			if !tt.now.IsZero() {
				now = tt.now
			}
			err := iam.VerifySignature(r, auth, secret, now)
			if tt.want == "" {
				if err != nil {
					t.Errorf("VerifySignature: %v, want success", err)
				}
				return
			}
			// The expected signature must never be revealed; compute it
			// the way the verifier does for the unchanged request.
			canonical, _ := iam.CanonicalRequest(r, auth.SignedHeaders)
			expected := iam.Signature(secret, iam.StringToSign(testDate, canonical))
			wantUnauthorized(t, err, tt.want, expected, auth.Signature, secret)
		})
	}

	t.Run("empty secret key", func(t *testing.T) {
		r := signedRequest(original)
		auth := mustParse(t, r.Authorization)
		// The signature an attacker computes with an empty key.
		canonical, err := iam.CanonicalRequest(r, auth.SignedHeaders)
		if err != nil {
			t.Fatalf("CanonicalRequest: %v", err)
		}
		auth.Signature = iam.Signature("", iam.StringToSign(testDate, canonical))
		err = iam.VerifySignature(r, auth, "", testTime)
		if code := customs.ErrorCode(err); code != customs.EINTERNAL {
			t.Errorf("VerifySignature with an empty secret key: %v (code %q), want an internal error", err, code)
		}
	})

	t.Run("no authorization", func(t *testing.T) {
		wantUnauthorized(t, iam.VerifySignature(signedRequest(original), nil, testSK, testTime), "no Authorization header")
	})
}

func mustParse(t *testing.T, header string) *iam.Authorization {
	t.Helper()
	a, err := iam.ParseAuthorization(header)
	if err != nil {
		t.Fatalf("ParseAuthorization(%q): %v", header, err)
	}
	return a
}

func TestParseAuthorization(t *testing.T) {
	const sig = "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
	want := &iam.Authorization{AccessKey: "QTWAOYTTINDUT2QVKYUC", SignedHeaders: []string{"content-type", "host", "x-sdk-date"}, Signature: sig}
	tests := []struct {
		name   string
		header string
		want   *iam.Authorization
		err    string // in the error message
	}{
		{name: "as the SDK writes it", header: "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=" + sig, want: want},
		{name: "no spaces after commas", header: "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC,SignedHeaders=content-type;host;x-sdk-date,Signature=" + sig, want: want},
		{name: "other order", header: "SDK-HMAC-SHA256 Signature=" + sig + ", Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date", want: want},
		{name: "extra spaces", header: "SDK-HMAC-SHA256   Access=QTWAOYTTINDUT2QVKYUC ,  SignedHeaders=content-type;host;x-sdk-date,\tSignature=" + sig, want: want},
		{name: "one signed header", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig,
			want: &iam.Authorization{AccessKey: "AK", SignedHeaders: []string{"x-sdk-date"}, Signature: sig}},
		{name: "empty", header: "", err: "The Authorization header is empty"},
		{name: "too long", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=" + strings.Repeat("a", 8192) + ", Signature=" + sig, err: "at most 8192 are allowed"},
		{name: "token scheme", header: "Bearer abc.def", err: `uses the scheme "Bearer"`},
		{name: "derived algorithm", header: "V11-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig, err: `uses the scheme "V11-HMAC-SHA256"`},
		{name: "lower-case algorithm", header: "sdk-hmac-sha256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig, err: "only SDK-HMAC-SHA256 is accepted"},
		{name: "algorithm alone", header: "SDK-HMAC-SHA256", err: "has no Access, SignedHeaders or Signature"},
		{name: "algorithm and spaces", header: "SDK-HMAC-SHA256   ", err: "has no Access, SignedHeaders or Signature"},
		{name: "no space after algorithm", header: "SDK-HMAC-SHA256Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig, err: `does not start with "SDK-HMAC-SHA256 "`},
		{name: "no Access", header: "SDK-HMAC-SHA256 SignedHeaders=x-sdk-date, Signature=" + sig, err: "has no Access"},
		{name: "no SignedHeaders", header: "SDK-HMAC-SHA256 Access=AK, Signature=" + sig, err: "has no SignedHeaders"},
		{name: "no Signature", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date", err: "has no Signature"},
		{name: "Access twice", header: "SDK-HMAC-SHA256 Access=AK, Access=BK, SignedHeaders=x-sdk-date, Signature=" + sig, err: "has Access more than once"},
		{name: "Signature twice", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig + ", Signature=" + sig, err: "has Signature more than once"},
		{name: "unknown part", header: "SDK-HMAC-SHA256 Access=AK, Credential=x, SignedHeaders=x-sdk-date, Signature=" + sig, err: `unknown part "Credential"`},
		{name: "part name in lower case", header: "SDK-HMAC-SHA256 access=AK, SignedHeaders=x-sdk-date, Signature=" + sig, err: `unknown part "access"`},
		{name: "trailing comma", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig + ",", err: "an empty part"},
		{name: "part without =", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, " + sig, err: `a part without "="`},
		{name: "empty access key", header: "SDK-HMAC-SHA256 Access=, SignedHeaders=x-sdk-date, Signature=" + sig, err: "is not an access key"},
		{name: "access key with space", header: "SDK-HMAC-SHA256 Access=A K, SignedHeaders=x-sdk-date, Signature=" + sig, err: "is not an access key"},
		{name: "access key too long", header: "SDK-HMAC-SHA256 Access=" + strings.Repeat("A", 129) + ", SignedHeaders=x-sdk-date, Signature=" + sig, err: "is not an access key"},
		{name: "empty SignedHeaders", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=, Signature=" + sig, err: "SignedHeaders of the Authorization header are empty"},
		{name: "empty header name", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;;x-sdk-date, Signature=" + sig, err: "have an empty name"},
		{name: "upper-case header name", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host;x-sdk-date, Signature=" + sig, err: `have "Host", which is not a lower-case header name`},
		{name: "header name with space", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x sdk date, Signature=" + sig, err: "not a lower-case header name"},
		{name: "unsorted header names", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date;host, Signature=" + sig, err: `not sorted and unique: "host" comes after "x-sdk-date"`},
		{name: "repeated header name", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;host;x-sdk-date, Signature=" + sig, err: `not sorted and unique: "host" comes after "host"`},
		{name: "short signature", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig[:63], err: "not 64 lower-case hexadecimal digits"},
		{name: "long signature", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig + "0", err: "not 64 lower-case hexadecimal digits"},
		{name: "upper-case signature", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + strings.ToUpper(sig), err: "not 64 lower-case hexadecimal digits"},
		{name: "non-hex signature", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + strings.Repeat("g", 64), err: "not 64 lower-case hexadecimal digits"},
		{name: "empty signature", header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=", err: "not 64 lower-case hexadecimal digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := iam.ParseAuthorization(tt.header)
			if tt.err != "" {
				if got != nil {
					t.Errorf("ParseAuthorization(%q) = %+v, want nil", tt.header, got)
				}
				wantUnauthorized(t, err, tt.err, sig, strings.ToUpper(sig), sig[:63], strings.Repeat("g", 64))
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthorization(%q): %v", tt.header, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseAuthorization(%q) mismatch (-want +got):\n%s", tt.header, diff)
			}
		})
	}
}

func TestCanonicalRequest(t *testing.T) {
	const emptyHash = emptyBodyHash
	date := map[string][]string{"X-Sdk-Date": {testDate}}
	withDate := func(h map[string][]string) map[string][]string {
		h["X-Sdk-Date"] = []string{testDate}
		return h
	}
	dateLine := "x-sdk-date:" + testDate + "\n"
	tests := []struct {
		name    string
		r       customs.SignedRequest
		signed  []string
		want    string
		wantErr string
	}{
		{
			name:   "empty path and query",
			r:      customs.SignedRequest{Method: "GET", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/\n\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "path segments escaped, trailing slash kept",
			r:      customs.SignedRequest{Method: "GET", Path: "/v5/a b/ü/x:y@z/%/", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/v5/a%20b/%C3%BC/x%3Ay%40z/%25/\n\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "empty segments kept",
			r:      customs.SignedRequest{Method: "GET", Path: "//v5//image", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n//v5//image/\n\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "bare keys",
			r:      customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "b&a=&c=1", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/\na=&b=&c=1\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "%20 and + are a space, %2B is a plus",
			r:      customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "a=x%20y&b=x+y&c=x%2By&d=%2b", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/\na=x%20y&b=x%20y&c=x%2By&d=%2B\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "keys and values decoded, sorted and re-escaped",
			r:      customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "tag=v2&Tag=x&tag=v1&tag=v10&%74ag=v0&%E9%95%9C=%E5%83%8F&k%5B1%5D=~-._*", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/\nTag=x&k%5B1%5D=~-._%2A&tag=v0&tag=v1&tag=v10&tag=v2&%E9%95%9C=%E5%83%8F\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "empty pairs skipped, semicolons kept",
			r:      customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "&a=1&&b=2;c=3&", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/\na=1&b=2%3Bc%3D3\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name:   "= inside a value",
			r:      customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "a=b=c", Header: date},
			signed: []string{"x-sdk-date"},
			want:   "GET\n/\na=b%3Dc\n" + dateLine + "\nx-sdk-date\n" + emptyHash,
		},
		{
			name: "headers by lower-case name, trimmed, repeated values sorted",
			r: customs.SignedRequest{Method: "POST", Path: "/", Header: withDate(map[string][]string{
				"Region": {" cn-north-4 "}, "X-Multi": {"b", "a"}, "x-multi": {"c"}, "X-Unsigned": {"ignored"},
			})},
			signed: []string{"region", "x-multi", "x-sdk-date"},
			want:   "POST\n/\n\nregion:cn-north-4\nx-multi:a\nx-multi:b\nx-multi:c\n" + dateLine + "\nregion;x-multi;x-sdk-date\n" + emptyHash,
		},
		{
			name:   "host from the Host header",
			r:      customs.SignedRequest{Method: "GET", Path: "/", Header: withDate(map[string][]string{"Host": {"hss.example.com:8443"}})},
			signed: []string{"host", "x-sdk-date"},
			want:   "GET\n/\n\nhost:hss.example.com:8443\n" + dateLine + "\nhost;x-sdk-date\n" + emptyHash,
		},
		{
			name:   "body hashed",
			r:      customs.SignedRequest{Method: "POST", Path: "/", Header: date, Body: []byte("{}\n")},
			signed: []string{"x-sdk-date"},
			want:   "POST\n/\n\n" + dateLine + "\nx-sdk-date\n" + sha256Hex("{}\n"),
		},
		{
			name: "unsigned payload",
			r: customs.SignedRequest{Method: "PUT", Path: "/", Body: []byte("data"), Header: withDate(map[string][]string{
				"X-Sdk-Content-Sha256": {"UNSIGNED-PAYLOAD"},
			})},
			signed: []string{"x-sdk-content-sha256", "x-sdk-date"},
			want:   "PUT\n/\n\nx-sdk-content-sha256:UNSIGNED-PAYLOAD\n" + dateLine + "\nx-sdk-content-sha256;x-sdk-date\nUNSIGNED-PAYLOAD",
		},
		{
			name: "any other X-Sdk-Content-Sha256 does not skip the body",
			r: customs.SignedRequest{Method: "PUT", Path: "/", Body: []byte("data"), Header: withDate(map[string][]string{
				"X-Sdk-Content-Sha256": {"0000"},
			})},
			signed: []string{"x-sdk-date"},
			want:   "PUT\n/\n\n" + dateLine + "\nx-sdk-date\n" + sha256Hex("data"),
		},
		{
			name:   "no signed headers",
			r:      customs.SignedRequest{Method: "GET", Path: "/"},
			signed: nil,
			want:   "GET\n/\n\n\n\n\n" + emptyHash,
		},
		{
			name:    "signed header missing",
			r:       customs.SignedRequest{Method: "GET", Path: "/", Header: date},
			signed:  []string{"region", "x-sdk-date"},
			wantErr: `The signed header "region" is missing from the request`,
		},
		{
			name:    "host missing (net/http moved it)",
			r:       customs.SignedRequest{Method: "GET", Path: "/", Header: date},
			signed:  []string{"host", "x-sdk-date"},
			wantErr: `The signed header "host" is missing from the request`,
		},
		{
			name:    "signed headers unsorted",
			r:       customs.SignedRequest{Method: "GET", Path: "/", Header: withDate(map[string][]string{"Region": {"r"}})},
			signed:  []string{"x-sdk-date", "region"},
			wantErr: "not sorted and unique",
		},
		{
			name:    "signed header in upper case",
			r:       customs.SignedRequest{Method: "GET", Path: "/", Header: date},
			signed:  []string{"X-Sdk-Date"},
			wantErr: "not a lower-case header name",
		},
		{
			name:    "invalid percent-encoding in a value",
			r:       customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "a=100%", Header: date},
			signed:  []string{"x-sdk-date"},
			wantErr: `The query has "100%", which is not valid percent-encoding`,
		},
		{
			name:    "invalid percent-encoding in a key",
			r:       customs.SignedRequest{Method: "GET", Path: "/", RawQuery: "%zz=1", Header: date},
			signed:  []string{"x-sdk-date"},
			wantErr: `The query has "%zz", which is not valid percent-encoding`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := iam.CanonicalRequest(&tt.r, tt.signed)
			if tt.wantErr != "" {
				wantUnauthorized(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("CanonicalRequest: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CanonicalRequest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStringToSign(t *testing.T) {
	got := iam.StringToSign(testDate, "canonical")
	want := "SDK-HMAC-SHA256\n" + testDate + "\n" + sha256Hex("canonical")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StringToSign mismatch (-want +got):\n%s", diff)
	}
}
