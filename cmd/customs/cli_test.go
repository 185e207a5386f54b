package main

import (
	"net/http"
	"strings"
	"testing"

	"customs/internal/testregistry"
)

// run runs the command line on dir as a user would, with stdin as input.
func run(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	m, out := newMain(t, dir)
	m.Stdin = strings.NewReader(stdin)
	err := m.Run(t.Context(), append(args, "--data", dir))
	return out.String(), err
}

// TestCommandLine manages registries and synchronizes from the command line,
// the password read from standard input, against the real Distribution
// registry.
func TestCommandLine(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithHtpasswd("robot", "robot-secret"))
	pushTo(t, reg)
	dir := t.TempDir()

	out, err := run(t, dir, "", "migrate")
	if err != nil || !strings.Contains(out, "up to date") || !strings.Contains(out, "First start") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err = run(t, dir, reg.Password+"\n", "registry", "add", "--name", "dist", "--type", "SwrPrivate", "--protocol", "http", "--addr", reg.Addr, "--username", reg.Username)
	if err != nil || !strings.Contains(out, "Added registry dist") {
		t.Fatalf("registry add: %v\n%s", err, out)
	}
	if out, err = run(t, dir, "", "registry", "add", "--name", "bad", "--addr", "https://x"); err == nil || !strings.Contains(err.Error(), "registry_addr") {
		t.Errorf("registry add with a scheme in the address: %v\n%s", err, out)
	}
	if out, err = run(t, dir, "", "registry", "add", "--name", "dist", "--addr", "x"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("registry add with a taken name: %v\n%s", err, out)
	}

	out, err = run(t, dir, "", "sync")
	if err != nil || !strings.Contains(out, "Synchronization finished: 5 tags seen, 5 added, 0 updated, 0 removed, 0 could not be read.") {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	out, err = run(t, dir, "", "sync", "--registry", "dist")
	if err != nil || !strings.Contains(out, "5 tags seen, 0 added, 0 updated, 0 removed") {
		t.Fatalf("second sync: %v\n%s", err, out)
	}
	out, err = run(t, dir, "", "registry", "list")
	if err != nil || !strings.Contains(out, "dist") || !strings.Contains(out, "success") || strings.Contains(out, reg.Password) {
		t.Fatalf("registry list: %v\n%s", err, out)
	}
	if _, err = run(t, dir, "", "sync", "--registry", "nope"); err == nil {
		t.Error("sync of an unknown registry succeeded")
	}

	// A wrong password: the synchronization fails and says why.
	out, err = run(t, dir, "wrong\n", "registry", "add", "--name", "wrong", "--type", "Harbor", "--protocol", "http", "--addr", reg.Addr, "--username", reg.Username)
	if err != nil {
		t.Fatal(err)
	}
	out, err = run(t, dir, "", "sync", "--registry", "wrong")
	if err == nil || !strings.Contains(out, "unauthorized") {
		t.Errorf("sync with a wrong password: %v\n%s", err, out)
	}

	out, err = run(t, dir, "", "registry", "remove", "dist")
	if err != nil || !strings.Contains(out, "Removed registry dist") {
		t.Fatalf("registry remove: %v\n%s", err, out)
	}
	out, _ = run(t, dir, "", "registry", "list")
	if strings.Contains(out, "dist ") {
		t.Errorf("after remove, list still shows it:\n%s", out)
	}
}

// TestIAMCommandLine administers identities from the command line and
// checks the result through the API: a user with a read-only grant and an
// access key can list images and cannot add a registry.
func TestIAMCommandLine(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(t, dir, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"alice-password\n", []string{"iam", "user", "create", "alice"}, "Created user alice"},
		{"", []string{"iam", "group", "create", "readers"}, "Created group readers"},
		{"", []string{"iam", "group", "add", "readers", "alice"}, ""},
		{"", []string{"iam", "grant", "--group", "readers", "--policy", "hss-readonly", "--project", "local-1"}, "Granted hss-readonly"},
		{"", []string{"iam", "policy", "list"}, "hss-readonly"},
		{"", []string{"iam", "user", "list"}, "alice"},
		{"globex-password\n", []string{"iam", "domain", "create", "globex"}, "Created domain globex"},
		// With two domains, each has a project named after the region.
		{"", []string{"iam", "grant", "--user", "alice", "--policy", "hss-readonly", "--project", "local-1"}, "Granted hss-readonly"},
		{"", []string{"registry", "list"}, "ID"},
		{"", []string{"registry", "list", "--domain", "globex"}, "ID"},
	}
	for _, s := range steps {
		out, err := run(t, dir, s.stdin, s.args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("customs %s: %v\n%s", strings.Join(s.args, " "), err, out)
		}
	}
	out, err := run(t, dir, "", "iam", "credential", "create", "alice", "--description", "ci")
	if err != nil {
		t.Fatal(err)
	}
	var ak, sk string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Access key (AK): "); ok {
			ak = v
		}
		if v, ok := strings.CutPrefix(line, "Secret key (SK): "); ok {
			sk = v
		}
	}
	if len(ak) != 20 || len(sk) != 40 {
		t.Fatalf("credential create printed no access key:\n%s", out)
	}
	if out, _ := run(t, dir, "", "iam", "credential", "list", "alice"); !strings.Contains(out, ak) || strings.Contains(out, sk) {
		t.Errorf("credential list: %s", out)
	}
	if _, err := run(t, dir, "", "iam", "user", "create", "mallory", "--domain", "nowhere"); err == nil {
		t.Error("a user was created in a domain that does not exist")
	}

	// alice logs in and reads, but may not write.
	m, _ := newMain(t, dir)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := &client{t: t, base: m.Server.URL()}
	c.login("alice", "alice-password", "local-1")
	var projects struct {
		Projects []struct{ ID string } `json:"projects"`
	}
	c.do("GET", "/v3/projects?name=local-1", nil, http.StatusOK, &projects)
	v5 := "/v5/" + projects.Projects[0].ID + "/image"
	c.do("GET", v5+"/swr-repository?image_type=private_image", nil, http.StatusOK, nil)
	c.do("POST", v5+"/registries", map[string]string{"registry_name": "x", "registry_type": "Other", "protocol": "https", "registry_addr": "x.example.com"}, http.StatusForbidden, nil)
	// The other domain's administrator logs in to its own project.
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": "admin", "password": "globex-password", "domain": map[string]any{"name": "globex"}}}},
		"scope": map[string]any{"project": map[string]any{"name": "local-1"}},
	}}
	c.token = ""
	c.do("POST", "/v3/auth/tokens", body, http.StatusCreated, nil)
}
