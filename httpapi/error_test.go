package httpapi_test

import (
	"net/http"
	"testing"

	"customs/iam"
)

// TestErrorShapesGolden records the body of each kind of error answer.
func TestErrorShapesGolden(t *testing.T) {
	f := newFixture(t)
	existing := f.create(t, "", registryBody("existing", "Harbor"))
	// The reader holds nothing in project B.
	reader := f.login(t, "reader", projectBID)
	for _, tc := range []struct {
		name   string
		req    request
		status int
	}{
		{"error_hss_0001", request{method: "GET", path: listPath + "?image_type=private_image&limit=201"}, 400},
		{"error_hss_0002", request{method: "POST", path: registriesPath, body: `{"registry_name":`}, 400},
		{"error_apigw_0301", request{method: "GET", path: listPath + "?image_type=private_image", noToken: true}, 401},
		{"error_apigw_0302", request{method: "GET", path: "/v5/" + projectBID + "/image/swr-repository?image_type=private_image", token: reader}, 403},
		{"error_hss_0013", request{method: "GET", path: "/v5/" + projectBID + "/image/swr-repository?image_type=private_image"}, 403},
		{"error_hss_0011", request{method: "DELETE", path: registriesPath + "/00000000000000000000000000000000"}, 404},
		{"error_hss_0009", request{method: "POST", path: registriesPath, body: registryBody(existing.RegistryName, "Jfrog")}, 409},
		{"error_iam_400", request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: `{"auth":`}, 400},
		{"error_iam_401", request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest(iam.AdminUser, "wrong-password", projectID)}, 401},
		{"error_iam_404", request{method: "GET", path: "/v3/auth/tokens", header: map[string]string{"X-Subject-Token": "CST1" + "0000000000000000000000000000000000000000000"}}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, tc.req)
			if res.status != tc.status {
				t.Errorf("status = %d, want %d", res.status, tc.status)
			}
			golden(t, tc.name, res.body, map[string]string{res.header.Get("X-Request-Id"): "<request id>"})
		})
	}
	t.Run("error_hss_0004", func(t *testing.T) {
		f.db.Close()
		res := f.do(t, request{method: "GET", path: listPath + "?image_type=private_image"})
		if res.status != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", res.status)
		}
		golden(t, "error_hss_0004", res.body, nil)
	})
}
