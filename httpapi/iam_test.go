package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs/iam"
)

// keystoneError is the IAM error body.
type keystoneError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Title   string `json:"title"`
	} `json:"error"`
}

func wantKeystoneError(t *testing.T, res response, status int) keystoneError {
	t.Helper()
	var e keystoneError
	if err := json.Unmarshal(res.body, &e); err != nil {
		t.Fatalf("error body %s: %v", res.body, err)
	}
	if res.status != status || e.Error.Code != status || e.Error.Title != http.StatusText(status) || e.Error.Message == "" {
		t.Errorf("answer = %d %s, want %d with a Keystone error body", res.status, res.body, status)
	}
	return e
}

func TestIssueTokenGolden(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		body string
	}{
		{"token_project", tokenRequest(iam.AdminUser, password, projectID)},
		{"token_project_by_name", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":"` + password +
			`","domain":{"name":"admin"}}}},"scope":{"project":{"name":"` + projectName + `","domain":{"name":"admin"}}}}}`},
		{"token_domain", `{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"` + adminID + `","password":"` + password +
			`"}}},"scope":{"domain":{"id":"` + domainID + `"}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tc.body})
			if res.status != http.StatusCreated {
				t.Fatalf("POST /v3/auth/tokens = %d %s", res.status, res.body)
			}
			secret := res.header.Get("X-Subject-Token")
			if secret == "" || strings.Contains(string(res.body), secret) {
				t.Errorf("X-Subject-Token = %q; the token must be in the header and only there", secret)
			}
			name := tc.name
			if name == "token_project_by_name" {
				name = "token_project" // the same token, however the project is named
			}
			golden(t, name, res.body, nil)
		})
	}
}

func TestIssueTokenRefused(t *testing.T) {
	f := newFixture(t)
	auth := func(identity, scope string) string {
		return `{"auth":{"identity":` + identity + `,"scope":` + scope + `}}`
	}
	const user = `{"methods":["password"],"password":{"user":{"name":"admin","password":"` + password + `","domain":{"name":"admin"}}}}`
	const scope = `{"project":{"id":"` + projectID + `"}}`
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		msgPart string
	}{
		{"wrong password", tokenRequest(iam.AdminUser, "wrong-password", projectID), 401, "The username or password is wrong."},
		{"unknown user", tokenRequest("nobody", password, projectID), 401, "The username or password is wrong."},
		{"project of another domain or none", tokenRequest(iam.AdminUser, password, "00000000000000000000000000000000"), 401, "does not exist or is not yours"},
		{"not JSON", `{"auth":`, 400, "not valid JSON"},
		{"empty body", ``, 400, "empty"},
		{"not an object", `[]`, 400, "JSON object"},
		{"no auth", `{}`, 400, "auth"},
		{"no identity", `{"auth":{}}`, 400, "auth.identity"},
		{"no methods", auth(`{"password":{"user":{"name":"admin","password":"x","domain":{"name":"admin"}}}}`, scope), 400, "auth.identity.methods"},
		{"token method", auth(`{"methods":["token"],"token":{"id":"x"}}`, scope), 400, "auth.identity.methods"},
		{"methods not a list", auth(`{"methods":"password"}`, scope), 400, "auth.identity.methods"},
		{"no password", auth(`{"methods":["password"]}`, scope), 400, "auth.identity.password"},
		{"no user", auth(`{"methods":["password"],"password":{}}`, scope), 400, "auth.identity.password.user"},
		{"user without name or id", auth(`{"methods":["password"],"password":{"user":{"password":"x"}}}`, scope), 400, "auth.identity.password.user.name"},
		{"user name without domain", auth(`{"methods":["password"],"password":{"user":{"name":"admin","password":"x"}}}`, scope), 400, "auth.identity.password.user.domain.name"},
		{"no user password", auth(`{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"admin"}}}}`, scope), 400, "auth.identity.password.user.password"},
		{"password not a string", auth(`{"methods":["password"],"password":{"user":{"name":"admin","password":12,"domain":{"name":"admin"}}}}`, scope), 400, "auth.identity.password.user.password"},
		{"no scope", `{"auth":{"identity":` + user + `}}`, 400, "auth.scope"},
		{"empty project scope", auth(user, `{"project":{}}`), 400, "auth.scope.project.id"},
		{"empty domain scope", auth(user, `{"domain":{}}`), 400, "auth.scope.domain.id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tc.body})
			e := wantKeystoneError(t, res, tc.status)
			if !strings.Contains(e.Error.Message, tc.msgPart) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tc.msgPart)
			}
			if res.header.Get("X-Subject-Token") != "" {
				t.Error("a refused request got a token")
			}
		})
	}
}

// tokenView is what the tests compare of a token body.
type tokenView struct {
	Token struct {
		ExpiresAt string   `json:"expires_at"`
		IssuedAt  string   `json:"issued_at"`
		Methods   []string `json:"methods"`
		Project   *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"project"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
		User struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
	} `json:"token"`
}

func TestValidateAndRevokeToken(t *testing.T) {
	f := newFixture(t)
	readerToken := f.login(t, "reader", projectID)
	subject := f.login(t, iam.AdminUser, projectID)
	validate := func(caller, subject string) response {
		return f.do(t, request{method: "GET", path: "/v3/auth/tokens", token: caller, noToken: caller == "", header: map[string]string{"X-Subject-Token": subject}})
	}

	t.Run("valid", func(t *testing.T) {
		res := validate(f.token, subject)
		if res.status != http.StatusOK {
			t.Fatalf("GET /v3/auth/tokens = %d %s", res.status, res.body)
		}
		var got tokenView
		if err := json.Unmarshal(res.body, &got); err != nil {
			t.Fatal(err)
		}
		var want tokenView
		want.Token.ExpiresAt = "2025-06-02T12:00:00.000000Z"
		want.Token.IssuedAt = "2025-06-01T12:00:00.000000Z"
		want.Token.Methods = []string{"password"}
		want.Token.Project = &struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}{projectID, projectName}
		want.Token.Roles = []struct {
			Name string `json:"name"`
		}{{"admin"}}
		want.Token.User.ID, want.Token.User.Name = adminID, iam.AdminUser
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("validated token mismatch (-want +got):\n%s", diff)
		}
		if res.header.Get("X-Subject-Token") != subject {
			t.Error("X-Subject-Token not echoed")
		}
	})
	t.Run("an administrator validates a user's token", func(t *testing.T) {
		if res := validate(f.token, readerToken); res.status != http.StatusOK {
			t.Errorf("GET /v3/auth/tokens = %d %s, want 200", res.status, res.body)
		}
	})
	t.Run("a user may not validate another's token", func(t *testing.T) {
		wantKeystoneError(t, validate(readerToken, subject), 404)
	})
	t.Run("invalid subject", func(t *testing.T) {
		wantKeystoneError(t, validate(f.token, "CST1garbage"), 404)
	})
	t.Run("no subject", func(t *testing.T) {
		e := wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/auth/tokens"}), 400)
		if !strings.Contains(e.Error.Message, "X-Subject-Token") {
			t.Errorf("message %q does not name X-Subject-Token", e.Error.Message)
		}
	})
	t.Run("no caller token", func(t *testing.T) {
		wantKeystoneError(t, validate("", subject), 401)
	})
	t.Run("revoke", func(t *testing.T) {
		res := f.do(t, request{method: "DELETE", path: "/v3/auth/tokens", header: map[string]string{"X-Subject-Token": subject}})
		if res.status != http.StatusNoContent || len(res.body) != 0 {
			t.Fatalf("DELETE /v3/auth/tokens = %d %s, want 204 without body", res.status, res.body)
		}
		wantKeystoneError(t, validate(f.token, subject), 404)
		wantError(t, f.do(t, request{method: "GET", path: listPath + "?image_type=private_image", token: subject}), 401, "APIGW.0301")
		wantKeystoneError(t, f.do(t, request{method: "DELETE", path: "/v3/auth/tokens", header: map[string]string{"X-Subject-Token": subject}}), 404)
	})
	t.Run("a user may not revoke another's token", func(t *testing.T) {
		wantKeystoneError(t, f.do(t, request{method: "DELETE", path: "/v3/auth/tokens", token: readerToken, header: map[string]string{"X-Subject-Token": f.token}}), 404)
		if res := validate(f.token, f.token); res.status != http.StatusOK {
			t.Errorf("the administrator's token stopped working: %d %s", res.status, res.body)
		}
	})
}

func TestListProjects(t *testing.T) {
	f := newFixture(t)
	type project struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		DomainID string `json:"domain_id"`
		Enabled  bool   `json:"enabled"`
		IsDomain bool   `json:"is_domain"`
		ParentID string `json:"parent_id"`
		Links    struct {
			Self string `json:"self"`
		} `json:"links"`
	}
	type list struct {
		Projects []project `json:"projects"`
		Links    struct {
			Self     string  `json:"self"`
			Previous *string `json:"previous"`
			Next     *string `json:"next"`
		} `json:"links"`
	}
	base := f.srv.URL()
	a := project{ID: projectID, Name: projectName, DomainID: domainID, Enabled: true, ParentID: domainID}
	a.Links.Self = base + "/v3/projects/" + projectID
	b := project{ID: projectBID, Name: "region-b", DomainID: domainID, Enabled: true, ParentID: domainID}
	b.Links.Self = base + "/v3/projects/" + projectBID
	for _, tc := range []struct {
		query string
		want  []project
	}{
		{"?name=" + projectName, []project{a}},
		{"?name=nowhere", []project{}},
	} {
		var got list
		f.get(t, "/v3/projects"+tc.query, &got)
		if diff := cmp.Diff(tc.want, got.Projects); diff != "" {
			t.Errorf("GET /v3/projects%s mismatch (-want +got):\n%s", tc.query, diff)
		}
		if got.Links.Self != base+"/v3/projects"+tc.query || got.Links.Previous != nil || got.Links.Next != nil {
			t.Errorf("GET /v3/projects%s links = %+v", tc.query, got.Links)
		}
	}
	var all list
	f.get(t, "/v3/projects", &all)
	if len(all.Projects) != 2 {
		t.Errorf("GET /v3/projects = %d projects, want both of the domain: %+v", len(all.Projects), all.Projects)
	}
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/projects", noToken: true}), 401)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/projects?name="}), 400)
}
