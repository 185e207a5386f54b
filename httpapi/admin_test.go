package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs/iam"
)

// must sends r and fails the test unless the answer has status.
func (f *fixture) must(t *testing.T, r request, status int) response {
	t.Helper()
	res := f.do(t, r)
	if res.status != status {
		t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, res.status, res.body, status)
	}
	return res
}

// decode unmarshals a response body.
func decode[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Fatalf("%v in %s", err, res.body)
	}
	return v
}

// idOf returns the "id" of the record under key in a response body.
func idOf(t *testing.T, res response, key string) string {
	t.Helper()
	body := decode[map[string]struct {
		ID string `json:"id"`
	}](t, res)
	id := body[key].ID
	if id == "" {
		t.Fatalf("no %s.id in %s", key, res.body)
	}
	return id
}

// createUser creates a user of the administrator's domain through the API
// and returns its id.
func (f *fixture) createUser(t *testing.T, name string) string {
	t.Helper()
	return idOf(t, f.must(t, request{method: "POST", path: "/v3/users", body: `{"user":{"name":"` + name + `","password":"` + password + `"}}`}, 201), "user")
}

// createUserNamed is createUser returning the name.
func (f *fixture) createUserNamed(t *testing.T, name string) string {
	t.Helper()
	f.createUser(t, name)
	return name
}

// createAccessKey creates an access key for a user through the API, with
// the token of the caller (the administrator's when empty).
func (f *fixture) createAccessKey(t *testing.T, token, userID string) accessKey {
	t.Helper()
	res := f.must(t, request{method: "POST", path: "/v3.0/OS-CREDENTIAL/credentials", token: token, body: `{"credential":{"user_id":"` + userID + `"}}`}, 201)
	c := decode[struct {
		Credential struct {
			Access string `json:"access"`
			Secret string `json:"secret"`
		} `json:"credential"`
	}](t, res)
	if c.Credential.Access == "" || c.Credential.Secret == "" {
		t.Fatalf("no access key or secret in %s", res.body)
	}
	return accessKey{c.Credential.Access, c.Credential.Secret}
}

// loginIn gets a token for user in domain, scoped to project.
func (f *fixture) loginIn(t *testing.T, domain, user, project string) string {
	t.Helper()
	body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + user + `","password":"` + password +
		`","domain":{"name":"` + domain + `"}}}},"scope":{"project":{"id":"` + project + `"}}}}`
	return f.must(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: body}, 201).header.Get("X-Subject-Token")
}

