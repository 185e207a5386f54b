package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

// other adds a second domain with a user and a project, to check that no
// method crosses domains.
func (f *fixture) other(t *testing.T) (*customs.Domain, *customs.User, *customs.Project) {
	t.Helper()
	d := &customs.Domain{Name: "globex"}
	if err := f.s.CreateDomain(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	u := &customs.User{DomainID: d.ID, Name: "bob", PasswordHash: "h", Enabled: true}
	if err := f.s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	p := &customs.Project{DomainID: d.ID, Name: "region-a", Enabled: true}
	if err := f.s.CreateProject(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return d, u, p
}

func (f *fixture) user(t *testing.T, name string) *customs.User {
	t.Helper()
	u := &customs.User{DomainID: f.domain.ID, Name: name, PasswordHash: "hash-" + name, Enabled: true}
	if err := f.s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func names[T any](vs []T, name func(T) string) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, name(v))
	}
	return out
}

func userName(u *customs.User) string   { return u.Name }
func groupName(g *customs.Group) string { return g.Name }

func testUsersAndGroups(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	od, ou, _ := f.other(t)
	alice, carol := f.user(t, "alice"), f.user(t, "carol")

	users, err := f.s.FindUsers(ctx, f.domain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"admin", "alice", "carol"}, names(users, userName)); diff != "" {
		t.Errorf("FindUsers mismatch (-want +got):\n%s", diff)
	}
	alice.Enabled, alice.PasswordHash = false, "new-hash"
	if err := f.s.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.FindUserByID(ctx, alice.ID); got.Enabled || got.PasswordHash != "new-hash" {
		t.Errorf("after UpdateUser: %+v", got)
	}
	carolDup := *carol
	carolDup.Name = "alice"
	wantCode(t, f.s.UpdateUser(ctx, &carolDup), customs.ECONFLICT)
	foreign := *ou
	foreign.DomainID = f.domain.ID // a domain cannot reach another's user
	wantCode(t, f.s.UpdateUser(ctx, &foreign), customs.ENOTFOUND)
	wantCode(t, f.s.DeleteUser(ctx, f.domain.ID, ou.ID), customs.ENOTFOUND)

	ops := &customs.Group{DomainID: f.domain.ID, Name: "ops"}
	dev := &customs.Group{DomainID: f.domain.ID, Name: "dev"}
	for _, g := range []*customs.Group{ops, dev} {
		if err := f.s.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, f.s.CreateGroup(ctx, &customs.Group{DomainID: f.domain.ID, Name: "ops"}), customs.ECONFLICT)
	if err := f.s.CreateGroup(ctx, &customs.Group{DomainID: od.ID, Name: "ops"}); err != nil {
		t.Errorf("a group name taken in another domain: %v", err)
	}
	for _, m := range [][2]string{{ops.ID, alice.ID}, {ops.ID, carol.ID}, {dev.ID, alice.ID}, {ops.ID, alice.ID}} {
		if err := f.s.AddGroupMember(ctx, f.domain.ID, m[0], m[1]); err != nil {
			t.Errorf("AddGroupMember(%v) = %v", m, err)
		}
	}
	wantCode(t, f.s.AddGroupMember(ctx, f.domain.ID, ops.ID, ou.ID), customs.ENOTFOUND)
	wantCode(t, f.s.AddGroupMember(ctx, od.ID, ops.ID, alice.ID), customs.ENOTFOUND)
	members, _ := f.s.FindGroupMembers(ctx, f.domain.ID, ops.ID)
	if diff := cmp.Diff([]string{"alice", "carol"}, names(members, userName)); diff != "" {
		t.Errorf("FindGroupMembers mismatch (-want +got):\n%s", diff)
	}
	if members, _ := f.s.FindGroupMembers(ctx, od.ID, ops.ID); len(members) != 0 {
		t.Errorf("another domain listed the members of a group: %v", members)
	}
	groups, _ := f.s.FindUserGroups(ctx, alice.ID)
	if diff := cmp.Diff([]string{"dev", "ops"}, names(groups, groupName)); diff != "" {
		t.Errorf("FindUserGroups mismatch (-want +got):\n%s", diff)
	}
	if err := f.s.RemoveGroupMember(ctx, f.domain.ID, ops.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.RemoveGroupMember(ctx, f.domain.ID, ops.ID, alice.ID), customs.ENOTFOUND)
	wantCode(t, f.s.DeleteGroup(ctx, od.ID, dev.ID), customs.ENOTFOUND)
	if err := f.s.DeleteGroup(ctx, f.domain.ID, dev.ID); err != nil {
		t.Fatal(err)
	}
	if groups, _ := f.s.FindUserGroups(ctx, alice.ID); len(groups) != 0 {
		t.Errorf("after leaving ops and deleting dev, alice is in %v", names(groups, groupName))
	}
	if err := f.s.DeleteUser(ctx, f.domain.ID, carol.ID); err != nil {
		t.Fatal(err)
	}
	if members, _ := f.s.FindGroupMembers(ctx, f.domain.ID, ops.ID); len(members) != 0 {
		t.Errorf("a deleted user is still a member: %v", names(members, userName))
	}

	ep := &customs.EnterpriseProject{DomainID: f.domain.ID, Name: "payments", Enabled: true}
	if err := f.s.CreateEnterpriseProject(ctx, ep); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.CreateEnterpriseProject(ctx, &customs.EnterpriseProject{DomainID: f.domain.ID, Name: "payments"}), customs.ECONFLICT)
	ep.Enabled = false
	if err := f.s.UpdateEnterpriseProject(ctx, ep); err != nil {
		t.Fatal(err)
	}
	eps, _ := f.s.FindEnterpriseProjects(ctx, f.domain.ID)
	if len(eps) != 1 || eps[0].Enabled || eps[0].Name != "payments" {
		t.Errorf("FindEnterpriseProjects = %+v", eps)
	}
	if eps, _ := f.s.FindEnterpriseProjects(ctx, od.ID); len(eps) != 0 {
		t.Errorf("another domain sees enterprise projects: %+v", eps)
	}
}

