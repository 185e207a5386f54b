// Package storetest is the one conformance suite every store backend passes
// (store/sqlite now, store/postgres later): identities, registries, manifests,
// the image inventory with its list semantics (spec §1), scan summaries and
// sync tasks, and the isolation of projects and enterprise projects.
//
// A backend's test calls Run with a function that opens its store. The suite
// never looks inside a backend; what it checks is what the API promises.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"customs"
)

// Store is everything a backend provides.
type Store interface {
	Bootstrap(ctx context.Context, d *customs.Domain, u *customs.User, p *customs.Project) (bool, error)
	CreateDomain(ctx context.Context, d *customs.Domain) error
	CreateUser(ctx context.Context, u *customs.User) error
	CreateProject(ctx context.Context, p *customs.Project) error
	FindDomainByID(ctx context.Context, id string) (*customs.Domain, error)
	FindDomainByName(ctx context.Context, name string) (*customs.Domain, error)
	FindUserByID(ctx context.Context, id string) (*customs.User, error)
	FindUserByName(ctx context.Context, domainID, name string) (*customs.User, error)
	FindProjects(ctx context.Context, f customs.ProjectFilter) ([]*customs.Project, error)
	FindUsers(ctx context.Context, domainID string) ([]*customs.User, error)
	UpdateUser(ctx context.Context, u *customs.User) error
	DeleteUser(ctx context.Context, domainID, id string) error
	CreateGroup(ctx context.Context, g *customs.Group) error
	FindGroups(ctx context.Context, domainID string) ([]*customs.Group, error)
	FindUserGroups(ctx context.Context, userID string) ([]*customs.Group, error)
	FindGroupMembers(ctx context.Context, domainID, groupID string) ([]*customs.User, error)
	DeleteGroup(ctx context.Context, domainID, id string) error
	AddGroupMember(ctx context.Context, domainID, groupID, userID string) error
	RemoveGroupMember(ctx context.Context, domainID, groupID, userID string) error
	CreateEnterpriseProject(ctx context.Context, ep *customs.EnterpriseProject) error
	FindEnterpriseProjects(ctx context.Context, domainID string) ([]*customs.EnterpriseProject, error)
	UpdateEnterpriseProject(ctx context.Context, ep *customs.EnterpriseProject) error
	CreatePolicy(ctx context.Context, p *customs.Policy) error
	FindPolicies(ctx context.Context, domainID string) ([]*customs.Policy, error)
	DeletePolicy(ctx context.Context, domainID, id string) error
	CreateGrant(ctx context.Context, g *customs.Grant) error
	FindGrants(ctx context.Context, domainID string, f customs.GrantFilter) ([]*customs.Grant, error)
	FindUserGrants(ctx context.Context, userID, projectID string) ([]*customs.Grant, error)
	DeleteGrant(ctx context.Context, domainID, id string) error
	CreateCredential(ctx context.Context, c *customs.Credential, secret string) error
	FindCredential(ctx context.Context, accessKey string) (*customs.Credential, string, error)
	FindCredentials(ctx context.Context, userID string) ([]*customs.Credential, error)
	DeleteCredential(ctx context.Context, domainID, accessKey string) error
	RecordSignatureFailure(ctx context.Context, accessKey string, threshold int, lockUntil time.Time) (bool, error)
	RecordSignatureSuccess(ctx context.Context, c *customs.Credential) error
	RecordLoginFailure(ctx context.Context, key string, window time.Duration, threshold int, lockFor time.Duration) (time.Time, error)
	LoginLockedUntil(ctx context.Context, key string) (time.Time, error)
	ResetLoginFailures(ctx context.Context, key string) error
	CreateToken(ctx context.Context, t *customs.Token) error
	FindToken(ctx context.Context, hash []byte) (*customs.Token, error)
	RevokeToken(ctx context.Context, hash []byte) error

	CreateRegistry(ctx context.Context, scope customs.Scope, r *customs.Registry) error
	FindRegistries(ctx context.Context, scope customs.Scope, f customs.RegistryFilter) ([]*customs.Registry, error)
	UpdateRegistry(ctx context.Context, scope customs.Scope, id string, u customs.RegistryUpdate) (*customs.Registry, error)
	DeleteRegistry(ctx context.Context, scope customs.Scope, id string) error
	SetRegistrySyncResult(ctx context.Context, scope customs.Scope, id string, r customs.RegistrySyncResult) error

	PutManifests(ctx context.Context, ms []*customs.Manifest) error
	FindManifests(ctx context.Context, digests []string) (map[string]*customs.Manifest, error)

	FindImages(ctx context.Context, scope customs.Scope, f customs.ImageFilter) ([]*customs.Image, int, error)
	FindRepositories(ctx context.Context, scope customs.Scope, registryID string) ([]string, error)
	FindTags(ctx context.Context, scope customs.Scope, registryID, repository string) ([]customs.TagState, error)
	ApplyRepositoryUpdates(ctx context.Context, scope customs.Scope, registryID string, us []customs.RepositoryUpdate) (customs.SyncCounts, error)
	SetScanSummaries(ctx context.Context, summaries map[string]customs.ScanSummary) error
	ScanSummaries(ctx context.Context, digests []string) (map[string]customs.ScanSummary, error)
	FindingKeys(ctx context.Context, ids []string) ([]customs.PackageKey, error)
	RequeueScan(ctx context.Context, digest string) error
	SelectDigests(ctx context.Context, scope customs.Scope, sels []customs.ImageSelector) ([][]string, error)
	FindImageDigests(ctx context.Context, scope customs.Scope, f customs.ImageFilter) ([]string, error)

	QueueScans(ctx context.Context, digests []string, rescan bool) ([]string, error)
	PendingScans(ctx context.Context) ([]string, error)
	StartScan(ctx context.Context, digest string) error
	FailScan(ctx context.Context, digest, reason string) error
	SaveScanResult(ctx context.Context, res *customs.ScanResult) error
	ScanTargets(ctx context.Context, digest string) ([]customs.ScanTarget, error)
	FindVulnerabilities(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.VulnerabilityFilter) ([]customs.Finding, int, error)
	FindMalware(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.MalwareFilter) ([]customs.MaliciousFile, int, error)
	FindBaselineChecks(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.BaselineFilter) ([]customs.BaselineCheck, int, error)
	FindBaselineResults(ctx context.Context, scope customs.Scope, sel customs.ImageSelector, f customs.BaselineFilter) ([]customs.BaselineResult, int, error)

	AdvisoryModified(ctx context.Context) (map[string]time.Time, error)
	ImportAdvisories(ctx context.Context, source string, fn func(put func(*customs.Advisory) error) error) error
	Advisories(ctx context.Context, keys []customs.PackageKey) ([]*customs.Advisory, error)
	EcosystemStatuses(ctx context.Context) ([]customs.EcosystemStatus, error)
	Inventories(ctx context.Context, keys []customs.PackageKey, fn func(digest string, pkgs []customs.Package) error) error
	ReplaceFindings(ctx context.Context, findings map[string][]customs.Finding) error

	PutSignatureFile(ctx context.Context, f *customs.SignatureFile) error
	SignatureFiles(ctx context.Context, content bool) ([]*customs.SignatureFile, error)
	DeleteSignatureFile(ctx context.Context, name string) error

	CreateShare(ctx context.Context, scope customs.Scope, sh *customs.Share) error
	FindShares(ctx context.Context, scope customs.Scope, f customs.ShareFilter) ([]*customs.Share, error)
	UpdateShare(ctx context.Context, scope customs.Scope, sh *customs.Share) error
	DeleteShare(ctx context.Context, scope customs.Scope, id string) error
	RefreshSharedImages(ctx context.Context, scope customs.Scope) (customs.SyncCounts, error)

	CreateSyncTask(ctx context.Context, scope customs.Scope, t *customs.SyncTask) error
	UpdateSyncTask(ctx context.Context, scope customs.Scope, t *customs.SyncTask) error
	FindSyncTasks(ctx context.Context, scope customs.Scope, f customs.SyncTaskFilter) ([]*customs.SyncTask, int, error)
}

