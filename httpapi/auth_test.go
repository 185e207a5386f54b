package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"customs"
	"customs/httpapi"
	"customs/iam"
)

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	const query = "?image_type=private_image"
	tokenB := f.login(t, iam.AdminUser, projectBID)
	readerToken := f.login(t, "reader", projectID)
	readerTokenB := f.login(t, "reader", projectBID)
	idleToken := f.login(t, f.createUserNamed(t, "idle"), projectID)
	revoked := f.login(t, iam.AdminUser, projectID)
	if res := f.do(t, request{method: "DELETE", path: "/v3/auth/tokens", header: map[string]string{"X-Subject-Token": revoked}}); res.status != http.StatusNoContent {
		t.Fatalf("revoke = %d %s", res.status, res.body)
	}
	domainToken := func() string {
		res := f.do(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: `{"auth":{"identity":{"methods":["password"],
			"password":{"user":{"name":"admin","password":"` + password + `","domain":{"name":"admin"}}}},"scope":{"domain":{"name":"admin"}}}}`})
		if res.status != http.StatusCreated {
			t.Fatalf("domain token = %d %s", res.status, res.body)
		}
		return res.header.Get("X-Subject-Token")
	}()

	for _, tc := range []struct {
		name    string
		req     request
		status  int
		code    string
		msgPart string
	}{
		{"no token", request{path: listPath + query, noToken: true}, 401, "APIGW.0301", "Incorrect IAM authentication information: No credentials"},
		{"garbage token", request{path: listPath + query, token: "garbage"}, 401, "APIGW.0301", "Incorrect IAM authentication information: The token is malformed"},
		{"unknown token", request{path: listPath + query, token: "CST1" + strings.Repeat("A", 43)}, 401, "APIGW.0301", "not known"},
		{"revoked token", request{path: listPath + query, token: revoked}, 401, "APIGW.0301", "revoked"},
		{"token too long", request{path: listPath + query, token: strings.Repeat("x", 32769)}, 401, "APIGW.0301", "32768"},
		{"AK/SK signature of an unknown key", request{path: listPath + query, noToken: true, header: map[string]string{
			"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + strings.Repeat("0", 64), "X-Sdk-Date": "20250601T120000Z"}},
			401, "APIGW.0301", "not known"},
		{"malformed AK/SK signature", request{path: listPath + query, noToken: true, header: map[string]string{
			"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=00", "X-Sdk-Date": "20250601T120000Z"}},
			401, "APIGW.0301", "Signature"},
		{"token for another project", request{path: listPath + query, token: tokenB}, 403, "HSS.0013", "Insufficient permissions"},
		{"domain-scoped token", request{path: listPath + query, token: domainToken}, 403, "HSS.0013", "Insufficient permissions"},
		{"project that does not exist", request{path: "/v5/00000000000000000000000000000000/image/swr-repository" + query}, 403, "HSS.0013", "Insufficient permissions"},
		{"region header mismatch", request{path: listPath + query, header: map[string]string{"region": "region-b"}}, 400, "HSS.0001", "Invalid parameter region"},
		{"region header too long", request{path: listPath + query, header: map[string]string{"region": strings.Repeat("r", 200)}}, 400, "HSS.0001", "Invalid parameter region"},
		{"reader writing", request{method: "POST", path: registriesPath, token: readerToken, body: registryBody("r", "Harbor")}, 403, "HSS.0013", "hss:images:set"},
		{"reader in a project without grants", request{path: "/v5/" + projectBID + "/image/swr-repository" + query, token: readerTokenB}, 403, "APIGW.0302", "no permission"},
		{"user without grants", request{path: listPath + query, token: idleToken}, 403, "APIGW.0302", "no permission"},
		{"user without grants asking for every enterprise project", request{path: listPath + query + "&enterprise_project_id=all_granted_eps", token: idleToken}, 403, "APIGW.0302", "no permission"},
		{"unknown path", request{path: "/v5/" + projectID + "/image/nothing-here"}, 404, "HSS.0011", "/image/nothing-here"},
		{"unknown method", request{method: "PATCH", path: listPath + query}, 404, "HSS.0011", "PATCH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req.method == "" {
				tc.req.method = "GET"
			}
			e := wantError(t, f.do(t, tc.req), tc.status, tc.code)
			if !strings.Contains(e.ErrorMsg, tc.msgPart) {
				t.Errorf("error_msg = %q, want it to contain %q", e.ErrorMsg, tc.msgPart)
			}
		})
	}

	t.Run("same refusal whether or not the project exists", func(t *testing.T) {
		other := wantError(t, f.do(t, request{method: "GET", path: "/v5/" + projectBID + "/image/swr-repository" + query}), 403, "HSS.0013")
		missing := wantError(t, f.do(t, request{method: "GET", path: "/v5/00000000000000000000000000000000/image/swr-repository" + query}), 403, "HSS.0013")
		if other != missing {
			t.Errorf("refusals differ:\n existing project: %+v\n missing project:  %+v", other, missing)
		}
	})

	t.Run("accepted", func(t *testing.T) {
		for _, r := range []request{
			{method: "GET", path: listPath + query, header: map[string]string{"region": region}},
			{method: "GET", path: listPath + query, header: map[string]string{"region": ""}},
			{method: "GET", path: "/v5/" + projectBID + "/image/swr-repository" + query, token: tokenB},
			{method: "GET", path: listPath + query, token: readerToken},
			{method: "GET", path: listPath + query + "&enterprise_project_id=all_granted_eps", token: readerToken},
		} {
			if res := f.do(t, r); res.status != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", r.path, res.status, res.body)
			}
		}
	})
}

