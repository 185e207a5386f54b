package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

func testIdentity(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()

	created, err := f.s.Bootstrap(ctx, &customs.Domain{Name: "other"}, &customs.User{Name: "u"}, &customs.Project{Name: "p"})
	if err != nil || created {
		t.Errorf("second Bootstrap() = %v, %v; want false, nil", created, err)
	}
	if _, err := f.s.FindDomainByName(ctx, "other"); customs.ErrorCode(err) != customs.ENOTFOUND {
		t.Errorf("second Bootstrap wrote a domain: FindDomainByName(other) = %v", err)
	}

	d, err := f.s.FindDomainByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.domain, d, timeMS); diff != "" {
		t.Errorf("FindDomainByName() mismatch (-want +got):\n%s", diff)
	}
	if d, err := f.s.FindDomainByID(ctx, f.domain.ID); err != nil || d.Name != "acme" {
		t.Errorf("FindDomainByID() = %v, %v", d, err)
	}
	u, err := f.s.FindUserByName(ctx, f.domain.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.admin, u, timeMS); diff != "" {
		t.Errorf("FindUserByName() mismatch (-want +got):\n%s", diff)
	}
	if u, err := f.s.FindUserByID(ctx, f.admin.ID); err != nil || u.Name != "admin" {
		t.Errorf("FindUserByID() = %v, %v", u, err)
	}
	for name, err := range map[string]error{
		"FindDomainByID":                   second(f.s.FindDomainByID(ctx, "nope")),
		"FindDomainByName":                 second(f.s.FindDomainByName(ctx, "nope")),
		"FindUserByID":                     second(f.s.FindUserByID(ctx, "nope")),
		"FindUserByName":                   second(f.s.FindUserByName(ctx, f.domain.ID, "nope")),
		"FindUserByName in another domain": second(f.s.FindUserByName(ctx, "other-domain", "admin")),
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, err, customs.ENOTFOUND) })
	}

	ps, err := f.s.FindProjects(ctx, customs.ProjectFilter{DomainID: f.domain.ID})
	if err != nil || len(ps) != 2 || ps[0].Name != "region-a" || ps[1].Name != "region-b" {
		t.Errorf("FindProjects(domain) = %v, %v; want region-a, region-b", ps, err)
	}
	ps, err = f.s.FindProjects(ctx, customs.ProjectFilter{DomainID: f.domain.ID, Name: "region-b"})
	if err != nil || len(ps) != 1 || ps[0].ID != f.projB.ID {
		t.Errorf("FindProjects(name) = %v, %v; want region-b", ps, err)
	}
	if ps, err := f.s.FindProjects(ctx, customs.ProjectFilter{DomainID: "other", Name: "region-b"}); err != nil || len(ps) != 0 {
		t.Errorf("FindProjects(other domain) = %v, %v; want none", ps, err)
	}

	wantCode(t, f.s.CreateDomain(ctx, &customs.Domain{Name: "acme"}), customs.ECONFLICT)
	wantCode(t, f.s.CreateUser(ctx, &customs.User{DomainID: f.domain.ID, Name: "admin"}), customs.ECONFLICT)
	wantCode(t, f.s.CreateProject(ctx, &customs.Project{DomainID: f.domain.ID, Name: "region-a"}), customs.ECONFLICT)
	other := &customs.Domain{Name: "globex"}
	if err := f.s.CreateDomain(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateUser(ctx, &customs.User{DomainID: other.ID, Name: "admin", PasswordHash: "x", Enabled: true}); err != nil {
		t.Errorf("a user name taken in another domain: CreateUser() = %v", err)
	}
	if err := f.s.CreateProject(ctx, &customs.Project{DomainID: other.ID, Name: "region-a"}); err != nil {
		t.Errorf("a project name taken in another domain: CreateProject() = %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func testTokens(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	tok := &customs.Token{
		Hash: bytes.Repeat([]byte{7}, 32), UserID: f.admin.ID, DomainID: f.domain.ID, ProjectID: f.projA.ID,
		Methods: []string{"password"}, IssuedAt: f.clock.now(), ExpiresAt: f.clock.now().Add(24 * time.Hour),
	}
	if err := f.s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.FindToken(ctx, tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, got, timeMS); diff != "" {
		t.Errorf("FindToken() mismatch (-want +got):\n%s", diff)
	}
	_, err = f.s.FindToken(ctx, bytes.Repeat([]byte{8}, 32))
	wantCode(t, err, customs.ENOTFOUND)

	f.clock.add(time.Minute)
	if err := f.s.RevokeToken(ctx, tok.Hash); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.FindToken(ctx, tok.Hash); got == nil || !got.RevokedAt.Equal(f.clock.now()) {
		t.Errorf("after RevokeToken, RevokedAt = %v, want %v", got, f.clock.now())
	}
	if err := f.s.RevokeToken(ctx, tok.Hash); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	wantCode(t, f.s.RevokeToken(ctx, bytes.Repeat([]byte{9}, 32)), customs.ENOTFOUND)
}
