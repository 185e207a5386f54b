// Package reposync turns what registries hold into image rows: it lists each
// registry's repositories and tags, learns each new digest once, and writes
// only what changed (new tags, moved tags, vanished tags and repositories).
// A Runner runs synchronizations as tasks in the background or in the
// foreground, reports their progress, and schedules periodic runs.
//
// It does not speak the registry protocol (a Registry does, see package oci)
// and does not store anything itself (a Store does).
package reposync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"customs"
)

// Registry is what a synchronization needs from a registry client. Errors
// that mean "not there" carry customs.ENOTFOUND.
type Registry interface {
	Catalog(ctx context.Context, fn func(repos []string) error) error
	Tags(ctx context.Context, repo string) ([]string, error)
	Head(ctx context.Context, repo, tag string) (digest string, err error)
	Inspect(ctx context.Context, repo, ref string, known func(digest string) *customs.Manifest) (*customs.Manifest, []*customs.Manifest, error)
}

// Dialer returns a client for a registry.
type Dialer func(reg *customs.Registry) (Registry, error)

// Store is what a synchronization reads and writes.
type Store interface {
	FindProjects(ctx context.Context, f customs.ProjectFilter) ([]*customs.Project, error)
	FindRegistries(ctx context.Context, scope customs.Scope, f customs.RegistryFilter) ([]*customs.Registry, error)
	SetRegistrySyncResult(ctx context.Context, scope customs.Scope, id string, r customs.RegistrySyncResult) error
	PutManifests(ctx context.Context, ms []*customs.Manifest) error
	FindManifests(ctx context.Context, digests []string) (map[string]*customs.Manifest, error)
	FindRepositories(ctx context.Context, scope customs.Scope, registryID string) ([]string, error)
	FindTags(ctx context.Context, scope customs.Scope, registryID, repository string) ([]customs.TagState, error)
	ApplyRepositoryUpdates(ctx context.Context, scope customs.Scope, registryID string, us []customs.RepositoryUpdate) (customs.SyncCounts, error)
	RefreshSharedImages(ctx context.Context, scope customs.Scope) (customs.SyncCounts, error)
	CreateSyncTask(ctx context.Context, scope customs.Scope, t *customs.SyncTask) error
	UpdateSyncTask(ctx context.Context, scope customs.Scope, t *customs.SyncTask) error
	FindSyncTasks(ctx context.Context, scope customs.Scope, f customs.SyncTaskFilter) ([]*customs.SyncTask, int, error)
}

// Syncer synchronizes one registry at a time.
type Syncer struct {
	Store Store
	Dial  Dialer
	// Concurrency bounds the repositories, and the tags within each, worked
	// on at once; the client bounds its requests in flight on its own.
	Concurrency int
	// Scans, when set, is given the digests of the tags each repository's
	// synchronization found new or moved, to scan those never scanned.
	Scans  ScanQueue
	Now    func() time.Time
	Logger *slog.Logger
}

// ScanQueue queues scans of what synchronizations find (implemented by
// scanjob.Runner).
type ScanQueue interface {
	QueueNew(ctx context.Context, digests []string) error
}

// Progress is how far the synchronization of one registry has come.
type Progress struct {
	Repositories     int // in the catalog (after the namespace limit)
	RepositoriesDone int
	Tags             int // seen so far
	TagsFailed       int
}

// Result is what the synchronization of one registry did.
type Result struct {
	Progress
	Counts customs.SyncCounts
	Images int // tags recorded for the registry afterwards
	Failed []customs.FailedImage
}