// TestIAMAdminGolden walks through the administration of a domain, recording
// each answer.
func TestIAMAdminGolden(t *testing.T) {
	f := newFixture(t)
	redact := map[string]string{f.srv.URL(): "<base>"}
	check := func(name string, r request, status int) response {
		t.Helper()
		res := f.must(t, r, status)
		if status == http.StatusNoContent {
			if len(res.body) != 0 {
				t.Errorf("%s %s: a 204 answer with body %s", r.method, r.path, res.body)
			}
			return res
		}
		golden(t, name, res.body, redact)
		return res
	}
	// create checks a creation, whose answer has the new record's id under
	// key, shown as placeholder.
	create := func(name string, r request, status int, key, placeholder string) string {
		t.Helper()
		res := f.must(t, r, status)
		id := idOf(t, res, key)
		redact[id] = placeholder
		if name != "" {
			golden(t, name, res.body, redact)
		}
		return id
	}

	alice := create("iam_user_create", request{method: "POST", path: "/v3/users",
		body: `{"user":{"name":"alice","password":"` + password + `","domain_id":"` + domainID + `","description":""}}`}, 201, "user", "<alice>")
	bob := create("", request{method: "POST", path: "/v3/users", body: `{"user":{"name":"bob","password":"` + password + `","enabled":false}}`}, 201, "user", "<bob>")
	check("iam_users", request{method: "GET", path: "/v3/users"}, 200)
	check("iam_users_by_name", request{method: "GET", path: "/v3/users?name=bob&domain_id=" + domainID}, 200)
	check("iam_user", request{method: "GET", path: "/v3/users/" + alice}, 200)
	check("iam_user_update", request{method: "PATCH", path: "/v3/users/" + bob, body: `{"user":{"name":"robert","enabled":true,"password":"another-password"}}`}, 200)
	// The new name, state and password work.
	f.must(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest("robert", "another-password", projectID)}, 201)

	group := create("iam_group_create", request{method: "POST", path: "/v3/groups", body: `{"group":{"name":"auditors","description":"Read the reports."}}`}, 201, "group", "<group>")
	check("", request{method: "PUT", path: "/v3/groups/" + group + "/users/" + alice}, 204)
	check("", request{method: "PUT", path: "/v3/groups/" + group + "/users/" + alice}, 204) // again: no change
	check("iam_group_users", request{method: "GET", path: "/v3/groups/" + group + "/users"}, 200)
	check("iam_groups", request{method: "GET", path: "/v3/groups"}, 200)
	check("iam_group", request{method: "GET", path: "/v3/groups/" + group}, 200)

	dev := create("iam_project_create", request{method: "POST", path: "/v3/projects", body: `{"project":{"name":"` + region + `_dev"}}`}, 201, "project", "<dev project>")
	var projects struct {
		Projects []struct {
			ID string `json:"id"`
		} `json:"projects"`
	}
	f.get(t, "/v3/projects?name="+region+"_dev", &projects)
	if len(projects.Projects) != 1 || projects.Projects[0].ID != dev {
		t.Errorf("GET /v3/projects?name=%s_dev = %+v, want the created project %s", region, projects.Projects, dev)
	}

	check("iam_roles_system", request{method: "GET", path: "/v3/roles"}, 200)
	role := create("iam_role_create", request{method: "POST", path: "/v3.0/OS-ROLE/roles", body: `{"role":{"display_name":"images-reader","type":"AX",
		"description":"Lists images.","policy":{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["hss:images:list"]},
		{"Effect":"Allow","Action":["hss:images:list","hss:tasks:list"]}]}}}`}, 201, "role", "<role>")
	check("iam_roles", request{method: "GET", path: "/v3/roles"}, 200)
	check("iam_roles_by_name", request{method: "GET", path: "/v3/roles?name=hss-readonly"}, 200)
	check("iam_role", request{method: "GET", path: "/v3/roles/" + role}, 200)

	ep := create("eps_create", request{method: "POST", path: "/v1.0/enterprise-projects", body: `{"name":"payments","description":"The payment team."}`}, 200,
		"enterprise_project", "<ep>")
	other := create("", request{method: "POST", path: "/v1.0/enterprise-projects", body: `{"name":"research"}`}, 200, "enterprise_project", "<ep research>")
	check("eps_update", request{method: "PUT", path: "/v1.0/enterprise-projects/" + ep, body: `{"name":"payments-eu"}`}, 200)
	check("", request{method: "POST", path: "/v1.0/enterprise-projects/" + other + "/action", body: `{"action":"disable"}`}, 204)
	check("eps_list", request{method: "GET", path: "/v1.0/enterprise-projects"}, 200)
	check("eps_list_filtered", request{method: "GET", path: "/v1.0/enterprise-projects?name=pay&status=1"}, 200)
	check("eps_list_page", request{method: "GET", path: "/v1.0/enterprise-projects?offset=1&limit=1"}, 200)
	check("eps_show_disabled", request{method: "GET", path: "/v1.0/enterprise-projects/" + other}, 200)
	check("", request{method: "POST", path: "/v1.0/enterprise-projects/" + other + "/action", body: `{"action":"enable"}`}, 204)
	if got := decode[struct {
		EnterpriseProject struct {
			Status int `json:"status"`
		} `json:"enterprise_project"`
	}](t, f.must(t, request{method: "GET", path: "/v1.0/enterprise-projects/" + other}, 200)).EnterpriseProject.Status; got != 1 {
		t.Errorf("status after enable = %d, want 1", got)
	}

	projectGrant := "/v3/projects/" + dev + "/groups/" + group + "/roles"
	epGrant := "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/users/" + alice + "/roles"
	check("", request{method: "PUT", path: projectGrant + "/hss-readonly"}, 204)
	check("", request{method: "PUT", path: projectGrant + "/hss-readonly"}, 204) // granted already: still 204
	check("", request{method: "PUT", path: projectGrant + "/" + role}, 204)
	check("", request{method: "PUT", path: epGrant + "/" + role}, 204)
	check("", request{method: "PUT", path: "/v3/projects/" + projectID + "/users/" + alice + "/roles/hss-admin"}, 204)
	check("iam_grants_project_group", request{method: "GET", path: projectGrant}, 200)
	check("iam_grants_ep_user", request{method: "GET", path: epGrant}, 200)
	// The same user's grants elsewhere are not in these lists.
	check("iam_grants_none", request{method: "GET", path: "/v3.0/OS-PERMISSION/enterprise-projects/" + other + "/users/" + alice + "/roles"}, 200)

	key := decode[struct {
		Credential struct {
			Access string `json:"access"`
			Secret string `json:"secret"`
		} `json:"credential"`
	}](t, f.must(t, request{method: "POST", path: "/v3.0/OS-CREDENTIAL/credentials", body: `{"credential":{"user_id":"` + alice + `","description":"CI"}}`}, 201)).Credential
	if len(key.Access) != 20 || len(key.Secret) != 40 {
		t.Errorf("access key %q, secret key of %d characters; want 20 and 40", key.Access, len(key.Secret))
	}
	redact[key.Access], redact[key.Secret] = "<access key>", "<secret key>"
	f.clock.set(epoch.Add(time.Second)) // the keys are listed oldest first
	res := f.must(t, request{method: "POST", path: "/v3.0/OS-CREDENTIAL/credentials", body: `{"credential":{"user_id":"` + alice + `"}}`}, 201)
	second := decode[struct {
		Credential struct {
			Access string `json:"access"`
			Secret string `json:"secret"`
		} `json:"credential"`
	}](t, res).Credential
	redact[second.Access], redact[second.Secret] = "<second access key>", "<second secret key>"
	golden(t, "iam_credential_create", res.body, redact)
	check("iam_credentials", request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials?user_id=" + alice}, 200)
	check("iam_credential", request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + key.Access}, 200)
	check("iam_credentials_own", request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials"}, 200)
	for _, r := range []response{f.must(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials?user_id=" + alice}, 200),
		f.must(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + key.Access}, 200)} {
		if strings.Contains(string(r.body), key.Secret) || strings.Contains(string(r.body), `"secret"`) {
			t.Errorf("a secret key is shown after creation: %s", r.body)
		}
	}

	// Removal, each checked by a read.
	check("", request{method: "DELETE", path: projectGrant + "/hss-readonly"}, 204)
	wantKeystoneError(t, f.do(t, request{method: "DELETE", path: projectGrant + "/hss-readonly"}), 404)
	check("iam_grants_after_revoke", request{method: "GET", path: projectGrant}, 200)
	check("", request{method: "DELETE", path: epGrant + "/" + role}, 204)
	check("", request{method: "DELETE", path: "/v3.0/OS-ROLE/roles/" + role}, 204)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/roles/" + role}), 404)
	check("iam_roles_system", request{method: "GET", path: "/v3/roles"}, 200)
	check("", request{method: "DELETE", path: "/v3/groups/" + group + "/users/" + alice}, 204)
	check("iam_group_users_empty", request{method: "GET", path: "/v3/groups/" + group + "/users"}, 200)
	check("", request{method: "DELETE", path: "/v3/groups/" + group}, 204)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/groups/" + group + "/users"}), 404)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/groups/" + group}), 404)
	check("", request{method: "DELETE", path: "/v3.0/OS-CREDENTIAL/credentials/" + key.Access}, 204)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + key.Access}), 404)
	check("", request{method: "DELETE", path: "/v3/users/" + alice}, 204)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3/users/" + alice}), 404)
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + second.Access}), 404)
}

