package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"customs"
)

// FuzzTokenRequest feeds arbitrary bodies to the token request parser: it
// never panics, refuses only with a client error (never an internal one),
// and what it accepts carries the user and scope of the body.
//
//	go test -run '^$' -fuzz FuzzTokenRequest -fuzztime 60s ./httpapi
func FuzzTokenRequest(f *testing.F) {
	for _, seed := range []string{
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":"p","domain":{"name":"admin"}}}},"scope":{"project":{"id":"0123456789abcdef0123456789abcdef"}}}}`,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"u","password":"p"}}},"scope":{"domain":{"name":"d"}}}}`,
		`{"auth":{"identity":{"methods":["token"]}}}`,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"a","password":"p"}}},"scope":{"project":{}}}}`,
		`{"auth":null}`, `[]`, `{}`, `{"auth":{"identity":{"methods":"password"}}}`, `{"auth":{}}{}`, "", `{"a`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v3/auth/tokens", bytes.NewReader(body))
		var b tokenRequestBody
		err := decodeBody(httptest.NewRecorder(), r, &b)
		if err == nil {
			var req customs.TokenRequest
			if req, err = b.tokenRequest(); err == nil {
				u := b.Auth.Identity.Password.User
				if req.UserName != u.Name || req.UserID != u.ID || req.Password != u.Password {
					t.Fatalf("tokenRequest() lost the user: %+v from %s", req, body)
				}
				if sc := b.Auth.Scope; sc != nil && sc.Project != nil && req.ProjectID == "" && req.ProjectName == "" {
					t.Fatalf("tokenRequest() accepted an empty project scope: %s", body)
				}
				return
			}
		}
		if code := customs.ErrorCode(err); code != customs.EINVALID && code != customs.EMALFORMED {
			t.Fatalf("body %q: error %v (code %s), want a client error", body, err, code)
		}
		if !json.Valid(body) && customs.ErrorCode(err) != customs.EMALFORMED {
			t.Fatalf("a body that is not JSON got %v, want EMALFORMED", err)
		}
	})
}
