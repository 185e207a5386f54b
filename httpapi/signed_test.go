package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/impl"

	"customs"
	"customs/iam"
)

// TestSignedRequests sends AK/SK-signed requests, signed by the Huawei Go
// SDK's signer, with an access key created through the API.
func TestSignedRequests(t *testing.T) {
	f := newFixture(t)
	reg := f.registry(t, "harbor", customs.Harbor, customs.DefaultEnterpriseProject)
	f.tag(t, reg, "team/app", "v1", image("app-v1", 1000), epoch.Add(-time.Hour))
	key := f.createAccessKey(t, "", adminID)
	readerKey := f.createAccessKey(t, f.login(t, "reader", projectID), readerID)
	const list = listPath + "?image_type=instance_image"
	inA := map[string]string{"X-Project-Id": projectID}

	listed := func(t *testing.T, res response) int {
		t.Helper()
		if res.status != http.StatusOK {
			t.Fatalf("answer = %d %s, want 200", res.status, res.body)
		}
		return decode[struct {
			TotalNum int `json:"total_num"`
		}](t, res).TotalNum
	}

	t.Run("accepted", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			req  request
		}{
			{"with X-Project-Id", request{method: "GET", path: list, key: &key, header: inA}},
			{"without X-Project-Id: the path's project", request{method: "GET", path: list, key: &key}},
			{"read-only user", request{method: "GET", path: list, key: &readerKey, header: inA}},
			{"region header signed", request{method: "GET", path: list, key: &key, header: map[string]string{"X-Project-Id": projectID, "region": region}}},
			{"host signed", request{method: "GET", path: list, key: &key, header: map[string]string{"X-Project-Id": projectID, "Host": strings.TrimPrefix(f.srv.URL(), "http://")}}},
			{"encoded query value", request{method: "GET", path: list + "&namespace=team&image_name=a%20p%2Bp%2F%E2%9C%93", key: &key, header: inA}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := 1
				if strings.Contains(tc.req.path, "image_name") {
					want = 0
				}
				if got := listed(t, f.do(t, tc.req)); got != want {
					t.Errorf("total_num = %d, want %d", got, want)
				}
			})
		}
	})

	t.Run("another project of the domain", func(t *testing.T) {
		listB := "/v5/" + projectBID + "/image/swr-repository?image_type=instance_image"
		if got := listed(t, f.do(t, request{method: "GET", path: listB, key: &key, header: map[string]string{"X-Project-Id": projectBID}})); got != 0 {
			t.Errorf("project B lists %d images, want 0", got)
		}
		// X-Project-Id names one project and the path another, either way.
		wantError(t, f.do(t, request{method: "GET", path: list, key: &key, header: map[string]string{"X-Project-Id": projectBID}}), 403, "HSS.0013")
		wantError(t, f.do(t, request{method: "GET", path: listB, key: &key, header: inA}), 403, "HSS.0013")
		wantError(t, f.do(t, request{method: "GET", path: list, key: &key, header: map[string]string{"X-Project-Id": "00000000000000000000000000000000"}}), 403, "HSS.0013")
		// The read-only user holds nothing in project B.
		wantError(t, f.do(t, request{method: "GET", path: listB, key: &readerKey}), 403, "APIGW.0302")
	})

	t.Run("the body is signed and reaches the handler", func(t *testing.T) {
		res := f.do(t, request{method: "POST", path: registriesPath, key: &key, header: inA, body: registryBody("signed", "Jfrog")})
		if res.status != http.StatusOK {
			t.Fatalf("POST registries = %d %s", res.status, res.body)
		}
		if got := decode[registry](t, res).RegistryName; got != "signed" {
			t.Errorf("created registry %q, want signed", got)
		}
		// The read-only user may not write.
		wantError(t, f.do(t, request{method: "POST", path: registriesPath, key: &readerKey, body: registryBody("refused", "Jfrog")}), 403, "HSS.0013")
	})

	t.Run("an IAM call", func(t *testing.T) {
		f.must(t, request{method: "POST", path: "/v3/users", key: &key, body: `{"user":{"name":"signed","password":"` + password + `"}}`}, 201)
	})

	t.Run("refused", func(t *testing.T) {
		// The bad signatures lock this key; the others stay usable.
		bad := f.createAccessKey(t, "", adminID)
		wrong := accessKey{bad.access, strings.Repeat("x", 40)}
		unknown := accessKey{"NOSUCHKEY0000000000", key.secret}
		replace := func(body string) func(*http.Request) {
			return func(r *http.Request) {
				r.Body = io.NopCloser(strings.NewReader(body))
				r.ContentLength = int64(len(body))
			}
		}
		for _, tc := range []struct {
			name    string
			req     request
			status  int
			code    string
			msgPart string
		}{
			{"wrong secret key", request{method: "GET", path: list, key: &wrong, header: inA}, 401, "APIGW.0301", "signature does not match"},
			{"unknown access key", request{method: "GET", path: list, key: &unknown, header: inA}, 401, "APIGW.0301", "not known"},
			{"body changed after signing", request{method: "POST", path: registriesPath, key: &bad, header: inA, body: registryBody("a", "Jfrog"),
				tamper: replace(registryBody("b", "Jfrog") + "\n")}, 401, "APIGW.0301", "signature does not match"},
			{"query changed after signing", request{method: "GET", path: list, key: &bad, header: inA,
				tamper: func(r *http.Request) { r.URL.RawQuery += "&limit=20" }}, 401, "APIGW.0301", "signature does not match"},
			{"signed header changed after signing", request{method: "GET", path: list, key: &bad, header: inA,
				tamper: func(r *http.Request) { r.Header.Set("X-Project-Id", projectBID) }}, 401, "APIGW.0301", "signature does not match"},
			{"signed too long ago", request{method: "GET", path: list, key: &bad, header: map[string]string{"X-Project-Id": projectID,
				"X-Sdk-Date": epoch.Add(-iam.MaxClockSkew - time.Minute).Format("20060102T150405Z")}}, 401, "APIGW.0301", "before the server time"},
			{"a token too", request{method: "GET", path: list, key: &key, header: map[string]string{"X-Project-Id": projectID, "X-Auth-Token": f.token}}, 401, "APIGW.0301", "both"},
			{"malformed Authorization", request{method: "GET", path: list, noToken: true, header: map[string]string{"Authorization": "SDK-HMAC-SHA256 Access=AK"}}, 401, "APIGW.0301", "SignedHeaders"},
			// A bare key is signed as "image_type=": the signature holds and the value is refused.
			{"bare query key", request{method: "GET", path: listPath + "?image_type", key: &key, header: inA}, 400, "HSS.0001", "image_type"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := wantError(t, f.do(t, tc.req), tc.status, tc.code)
				if !strings.Contains(e.ErrorMsg, tc.msgPart) {
					t.Errorf("error_msg = %q, want it to contain %q", e.ErrorMsg, tc.msgPart)
				}
			})
		}
		e := wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/users", key: &accessKey{readerKey.access, strings.Repeat("x", 40)}}), 401)
		if !strings.Contains(e.Error.Message, "signature does not match") {
			t.Errorf("IAM refusal %q does not say the signature is wrong", e.Error.Message)
		}
	})

	t.Run("a body over the limit", func(t *testing.T) {
		big := `{"registry_name":"` + strings.Repeat("x", 1<<20) + `"}`
		wantError(t, f.do(t, request{method: "POST", path: registriesPath, key: &key, header: inA, body: big}), 400, "HSS.0002")
	})
}

