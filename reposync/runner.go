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

	"customs"
)

// Runner runs synchronizations as tasks: in the background for the API and
// the periodic schedule, or in the foreground for the command line. Each task
// is a row in the store with its progress and a heartbeat, so any process can
// show it and a task whose process died is seen as stopped.
type Runner struct {
	Syncer *Syncer
	Store  Store
	// Interval between periodic synchronizations of every project's
	// registries; 0 turns them off.
	Interval time.Duration
	// Heartbeat is how often a running task's progress is saved even when
	// nothing moved (default 10s; the store takes a task without heartbeat
	// for two minutes as stopped).
	Heartbeat time.Duration
	Logger    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open starts the periodic schedule.
func (r *Runner) Open() error {
	if r.Logger == nil {
		r.Logger = slog.Default().With("component", "reposync")
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if r.Interval > 0 {
		r.wg.Go(r.schedule)
	}
	return nil
}

// Close stops the schedule and every background task, and waits for them;
// tasks it stops are recorded as stopped.
func (r *Runner) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	return nil
}

// StartSync starts a synchronization in the background and returns its task
// at once. When one with the same key is already running in the project it
// returns that one and started=false.
func (r *Runner) StartSync(ctx context.Context, scope customs.Scope, req customs.SyncRequest) (task *customs.SyncTask, started bool, err error) {
	task, regs, err := r.begin(ctx, scope, req)
	if customs.ErrorCode(err) == customs.ECONFLICT {
		running, _, ferr := r.Store.FindSyncTasks(ctx, scope, customs.SyncTaskFilter{Key: task.Key, State: customs.TaskRunning, Limit: 1})
		if ferr == nil && len(running) == 1 {
			return running[0], false, nil
		}
		return nil, false, err
	} else if err != nil {
		return nil, false, err
	}
	running, snapshot := task, *task // the run goes on changing its task; the caller gets a copy
	r.wg.Go(func() { r.run(r.ctx, scope, running, regs, nil) })
	return &snapshot, true, nil
}

// RunSync runs a synchronization in the caller's goroutine, calling progress
// with the task as it advances, and returns the finished task.
func (r *Runner) RunSync(ctx context.Context, scope customs.Scope, req customs.SyncRequest, progress func(*customs.SyncTask)) (*customs.SyncTask, error) {
	task, regs, err := r.begin(ctx, scope, req)
	if err != nil {
		return nil, err
	}
	r.run(ctx, scope, task, regs, progress)
	return task, nil
}

// FindSyncTasks lists a project's synchronization tasks.
func (r *Runner) FindSyncTasks(ctx context.Context, scope customs.Scope, f customs.SyncTaskFilter) ([]*customs.SyncTask, int, error) {
	return r.Store.FindSyncTasks(ctx, scope, f)
}

// begin resolves the registries a request names and records its task.
func (r *Runner) begin(ctx context.Context, scope customs.Scope, req customs.SyncRequest) (*customs.SyncTask, []*customs.Registry, error) {
	if req.Trigger == "" {
		req.Trigger = customs.TriggerManual
	}
	task := &customs.SyncTask{Trigger: req.Trigger, ImageType: req.ImageType}
	var regs []*customs.Registry
	var err error
	switch {
	case len(req.RegistryIDs) > 0:
		ids := slices.Clone(req.RegistryIDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		all, ferr := r.Store.FindRegistries(ctx, scope, customs.RegistryFilter{})
		if ferr != nil {
			return nil, nil, ferr
		}
		for _, id := range ids {
			i := slices.IndexFunc(all, func(reg *customs.Registry) bool { return reg.ID == id })
			if i < 0 {
				return nil, nil, customs.Errorf(customs.EINVALID, "Invalid parameter registry_id: %q; no such registry in this project.", id)
			}
			regs = append(regs, all[i])
		}
		task.Key, task.RegistryIDs, task.ImageType = "registries:"+strings.Join(ids, ","), ids, ""
	case req.All:
		task.Key, task.ImageType = customs.SyncKeyAll, ""
		regs, err = r.Store.FindRegistries(ctx, scope, customs.RegistryFilter{})
	default:
		task.Key = string(req.ImageType)
		switch req.ImageType {
		case customs.PrivateImage:
			regs, err = r.Store.FindRegistries(ctx, scope, customs.RegistryFilter{Types: []customs.RegistryType{customs.SwrPrivate}})
		case customs.InstanceImage:
			regs, err = r.Store.FindRegistries(ctx, scope, customs.RegistryFilter{Types: []customs.RegistryType{customs.SwrEnterprise, customs.Harbor, customs.Jfrog, customs.OtherRegistry}})
		case customs.SharedImage:
			// No registry of the project's own: the run refreshes the
			// repositories other domains share with it.
		default:
			return nil, nil, customs.Errorf(customs.EINVALID, "Invalid parameter image_type: %q; allowed: private_image, shared_image, instance_image.", req.ImageType)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if task.RegistryIDs == nil {
		for _, reg := range regs {
			task.RegistryIDs = append(task.RegistryIDs, reg.ID)
		}
	}
	if err := r.Store.CreateSyncTask(ctx, scope, task); err != nil {
		return task, nil, err
	}
	return task, regs, nil
}

// run synchronizes the registries of a task one after another and keeps the
// task's row up to date.
func (r *Runner) run(ctx context.Context, scope customs.Scope, task *customs.SyncTask, regs []*customs.Registry, progress func(*customs.SyncTask)) {
	log := r.logger().With("task_id", task.ID, "project_id", task.ProjectID)
	var mu sync.Mutex // guards task
	save := func() {
		mu.Lock()
		defer mu.Unlock()
		// Saving must outlive a cancelled run, to record how it ended.
		if err := r.Store.UpdateSyncTask(context.WithoutCancel(ctx), scope, task); err != nil {
			log.Error("save sync task", "err", err)
		}
		if progress != nil {
			progress(task)
		}
	}
	stopBeat := make(chan struct{})
	var beating sync.WaitGroup
	beat := time.NewTicker(r.heartbeat())
	defer beat.Stop()
	beating.Go(func() {
		for {
			select {
			case <-beat.C:
				save()
			case <-stopBeat:
				return
			}
		}
	})
	log.Info("synchronization started", "registries", len(regs), "trigger", task.Trigger)
	var reasons []string
	failedRegs := 0
	lastSave := time.Now()
	for i, reg := range regs {
		mu.Lock()
		before := task.Total // tags seen in the registries before this one
		mu.Unlock()
		res, err := r.Syncer.SyncRegistry(ctx, reg, func(p Progress) {
			mu.Lock()
			done := float64(i)
			if p.Repositories > 0 {
				done += float64(p.RepositoriesDone) / float64(p.Repositories)
			}
			task.Progress = min(99, int(100*done/float64(len(regs))))
			task.Total = before + p.Tags
			mu.Unlock()
			if time.Since(lastSave) > time.Second {
				lastSave = time.Now()
				save()
			}
		})
		mu.Lock()
		if res != nil {
			task.Total = before + res.Tags
			task.Succeeded += res.Tags - res.TagsFailed
			task.Failed += res.TagsFailed
			task.Counts = task.Counts.Add(res.Counts)
			task.FailedImages = append(task.FailedImages, res.Failed...)
		}
		if err != nil {
			failedRegs++
			reasons = append(reasons, fmt.Sprintf("registry %s (%s): %v", reg.Name, reg.Addr, err))
			log.Warn("registry synchronization failed", "registry", reg.Name, "err", err)
		}
		mu.Unlock()
		if ctx.Err() != nil {
			break
		}
	}
	// Shared images come from the owners' rows, not from a registry.
	if ctx.Err() == nil && (task.Key == customs.SyncKeyAll || task.Key == string(customs.SharedImage)) {
		c, err := r.Store.RefreshSharedImages(ctx, scope)
		mu.Lock()
		task.Counts = task.Counts.Add(c)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("shared images: %v", err))
			log.Warn("refresh of shared images failed", "err", err)
		}
		mu.Unlock()
	}
	close(stopBeat)
	beating.Wait() // no heartbeat may save after the final save
	mu.Lock()
	task.FinishedAt = r.Syncer.now()
	task.FailedReason = strings.Join(reasons, "; ")
	switch {
	case ctx.Err() != nil:
		task.State = customs.TaskStopped
		task.FailedReason = joinReason(task.FailedReason, "The synchronization was stopped before it finished.")
	case len(regs) > 0 && failedRegs == len(regs):
		task.State, task.Progress = customs.TaskFailed, 100
	default:
		task.State, task.Progress = customs.TaskFinished, 100
	}
	mu.Unlock()
	save()
	log.Info("synchronization ended", "state", task.State, "tags", task.Total, "added", task.Counts.Added,
		"updated", task.Counts.Updated, "removed", task.Counts.Removed, "failed", task.Failed)
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// schedule starts a synchronization of every project's registries each
// Interval. A project whose previous run is still going is skipped.
func (r *Runner) schedule() {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		projects, err := r.Store.FindProjects(r.ctx, customs.ProjectFilter{})
		if err != nil {
			r.logger().Error("periodic synchronization: list projects", "err", err)
			continue
		}
		for _, p := range projects {
			scope := customs.ProjectScope(p.ID)
			regs, err := r.Store.FindRegistries(r.ctx, scope, customs.RegistryFilter{})
			if err != nil || len(regs) == 0 {
				continue
			}
			if _, _, err := r.StartSync(r.ctx, scope, customs.SyncRequest{Trigger: customs.TriggerAuto, All: true}); err != nil && !errors.Is(err, context.Canceled) {
				r.logger().Error("periodic synchronization", "project_id", p.ID, "err", err)
			}
		}
	}
}

func (r *Runner) heartbeat() time.Duration {
	if r.Heartbeat > 0 {
		return r.Heartbeat
	}
	return 10 * time.Second
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default().With("component", "reposync")
}