// TestIAMAdminInvalid checks that bodies and parameters are validated
// strictly, each refusal naming what to fix, in the Keystone shape.
func TestIAMAdminInvalid(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(t, "alice")
	group := idOf(t, f.must(t, request{method: "POST", path: "/v3/groups", body: `{"group":{"name":"g"}}`}, 201), "group")
	ep := decode[struct {
		EnterpriseProject struct {
			ID string `json:"id"`
		} `json:"enterprise_project"`
	}](t, f.must(t, request{method: "POST", path: "/v1.0/enterprise-projects", body: `{"name":"payments"}`}, 200)).EnterpriseProject.ID
	f.createAccessKey(t, "", alice)
	f.createAccessKey(t, "", alice)
	role := func(statement string) string {
		return `{"role":{"display_name":"r","policy":{"Version":"1.1","Statement":` + statement + `}}}`
	}
	user := func(fields string) string { return `{"user":{` + fields + `}}` }
	const named = `"name":"carol","password":"` + password + `"`

	for _, tc := range []struct {
		name    string
		method  string
		path    string
		body    string
		status  int
		msgPart string
	}{
		{"user: not JSON", "POST", "/v3/users", `{"user":`, 400, "not valid JSON"},
		{"user: no user", "POST", "/v3/users", `{}`, 400, "Missing parameter user;"},
		{"user: user not an object", "POST", "/v3/users", `{"user":"carol"}`, 400, "user"},
		{"user: no name", "POST", "/v3/users", user(`"password":"` + password + `"`), 400, "user.name"},
		{"user: name not a string", "POST", "/v3/users", user(`"name":7,"password":"` + password + `"`), 400, "user.name"},
		{"user: no password", "POST", "/v3/users", user(`"name":"carol"`), 400, "user.password"},
		{"user: enabled not a boolean", "POST", "/v3/users", user(named + `,"enabled":"yes"`), 400, "user.enabled"},
		{"user: description", "POST", "/v3/users", user(named + `,"description":"a person"`), 400, "user.description"},
		{"user: short password", "POST", "/v3/users", user(`"name":"carol","password":"short"`), 400, "password"},
		{"user: name with spaces", "POST", "/v3/users", user(`"name":" carol","password":"` + password + `"`), 400, "name"},
		{"user: another domain", "POST", "/v3/users", user(named + `,"domain_id":"d0000000000000000000000000000009"`), 403, "user.domain_id"},
		{"user: name taken", "POST", "/v3/users", user(`"name":"alice","password":"` + password + `"`), 409, "alice"},
		{"user list: another domain", "GET", "/v3/users?domain_id=elsewhere", "", 403, "domain_id"},
		{"user list: enabled not a boolean", "GET", "/v3/users?enabled=1", "", 400, "enabled"},
		{"user update: nothing to change", "PATCH", "/v3/users/" + alice, user(``), 400, "user.name, user.password or user.enabled"},
		{"user update: no user", "PATCH", "/v3/users/" + alice, `{}`, 400, "Missing parameter user;"},
		{"user update: enabled not a boolean", "PATCH", "/v3/users/" + alice, user(`"enabled":"no"`), 400, "user.enabled"},
		{"user update: administrator disables itself", "PATCH", "/v3/users/" + adminID, user(`"enabled":false`), 400, "enabled"},
		{"user update: unknown user", "PATCH", "/v3/users/nobody", user(`"enabled":false`), 404, ""},
		{"user delete: itself", "DELETE", "/v3/users/" + adminID, "", 400, "itself"},
		{"user delete: unknown user", "DELETE", "/v3/users/nobody", "", 404, ""},
		{"group: no name", "POST", "/v3/groups", `{"group":{}}`, 400, "group.name"},
		{"group: description not a string", "POST", "/v3/groups", `{"group":{"name":"h","description":7}}`, 400, "group.description"},
		{"group: another domain", "POST", "/v3/groups", `{"group":{"name":"h","domain_id":"elsewhere"}}`, 403, "group.domain_id"},
		{"group: name taken", "POST", "/v3/groups", `{"group":{"name":"g"}}`, 409, "g"},
		{"group member: unknown user", "PUT", "/v3/groups/" + group + "/users/nobody", "", 404, ""},
		{"group member: not a member", "DELETE", "/v3/groups/" + group + "/users/" + alice, "", 404, ""},
		{"group: unknown", "DELETE", "/v3/groups/nothing", "", 404, ""},
		{"project: no name", "POST", "/v3/projects", `{"project":{}}`, 400, "project.name"},
		{"project: not a region's name", "POST", "/v3/projects", `{"project":{"name":"elsewhere"}}`, 400, "name"},
		{"project: description", "POST", "/v3/projects", `{"project":{"name":"` + region + `_x","description":"x"}}`, 400, "project.description"},
		{"project: another domain", "POST", "/v3/projects", `{"project":{"name":"` + region + `_x","domain_id":"elsewhere"}}`, 403, "project.domain_id"},
		{"project: name taken", "POST", "/v3/projects", `{"project":{"name":"` + region + `"}}`, 409, region},
		{"role: no role", "POST", "/v3.0/OS-ROLE/roles", `{}`, 400, "Missing parameter role;"},
		{"role: no display name", "POST", "/v3.0/OS-ROLE/roles", `{"role":{"policy":{"Version":"1.1","Statement":[]}}}`, 400, "role.display_name"},
		{"role: no policy", "POST", "/v3.0/OS-ROLE/roles", `{"role":{"display_name":"r"}}`, 400, "role.policy"},
		{"role: no version", "POST", "/v3.0/OS-ROLE/roles", `{"role":{"display_name":"r","policy":{"Statement":[]}}}`, 400, "role.policy.Version"},
		{"role: version", "POST", "/v3.0/OS-ROLE/roles", `{"role":{"display_name":"r","policy":{"Version":"1.0","Statement":[]}}}`, 400, "role.policy.Version"},
		{"role: no statement", "POST", "/v3.0/OS-ROLE/roles", role(`[]`), 400, "role.policy.Statement"},
		{"role: statement not a list", "POST", "/v3.0/OS-ROLE/roles", role(`{}`), 400, "role.policy.Statement"},
		{"role: deny", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Effect":"Allow","Action":["hss:images:list"]},{"Effect":"Deny","Action":["hss:images:set"]}]`), 400, "role.policy.Statement[1].Effect"},
		{"role: no effect", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Action":["hss:images:list"]}]`), 400, "role.policy.Statement[0].Effect"},
		{"role: no action", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Effect":"Allow","Action":[]}]`), 400, "role.policy.Statement[0].Action"},
		{"role: action not a list", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Effect":"Allow","Action":"hss:images:list"}]`), 400, "Action"},
		{"role: malformed action", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Effect":"Allow","Action":["hss:images"]}]`), 400, "hss:images"},
		{"role: condition", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Effect":"Allow","Action":["hss:images:list"],"Condition":{}}]`), 400, "role.policy.Statement[0].Condition"},
		{"role: resource", "POST", "/v3.0/OS-ROLE/roles", role(`[{"Effect":"Allow","Action":["hss:images:list"],"Resource":["*"]}]`), 400, "role.policy.Statement[0].Resource"},
		{"role: type", "POST", "/v3.0/OS-ROLE/roles", `{"role":{"display_name":"r","type":"AA","policy":{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["hss:images:list"]}]}}}`, 400, "role.type"},
		{"role: delete a system policy", "DELETE", "/v3.0/OS-ROLE/roles/hss-admin", "", 403, "system policy"},
		{"role: delete unknown", "DELETE", "/v3.0/OS-ROLE/roles/nothing", "", 404, ""},
		{"role list: name too long", "GET", "/v3/roles?name=" + strings.Repeat("n", 129), "", 400, "name"},
		{"grant: unknown role", "PUT", "/v3/projects/" + projectID + "/users/" + alice + "/roles/nothing", "", 404, "nothing"},
		{"grant: unknown project", "PUT", "/v3/projects/nowhere/users/" + alice + "/roles/hss-admin", "", 404, ""},
		{"grant: unknown group", "PUT", "/v3/projects/" + projectID + "/groups/nothing/roles/hss-admin", "", 404, ""},
		{"grant: unknown enterprise project", "PUT", "/v3.0/OS-PERMISSION/enterprise-projects/nothing/users/" + alice + "/roles/hss-admin", "", 404, "nothing"},
		{"grant: every enterprise project", "PUT", "/v3.0/OS-PERMISSION/enterprise-projects/*/users/" + alice + "/roles/hss-admin", "", 400, "enterprise project"},
		{"grant: revoke what is not granted", "DELETE", "/v3/projects/" + projectID + "/users/" + alice + "/roles/hss-admin", "", 404, "hss-admin"},
		{"grant list: unknown project", "GET", "/v3/projects/nowhere/users/" + alice + "/roles", "", 404, "nowhere"},
		{"grant list: unknown user", "GET", "/v3/projects/" + projectID + "/users/nobody/roles", "", 404, ""},
		{"grant list: unknown enterprise project", "GET", "/v3.0/OS-PERMISSION/enterprise-projects/nothing/groups/" + group + "/roles", "", 404, "nothing"},
		{"grant list: unknown group", "GET", "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/groups/nothing/roles", "", 404, "nothing"},
		{"enterprise project: no name", "POST", "/v1.0/enterprise-projects", `{"description":"x"}`, 400, "name"},
		{"enterprise project: name not a string", "POST", "/v1.0/enterprise-projects", `{"name":["x"]}`, 400, "name"},
		{"enterprise project: the default's name", "POST", "/v1.0/enterprise-projects", `{"name":"default"}`, 400, "default"},
		{"enterprise project: long description", "POST", "/v1.0/enterprise-projects", `{"name":"x","description":"` + strings.Repeat("d", 513) + `"}`, 400, "description"},
		{"enterprise project: name taken", "POST", "/v1.0/enterprise-projects", `{"name":"payments"}`, 409, "payments"},
		{"enterprise project: change the default", "PUT", "/v1.0/enterprise-projects/0", `{"name":"zero"}`, 400, "default"},
		{"enterprise project: update without name", "PUT", "/v1.0/enterprise-projects/" + ep, `{"description":"x"}`, 400, "name"},
		{"enterprise project: update unknown", "PUT", "/v1.0/enterprise-projects/nothing", `{"name":"x"}`, 404, "nothing"},
		{"enterprise project: unknown action", "POST", "/v1.0/enterprise-projects/" + ep + "/action", `{"action":"pause"}`, 400, "action"},
		{"enterprise project: no action", "POST", "/v1.0/enterprise-projects/" + ep + "/action", `{}`, 400, "action"},
		{"enterprise project: show unknown", "GET", "/v1.0/enterprise-projects/nothing", "", 404, "nothing"},
		{"enterprise project list: limit", "GET", "/v1.0/enterprise-projects?limit=0", "", 400, "limit"},
		{"enterprise project list: status", "GET", "/v1.0/enterprise-projects?status=3", "", 400, "status"},
		{"access key: no credential", "POST", "/v3.0/OS-CREDENTIAL/credentials", `{}`, 400, "Missing parameter credential;"},
		{"access key: no user", "POST", "/v3.0/OS-CREDENTIAL/credentials", `{"credential":{}}`, 400, "credential.user_id"},
		{"access key: long description", "POST", "/v3.0/OS-CREDENTIAL/credentials", `{"credential":{"user_id":"` + alice + `","description":"` + strings.Repeat("d", 256) + `"}}`, 400, "credential.description"},
		{"access key: a third", "POST", "/v3.0/OS-CREDENTIAL/credentials", `{"credential":{"user_id":"` + alice + `"}}`, 409, "access keys"},
		{"access key: unknown user", "POST", "/v3.0/OS-CREDENTIAL/credentials", `{"credential":{"user_id":"nobody"}}`, 404, ""},
		{"access key list: unknown user", "GET", "/v3.0/OS-CREDENTIAL/credentials?user_id=nobody", "", 404, ""},
		{"access key: show unknown", "GET", "/v3.0/OS-CREDENTIAL/credentials/NOTAKEY", "", 404, "NOTAKEY"},
		{"access key: delete unknown", "DELETE", "/v3.0/OS-CREDENTIAL/credentials/NOTAKEY", "", 404, "NOTAKEY"},
		{"unknown IAM path", "GET", "/v3.0/OS-NOTHING/things", "", 404, "/v3.0/OS-NOTHING/things"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantKeystoneError(t, f.do(t, request{method: tc.method, path: tc.path, body: tc.body}), tc.status)
			if !strings.Contains(e.Error.Message, tc.msgPart) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tc.msgPart)
			}
		})
	}
}

// TestIAMAdminNonAdministrator checks what a user who is not an
// administrator may do: read itself, the roles and the enterprise
// projects, change its password and manage its own access keys; nothing
// else.
func TestIAMAdminNonAdministrator(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(t, "alice")
	group := idOf(t, f.must(t, request{method: "POST", path: "/v3/groups", body: `{"group":{"name":"g"}}`}, 201), "group")
	role := idOf(t, f.must(t, request{method: "POST", path: "/v3.0/OS-ROLE/roles", body: `{"role":{"display_name":"r","policy":{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["hss:images:list"]}]}}}`}, 201), "role")
	ep := decode[struct {
		EnterpriseProject struct {
			ID string `json:"id"`
		} `json:"enterprise_project"`
	}](t, f.must(t, request{method: "POST", path: "/v1.0/enterprise-projects", body: `{"name":"payments"}`}, 200)).EnterpriseProject.ID
	adminKey := f.createAccessKey(t, "", adminID)
	reader := f.login(t, "reader", projectID)
	readerKey := f.createAccessKey(t, reader, readerID)

	for _, tc := range []struct {
		method, path, body string
	}{
		{"POST", "/v3/users", `{"user":{"name":"carol","password":"` + password + `"}}`},
		{"GET", "/v3/users/" + alice, ""},
		{"PATCH", "/v3/users/" + alice, `{"user":{"enabled":false}}`},
		{"PATCH", "/v3/users/" + readerID, `{"user":{"name":"boss"}}`},
		{"PATCH", "/v3/users/" + readerID, `{"user":{"enabled":false}}`},
		{"DELETE", "/v3/users/" + alice, ""},
		{"POST", "/v3/groups", `{"group":{"name":"h"}}`},
		{"GET", "/v3/groups", ""},
		{"GET", "/v3/groups/" + group, ""},
		{"DELETE", "/v3/groups/" + group, ""},
		{"GET", "/v3/groups/" + group + "/users", ""},
		{"PUT", "/v3/groups/" + group + "/users/" + readerID, ""},
		{"DELETE", "/v3/groups/" + group + "/users/" + alice, ""},
		{"POST", "/v3/projects", `{"project":{"name":"` + region + `_mine"}}`},
		{"POST", "/v3.0/OS-ROLE/roles", `{"role":{"display_name":"mine","policy":{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["hss:images:set"]}]}}}`},
		{"DELETE", "/v3.0/OS-ROLE/roles/" + role, ""},
		{"PUT", "/v3/projects/" + projectID + "/users/" + readerID + "/roles/hss-admin", ""},
		{"DELETE", "/v3/projects/" + projectID + "/users/" + readerID + "/roles/hss-readonly", ""},
		{"GET", "/v3/projects/" + projectID + "/users/" + readerID + "/roles", ""},
		{"PUT", "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/groups/" + group + "/roles/" + role, ""},
		{"GET", "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/groups/" + group + "/roles", ""},
		{"POST", "/v1.0/enterprise-projects", `{"name":"mine"}`},
		{"PUT", "/v1.0/enterprise-projects/" + ep, `{"name":"mine"}`},
		{"POST", "/v1.0/enterprise-projects/" + ep + "/action", `{"action":"disable"}`},
		{"POST", "/v3.0/OS-CREDENTIAL/credentials", `{"credential":{"user_id":"` + alice + `"}}`},
		{"GET", "/v3.0/OS-CREDENTIAL/credentials?user_id=" + adminID, ""},
	} {
		t.Run("refused "+tc.method+" "+tc.path, func(t *testing.T) {
			for _, cred := range []request{{token: reader}, {key: &readerKey}} {
				cred.method, cred.path, cred.body = tc.method, tc.path, tc.body
				wantKeystoneError(t, f.do(t, cred), 403)
			}
		})
	}
	// Another user's access key is not even seen.
	wantKeystoneError(t, f.do(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + adminKey.access, token: reader}), 404)
	wantKeystoneError(t, f.do(t, request{method: "DELETE", path: "/v3.0/OS-CREDENTIAL/credentials/" + adminKey.access, token: reader}), 404)
	f.must(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + adminKey.access}, 200)

	t.Run("allowed", func(t *testing.T) {
		users := decode[struct {
			Users []struct {
				ID string `json:"id"`
			} `json:"users"`
		}](t, f.must(t, request{method: "GET", path: "/v3/users", token: reader}, 200))
		if len(users.Users) != 1 || users.Users[0].ID != readerID {
			t.Errorf("GET /v3/users by a user = %+v, want the user alone", users.Users)
		}
		f.must(t, request{method: "GET", path: "/v3/users/" + readerID, token: reader}, 200)
		roles := decode[roleNames](t, f.must(t, request{method: "GET", path: "/v3/roles", token: reader}, 200))
		if want := []string{"hss-admin", "hss-readonly", "r"}; !slices.Equal(roles.names(), want) {
			t.Errorf("GET /v3/roles by a user = %v, want %v", roles.names(), want)
		}
		eps := decode[struct {
			TotalCount int `json:"total_count"`
		}](t, f.must(t, request{method: "GET", path: "/v1.0/enterprise-projects", token: reader}, 200))
		if eps.TotalCount != 2 {
			t.Errorf("GET /v1.0/enterprise-projects by a user: total_count %d, want 2", eps.TotalCount)
		}
		own := decode[struct {
			Credentials []struct {
				Access string `json:"access"`
			} `json:"credentials"`
		}](t, f.must(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials", key: &readerKey}, 200))
		if len(own.Credentials) != 1 || own.Credentials[0].Access != readerKey.access {
			t.Errorf("GET /v3.0/OS-CREDENTIAL/credentials by a user = %+v, want its own key %s", own.Credentials, readerKey.access)
		}
		f.must(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + readerKey.access, token: reader}, 200)
		f.must(t, request{method: "PATCH", path: "/v3/users/" + readerID, token: reader, body: `{"user":{"password":"a-new-password"}}`}, 200)
		f.must(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true,
			body: tokenRequest("reader", "a-new-password", projectID)}, 201)
		f.must(t, request{method: "DELETE", path: "/v3.0/OS-CREDENTIAL/credentials/" + readerKey.access, token: reader}, 204)
	})
}

type roleNames struct {
	Roles []struct {
		Name string `json:"name"`
	} `json:"roles"`
}

func (r roleNames) names() []string {
	var names []string
	for _, role := range r.Roles {
		names = append(names, role.Name)
	}
	return names
}

// TestIAMAdminAcrossDomains checks that the administrator of a second domain
// can neither see nor change anything of the first: what belongs to another
// domain is "not found".
func TestIAMAdminAcrossDomains(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(t, "alice")
	group := idOf(t, f.must(t, request{method: "POST", path: "/v3/groups", body: `{"group":{"name":"g"}}`}, 201), "group")
	f.must(t, request{method: "PUT", path: "/v3/groups/" + group + "/users/" + alice}, 204)
	role := idOf(t, f.must(t, request{method: "POST", path: "/v3.0/OS-ROLE/roles", body: `{"role":{"display_name":"r","policy":{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["hss:images:list"]}]}}}`}, 201), "role")
	ep := decode[struct {
		EnterpriseProject struct {
			ID string `json:"id"`
		} `json:"enterprise_project"`
	}](t, f.must(t, request{method: "POST", path: "/v1.0/enterprise-projects", body: `{"name":"payments"}`}, 200)).EnterpriseProject.ID
	f.must(t, request{method: "PUT", path: "/v3/projects/" + projectID + "/groups/" + group + "/roles/" + role}, 204)
	f.must(t, request{method: "PUT", path: "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/users/" + alice + "/roles/hss-admin"}, 204)
	key := f.createAccessKey(t, "", alice)

	_, otherAdmin, otherProject, err := f.auth.CreateDomain(t.Context(), "other", "admin2", password)
	if err != nil {
		t.Fatal(err)
	}
	other := f.loginIn(t, "other", "admin2", otherProject.ID)
	otherKey := f.createAccessKey(t, other, otherAdmin.ID)
	otherGroup := idOf(t, f.must(t, request{method: "POST", path: "/v3/groups", token: other, body: `{"group":{"name":"g"}}`}, 201), "group")
	otherEP := decode[struct {
		EnterpriseProject struct {
			ID string `json:"id"`
		} `json:"enterprise_project"`
	}](t, f.must(t, request{method: "POST", path: "/v1.0/enterprise-projects", token: other, body: `{"name":"payments"}`}, 200)).EnterpriseProject.ID

	for _, tc := range []struct {
		method, path, body string
	}{
		{"GET", "/v3/users/" + alice, ""},
		{"PATCH", "/v3/users/" + alice, `{"user":{"enabled":false}}`},
		{"DELETE", "/v3/users/" + alice, ""},
		{"GET", "/v3/groups/" + group, ""},
		{"DELETE", "/v3/groups/" + group, ""},
		{"GET", "/v3/groups/" + group + "/users", ""},
		{"PUT", "/v3/groups/" + group + "/users/" + otherAdmin.ID, ""},
		{"PUT", "/v3/groups/" + otherGroup + "/users/" + alice, ""},
		{"DELETE", "/v3/groups/" + group + "/users/" + alice, ""},
		{"GET", "/v3/roles/" + role, ""},
		{"DELETE", "/v3.0/OS-ROLE/roles/" + role, ""},
		{"PUT", "/v3/projects/" + otherProject.ID + "/groups/" + otherGroup + "/roles/" + role, ""},
		{"PUT", "/v3/projects/" + projectID + "/groups/" + otherGroup + "/roles/hss-admin", ""},
		{"PUT", "/v3/projects/" + projectID + "/groups/" + group + "/roles/hss-admin", ""},
		{"PUT", "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/groups/" + otherGroup + "/roles/hss-admin", ""},
		{"PUT", "/v3.0/OS-PERMISSION/enterprise-projects/" + otherEP + "/users/" + alice + "/roles/hss-admin", ""},
		{"GET", "/v3/projects/" + projectID + "/groups/" + group + "/roles", ""},
		{"GET", "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/users/" + alice + "/roles", ""},
		{"DELETE", "/v3/projects/" + projectID + "/groups/" + group + "/roles/" + role, ""},
		{"DELETE", "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/users/" + alice + "/roles/hss-admin", ""},
		{"GET", "/v1.0/enterprise-projects/" + ep, ""},
		{"PUT", "/v1.0/enterprise-projects/" + ep, `{"name":"mine"}`},
		{"POST", "/v1.0/enterprise-projects/" + ep + "/action", `{"action":"disable"}`},
		{"POST", "/v3.0/OS-CREDENTIAL/credentials", `{"credential":{"user_id":"` + alice + `"}}`},
		{"GET", "/v3.0/OS-CREDENTIAL/credentials?user_id=" + alice, ""},
		{"GET", "/v3.0/OS-CREDENTIAL/credentials/" + key.access, ""},
		{"DELETE", "/v3.0/OS-CREDENTIAL/credentials/" + key.access, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			for _, cred := range []request{{token: other}, {key: &otherKey}} {
				cred.method, cred.path, cred.body = tc.method, tc.path, tc.body
				wantKeystoneError(t, f.do(t, cred), 404)
			}
		})
	}
	t.Run("domain_id of the first domain", func(t *testing.T) {
		for _, r := range []request{
			{method: "POST", path: "/v3/users", body: `{"user":{"name":"x","password":"` + password + `","domain_id":"` + domainID + `"}}`},
			{method: "POST", path: "/v3/groups", body: `{"group":{"name":"x","domain_id":"` + domainID + `"}}`},
			{method: "POST", path: "/v3/projects", body: `{"project":{"name":"` + region + `_x","domain_id":"` + domainID + `"}}`},
			{method: "GET", path: "/v3/users?domain_id=" + domainID},
		} {
			r.token = other
			wantKeystoneError(t, f.do(t, r), 403)
		}
	})
	t.Run("lists hold the second domain's own only", func(t *testing.T) {
		users := decode[struct {
			Users []struct {
				ID string `json:"id"`
			} `json:"users"`
		}](t, f.must(t, request{method: "GET", path: "/v3/users", token: other}, 200))
		if len(users.Users) != 1 || users.Users[0].ID != otherAdmin.ID {
			t.Errorf("users = %+v, want the second administrator alone", users.Users)
		}
		groups := decode[struct {
			Groups []struct {
				ID string `json:"id"`
			} `json:"groups"`
		}](t, f.must(t, request{method: "GET", path: "/v3/groups", token: other}, 200))
		if len(groups.Groups) != 1 || groups.Groups[0].ID != otherGroup {
			t.Errorf("groups = %+v, want the second domain's alone", groups.Groups)
		}
		roles := decode[roleNames](t, f.must(t, request{method: "GET", path: "/v3/roles", key: &otherKey}, 200))
		if want := []string{"hss-admin", "hss-readonly"}; !slices.Equal(roles.names(), want) {
			t.Errorf("roles = %v, want the system policies alone", roles.names())
		}
		eps := decode[struct {
			EnterpriseProjects []struct {
				ID string `json:"id"`
			} `json:"enterprise_projects"`
		}](t, f.must(t, request{method: "GET", path: "/v1.0/enterprise-projects", token: other}, 200))
		var ids []string
		for _, e := range eps.EnterpriseProjects {
			ids = append(ids, e.ID)
		}
		if want := []string{"0", otherEP}; !slices.Equal(ids, want) {
			t.Errorf("enterprise projects = %v, want %v", ids, want)
		}
		projects := decode[struct {
			Projects []struct {
				ID string `json:"id"`
			} `json:"projects"`
		}](t, f.must(t, request{method: "GET", path: "/v3/projects", token: other}, 200))
		if len(projects.Projects) != 1 || projects.Projects[0].ID != otherProject.ID {
			t.Errorf("projects = %+v, want the second domain's alone", projects.Projects)
		}
	})
	t.Run("the first domain is unchanged", func(t *testing.T) {
		f.must(t, request{method: "GET", path: "/v3/users/" + alice}, 200)
		members := decode[struct {
			Users []struct {
				ID string `json:"id"`
			} `json:"users"`
		}](t, f.must(t, request{method: "GET", path: "/v3/groups/" + group + "/users"}, 200))
		if len(members.Users) != 1 || members.Users[0].ID != alice {
			t.Errorf("members = %+v, want alice alone", members.Users)
		}
		grants := decode[roleNames](t, f.must(t, request{method: "GET", path: "/v3/projects/" + projectID + "/groups/" + group + "/roles"}, 200))
		if want := []string{"r"}; !slices.Equal(grants.names(), want) {
			t.Errorf("group grants = %v, want %v", grants.names(), want)
		}
		epGrants := decode[roleNames](t, f.must(t, request{method: "GET", path: "/v3.0/OS-PERMISSION/enterprise-projects/" + ep + "/users/" + alice + "/roles"}, 200))
		if want := []string{"hss-admin"}; !slices.Equal(epGrants.names(), want) {
			t.Errorf("enterprise project grants = %v, want %v", epGrants.names(), want)
		}
		got := decode[struct {
			EnterpriseProject struct {
				Name   string `json:"name"`
				Status int    `json:"status"`
			} `json:"enterprise_project"`
		}](t, f.must(t, request{method: "GET", path: "/v1.0/enterprise-projects/" + ep}, 200)).EnterpriseProject
		if got.Name != "payments" || got.Status != 1 {
			t.Errorf("enterprise project = %+v, want payments, enabled", got)
		}
		f.must(t, request{method: "GET", path: "/v3.0/OS-CREDENTIAL/credentials/" + key.access}, 200)
		f.must(t, request{method: "GET", path: listPath + "?image_type=private_image", key: &key}, 200)
	})
}

