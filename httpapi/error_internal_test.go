package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// TestErrorTable checks the answer to every application error code, in the
// HSS and in the IAM shape, including codes no endpoint returns yet.
func TestErrorTable(t *testing.T) {
	s := &Server{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	for _, tc := range []struct {
		err    error
		status int
		hss    string // the body on an HSS path, with request id "rid"
		iam    string // the body on an IAM path
	}{
		{customs.Errorf(customs.EINVALID, "Bad x."), 400,
			`{"error_code":"HSS.0001","error_description":"Bad x.","error_msg":"Bad x."}`,
			`{"error":{"code":400,"message":"Bad x.","title":"Bad Request"}}`},
		{customs.Errorf(customs.EMALFORMED, "Not JSON."), 400,
			`{"error_code":"HSS.0002","error_description":"Not JSON.","error_msg":"Not JSON."}`,
			`{"error":{"code":400,"message":"Not JSON.","title":"Bad Request"}}`},
		{customs.Errorf(customs.EUNAUTHORIZED, "No token."), 401,
			`{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: No token.","request_id":"rid"}`,
			`{"error":{"code":401,"message":"No token.","title":"Unauthorized"}}`},
		{customs.Errorf(customs.ETOKENREGION, "Other region."), 401,
			`{"error_code":"APIGW.0307","error_msg":"The token must be updated.","request_id":"rid"}`,
			`{"error":{"code":401,"message":"Other region.","title":"Unauthorized"}}`},
		{customs.Errorf(customs.EFORBIDDEN, "No."), 403,
			`{"error_code":"HSS.0013","error_description":"No.","error_msg":"No."}`,
			`{"error":{"code":403,"message":"No.","title":"Forbidden"}}`},
		{customs.Errorf(customs.ENOPERMISSION, "None."), 403,
			`{"error_code":"APIGW.0302","error_msg":"None.","request_id":"rid"}`,
			`{"error":{"code":403,"message":"None.","title":"Forbidden"}}`},
		{customs.Errorf(customs.ENOTFOUND, "Gone."), 404,
			`{"error_code":"HSS.0011","error_description":"Gone.","error_msg":"Gone."}`,
			`{"error":{"code":404,"message":"Gone.","title":"Not Found"}}`},
		{customs.Errorf(customs.ECONFLICT, "Taken."), 409,
			`{"error_code":"HSS.0009","error_description":"Taken.","error_msg":"Taken."}`,
			`{"error":{"code":409,"message":"Taken.","title":"Conflict"}}`},
		{customs.Errorf(customs.ERATELIMIT, "Slow down."), 429,
			`{"error_code":"APIGW.0308","error_msg":"Slow down.","request_id":"rid"}`,
			`{"error":{"code":429,"message":"Slow down.","title":"Too Many Requests"}}`},
		{customs.Errorf(customs.EINTERNAL, "query without a project scope"), 500,
			`{"error_code":"HSS.0004","error_description":"Internal error.","error_msg":"Internal error."}`,
			`{"error":{"code":500,"message":"Internal error.","title":"Internal Server Error"}}`},
		{errors.New("disk on fire"), 500,
			`{"error_code":"HSS.0004","error_description":"Internal error.","error_msg":"Internal error."}`,
			`{"error":{"code":500,"message":"Internal error.","title":"Internal Server Error"}}`},
		{&customs.Error{Code: "unheard_of", Message: "?"}, 500,
			`{"error_code":"HSS.0004","error_description":"Internal error.","error_msg":"Internal error."}`,
			`{"error":{"code":500,"message":"Internal error.","title":"Internal Server Error"}}`},
	} {
		for path, want := range map[string]string{"/v5/p/image/swr-repository": tc.hss, "/v3/auth/tokens": tc.iam} {
			w := httptest.NewRecorder()
			w.Header().Set("X-Request-Id", "rid")
			s.writeError(w, httptest.NewRequest("GET", path, nil), tc.err)
			if w.Code != tc.status {
				t.Errorf("writeError(%v) on %s: status %d, want %d", tc.err, path, w.Code, tc.status)
			}
			var got, wantV any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("writeError(%v) on %s: %v in %s", tc.err, path, err, w.Body)
			}
			json.Unmarshal([]byte(want), &wantV)
			if diff := cmp.Diff(wantV, got); diff != "" {
				t.Errorf("writeError(%v) on %s mismatch (-want +got):\n%s", tc.err, path, diff)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		}
	}
	for _, code := range []string{customs.EINVALID, customs.EMALFORMED, customs.EUNAUTHORIZED, customs.ETOKENREGION, customs.EFORBIDDEN,
		customs.ENOPERMISSION, customs.ENOTFOUND, customs.ECONFLICT, customs.ERATELIMIT, customs.EINTERNAL} {
		if _, ok := errorTable[code]; !ok {
			t.Errorf("error code %q has no entry in the error table", code)
		}
	}
}