// TestSignatureLockout checks that five bad signatures in a row lock the
// access key for five minutes, even for a right signature.
func TestSignatureLockout(t *testing.T) {
	f := newFixture(t)
	key := f.createAccessKey(t, "", adminID)
	wrong := accessKey{key.access, strings.Repeat("x", 40)}
	list := request{method: "GET", path: listPath + "?image_type=private_image", key: &key}
	f.must(t, list, 200)
	for i := range iam.MaxBadSignatures {
		f.clock.set(epoch.Add(time.Duration(i) * time.Second))
		e := wantError(t, f.do(t, request{method: "GET", path: listPath + "?image_type=private_image", key: &wrong}), 401, "APIGW.0301")
		if !strings.Contains(e.ErrorMsg, "signature does not match") {
			t.Errorf("bad signature %d: error_msg = %q", i+1, e.ErrorMsg)
		}
	}
	lockedAt := epoch.Add(time.Duration(iam.MaxBadSignatures-1) * time.Second)
	for _, at := range []time.Time{lockedAt, lockedAt.Add(iam.SignatureLockout - time.Second)} {
		f.clock.set(at)
		e := wantError(t, f.do(t, list), 401, "APIGW.0301")
		if !strings.Contains(e.ErrorMsg, "locked") {
			t.Errorf("at %s: error_msg = %q, want the key locked", at, e.ErrorMsg)
		}
	}
	f.clock.set(lockedAt.Add(iam.SignatureLockout))
	f.must(t, list, 200)
}

// TestProjectDiscovery checks how the SDK finds a region's project id for
// an access key: GET /v3/projects?name=REGION signed with X-Sdk-Date alone
// must answer exactly that project.
func TestProjectDiscovery(t *testing.T) {
	f := newFixture(t)
	key := f.createAccessKey(t, "", adminID)
	f.must(t, request{method: "POST", path: "/v3/projects", body: `{"project":{"name":"` + region + `_dev"}}`}, 201)

	res := f.must(t, request{method: "GET", path: "/v3/projects?name=" + region, key: &key, onlyDate: true}, 200)
	got := decode[struct {
		Projects []struct {
			ID string `json:"id"`
		} `json:"projects"`
	}](t, res)
	if len(got.Projects) != 1 || got.Projects[0].ID != projectID {
		t.Errorf("GET /v3/projects?name=%s = %s, want project %s alone", region, res.body, projectID)
	}

	t.Run("the SDK itself", func(t *testing.T) {
		// The SDK signs with the real time.
		f.clock.set(time.Now().UTC())
		cred, err := auth.NewBasicCredentialsBuilder().WithAk(key.access).WithSk(key.secret).WithIamEndpointOverride(f.srv.URL()).SafeBuild()
		if err != nil {
			t.Fatal(err)
		}
		got, err := cred.ProcessAuthParams(impl.NewDefaultHttpClient(config.DefaultHttpConfig()), region)
		if err != nil {
			t.Fatalf("ProcessAuthParams() = %v", err)
		}
		if id := got.(*auth.BasicCredentials).ProjectId; id != projectID {
			t.Errorf("the SDK found project %q, want %q", id, projectID)
		}
	})
}
