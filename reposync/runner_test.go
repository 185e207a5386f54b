package reposync_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/reposync"
)

func newRunner(t *testing.T, f *fixture) *reposync.Runner {
	t.Helper()
	r := &reposync.Runner{Syncer: f.syncer, Store: f.db, Heartbeat: 2 * time.Millisecond, Logger: testLogger(t)}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// task returns the stored task with the id.
func (f *fixture) task(t *testing.T, id string) *customs.SyncTask {
	t.Helper()
	tasks, _, err := f.db.FindSyncTasks(t.Context(), f.scope, customs.SyncTaskFilter{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Fatalf("sync task %s: found %d", id, len(tasks))
	}
	return tasks[0]
}

// gate holds the requests a test chooses until it opens, or until their
// client gives up.
type gate struct {
	open    chan struct{}
	arrived chan struct{} // closed when the first request is held
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{open: make(chan struct{}), arrived: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *gate) release() {
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// hold returns a fault that holds the requests whose path has prefix.
func (g *gate) hold(prefix string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			return false
		}
		g.once.Do(func() { close(g.arrived) })
		select {
		case <-g.open:
			return false
		case <-r.Context().Done():
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "client went away")
			return true
		}
	}
}

func TestRunnerStartSync(t *testing.T) {
	r := newFakeRegistry(t)
	pushImage(t, r.Addr, "a/app:1", image(t, linuxAMD64, created1))
	pushImage(t, r.Addr, "b/app:1", image(t, linuxAMD64, created2))
	pushImage(t, r.Addr, "b/app:2", image(t, linuxAMD64, created3))
	f := newFixture(t, r.Addr)
	f.syncer.Concurrency = 1 // a/app, then b/app
	runner := newRunner(t, f)
	g := newGate(t)
	r.setFault(g.hold("/v2/b/app/manifests/"))

	req := customs.SyncRequest{Trigger: customs.TriggerManual, RegistryIDs: []string{f.reg.ID}}
	task, started, err := runner.StartSync(t.Context(), f.scope, req)
	if err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	if !started || task.ID == "" || task.State != customs.TaskRunning || task.Key != "registries:"+f.reg.ID {
		t.Fatalf("StartSync = %+v, started %v; want a running task with key registries:%s, started", task, started, f.reg.ID)
	}

	// While it runs, the same request joins it.
	again, started, err := runner.StartSync(t.Context(), f.scope, req)
	if err != nil {
		t.Fatalf("second StartSync: %v", err)
	}
	if started || again.ID != task.ID {
		t.Errorf("second StartSync = task %s, started %v; want the running task %s, not started", again.ID, started, task.ID)
	}

	// The first repository is done, the second is held: half way.
	<-g.arrived
	waitFor(t, "progress of half the repositories", func() bool {
		got := f.task(t, task.ID)
		return got.State == customs.TaskRunning && got.Progress == 50
	})

	g.release()
	waitFor(t, "the task to finish", func() bool { return f.task(t, task.ID).State != customs.TaskRunning })
	got := f.task(t, task.ID)
	want := &customs.SyncTask{
		ID: task.ID, ProjectID: f.scope.ProjectID, Trigger: customs.TriggerManual, Key: task.Key, RegistryIDs: []string{f.reg.ID},
		State: customs.TaskFinished, Progress: 100, Total: 3, Succeeded: 3, Counts: customs.SyncCounts{Added: 3},
	}
	if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
		t.Errorf("finished task mismatch (-want +got):\n%s", diff)
	}
	if got.FinishedAt.IsZero() {
		t.Error("finished task has no finish time")
	}
	if n := len(f.images(t)); n != 3 {
		t.Errorf("%d images stored, want 3", n)
	}

	// Once finished, the same request starts a new task.
	next, started, err := runner.StartSync(t.Context(), f.scope, req)
	if err != nil || !started || next.ID == task.ID {
		t.Errorf("StartSync after the first finished = %v, started %v, err %v; want a new task", next, started, err)
	}
}

var ignoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".StartedAt", ".FinishedAt", ".HeartbeatAt":
		return true
	}
	return false
}, cmp.Ignore())