// TestTokenOfAnotherRegion serves region-a with an identity service of
// region-b: its tokens must be refreshed.
func TestTokenOfAnotherRegion(t *testing.T) {
	f := newFixture(t)
	other := &httpapi.Server{Addr: "127.0.0.1:0", Region: "region-b", Auth: f.auth, Images: f.db, Registries: f.db,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	if err := other.Open(); err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tokenB := f.login(t, iam.AdminUser, projectBID)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", other.URL()+"/v5/"+projectBID+"/image/swr-repository?image_type=private_image", nil)
	req.Header.Set("X-Auth-Token", tokenB)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e hssError
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 || e.ErrorCode != "APIGW.0307" || e.ErrorMsg != "The token must be updated." || e.RequestID != res.Header.Get("X-Request-Id") {
		t.Errorf("answer = %d %+v, want 401 APIGW.0307 \"The token must be updated.\" with the request id", res.StatusCode, e)
	}
}

// TestInternalErrorsHidden breaks the store under the server: the caller
// learns nothing of the failure, and the log has it with the request id.
func TestInternalErrorsHidden(t *testing.T) {
	f := newFixture(t)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	res := f.do(t, request{method: "GET", path: listPath + "?image_type=private_image"})
	e := wantError(t, res, 500, "HSS.0004")
	if e.ErrorMsg != "Internal error." {
		t.Errorf("error_msg = %q, want \"Internal error.\"", e.ErrorMsg)
	}
	id := res.header.Get("X-Request-Id")
	var logged bool
	for line := range strings.Lines(f.logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "ERROR" && rec["request_id"] == id && strings.Contains(rec["err"].(string), "closed") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no ERROR log line with request_id %s and the store's error in:\n%s", id, f.logs.String())
	}
}

// TestRequestLog checks that each request is logged once with what an
// operator needs to find it.
func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, request{method: "GET", path: listPath + "?image_type=bogus"})
	id := res.header.Get("X-Request-Id")
	var found []map[string]any
	for line := range strings.Lines(f.logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["request_id"] == id {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d log lines with request_id %s, want 1:\n%s", len(found), id, f.logs.String())
	}
	rec := found[0]
	if rec["level"] != "INFO" || rec["method"] != "GET" || rec["path"] != listPath || rec["status"] != float64(400) || rec["duration"] == nil {
		t.Errorf("request log = %v, want INFO with method GET, path %s, status 400 and a duration", rec, listPath)
	}
}

func TestServerClose(t *testing.T) {
	f := newFixture(t)
	url := f.srv.URL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", url)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f.srv.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := client.Get(url + listPath); err == nil {
		res.Body.Close()
		t.Errorf("GET after Close answered %d, want a connection error", res.StatusCode)
	}
}

// panicFinder fails the way a bug would.
type panicFinder struct{}

func (panicFinder) FindImages(context.Context, customs.Scope, customs.ImageFilter) ([]*customs.Image, int, error) {
	panic("index out of range")
}

// TestPanicAnswered checks that a handler's panic is answered as an
// internal error, with the request id, and that the server keeps serving.
func TestPanicAnswered(t *testing.T) {
	f := newFixture(t)
	srv := &httpapi.Server{Addr: "127.0.0.1:0", Region: region, Auth: f.auth, Images: panicFinder{}, Registries: f.db,
		Logger: f.srv.Logger}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	for range 2 {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL()+listPath+"?image_type=private_image", nil)
		req.Header.Set("X-Auth-Token", f.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e hssError
		err = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if err != nil || res.StatusCode != 500 || e.ErrorCode != "HSS.0004" || e.ErrorMsg != "Internal error." {
			t.Errorf("answer = %d %+v (%v), want 500 HSS.0004", res.StatusCode, e, err)
		}
		if id := res.Header.Get("X-Request-Id"); !strings.Contains(f.logs.String(), `"request_id":"`+id+`"`) || !strings.Contains(f.logs.String(), "index out of range") {
			t.Errorf("the panic is not logged with request id %s", id)
		}
	}
}