// SyncRegistry brings the stored rows of reg in line with the registry. It
// returns an error, and touches no row, when the registry cannot be listed;
// a tag or repository that cannot be read is reported in the result and its
// rows are left as they were.
func (s *Syncer) SyncRegistry(ctx context.Context, reg *customs.Registry, progress func(Progress)) (*Result, error) {
	scope := customs.ProjectScope(reg.ProjectID)
	res := &Result{}
	fail := func(err error) (*Result, error) {
		if ctx.Err() != nil {
			return res, err // stopped, not the registry's fault
		}
		if serr := s.Store.SetRegistrySyncResult(ctx, scope, reg.ID, customs.RegistrySyncResult{Status: customs.RegistryFail, FailReason: err.Error(), ImagesNum: reg.ImagesNum, SyncedAt: s.now()}); serr != nil {
			return res, errors.Join(err, serr)
		}
		return res, err
	}
	client, err := s.Dial(reg)
	if err != nil {
		return fail(err)
	}
	var repos []string
	err = client.Catalog(ctx, func(page []string) error {
		for _, r := range page {
			if reg.Namespace == "" || strings.HasPrefix(r, reg.Namespace+"/") {
				repos = append(repos, r)
			}
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("list catalog: %w", err))
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)
	res.Repositories = len(repos)
	progress(res.Progress)

	stored, err := s.Store.FindRepositories(ctx, scope, reg.ID)
	if err != nil {
		return res, err
	}
	cache := &manifestCache{store: s.Store, entries: map[string]*cacheEntry{}}
	var mu sync.Mutex // guards res
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency())
	for _, repo := range repos {
		g.Go(func() error {
			r, err := s.syncRepository(gctx, client, cache, reg, repo)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			res.RepositoriesDone++
			res.Tags += r.tags
			res.Images += r.images
			res.TagsFailed += len(r.failed)
			res.Failed = append(res.Failed, r.failed...)
			res.Counts = res.Counts.Add(r.counts)
			progress(res.Progress)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	var gone []customs.RepositoryUpdate
	for _, repo := range stored {
		if _, found := slices.BinarySearch(repos, repo); !found {
			ns, name := customs.SplitRepository(repo)
			gone = append(gone, customs.RepositoryUpdate{Namespace: ns, Name: name, DeleteAll: true})
		}
	}
	if len(gone) > 0 {
		c, err := s.Store.ApplyRepositoryUpdates(ctx, scope, reg.ID, gone)
		if err != nil {
			return res, err
		}
		res.Counts = res.Counts.Add(c)
	}
	err = s.Store.SetRegistrySyncResult(ctx, scope, reg.ID, customs.RegistrySyncResult{Status: customs.RegistrySuccess, ImagesNum: res.Images, SyncedAt: s.now()})
	return res, err
}

type repoResult struct {
	tags, images int
	counts       customs.SyncCounts
	failed       []customs.FailedImage
}

// syncRepository synchronizes one repository: it HEADs the tags it already
// knows (one request each when nothing changed) and inspects the new ones,
// then writes the changes in one transaction.
func (s *Syncer) syncRepository(ctx context.Context, client Registry, cache *manifestCache, reg *customs.Registry, repo string) (*repoResult, error) {
	scope := customs.ProjectScope(reg.ProjectID)
	ns, name := customs.SplitRepository(repo)
	res := &repoResult{}
	failed := func(tag string, err error) {
		res.failed = append(res.failed, customs.FailedImage{RegistryID: reg.ID, RegistryName: reg.Name, RegistryType: reg.Type, Namespace: ns, Name: name, Tag: tag, Reason: err.Error()})
	}
	storedTags, err := s.Store.FindTags(ctx, scope, reg.ID, repo)
	if err != nil {
		return nil, err
	}
	tags, err := client.Tags(ctx, repo)
	switch {
	case customs.ErrorCode(err) == customs.ENOTFOUND:
		tags = nil // vanished since the catalog was listed
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The repository counts as one entry that could not be read; its
		// rows stay, and still count.
		res.tags, res.images = 1, len(storedTags)
		failed("", fmt.Errorf("list tags: %w", err))
		return res, nil
	}
	res.tags = len(tags)
	stored := make(map[string]customs.TagState, len(storedTags))
	for _, t := range storedTags {
		stored[t.Tag] = t
	}

	update := customs.RepositoryUpdate{Namespace: ns, Name: name}
	var learned []*customs.Manifest
	var mu sync.Mutex // guards update, learned, present and res
	present := make(map[string]bool, len(tags))
	for _, tag := range tags {
		present[tag] = true
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency())
	for _, tag := range tags {
		g.Go(func() error {
			ts, ms, err := s.syncTag(gctx, client, cache, repo, tag, stored)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case gctx.Err() != nil:
				return gctx.Err()
			case customs.ErrorCode(err) == customs.ENOTFOUND:
				delete(present, tag) // deleted while we looked
			case err != nil:
				failed(tag, err)
			case ts != nil:
				update.Upserts = append(update.Upserts, *ts)
				learned = append(learned, ms...)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, f := range res.failed {
		present[f.Tag] = true // a tag we could not read keeps its row
	}
	for tag := range stored {
		if !present[tag] {
			update.Deletes = append(update.Deletes, tag)
		}
	}
	res.images = len(stored) + len(update.Upserts) - len(update.Deletes)
	for _, u := range update.Upserts {
		if _, ok := stored[u.Tag]; ok {
			res.images-- // moved, not new
		}
	}
	if len(update.Upserts) == 0 && len(update.Deletes) == 0 {
		return res, nil
	}
	if err := s.Store.PutManifests(ctx, learned); err != nil {
		return nil, err
	}
	if res.counts, err = s.Store.ApplyRepositoryUpdates(ctx, scope, reg.ID, []customs.RepositoryUpdate{update}); err != nil {
		return nil, err
	}
	if s.Scans != nil && len(update.Upserts) > 0 {
		digests := make([]string, len(update.Upserts))
		for i, u := range update.Upserts {
			digests[i] = u.Digest
		}
		// The rows are recorded; a scan that could not be queued can be
		// asked for again, so it does not fail the synchronization.
		if err := s.Scans.QueueNew(ctx, digests); err != nil {
			s.Logger.Error("queue scans of new images", "registry", reg.Name, "repository", repo, "err", err)
		}
	}
	return res, nil
}

// syncTag returns the new state of a tag when it is new or moved (nil when
// unchanged), and the manifests learned on the way.
func (s *Syncer) syncTag(ctx context.Context, client Registry, cache *manifestCache, repo, tag string, stored map[string]customs.TagState) (*customs.TagState, []*customs.Manifest, error) {
	if old, ok := stored[tag]; ok {
		digest, err := client.Head(ctx, repo, tag)
		if err != nil {
			return nil, nil, fmt.Errorf("head %s:%s: %w", repo, tag, err)
		}
		if digest == old.Digest {
			return nil, nil, nil
		}
		m, children, err := cache.inspect(ctx, client, repo, digest, false)
		if err != nil {
			return nil, nil, fmt.Errorf("inspect %s@%s: %w", repo, digest, err)
		}
		// The tag moved: it changed when this synchronization saw it change.
		return &customs.TagState{Tag: tag, Digest: m.Digest, UpdatedAt: s.now()}, append(children, m), nil
	}
	m, children, err := cache.inspect(ctx, client, repo, tag, true)
	if err != nil {
		return nil, nil, fmt.Errorf("inspect %s:%s: %w", repo, tag, err)
	}
	// First sight: the image's own creation time, unless it has none (or an
	// impossible one: reproducible builds set the epoch, clocks drift).
	updated := m.Created
	if now := s.now(); updated.Unix() <= 0 || updated.After(now) {
		updated = now
	}
	return &customs.TagState{Tag: tag, Digest: m.Digest, UpdatedAt: updated}, append(children, m), nil
}

// manifestCache holds what one synchronization learned of each digest, so
// that a digest reached through several tags or repositories is inspected
// once (its config and children read once), even when its tags are inspected
// at the same time. The store answers for digests learned by earlier
// synchronizations.
type manifestCache struct {
	store   Store
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

// cacheEntry is a digest learned, or being learned by one inspection (done
// still open), which the others that reach it wait for.
type cacheEntry struct {
	done chan struct{}
	m    *customs.Manifest // set before done closes; nil if that inspection failed
	// partial: learned as a child of an index, which reads the config of
	// one child only, so it may lack the created time of its config.
	partial bool
}

// inspect is Registry.Inspect with the cache as what is known. needCreated
// says that the caller uses the manifest's created time: a manifest learned
// as an index child without its config is then inspected again.
//
// The first digest Inspect asks about is the manifest's own; the inspection
// claims it unless another already has, and the others that reach it wait.
// Only that first digest is claimed: an index waits for the inspections of
// its children's digests but claims none of them, and an image waits for
// nothing but its own digest, so waits follow the content graph down and
// cannot form a cycle.
func (c *manifestCache) inspect(ctx context.Context, client Registry, repo, ref string, needCreated bool) (*customs.Manifest, []*customs.Manifest, error) {
	var (
		asked         bool // the first digest was asked about
		claimed       *cacheEntry
		claimedDigest string
	)
	known := func(digest string) *customs.Manifest {
		c.mu.Lock()
		first := !asked
		asked = true
		e, ok := c.entries[digest]
		if first && (!ok || e.partial && needCreated) {
			claimed, claimedDigest = &cacheEntry{done: make(chan struct{})}, digest
			c.entries[digest] = claimed
			ok = false
		}
		c.mu.Unlock()
		if ok {
			select {
			case <-e.done:
				if e.m != nil && !(first && needCreated && e.partial) {
					return e.m
				}
			case <-ctx.Done():
				return nil
			}
		}
		ms, err := c.store.FindManifests(ctx, []string{digest})
		if err != nil {
			return nil // fetch it instead
		}
		m := ms[digest]
		if m != nil && first && needCreated && lacksCreated(m) {
			return nil // it may have been stored as an index child
		}
		return m
	}
	m, children, err := client.Inspect(ctx, repo, ref, known)

	c.mu.Lock()
	defer c.mu.Unlock()
	if claimed != nil {
		if err == nil && m.Digest == claimedDigest {
			claimed.m, claimed.partial = m, !needCreated && lacksCreated(m)
		} else {
			delete(c.entries, claimedDigest) // the next one to reach it tries again
		}
		close(claimed.done)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, cm := range children {
		if _, ok := c.entries[cm.Digest]; !ok {
			e := &cacheEntry{done: make(chan struct{}), m: cm, partial: lacksCreated(cm)}
			close(e.done)
			c.entries[cm.Digest] = e
		}
	}
	return m, children, nil
}

// lacksCreated reports whether m is an image without a created time, which
// is what an index child whose config was not read looks like.
func lacksCreated(m *customs.Manifest) bool {
	return m.Kind == customs.KindImage && m.Created.IsZero() && m.ConfigDigest != ""
}

func (s *Syncer) concurrency() int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return 8
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}