func TestRunnerRunSync(t *testing.T) {
	tests := []struct {
		name      string
		broken    []bool // per registry: unreachable
		wantState string
		wantNames []string // registries the reason names
	}{
		{name: "every registry reachable", broken: []bool{false, false}, wantState: customs.TaskFinished},
		{name: "one registry unreachable", broken: []bool{false, true}, wantState: customs.TaskFinished, wantNames: []string{"reg-1"}},
		{name: "every registry unreachable", broken: []bool{true, true}, wantState: customs.TaskFailed, wantNames: []string{"reg-0", "reg-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newFakeRegistry(t).Addr)
			var ids []string
			for i, broken := range tt.broken {
				r := newFakeRegistry(t)
				pushImage(t, r.Addr, "team/app:1", image(t, linuxAMD64, created1))
				pushImage(t, r.Addr, "team/app:2", image(t, linuxAMD64, created2))
				if broken {
					r.srv.Close()
				}
				ids = append(ids, f.addRegistry(t, fmt.Sprintf("reg-%d", i), r.Addr).ID)
			}
			runner := newRunner(t, f)

			var seen []customs.SyncTask
			task, err := runner.RunSync(t.Context(), f.scope, customs.SyncRequest{RegistryIDs: ids}, func(st *customs.SyncTask) {
				seen = append(seen, *st)
			})
			if err != nil {
				t.Fatalf("RunSync: %v", err)
			}
			if task.State != tt.wantState || task.Progress != 100 {
				t.Errorf("RunSync task state %q, progress %d; want %q, 100", task.State, task.Progress, tt.wantState)
			}
			for _, name := range tt.wantNames {
				if !strings.Contains(task.FailedReason, "registry "+name+" ") {
					t.Errorf("failed reason %q does not name registry %s", task.FailedReason, name)
				}
			}
			if len(tt.wantNames) == 0 && task.FailedReason != "" {
				t.Errorf("failed reason %q, want none", task.FailedReason)
			}
			okRegs := 0
			for _, broken := range tt.broken {
				if !broken {
					okRegs++
				}
			}
			if task.Succeeded != 2*okRegs || task.Counts.Added != 2*okRegs || task.Failed != 0 {
				t.Errorf("task succeeded %d, added %d, failed %d; want %d, %d, 0", task.Succeeded, task.Counts.Added, task.Failed, 2*okRegs, 2*okRegs)
			}
			if len(seen) == 0 || seen[len(seen)-1].State != tt.wantState {
				t.Errorf("progress callback saw %d states, the last %+v; want it to see the end", len(seen), seen)
			}
			if diff := cmp.Diff(task, f.task(t, task.ID), ignoreTimes); diff != "" {
				t.Errorf("stored task differs from the one returned (-returned +stored):\n%s", diff)
			}
		})
	}
}

func TestRunnerCloseStopsTask(t *testing.T) {
	r := newFakeRegistry(t)
	pushImage(t, r.Addr, "team/app:1", image(t, linuxAMD64, created1))
	f := newFixture(t, r.Addr)
	runner := &reposync.Runner{Syncer: f.syncer, Store: f.db, Heartbeat: 2 * time.Millisecond, Logger: testLogger(t)}
	if err := runner.Open(); err != nil {
		t.Fatal(err)
	}
	g := newGate(t)
	r.setFault(g.hold("/v2/_catalog"))

	task, _, err := runner.StartSync(t.Context(), f.scope, customs.SyncRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	<-g.arrived
	if err := runner.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got := f.task(t, task.ID)
	if got.State != customs.TaskStopped || !strings.Contains(got.FailedReason, "stopped") || got.FinishedAt.IsZero() {
		t.Errorf("task after Close: state %q, reason %q, finished %v; want stopped, with a reason and a finish time", got.State, got.FailedReason, got.FinishedAt)
	}
	// Stopping is not the registry's fault.
	if reg := f.registry(t, f.reg.ID); reg.Status != customs.RegistryAccessing {
		t.Errorf("registry status after a stopped sync = %q (%s), want %q", reg.Status, reg.FailReason, customs.RegistryAccessing)
	}
	if n := len(f.images(t)); n != 0 {
		t.Errorf("%d images stored by a stopped sync, want 0", n)
	}
}

func TestRunnerSchedule(t *testing.T) {
	r := newFakeRegistry(t)
	pushImage(t, r.Addr, "team/app:1", image(t, linuxAMD64, created1))
	f := newFixture(t, r.Addr)
	runner := &reposync.Runner{Syncer: f.syncer, Store: f.db, Interval: 5 * time.Millisecond, Heartbeat: 2 * time.Millisecond, Logger: testLogger(t)}
	if err := runner.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Close() })

	var tasks []*customs.SyncTask
	waitFor(t, "a periodic synchronization to finish", func() bool {
		var err error
		tasks, _, err = f.db.FindSyncTasks(t.Context(), f.scope, customs.SyncTaskFilter{Trigger: customs.TriggerAuto, State: customs.TaskFinished})
		if err != nil {
			t.Fatal(err)
		}
		return len(tasks) > 0
	})
	if got := tasks[len(tasks)-1]; got.Key != "all" || got.Total != 1 {
		t.Errorf("periodic task key %q, total %d; want all, 1", got.Key, got.Total)
	}
	if n := len(f.images(t)); n != 1 {
		t.Errorf("%d images stored, want 1", n)
	}
	if err := runner.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing runs once closed.
	running, _, err := f.db.FindSyncTasks(context.WithoutCancel(t.Context()), f.scope, customs.SyncTaskFilter{State: customs.TaskRunning})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 0 {
		t.Errorf("%d tasks running after Close, want none", len(running))
	}
}