// TestLoginThrottled checks that repeated wrong passwords lock the user's
// logins, answered 429 in the Keystone shape.
func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	for range iam.MaxFailedLogins {
		wantKeystoneError(t, f.do(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest("reader", "wrong-password", projectID)}), 401)
	}
	e := wantKeystoneError(t, f.do(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest("reader", password, projectID)}), 429)
	if !strings.Contains(e.Error.Message, "Too many failed logins") {
		t.Errorf("message = %q, want it to say why", e.Error.Message)
	}
	f.clock.set(epoch.Add(iam.LoginLockout))
	f.must(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest("reader", password, projectID)}, 201)
}

// TestTokenRoles checks the roles a token lists: the administrator role for
// an administrator, none for other users, whatever they are granted (the
// token carries no policy list; permissions are computed per request).
func TestTokenRoles(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		user string
		want []string
	}{
		{iam.AdminUser, []string{"admin"}},
		{"reader", nil},
	} {
		res := f.must(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest(tc.user, password, projectID)}, 201)
		got := decode[tokenView](t, res)
		var names []string
		for _, r := range got.Token.Roles {
			names = append(names, r.Name)
		}
		if diff := cmp.Diff(tc.want, names); diff != "" || got.Token.Roles == nil {
			t.Errorf("roles of %s's token mismatch (-want +got):\n%s (body %s)", tc.user, diff, res.body)
		}
	}
}
