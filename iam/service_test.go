package iam_test

import (
	"crypto/sha256"
	"database/sql"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/iam"
	"customs/store/sqlite"
)

var (
	_ iam.Store     = (*sqlite.DB)(nil)
	_ sqlite.Cipher = (*iam.Cipher)(nil)
)

const (
	region        = "cn-north-4"
	adminPassword = "admin-password-1"
	// msgBadLogin is the one message for every wrong user or password.
	msgBadLogin = "The username or password is wrong."
)

// clock is a frozen clock that tests advance.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a service over a real SQLite store in a temporary directory.
type env struct {
	svc   *iam.Service
	db    *sqlite.DB
	path  string
	clock *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "customs.db"), clock: newClock()}
	e.db = openStore(t, e.path, e.clock)
	e.svc = newService(e.db, e.clock)
	return e
}

func openStore(t *testing.T, path string, c *clock) *sqlite.DB {
	t.Helper()
	cipher, err := iam.NewCipher(make([]byte, iam.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(path)
	db.Cipher = cipher
	db.Now = c.Now
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newService(db *sqlite.DB, c *clock) *iam.Service {
	return &iam.Service{Store: db, Region: region, Now: c.Now, Logger: slog.New(slog.DiscardHandler)}
}

// bootstrap creates the admin domain, user and project with adminPassword.
func (e *env) bootstrap(t *testing.T) *iam.BootstrapResult {
	t.Helper()
	res, err := e.svc.Bootstrap(t.Context(), adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created {
		t.Fatal("Bootstrap() on an empty store did not create anything")
	}
	return res
}

// login issues a token for the admin user scoped to the bootstrap project.
func (e *env) login(t *testing.T) *customs.IssuedToken {
	t.Helper()
	tok, err := e.svc.IssueToken(t.Context(), customs.TokenRequest{
		UserName: iam.AdminUser, UserDomainName: iam.AdminDomain, Password: adminPassword, ProjectName: region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// exec changes the store's tables directly, for states the Store interface
// cannot produce yet (disabled or deleted users and projects).
func (e *env) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// wantError fails the test unless err is an application error with the code
// and a message containing each of parts.
func wantError(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	if got := customs.ErrorCode(err); got != code {
		t.Fatalf("error = %v; want code %s", err, code)
	}
	msg := customs.ErrorMessage(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error message %q does not contain %q", msg, p)
		}
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestBootstrap(t *testing.T) {
	t.Run("given password", func(t *testing.T) {
		e := newEnv(t)
		res := e.bootstrap(t)
		if res.GeneratedPassword != "" {
			t.Errorf("GeneratedPassword = %q for a given password; want empty", res.GeneratedPassword)
		}
		now := e.clock.Now()
		wantDomain := &customs.Domain{ID: res.Domain.ID, Name: "admin", CreatedAt: now}
		if diff := cmp.Diff(wantDomain, res.Domain); diff != "" {
			t.Errorf("Domain mismatch (-want +got):\n%s", diff)
		}
		wantUser := &customs.User{ID: res.User.ID, DomainID: res.Domain.ID, Name: "admin", PasswordHash: res.User.PasswordHash, Admin: true, Enabled: true, CreatedAt: now}
		if diff := cmp.Diff(wantUser, res.User); diff != "" {
			t.Errorf("User mismatch (-want +got):\n%s", diff)
		}
		wantProject := &customs.Project{ID: res.Project.ID, DomainID: res.Domain.ID, Name: region, Enabled: true, CreatedAt: now}
		if diff := cmp.Diff(wantProject, res.Project); diff != "" {
			t.Errorf("Project mismatch (-want +got):\n%s", diff)
		}
		ids := map[string]bool{}
		for _, id := range []string{res.Domain.ID, res.User.ID, res.Project.ID} {
			if !hexID.MatchString(id) {
				t.Errorf("id %q is not 32 lower-case hex characters", id)
			}
			ids[id] = true
		}
		if len(ids) != 3 {
			t.Errorf("ids %q, %q, %q are not distinct", res.Domain.ID, res.User.ID, res.Project.ID)
		}
		if ok, err := iam.CheckPassword(res.User.PasswordHash, adminPassword); err != nil || !ok {
			t.Errorf("CheckPassword(stored hash, password) = %v, %v; want true, nil", ok, err)
		}
		stored, err := e.db.FindUserByName(t.Context(), res.Domain.ID, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(res.User, stored); diff != "" {
			t.Errorf("stored user mismatch (-want +got):\n%s", diff)
		}
		e.login(t)
	})

	t.Run("only once", func(t *testing.T) {
		e := newEnv(t)
		first := e.bootstrap(t)
		res, err := e.svc.Bootstrap(t.Context(), "another-password")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iam.BootstrapResult{}, res); diff != "" {
			t.Errorf("second Bootstrap() mismatch (-want +got):\n%s", diff)
		}
		ps, err := e.db.FindProjects(t.Context(), customs.ProjectFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*customs.Project{first.Project}, ps); diff != "" {
			t.Errorf("projects after a second Bootstrap() mismatch (-want +got):\n%s", diff)
		}
		e.login(t) // the first password still works
		_, err = e.svc.IssueToken(t.Context(), customs.TokenRequest{
			UserName: "admin", UserDomainName: "admin", Password: "another-password", ProjectName: region,
		})
		wantError(t, err, customs.EUNAUTHORIZED, msgBadLogin)
	})

	t.Run("generated password", func(t *testing.T) {
		e := newEnv(t)
		res, err := e.svc.Bootstrap(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created {
			t.Fatal("Bootstrap() on an empty store did not create anything")
		}
		if !regexp.MustCompile(`^[A-Za-z0-9]{20,}$`).MatchString(res.GeneratedPassword) {
			t.Errorf("GeneratedPassword = %q; want 20 or more letters and digits", res.GeneratedPassword)
		}
		tok, err := e.svc.IssueToken(t.Context(), customs.TokenRequest{
			UserName: "admin", UserDomainName: "admin", Password: res.GeneratedPassword, ProjectID: res.Project.ID,
		})
		if err != nil {
			t.Fatalf("IssueToken with the generated password: %v", err)
		}
		if tok.Principal.User.ID != res.User.ID {
			t.Errorf("token user = %q, want %q", tok.Principal.User.ID, res.User.ID)
		}

		other, err := newEnv(t).svc.Bootstrap(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if other.GeneratedPassword == res.GeneratedPassword {
			t.Errorf("two bootstraps generated the same password %q", res.GeneratedPassword)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.svc.Bootstrap(t.Context(), "short")
		wantError(t, err, customs.EINVALID, "at least 8")
		noRegion := &iam.Service{Store: e.db, Logger: slog.New(slog.DiscardHandler)}
		_, err = noRegion.Bootstrap(t.Context(), adminPassword)
		wantError(t, err, customs.EINVALID, "region")
		// Nothing was created: a valid bootstrap still creates.
		e.bootstrap(t)
	})
}

func TestIssueToken(t *testing.T) {
	e := newEnv(t)
	boot := e.bootstrap(t)
	d, u, p := boot.Domain, boot.User, boot.Project
	// The principal carries the user without its password hash.
	pubUser := *u
	pubUser.PasswordHash = ""
	now := e.clock.Now()

	projectScoped := &customs.Principal{User: &pubUser, Domain: d, Project: p, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), Region: region}
	domainScoped := &customs.Principal{User: &pubUser, Domain: d, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), Region: region}

	tests := []struct {
		name     string
		req      customs.TokenRequest
		want     *customs.Principal
		wantCode string
		wantMsg  []string
	}{
		{
			name: "project by id",
			req:  customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID},
			want: projectScoped,
		},
		{
			name: "project by name",
			req:  customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectName: region},
			want: projectScoped,
		},
		{
			name: "project by id and name",
			req:  customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID, ProjectName: region},
			want: projectScoped,
		},
		{
			name: "user by id",
			req:  customs.TokenRequest{UserID: u.ID, Password: adminPassword, ProjectID: p.ID},
			want: projectScoped,
		},
		{
			name: "user domain by id",
			req:  customs.TokenRequest{UserName: "admin", UserDomainID: d.ID, Password: adminPassword, ProjectID: p.ID},
			want: projectScoped,
		},
		{
			name: "domain scope by name",
			req:  customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ScopeDomainName: "admin"},
			want: domainScoped,
		},
		{
			name: "domain scope by id",
			req:  customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ScopeDomainID: d.ID},
			want: domainScoped,
		},
		{
			name:     "wrong password",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: "wrong-password", ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "unknown user",
			req:      customs.TokenRequest{UserName: "nobody", UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "unknown user id",
			req:      customs.TokenRequest{UserID: strings.Repeat("0", 32), Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "unknown domain",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "nowhere", Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "unknown domain id",
			req:      customs.TokenRequest{UserName: "admin", UserDomainID: strings.Repeat("0", 32), Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "user id with another name",
			req:      customs.TokenRequest{UserID: u.ID, UserName: "someone", UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "user id with another domain",
			req:      customs.TokenRequest{UserID: u.ID, UserDomainName: "elsewhere", Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{msgBadLogin},
		},
		{
			name:     "unknown project id",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectID: strings.Repeat("f", 32)},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{strings.Repeat("f", 32), "does not exist or is not yours"},
		},
		{
			name:     "unknown project name",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectName: "eu-west-0"},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{"eu-west-0", "does not exist or is not yours"},
		},
		{
			name:     "project id and another name",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID, ProjectName: "eu-west-0"},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{"does not exist or is not yours"},
		},
		{
			name:     "another domain scope",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ScopeDomainName: "other"},
			wantCode: customs.EUNAUTHORIZED,
			wantMsg:  []string{`"other"`, "does not exist or is not yours"},
		},
		{
			name:     "no password",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", ProjectID: p.ID},
			wantCode: customs.EINVALID,
			wantMsg:  []string{"auth.identity.password.user.password"},
		},
		{
			name:     "no user",
			req:      customs.TokenRequest{UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EINVALID,
			wantMsg:  []string{"auth.identity.password.user.name"},
		},
		{
			name:     "no user domain",
			req:      customs.TokenRequest{UserName: "admin", Password: adminPassword, ProjectID: p.ID},
			wantCode: customs.EINVALID,
			wantMsg:  []string{"auth.identity.password.user.domain.name"},
		},
		{
			name:     "no scope",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword},
			wantCode: customs.EINVALID,
			wantMsg:  []string{"auth.scope.project.id", "auth.scope.domain.name"},
		},
		{
			name:     "project and domain scope",
			req:      customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectID: p.ID, ScopeDomainName: "admin"},
			wantCode: customs.EINVALID,
			wantMsg:  []string{"auth.scope", "both"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := e.svc.IssueToken(t.Context(), tt.req)
			if tt.wantCode != "" {
				wantError(t, err, tt.wantCode, tt.wantMsg...)
				if tok != nil {
					t.Errorf("IssueToken() returned a token with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &customs.IssuedToken{Secret: tok.Secret, Principal: tt.want, Methods: []string{"password"}, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
			if diff := cmp.Diff(want, tok); diff != "" {
				t.Errorf("IssueToken() mismatch (-want +got):\n%s", diff)
			}
			if !regexp.MustCompile(`^CST1[A-Za-z0-9_-]{43}$`).MatchString(tok.Secret) {
				t.Errorf("Secret = %q; want CST1 and 43 base64url characters", tok.Secret)
			}
			got, err := e.svc.Authenticate(t.Context(), tok.Secret)
			if err != nil {
				t.Fatalf("Authenticate(new token): %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authenticate(new token) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The store keeps SHA-256 of the secret, never the secret.
func TestTokenStoredAsHash(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	tok := e.login(t)
	sum := sha256.Sum256([]byte(tok.Secret))
	stored, err := e.db.FindToken(t.Context(), sum[:])
	if err != nil {
		t.Fatalf("FindToken(sha256(secret)): %v", err)
	}
	want := &customs.Token{
		Hash: sum[:], UserID: tok.Principal.User.ID, DomainID: tok.Principal.Domain.ID, ProjectID: tok.Principal.Project.ID,
		Methods: []string{"password"}, IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt,
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored token mismatch (-want +got):\n%s", diff)
	}
	if _, err := e.db.FindToken(t.Context(), []byte(tok.Secret)); customs.ErrorCode(err) != customs.ENOTFOUND {
		t.Errorf("FindToken(secret itself) = %v; want %s", err, customs.ENOTFOUND)
	}
}

func TestIssueTokenDistinctSecrets(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	const n = 8
	secrets := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			tok, err := e.svc.IssueToken(t.Context(), customs.TokenRequest{
				UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectName: region,
			})
			if err == nil {
				secrets[i] = tok.Secret
			}
			errs[i] = err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("IssueToken #%d: %v", i, err)
		}
		if seen[secrets[i]] {
			t.Fatalf("IssueToken returned secret %q twice", secrets[i])
		}
		seen[secrets[i]] = true
		if _, err := e.svc.Authenticate(t.Context(), secrets[i]); err != nil {
			t.Errorf("Authenticate(token #%d): %v", i, err)
		}
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	valid := e.login(t).Secret
	// Another well-formed secret: one character in the middle changed.
	changed := []byte(valid)
	changed[20] = map[bool]byte{true: 'B', false: 'A'}[changed[20] == 'A']
	tests := []struct {
		name    string
		secret  string
		wantMsg string
	}{
		{"empty", "", "malformed"},
		{"garbage", "garbage-value", "malformed"},
		{"bad characters", "CST1" + strings.Repeat("!", 43), "malformed"},
		{"other prefix", "XYZ1" + valid[4:], "malformed"},
		{"too long", valid + "A", "malformed"},
		{"too short", valid[:len(valid)-1], "malformed"},
		{"padded base64", valid[:len(valid)-1] + "=", "malformed"},
		{"unknown", string(changed), "not known"},
		{"unknown, another shape of secret", "CST1" + strings.Repeat("A", 43), "not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.svc.Authenticate(t.Context(), tt.secret)
			if p != nil {
				t.Errorf("Authenticate() returned a principal with an error")
			}
			wantError(t, err, customs.EUNAUTHORIZED, tt.wantMsg)
			if msg := customs.ErrorMessage(err); tt.secret != "" && strings.Contains(msg, tt.secret) {
				t.Errorf("message %q echoes the token", msg)
			}
		})
	}
	if _, err := e.svc.Authenticate(t.Context(), valid); err != nil {
		t.Errorf("Authenticate(valid token) after the refusals: %v", err)
	}
}

func TestAuthenticateExpiry(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	tok := e.login(t)

	e.clock.Advance(24*time.Hour - time.Millisecond)
	p, err := e.svc.Authenticate(t.Context(), tok.Secret)
	if err != nil {
		t.Fatalf("Authenticate() 1 ms before expiry: %v", err)
	}
	if !p.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", p.ExpiresAt, tok.ExpiresAt)
	}

	e.clock.Advance(time.Millisecond)
	_, err = e.svc.Authenticate(t.Context(), tok.Secret)
	wantError(t, err, customs.EUNAUTHORIZED, "expired")

	// A new token from the advanced clock works.
	if _, err := e.svc.Authenticate(t.Context(), e.login(t).Secret); err != nil {
		t.Errorf("Authenticate(new token): %v", err)
	}
}

func TestTokenTTL(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	e.svc.TokenTTL = time.Hour
	tok := e.login(t)
	if want := e.clock.Now().Add(time.Hour); !tok.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, want)
	}
	e.clock.Advance(time.Hour)
	_, err := e.svc.Authenticate(t.Context(), tok.Secret)
	wantError(t, err, customs.EUNAUTHORIZED, "expired")
}

func TestRevokeToken(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	revoked, kept := e.login(t), e.login(t)

	if err := e.svc.RevokeToken(t.Context(), revoked.Secret); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Authenticate(t.Context(), revoked.Secret)
	wantError(t, err, customs.EUNAUTHORIZED, "revoked")
	if _, err := e.svc.Authenticate(t.Context(), kept.Secret); err != nil {
		t.Errorf("Authenticate(another token) after a revocation: %v", err)
	}
	if err := e.svc.RevokeToken(t.Context(), revoked.Secret); err != nil {
		t.Errorf("RevokeToken() again = %v; want nil", err)
	}
	err = e.svc.RevokeToken(t.Context(), "CST1"+strings.Repeat("A", 43))
	wantError(t, err, customs.ENOTFOUND, "does not exist")
	err = e.svc.RevokeToken(t.Context(), "garbage")
	wantError(t, err, customs.ENOTFOUND, "does not exist")
}

func TestTokensSurviveReopen(t *testing.T) {
	e := newEnv(t)
	e.bootstrap(t)
	tok := e.login(t)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}

	db := openStore(t, e.path, e.clock)
	svc := newService(db, e.clock)
	got, err := svc.Authenticate(t.Context(), tok.Secret)
	if err != nil {
		t.Fatalf("Authenticate() after reopening the store: %v", err)
	}
	if diff := cmp.Diff(tok.Principal, got); diff != "" {
		t.Errorf("Authenticate() after reopening mismatch (-want +got):\n%s", diff)
	}
}

// A credential stands only while its user and project exist and are enabled.
func TestAuthenticateChangedIdentity(t *testing.T) {
	tests := []struct {
		name string
		// change alters the store after the token was issued.
		change      func(t *testing.T, e *env, boot *iam.BootstrapResult)
		wantAuthMsg string
		// wantLoginMsg is the refusal of a new login with the right password.
		wantLoginMsg string
	}{
		{
			name: "user disabled",
			change: func(t *testing.T, e *env, boot *iam.BootstrapResult) {
				e.exec(t, `UPDATE users SET enabled = 0 WHERE id = ?`, boot.User.ID)
			},
			wantAuthMsg:  "user of this credential is disabled",
			wantLoginMsg: `The user "admin" is disabled.`,
		},
		{
			name: "user deleted",
			change: func(t *testing.T, e *env, boot *iam.BootstrapResult) {
				// The store deletes the user's tokens with it.
				e.exec(t, `DELETE FROM users WHERE id = ?`, boot.User.ID)
			},
			wantAuthMsg:  "not known",
			wantLoginMsg: msgBadLogin,
		},
		{
			name: "project disabled",
			change: func(t *testing.T, e *env, boot *iam.BootstrapResult) {
				e.exec(t, `UPDATE projects SET enabled = 0 WHERE id = ?`, boot.Project.ID)
			},
			wantAuthMsg:  "project of this credential is disabled",
			wantLoginMsg: "is disabled",
		},
		{
			name: "project deleted",
			change: func(t *testing.T, e *env, boot *iam.BootstrapResult) {
				e.exec(t, `DELETE FROM projects WHERE id = ?`, boot.Project.ID)
			},
			wantAuthMsg:  "project of this credential no longer exists",
			wantLoginMsg: "does not exist or is not yours",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			boot := e.bootstrap(t)
			tok := e.login(t)
			tt.change(t, e, boot)

			_, err := e.svc.Authenticate(t.Context(), tok.Secret)
			wantError(t, err, customs.EUNAUTHORIZED, tt.wantAuthMsg)
			_, err = e.svc.IssueToken(t.Context(), customs.TokenRequest{
				UserName: "admin", UserDomainName: "admin", Password: adminPassword, ProjectID: boot.Project.ID,
			})
			wantError(t, err, customs.EUNAUTHORIZED, tt.wantLoginMsg)
		})
	}
}

func TestDisabledUserWrongPassword(t *testing.T) {
	e := newEnv(t)
	boot := e.bootstrap(t)
	e.exec(t, `UPDATE users SET enabled = 0 WHERE id = ?`, boot.User.ID)
	// Whether a user is disabled is told only to whoever knows the password.
	_, err := e.svc.IssueToken(t.Context(), customs.TokenRequest{
		UserName: "admin", UserDomainName: "admin", Password: "wrong-password", ProjectID: boot.Project.ID,
	})
	wantError(t, err, customs.EUNAUTHORIZED, msgBadLogin)
}

func TestProjects(t *testing.T) {
	e := newEnv(t)
	boot := e.bootstrap(t)
	p, err := e.svc.Authenticate(t.Context(), e.login(t).Secret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		arg  string
		want []*customs.Project
	}{
		{"all", "", []*customs.Project{boot.Project}},
		{"by region name", region, []*customs.Project{boot.Project}},
		{"other name", "eu-west-0", []*customs.Project{}},
		{"name prefix is not a match", region[:5], []*customs.Project{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.Projects(t.Context(), p, tt.arg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Projects(%q) mismatch (-want +got):\n%s", tt.arg, diff)
			}
		})
	}
	_, err = e.svc.Projects(t.Context(), nil, "")
	wantError(t, err, customs.EUNAUTHORIZED)
}

// BenchmarkIssueTokenRefused shows, at the production hashing cost, that a
// login for an unknown user takes as long as one with a wrong password.
func BenchmarkIssueTokenRefused(b *testing.B) {
	defer iam.UseRealPasswordCost()()
	c := newClock()
	path := filepath.Join(b.TempDir(), "customs.db")
	cipher, err := iam.NewCipher(make([]byte, iam.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	db := sqlite.New(path)
	db.Cipher = cipher
	db.Now = c.Now
	if err := db.Open(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc := newService(db, c)
	if _, err := svc.Bootstrap(b.Context(), adminPassword); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		req  customs.TokenRequest
	}{
		{"wrong password", customs.TokenRequest{UserName: "admin", UserDomainName: "admin", Password: "wrong-password", ProjectName: region}},
		{"unknown user", customs.TokenRequest{UserName: "nobody", UserDomainName: "admin", Password: "wrong-password", ProjectName: region}},
		{"unknown domain", customs.TokenRequest{UserName: "admin", UserDomainName: "nowhere", Password: "wrong-password", ProjectName: region}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.IssueToken(b.Context(), bc.req); customs.ErrorCode(err) != customs.EUNAUTHORIZED {
					b.Fatalf("IssueToken() = %v; want %s", err, customs.EUNAUTHORIZED)
				}
			}
		})
	}
}
