package iam_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
)

// adminOf authenticates the bootstrap admin and returns its principal.
func (e *env) adminOf(t *testing.T) *customs.Principal {
	t.Helper()
	p, err := e.svc.Authenticate(t.Context(), e.login(t).Secret)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// as logs in a user of the admin domain into project and returns its principal.
func (e *env) as(t *testing.T, name, password, project string) *customs.Principal {
	t.Helper()
	tok, err := e.svc.IssueToken(t.Context(), customs.TokenRequest{UserName: name, UserDomainName: iam.AdminDomain, Password: password, ProjectName: project})
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	p, err := e.svc.Authenticate(t.Context(), tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPermissionsFromGrants(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	admin := e.adminOf(t)
	ctx := t.Context()
	dev, err := e.svc.CreateProject(ctx, admin, region+"_dev")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := e.svc.CreateEnterpriseProject(ctx, admin, "payments", "")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := e.svc.CreateUser(ctx, admin, "reader", "reader-password", true)
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := e.svc.CreateGroup(ctx, admin, "ops", "")
	if err := e.svc.AddGroupMember(ctx, admin, ops.ID, reader.ID); err != nil {
		t.Fatal(err)
	}
	syncer, _ := e.svc.CreatePolicy(ctx, admin, "syncer", "", []string{customs.ActionImagesSet})
	for _, g := range []*customs.Grant{
		{UserID: reader.ID, PolicyID: customs.PolicyHSSReadOnly.ID, ProjectID: admin.Project.ID},
		{GroupID: ops.ID, PolicyID: syncer.ID, EnterpriseProjectID: ep.ID},
		{GroupID: ops.ID, PolicyID: customs.PolicyHSSAdmin.ID, ProjectID: dev.ID},
	} {
		if err := e.svc.Grant(ctx, admin, g); err != nil {
			t.Fatal(err)
		}
	}
	p := e.as(t, "reader", "reader-password", region)
	for _, tc := range []struct {
		action, ep string
		want       bool
	}{
		{customs.ActionImagesList, "0", true},
		{customs.ActionImagesList, ep.ID, true},
		{customs.ActionImagesSet, "0", false},
		{customs.ActionImagesSet, ep.ID, true},
	} {
		if got := p.Can(tc.action, tc.ep); got != tc.want {
			t.Errorf("in %s, Can(%s, %s) = %v, want %v", region, tc.action, tc.ep, got, tc.want)
		}
	}
	scope, err := p.Scope(customs.ActionImagesSet, customs.AllGrantedEnterpriseProjects)
	if err != nil || scope.AllEnterpriseProjects || !cmp.Equal(scope.EnterpriseProjectIDs, []string{ep.ID}) {
		t.Errorf("Scope(set, all_granted_eps) = %+v, %v; want only %s", scope, err, ep.ID)
	}
	if _, err := p.Scope(customs.ActionImagesSet, "0"); customs.ErrorCode(err) != customs.EFORBIDDEN {
		t.Errorf("Scope(set, 0) = %v, want EFORBIDDEN", err)
	}
	inDev := e.as(t, "reader", "reader-password", region+"_dev")
	if !inDev.Can(customs.ActionImagesSet, "0") || !inDev.Can(customs.ActionImagesList, "any-ep") {
		t.Errorf("the group's hss-admin grant in %s_dev does not hold: %+v", region, inDev.Permissions)
	}
	// A user without grants has no HSS permission at all.
	if _, err := e.svc.CreateUser(ctx, admin, "nobody", "nobody-password", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.as(t, "nobody", "nobody-password", region).Scope(customs.ActionImagesList, "0"); customs.ErrorCode(err) != customs.ENOPERMISSION {
		t.Errorf("a user without grants: Scope() = %v, want ENOPERMISSION", err)
	}
}

func TestAdministrationStaysInDomain(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	admin := e.adminOf(t)
	ctx := t.Context()
	_, globexAdmin, globexProject, err := e.svc.CreateDomain(ctx, "globex", "root", "globex-password")
	if err != nil {
		t.Fatal(err)
	}
	if globexProject.Name != region {
		t.Errorf("a new domain's project is %q, want %q", globexProject.Name, region)
	}
	tok, err := e.svc.IssueToken(ctx, customs.TokenRequest{UserName: "root", UserDomainName: "globex", Password: "globex-password", ProjectName: region})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.svc.Authenticate(ctx, tok.Secret)
	if other.User.ID != globexAdmin.ID || !other.User.Admin {
		t.Fatalf("the new domain's admin: %+v", other.User)
	}
	alice, _ := e.svc.CreateUser(ctx, admin, "alice", "alice-password", true)
	ops, _ := e.svc.CreateGroup(ctx, admin, "ops", "")
	for name, err := range map[string]error{
		"read a user":          second(e.svc.User(ctx, other, alice.ID)),
		"update a user":        second(e.svc.UpdateUser(ctx, other, alice.ID, customs.UserUpdate{Enabled: new(bool)})),
		"delete a user":        e.svc.DeleteUser(ctx, other, alice.ID),
		"delete a group":       e.svc.DeleteGroup(ctx, other, ops.ID),
		"add a member":         e.svc.AddGroupMember(ctx, other, ops.ID, alice.ID),
		"create an access key": third(e.svc.CreateCredential(ctx, other, alice.ID, "")),
		"grant in a project":   e.svc.Grant(ctx, other, &customs.Grant{UserID: alice.ID, PolicyID: "hss-admin", ProjectID: admin.Project.ID}),
		"grant to its own user in another domain's project": e.svc.Grant(ctx, other, &customs.Grant{UserID: globexAdmin.ID, PolicyID: "hss-admin", ProjectID: admin.Project.ID}),
	} {
		if customs.ErrorCode(err) != customs.ENOTFOUND {
			t.Errorf("another domain's admin may %s: %v", name, err)
		}
	}
	if users, _ := e.svc.Users(ctx, other); len(users) != 1 || users[0].ID != globexAdmin.ID {
		t.Errorf("another domain's admin lists users %+v", users)
	}
	// A user that is not an administrator manages only itself.
	ap := e.as(t, "alice", "alice-password", region)
	if _, err := e.svc.CreateUser(ctx, ap, "mallory", "mallory-password", true); customs.ErrorCode(err) != customs.EFORBIDDEN {
		t.Errorf("a user created a user: %v", err)
	}
	if _, err := e.svc.UpdateUser(ctx, ap, alice.ID, customs.UserUpdate{Password: ptr("alice-new-password")}); err != nil {
		t.Errorf("a user could not change its own password: %v", err)
	}
	if _, err := e.svc.UpdateUser(ctx, ap, alice.ID, customs.UserUpdate{Name: ptr("root")}); customs.ErrorCode(err) != customs.EFORBIDDEN {
		t.Errorf("a user renamed itself: %v", err)
	}
	if _, err := e.svc.UpdateUser(ctx, admin, admin.User.ID, customs.UserUpdate{Enabled: new(bool)}); customs.ErrorCode(err) != customs.EINVALID {
		t.Errorf("an admin disabled itself: %v", err)
	}
	if err := e.svc.DeleteUser(ctx, admin, admin.User.ID); customs.ErrorCode(err) != customs.EINVALID {
		t.Errorf("an admin deleted itself: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	admin := e.adminOf(t)
	ctx := t.Context()
	bob, _ := e.svc.CreateUser(ctx, admin, "bob", "bob-password", true)
	c, secret, err := e.svc.CreateCredential(ctx, admin, bob.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AccessKey) != 20 || len(secret) != 40 || c.Status != customs.CredentialActive {
		t.Errorf("access key %q (%d), secret of %d characters, status %q", c.AccessKey, len(c.AccessKey), len(secret), c.Status)
	}
	if _, _, err := e.svc.CreateCredential(ctx, admin, bob.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateCredential(ctx, admin, bob.ID, ""); customs.ErrorCode(err) != customs.ECONFLICT {
		t.Errorf("a third access key: %v, want ECONFLICT", err)
	}
	bp := e.as(t, "bob", "bob-password", region)
	if list, err := e.svc.Credentials(ctx, bp, ""); err != nil || len(list) != 2 {
		t.Errorf("bob's own keys: %v, %v", list, err)
	}
	if _, err := e.svc.Credentials(ctx, bp, admin.User.ID); customs.ErrorCode(err) != customs.EFORBIDDEN {
		t.Errorf("bob listed the admin's keys: %v", err)
	}
	if err := e.svc.DeleteCredential(ctx, bp, c.AccessKey); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Credential(ctx, bp, c.AccessKey); customs.ErrorCode(err) != customs.ENOTFOUND {
		t.Errorf("a deleted key: %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	ctx := t.Context()
	try := func(password string) error {
		_, err := e.svc.IssueToken(ctx, customs.TokenRequest{UserName: iam.AdminUser, UserDomainName: iam.AdminDomain, Password: password, ProjectName: region})
		return err
	}
	for i := range iam.MaxFailedLogins {
		if err := try("wrong-password"); customs.ErrorCode(err) != customs.EUNAUTHORIZED {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if err := try(adminPassword); customs.ErrorCode(err) != customs.ERATELIMIT {
		t.Fatalf("after %d failures the right password: %v, want ERATELIMIT", iam.MaxFailedLogins, err)
	}
	e.clock.Advance(iam.LoginLockout + time.Second)
	if err := try(adminPassword); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	// A success forgets the failures.
	for range iam.MaxFailedLogins - 1 {
		try("wrong-password")
	}
	if err := try(adminPassword); err != nil {
		t.Errorf("after fewer failures than the limit: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }

func ptr[T any](v T) *T { return &v }