func testGrants(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	od, ou, op := f.other(t)
	alice := f.user(t, "alice")
	ops := &customs.Group{DomainID: f.domain.ID, Name: "ops"}
	if err := f.s.CreateGroup(ctx, ops); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AddGroupMember(ctx, f.domain.ID, ops.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	policy := &customs.Policy{DomainID: f.domain.ID, Name: "sync-only", Actions: []string{customs.ActionImagesSet}}
	if err := f.s.CreatePolicy(ctx, policy); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.CreatePolicy(ctx, &customs.Policy{DomainID: f.domain.ID, Name: "sync-only"}), customs.ECONFLICT)
	if ps, _ := f.s.FindPolicies(ctx, f.domain.ID); len(ps) != 1 || !slices.Equal(ps[0].Actions, policy.Actions) {
		t.Errorf("FindPolicies = %+v", ps)
	}
	direct := &customs.Grant{DomainID: f.domain.ID, UserID: alice.ID, PolicyID: customs.PolicyHSSReadOnly.ID, EnterpriseProjectID: "ep-1"}
	viaGroup := &customs.Grant{DomainID: f.domain.ID, GroupID: ops.ID, PolicyID: policy.ID, ProjectID: f.projA.ID, EnterpriseProjectID: customs.AllEnterpriseProjectsGrant}
	elsewhere := &customs.Grant{DomainID: f.domain.ID, UserID: alice.ID, PolicyID: customs.PolicyHSSAdmin.ID, ProjectID: f.projB.ID, EnterpriseProjectID: customs.AllEnterpriseProjectsGrant}
	for _, g := range []*customs.Grant{direct, viaGroup, elsewhere} {
		f.clock.add(time.Millisecond)
		if err := f.s.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	dup := *direct
	wantCode(t, f.s.CreateGrant(ctx, &dup), customs.ECONFLICT)
	for name, g := range map[string]*customs.Grant{
		"another domain's project": {DomainID: f.domain.ID, UserID: alice.ID, PolicyID: "hss-admin", ProjectID: op.ID, EnterpriseProjectID: "*"},
		"another domain's user":    {DomainID: f.domain.ID, UserID: ou.ID, PolicyID: "hss-admin", ProjectID: f.projA.ID, EnterpriseProjectID: "*"},
		"from another domain":      {DomainID: od.ID, UserID: alice.ID, PolicyID: "hss-admin", ProjectID: f.projA.ID, EnterpriseProjectID: "*"},
	} {
		if err := f.s.CreateGrant(ctx, g); customs.ErrorCode(err) != customs.ENOTFOUND {
			t.Errorf("a grant to %s: %v, want ENOTFOUND", name, err)
		}
	}
	got, err := f.s.FindUserGrants(ctx, alice.ID, f.projA.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*customs.Grant{direct, viaGroup}, got, timeMS); diff != "" {
		t.Errorf("FindUserGrants mismatch (-want +got):\n%s", diff)
	}
	if got, _ := f.s.FindGrants(ctx, f.domain.ID, customs.GrantFilter{ProjectID: f.projB.ID}); len(got) != 1 || got[0].ID != elsewhere.ID {
		t.Errorf("FindGrants(project B) = %+v", got)
	}
	// An enterprise project grant holds in every project of the domain.
	if got, _ := f.s.FindUserGrants(ctx, alice.ID, f.projB.ID); len(got) != 2 || got[0].ID != direct.ID || got[1].ID != elsewhere.ID {
		t.Errorf("FindUserGrants(project B) = %+v, want the enterprise project grant and project B's", got)
	}
	if got, _ := f.s.FindGrants(ctx, od.ID, customs.GrantFilter{}); len(got) != 0 {
		t.Errorf("another domain lists the grants: %+v", got)
	}
	wantCode(t, f.s.DeleteGrant(ctx, od.ID, direct.ID), customs.ENOTFOUND)
	if err := f.s.DeletePolicy(ctx, f.domain.ID, policy.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.FindUserGrants(ctx, alice.ID, f.projA.ID); len(got) != 1 || got[0].ID != direct.ID {
		t.Errorf("after deleting the policy its grants remain: %+v", got)
	}
	if err := f.s.DeleteGrant(ctx, f.domain.ID, direct.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.FindUserGrants(ctx, alice.ID, f.projA.ID); len(got) != 0 {
		t.Errorf("after DeleteGrant: %+v", got)
	}
}

func testCredentials(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	od, _, _ := f.other(t)
	c := &customs.Credential{AccessKey: "AKEXAMPLE0000000TEST", UserID: f.admin.ID, DomainID: f.domain.ID, Description: "ci"}
	if err := f.s.CreateCredential(ctx, c, "secret-key-0001"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.CreateCredential(ctx, &customs.Credential{AccessKey: c.AccessKey, UserID: f.admin.ID, DomainID: f.domain.ID}, "x"), customs.ECONFLICT)
	got, secret, err := f.s.FindCredential(ctx, c.AccessKey)
	if err != nil || secret != "secret-key-0001" {
		t.Fatalf("FindCredential() = %v, %q, %v", got, secret, err)
	}
	if diff := cmp.Diff(c, got, timeMS); diff != "" {
		t.Errorf("FindCredential mismatch (-want +got):\n%s", diff)
	}
	if list, _ := f.s.FindCredentials(ctx, f.admin.ID); len(list) != 1 || list[0].AccessKey != c.AccessKey {
		t.Errorf("FindCredentials = %+v", list)
	}
	_, _, err = f.s.FindCredential(ctx, "NOPE")
	wantCode(t, err, customs.ENOTFOUND)

	t.Run("lockout", func(t *testing.T) {
		until := f.clock.now().Add(5 * time.Minute)
		for i := 1; i <= 5; i++ {
			locked, err := f.s.RecordSignatureFailure(ctx, c.AccessKey, 5, until)
			if err != nil || locked != (i == 5) {
				t.Fatalf("failure %d: locked %v, %v; want locked only at 5", i, locked, err)
			}
		}
		got, _, _ := f.s.FindCredential(ctx, c.AccessKey)
		if !got.LockedUntil.Equal(until) {
			t.Errorf("LockedUntil = %v, want %v", got.LockedUntil, until)
		}
		if err := f.s.RecordSignatureSuccess(ctx, got); err != nil {
			t.Fatal(err)
		}
		got, _, _ = f.s.FindCredential(ctx, c.AccessKey)
		if !got.LockedUntil.IsZero() || !got.LastUsedAt.Equal(f.clock.now()) {
			t.Errorf("after a good signature: locked until %v, last used %v", got.LockedUntil, got.LastUsedAt)
		}
		// Four more failures do not lock: the count started again.
		for range 4 {
			if locked, _ := f.s.RecordSignatureFailure(ctx, c.AccessKey, 5, until); locked {
				t.Fatal("locked after four failures following a success")
			}
		}
		// A success soon after the last one still clears the failures.
		got, _, _ = f.s.FindCredential(ctx, c.AccessKey)
		if got.Failures != 4 {
			t.Errorf("Failures = %d, want 4", got.Failures)
		}
		f.clock.add(time.Second)
		if err := f.s.RecordSignatureSuccess(ctx, got); err != nil {
			t.Fatal(err)
		}
		if locked, _ := f.s.RecordSignatureFailure(ctx, c.AccessKey, 5, until); locked {
			t.Error("one failure after a success locked the key: the success did not clear the count")
		}
	})
	wantCode(t, f.s.DeleteCredential(ctx, od.ID, c.AccessKey), customs.ENOTFOUND)
	if err := f.s.DeleteCredential(ctx, f.domain.ID, c.AccessKey); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.s.FindCredential(ctx, c.AccessKey)
	wantCode(t, err, customs.ENOTFOUND)
}

func testLoginFailures(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	const key = "admin/alice"
	window, lockFor := 15*time.Minute, 15*time.Minute
	for i := 1; i <= 4; i++ {
		until, err := f.s.RecordLoginFailure(ctx, key, window, 5, lockFor)
		if err != nil || !until.IsZero() {
			t.Fatalf("failure %d: locked until %v, %v", i, until, err)
		}
		f.clock.add(time.Minute)
	}
	until, _ := f.s.RecordLoginFailure(ctx, key, window, 5, lockFor)
	if want := f.clock.now().Add(lockFor); !until.Equal(want) {
		t.Errorf("fifth failure in the window: locked until %v, want %v", until, want)
	}
	if got, _ := f.s.LoginLockedUntil(ctx, key); !got.Equal(until) {
		t.Errorf("LoginLockedUntil = %v, want %v", got, until)
	}
	if got, _ := f.s.LoginLockedUntil(ctx, "admin/bob"); !got.IsZero() {
		t.Errorf("another user is locked: %v", got)
	}
	if err := f.s.ResetLoginFailures(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.LoginLockedUntil(ctx, key); !got.IsZero() {
		t.Errorf("after reset: locked until %v", got)
	}
	// Failures spread over more than the window never lock.
	for range 10 {
		if until, _ := f.s.RecordLoginFailure(ctx, key, window, 5, lockFor); !until.IsZero() {
			t.Fatalf("failures 4 minutes apart locked the login")
		}
		f.clock.add(4 * time.Minute)
	}
}