func TestRunnerInvalidRequest(t *testing.T) {
	r := newFakeRegistry(t)
	f := newFixture(t, r.Addr)
	runner := newRunner(t, f)
	tests := []struct {
		name string
		req  customs.SyncRequest
		says string
	}{
		{name: "unknown registry", req: customs.SyncRequest{RegistryIDs: []string{"nope"}}, says: "registry_id"},
		{name: "unknown image type", req: customs.SyncRequest{ImageType: "local_image"}, says: "image_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runner.StartSync(t.Context(), f.scope, tt.req)
			if customs.ErrorCode(err) != customs.EINVALID || !strings.Contains(customs.ErrorMessage(err), tt.says) {
				t.Errorf("StartSync(%+v) error %v, want EINVALID naming %s", tt.req, err, tt.says)
			}
			_, err = runner.RunSync(t.Context(), f.scope, tt.req, nil)
			if customs.ErrorCode(err) != customs.EINVALID {
				t.Errorf("RunSync(%+v) error %v, want EINVALID", tt.req, err)
			}
		})
	}
	tasks, _, err := f.db.FindSyncTasks(t.Context(), f.scope, customs.SyncTaskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 0 {
		t.Errorf("%d tasks recorded for invalid requests, want none", len(tasks))
	}
}

// TestRunnerSharedImages synchronizes shared images: the run refreshes the
// repositories another domain shares with the project from the owner's rows.
func TestRunnerSharedImages(t *testing.T) {
	reg := newFakeRegistry(t)
	pushImage(t, reg.Addr, "team/app:1", image(t, linuxAMD64, created1))
	pushImage(t, reg.Addr, "team/app:2", image(t, linuxAMD64, created2))
	pushImage(t, reg.Addr, "team/private:1", image(t, linuxAMD64, created1))
	f := newFixture(t, reg.Addr)
	ctx := t.Context()
	swr := &customs.Registry{Name: "swr", Type: customs.SwrPrivate, Protocol: "http", Addr: reg.Addr}
	if err := f.db.CreateRegistry(ctx, f.scope, swr); err != nil {
		t.Fatal(err)
	}
	if _, err := f.syncer.SyncRegistry(ctx, swr, func(reposync.Progress) {}); err != nil {
		t.Fatal(err)
	}
	globex := &customs.Domain{Name: "globex"}
	if err := f.db.CreateDomain(ctx, globex); err != nil {
		t.Fatal(err)
	}
	recipient := &customs.Project{DomainID: globex.ID, Name: "local-1", Enabled: true}
	if err := f.db.CreateProject(ctx, recipient); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateShare(ctx, f.scope, &customs.Share{Namespace: "team", Repository: "app", AccessDomain: "globex", Permit: "read"}); err != nil {
		t.Fatal(err)
	}
	scope := customs.ProjectScope(recipient.ID)
	task, err := newRunner(t, f).RunSync(ctx, scope, customs.SyncRequest{ImageType: customs.SharedImage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if task.State != customs.TaskFinished || task.Counts != (customs.SyncCounts{Added: 2}) || task.FailedReason != "" {
		t.Errorf("shared image task: state %s, counts %+v, reason %q; want finished with 2 added", task.State, task.Counts, task.FailedReason)
	}
	imgs, total, err := f.db.FindImages(ctx, scope, customs.ImageFilter{Type: customs.SharedImage, Limit: 10})
	if err != nil || total != 2 {
		t.Fatalf("shared images: %d, %v", total, err)
	}
	for _, img := range imgs {
		if img.Repository() != "team/app" || img.DomainName != "admin" || img.SharedStatus != customs.ShareEffective {
			t.Errorf("shared image %s:%s from %q, %s", img.Repository(), img.Tag, img.DomainName, img.SharedStatus)
		}
	}
}