// Opener opens a store on the database called name, creating it if needed,
// with now as its clock. Opening the same name again gives another handle on
// the same database (as a second process would have); each handle is closed
// when the test ends.
type Opener func(t *testing.T, name string, now func() time.Time) Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("Identity", func(t *testing.T) { testIdentity(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("UsersAndGroups", func(t *testing.T) { testUsersAndGroups(t, open) })
	t.Run("Grants", func(t *testing.T) { testGrants(t, open) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open) })
	t.Run("LoginFailures", func(t *testing.T) { testLoginFailures(t, open) })
	t.Run("Registries", func(t *testing.T) { testRegistries(t, open) })
	t.Run("Manifests", func(t *testing.T) { testManifests(t, open) })
	t.Run("RepositoryUpdates", func(t *testing.T) { testRepositoryUpdates(t, open) })
	t.Run("LatestVersion", func(t *testing.T) { testLatestVersion(t, open) })
	t.Run("ScanSummaries", func(t *testing.T) { testScanSummaries(t, open) })
	t.Run("ListMatchesReference", func(t *testing.T) { testListMatchesReference(t, open) })
	t.Run("ListRecordFields", func(t *testing.T) { testListRecordFields(t, open) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
	t.Run("SecondHandle", func(t *testing.T) { testSecondHandle(t, open) })
	t.Run("SnapshotConsistency", func(t *testing.T) { testSnapshotConsistency(t, open) })
	t.Run("SyncTasks", func(t *testing.T) { testSyncTasks(t, open) })
	t.Run("Shares", func(t *testing.T) { testShares(t, open) })
	t.Run("ScopeRequired", func(t *testing.T) { testScopeRequired(t, open) })
	t.Run("ScanResults", func(t *testing.T) { testScanResults(t, open) })
	t.Run("Advisories", func(t *testing.T) { testAdvisories(t, open) })
	t.Run("SignatureFiles", func(t *testing.T) { testSignatureFiles(t, open) })
}

// clock is a settable clock for a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
