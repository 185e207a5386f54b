package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
)

func testSyncTasks(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	first := &customs.SyncTask{Trigger: customs.TriggerManual, Key: "private_image", ImageType: customs.PrivateImage}
	if err := f.s.CreateSyncTask(ctx, f.allA, first); err != nil {
		t.Fatal(err)
	}
	if first.ID == "" || first.State != customs.TaskRunning || !first.StartedAt.Equal(f.clock.now()) {
		t.Errorf("CreateSyncTask() left %+v", first)
	}
	wantCode(t, f.s.CreateSyncTask(ctx, f.allA, &customs.SyncTask{Trigger: customs.TriggerAuto, Key: "private_image"}), customs.ECONFLICT)
	if err := f.s.CreateSyncTask(ctx, f.allB, &customs.SyncTask{Trigger: customs.TriggerManual, Key: "private_image"}); err != nil {
		t.Errorf("the same key in another project: %v", err)
	}
	f.clock.add(time.Second)
	second := &customs.SyncTask{Trigger: customs.TriggerAuto, Key: "all", RegistryIDs: []string{"r1", "r2"}}
	if err := f.s.CreateSyncTask(ctx, f.allA, second); err != nil {
		t.Fatal(err)
	}

	f.clock.add(time.Second)
	first.Progress, first.Total, first.Succeeded, first.Failed = 100, 12, 11, 1
	first.Counts = customs.SyncCounts{Added: 5, Updated: 4, Removed: 2}
	first.State, first.FinishedAt, first.FailedReason = customs.TaskFinished, f.clock.now(), "registry x: unauthorized"
	first.FailedImages = []customs.FailedImage{{RegistryID: "r1", RegistryName: "x", RegistryType: customs.Harbor, Namespace: "ns", Name: "app", Tag: "v1", Reason: "manifest unknown"}}
	if err := f.s.UpdateSyncTask(ctx, f.allA, first); err != nil {
		t.Fatal(err)
	}
	tasks, total, err := f.s.FindSyncTasks(ctx, f.allA, customs.SyncTaskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 {
		t.Errorf("total = %d, want 2", total)
	}
	if diff := cmp.Diff([]*customs.SyncTask{second, first}, tasks, timeMS); diff != "" {
		t.Errorf("FindSyncTasks() mismatch (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		filter customs.SyncTaskFilter
		want   []string
	}{
		{customs.SyncTaskFilter{State: customs.TaskRunning}, []string{second.ID}},
		{customs.SyncTaskFilter{Key: "private_image"}, []string{first.ID}},
		{customs.SyncTaskFilter{ID: second.ID}, []string{second.ID}},
		{customs.SyncTaskFilter{Trigger: customs.TriggerManual}, []string{first.ID}},
		{customs.SyncTaskFilter{Offset: 1, Limit: 10}, []string{first.ID}},
	} {
		tasks, _, err := f.s.FindSyncTasks(ctx, f.allA, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, task := range tasks {
			got = append(got, task.ID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("FindSyncTasks(%+v) mismatch (-want +got):\n%s", tc.filter, diff)
		}
	}
	if err := f.s.CreateSyncTask(ctx, f.allA, &customs.SyncTask{Trigger: customs.TriggerManual, Key: "private_image"}); err != nil {
		t.Errorf("after the running task finished, a new one with its key: %v", err)
	}

	t.Run("stale", func(t *testing.T) {
		f.clock.add(time.Hour) // every running task's process is long gone
		tasks, _, err := f.s.FindSyncTasks(ctx, f.allA, customs.SyncTaskFilter{ID: second.ID})
		if err != nil || len(tasks) != 1 || tasks[0].State != customs.TaskStopped {
			t.Fatalf("a running task without heartbeat for an hour: %v, %v; want state stopped", tasks, err)
		}
		if tasks, _, _ := f.s.FindSyncTasks(ctx, f.allA, customs.SyncTaskFilter{State: customs.TaskStopped}); len(tasks) != 2 {
			t.Errorf("filtering on stopped found %d tasks, want 2", len(tasks))
		}
		if err := f.s.CreateSyncTask(ctx, f.allA, &customs.SyncTask{Trigger: customs.TriggerAuto, Key: "all"}); err != nil {
			t.Errorf("a stale running task blocks a new one: %v", err)
		}
		tasks, _, _ = f.s.FindSyncTasks(ctx, f.allA, customs.SyncTaskFilter{ID: second.ID})
		if tasks[0].FailedReason == "" || tasks[0].FinishedAt.IsZero() {
			t.Errorf("a stale task taken over has no reason or end: %+v", tasks[0])
		}
	})
	t.Run("heartbeat keeps a task alive", func(t *testing.T) {
		task := &customs.SyncTask{Trigger: customs.TriggerManual, Key: "instance_image"}
		if err := f.s.CreateSyncTask(ctx, f.allA, task); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			f.clock.add(time.Minute)
			if err := f.s.UpdateSyncTask(ctx, f.allA, task); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, f.s.CreateSyncTask(ctx, f.allA, &customs.SyncTask{Trigger: customs.TriggerManual, Key: "instance_image"}), customs.ECONFLICT)
	})
}

// testScopeRequired checks that no scoped method runs without a scope.
func testScopeRequired(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx := t.Context()
	for _, scope := range []customs.Scope{{}, {ProjectID: f.projA.ID}} {
		errs := map[string]error{
			"CreateRegistry":         f.s.CreateRegistry(ctx, scope, &customs.Registry{Name: "x", Type: customs.OtherRegistry, Protocol: "https", Addr: "x"}),
			"FindRegistries":         second(f.s.FindRegistries(ctx, scope, customs.RegistryFilter{})),
			"UpdateRegistry":         second(f.s.UpdateRegistry(ctx, scope, "x", customs.RegistryUpdate{})),
			"DeleteRegistry":         f.s.DeleteRegistry(ctx, scope, "x"),
			"SetRegistrySyncResult":  f.s.SetRegistrySyncResult(ctx, scope, "x", customs.RegistrySyncResult{}),
			"FindImages":             third(f.s.FindImages(ctx, scope, customs.ImageFilter{Type: customs.PrivateImage, Limit: 10})),
			"FindRepositories":       second(f.s.FindRepositories(ctx, scope, "x")),
			"FindTags":               second(f.s.FindTags(ctx, scope, "x", "a/b")),
			"ApplyRepositoryUpdates": second(f.s.ApplyRepositoryUpdates(ctx, scope, "x", nil)),
			"CreateSyncTask":         f.s.CreateSyncTask(ctx, scope, &customs.SyncTask{Key: "k"}),
			"UpdateSyncTask":         f.s.UpdateSyncTask(ctx, scope, &customs.SyncTask{ID: "x"}),
			"FindSyncTasks":          third(f.s.FindSyncTasks(ctx, scope, customs.SyncTaskFilter{})),
		}
		for name, err := range errs {
			if customs.ErrorCode(err) != customs.EINTERNAL {
				t.Errorf("%s with scope %+v: %v, want a refusal", name, scope, err)
			}
		}
	}
}

func third[T, U any](_ T, _ U, err error) error { return err }
