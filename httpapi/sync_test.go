package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"customs"
	"customs/oci"
	"customs/reposync"
)

// recordingSync is the real runner, keeping the requests it was given so
// that a test can compare them with what it asked over HTTP.
type recordingSync struct {
	*reposync.Runner

	mu       sync.Mutex
	requests []customs.SyncRequest
}

func (s *recordingSync) StartSync(ctx context.Context, scope customs.Scope, req customs.SyncRequest) (*customs.SyncTask, bool, error) {
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	return s.Runner.StartSync(ctx, scope, req)
}

func (s *recordingSync) taken() []customs.SyncRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]customs.SyncRequest(nil), s.requests...)
}

// newSyncFixture is a fixture whose server synchronizes with the real runner
// (oci client, reposync) from go-containerregistry's in-process registry,
// whose host:port it returns.
func newSyncFixture(t *testing.T) (*fixture, *recordingSync, string) {
	t.Helper()
	regSrv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(regSrv.Close)
	rs := &recordingSync{}
	f := newFixture(t, func(t *testing.T, f *fixture) {
		logger := slog.New(slog.NewTextHandler(t.Output(), nil))
		rs.Runner = &reposync.Runner{
			Syncer: &reposync.Syncer{
				Store: f.db,
				Dial: func(reg *customs.Registry) (reposync.Registry, error) {
					return oci.New(reg, oci.WithLogger(logger), oci.WithRetry(1, time.Millisecond, time.Millisecond))
				},
				Now:    f.clock.now,
				Logger: logger,
			},
			Store:  f.db,
			Logger: logger,
		}
		if err := rs.Runner.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Runner.Close() })
		f.srv.Sync = rs
	})
	return f, rs, strings.TrimPrefix(regSrv.URL, "http://")
}

// push writes a small random image to repo:tag of the registry at addr.
func push(t *testing.T, addr, repoTag string) {
	t.Helper()
	ref, err := name.ParseReference(addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// taskState is what the tests read of a listed task.
type taskState struct {
	TaskID       string `json:"task_id"`
	TaskType     string `json:"task_type"`
	TaskStatus   int    `json:"task_status"`
	IsAll        bool   `json:"is_all"`
	FailedNum    int    `json:"failed_num"`
	SuccessNum   int    `json:"success_num"`
	TotalNum     int    `json:"total_num"`
	SyncTaskType string `json:"sync_task_type"`
	FailedReason string `json:"failed_reason"`
}

// waitTasks polls the task list for query until no listed task is running,
// and returns the tasks.
func (f *fixture) waitTasks(t *testing.T, query string) []taskState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var page struct {
			DataList []taskState `json:"data_list"`
		}
		f.get(t, tasksPath+"?type=image_sync"+query, &page)
		running := len(page.DataList) == 0
		for _, task := range page.DataList {
			if task.TaskStatus >= 0 && task.TaskStatus < 100 {
				running = true
			}
		}
		if !running {
			return page.DataList
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks%s still running after 30s: %+v", query, page.DataList)
		}
		<-tick.C
	}
}

// images lists the image versions of a type as "namespace/name:tag".
func (f *fixture) images(t *testing.T, typ string) []string {
	t.Helper()
	var page struct {
		TotalNum int `json:"total_num"`
		DataList []struct {
			Namespace    string `json:"namespace"`
			ImageName    string `json:"image_name"`
			ImageVersion string `json:"image_version"`
		} `json:"data_list"`
	}
	f.get(t, listPath+"?limit=200&image_type="+typ, &page)
	got := []string{}
	for _, r := range page.DataList {
		got = append(got, customs.JoinRepository(r.Namespace, r.ImageName)+":"+r.ImageVersion)
	}
	slices.Sort(got)
	return got
}

const (
	synchronizePath = "/v5/" + projectID + "/image/synchronize"
	syncTasksPath   = "/v5/" + projectID + "/image/image-sync/tasks"
	tasksPath       = "/v5/" + projectID + "/image/tasks"
)

func TestRunImageSynchronize(t *testing.T) {
	f, rs, addr := newSyncFixture(t)
	for _, rt := range []string{"library/nginx:1.27", "library/nginx:1.26", "team/app:v1"} {
		push(t, addr, rt)
	}
	swr := f.create(t, "", `{"registry_name":"swr","registry_type":"SwrPrivate","protocol":"http","registry_addr":"`+addr+`"}`)

	res := f.do(t, request{method: "POST", path: synchronizePath, body: `{"image_type":"private_image"}`})
	if res.status != http.StatusOK || strings.TrimSpace(string(res.body)) != `{"error_code":0,"error_description":"success"}` {
		t.Fatalf("POST synchronize = %d %s", res.status, res.body)
	}
	tasks := f.waitTasks(t, "")
	want := []taskState{{TaskID: tasks[0].TaskID, TaskType: customs.TriggerManual, TaskStatus: 100, SuccessNum: 3, TotalNum: 3, SyncTaskType: "private_image"}}
	if diff := cmp.Diff(want, tasks); diff != "" {
		t.Errorf("tasks after synchronize mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"library/nginx:1.26", "library/nginx:1.27", "team/app:v1"}, f.images(t, "private_image")); diff != "" {
		t.Errorf("synchronized images mismatch (-want +got):\n%s", diff)
	}
	var regs registryPage
	f.get(t, registriesPath+"?registry_id="+swr.ID, &regs)
	if len(regs.DataList) != 1 || regs.DataList[0].Status != customs.RegistrySuccess || regs.DataList[0].ImagesNum != 3 {
		t.Errorf("registry after synchronize = %+v, want status success with 3 images", regs.DataList)
	}

	for _, tc := range []struct {
		name, body, code, param string
	}{
		{"missing image_type", `{}`, "HSS.0001", "image_type"},
		{"empty image_type", `{"image_type":""}`, "HSS.0001", "image_type"},
		{"local_image", `{"image_type":"local_image"}`, "HSS.0001", "image_type"},
		{"image_type a number", `{"image_type":5}`, "HSS.0001", "image_type"},
		{"not JSON", `image_type=private_image`, "HSS.0002", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, f.do(t, request{method: "POST", path: synchronizePath, body: tc.body}), 400, tc.code)
			if tc.param != "" && !strings.Contains(e.ErrorMsg, "parameter "+tc.param) {
				t.Errorf("error_msg %q does not name parameter %q", e.ErrorMsg, tc.param)
			}
		})
	}
	t.Run("a read-only user cannot start one", func(t *testing.T) {
		reader := f.login(t, "reader", projectID)
		wantError(t, f.do(t, request{method: "POST", path: synchronizePath, token: reader, body: `{"image_type":"private_image"}`}), 403, "HSS.0013")
	})
	if diff := cmp.Diff([]customs.SyncRequest{{Trigger: customs.TriggerManual, ImageType: customs.PrivateImage}}, rs.taken()); diff != "" {
		t.Errorf("requests that reached the runner mismatch (-want +got):\n%s", diff)
	}
}

func TestCreateImageSynchronizeTask(t *testing.T) {
	f, rs, addr := newSyncFixture(t)
	push(t, addr, "prod/api:2025.05")
	harbor := f.create(t, "", `{"registry_name":"harbor","registry_type":"Harbor","protocol":"http","registry_addr":"`+addr+`"}`)
	f.create(t, "", `{"registry_name":"swr","registry_type":"SwrPrivate","protocol":"http","registry_addr":"`+addr+`"}`)
	start := func(body string) string {
		t.Helper()
		res := f.do(t, request{method: "POST", path: syncTasksPath, body: body})
		var got struct {
			TaskID string `json:"task_id"`
		}
		if res.status != http.StatusOK || json.Unmarshal(res.body, &got) != nil || got.TaskID == "" {
			t.Fatalf("POST image-sync/tasks = %d %s", res.status, res.body)
		}
		return got.TaskID
	}

	some := start(`{"sync_all_registries":false,"registry_info":[{"registry_id":"` + harbor.ID + `","registry_type":"Harbor"},{"registry_id":"` + harbor.ID + `"}]}`)
	tasks := f.waitTasks(t, "&task_id="+some)
	if len(tasks) != 1 || tasks[0].TaskStatus != 100 || tasks[0].IsAll || tasks[0].SuccessNum != 1 {
		t.Errorf("task of one registry = %+v, want finished, not all, 1 image", tasks)
	}
	if diff := cmp.Diff([]string{"prod/api:2025.05"}, f.images(t, "instance_image")); diff != "" {
		t.Errorf("instance images mismatch (-want +got):\n%s", diff)
	}
	if got := f.images(t, "private_image"); len(got) != 0 {
		t.Errorf("private images = %v; only the Harbor registry was asked for", got)
	}

	all := start(`{"sync_all_registries":true}`)
	tasks = f.waitTasks(t, "&task_id="+all)
	if len(tasks) != 1 || tasks[0].TaskStatus != 100 || !tasks[0].IsAll || tasks[0].TotalNum != 2 {
		t.Errorf("task of every registry = %+v, want finished, all, 2 images seen", tasks)
	}
	if diff := cmp.Diff([]string{"prod/api:2025.05"}, f.images(t, "private_image")); diff != "" {
		t.Errorf("private images mismatch (-want +got):\n%s", diff)
	}

	e := wantError(t, f.do(t, request{method: "POST", path: syncTasksPath, body: `{"sync_all_registries":false,"registry_info":[{"registry_id":"nope"}]}`}), 400, "HSS.0001")
	if !strings.Contains(e.ErrorMsg, `"nope"`) {
		t.Errorf("error_msg %q does not name the unknown registry", e.ErrorMsg)
	}
	want := []customs.SyncRequest{
		{Trigger: customs.TriggerManual, RegistryIDs: []string{harbor.ID}},
		{Trigger: customs.TriggerManual, All: true},
		{Trigger: customs.TriggerManual, RegistryIDs: []string{"nope"}},
	}
	if diff := cmp.Diff(want, rs.taken()); diff != "" {
		t.Errorf("requests that reached the runner mismatch (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name, body, param string
	}{
		{"missing sync_all_registries", `{"registry_info":[{"registry_id":"r1"}]}`, "sync_all_registries"},
		{"sync_all_registries a string", `{"sync_all_registries":"true"}`, "sync_all_registries"},
		{"no registries", `{"sync_all_registries":false}`, "registry_info"},
		{"empty registries", `{"sync_all_registries":false,"registry_info":[]}`, "registry_info"},
		{"registry without id", `{"sync_all_registries":false,"registry_info":[{"registry_type":"Harbor"}]}`, "registry_info[0].registry_id"},
		{"registry with empty id", `{"sync_all_registries":false,"registry_info":[{"registry_id":"r1"},{"registry_id":""}]}`, "registry_info[1].registry_id"},
		{"registry id too long", `{"sync_all_registries":false,"registry_info":[{"registry_id":"` + strings.Repeat("r", 65) + `"}]}`, "registry_info[0].registry_id"},
		{"unknown registry type", `{"sync_all_registries":false,"registry_info":[{"registry_id":"r1","registry_type":"Quay"}]}`, "registry_info[0].registry_type"},
		{"registry_info not a list", `{"sync_all_registries":false,"registry_info":{"registry_id":"r1"}}`, "registry_info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, f.do(t, request{method: "POST", path: syncTasksPath, body: tc.body}), 400, "HSS.0001")
			if !strings.Contains(e.ErrorMsg, "parameter "+tc.param) {
				t.Errorf("error_msg %q does not name parameter %s", e.ErrorMsg, tc.param)
			}
		})
	}
}

func TestListTasks(t *testing.T) {
	f, _, _ := newSyncFixture(t)
	ctx := t.Context()
	scope := customs.ProjectScope(projectID)
	newTask := func(key, trigger string) *customs.SyncTask {
		t.Helper()
		task := &customs.SyncTask{Trigger: trigger, Key: key}
		if err := f.db.CreateSyncTask(ctx, scope, task); err != nil {
			t.Fatal(err)
		}
		f.clock.set(f.clock.now().Add(time.Minute))
		return task
	}
	finished := newTask("private_image", customs.TriggerAuto)
	finished.State, finished.Progress, finished.FinishedAt = customs.TaskFinished, 100, f.clock.now()
	finished.Total, finished.Succeeded, finished.Failed = 12, 11, 1
	finished.FailedReason = "1 image could not be read."
	finished.FailedImages = []customs.FailedImage{{RegistryID: "r1", RegistryName: "harbor", RegistryType: customs.Harbor,
		Namespace: "team", Name: "app", Tag: "v1", Reason: "manifest unknown"}}
	if err := f.db.UpdateSyncTask(ctx, scope, finished); err != nil {
		t.Fatal(err)
	}
	failed := newTask("registries:r1", customs.TriggerManual)
	failed.State, failed.FinishedAt, failed.FailedReason = customs.TaskFailed, f.clock.now(), "Every registry failed."
	if err := f.db.UpdateSyncTask(ctx, scope, failed); err != nil {
		t.Fatal(err)
	}
	running := newTask("all", customs.TriggerManual)
	running.Progress, running.Total, running.Succeeded = 40, 10, 4
	if err := f.db.UpdateSyncTask(ctx, scope, running); err != nil {
		t.Fatal(err)
	}

	res := f.do(t, request{method: "GET", path: tasksPath + "?type=image_sync"})
	if res.status != http.StatusOK {
		t.Fatalf("GET tasks = %d %s", res.status, res.body)
	}
	golden(t, "tasks", res.body, map[string]string{finished.ID: "<finished task id>", failed.ID: "<failed task id>", running.ID: "<running task id>"})

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"?type=image_sync&task_type=manualSync", []string{running.ID, failed.ID}},
		{"?type=image_sync&task_type=autoSync", []string{finished.ID}},
		{"?type=image_sync&task_type=cycle", []string{}},
		{"?type=image_sync&task_status=scanning", []string{running.ID}},
		{"?type=image_sync&task_status=finished", []string{finished.ID}},
		{"?type=image_sync&task_id=" + failed.ID, []string{failed.ID}},
		{"?type=image_sync&task_name=all", []string{running.ID}},
		{"?type=image_sync&offset=1&limit=10", []string{failed.ID, finished.ID}},
		{"?type=image_scan", []string{}},
	} {
		var page struct {
			TotalNum int `json:"total_num"`
			DataList []struct {
				TaskID string `json:"task_id"`
			} `json:"data_list"`
		}
		f.get(t, tasksPath+tc.query, &page)
		got := []string{}
		for _, d := range page.DataList {
			got = append(got, d.TaskID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("GET tasks%s mismatch (-want +got):\n%s", tc.query, diff)
		}
	}

	for _, tc := range []struct{ query, param string }{
		{"", "type"},
		{"?type", "type"},
		{"?type=image_build", "type"},
		{"?type=image_sync&task_type=daily", "task_type"},
		{"?type=image_sync&task_status=done", "task_status"},
		{"?type=image_sync&limit=5", "limit"},
		{"?type=image_sync&task_id=", "task_id"},
		{"?type=image_sync&task_name=" + strings.Repeat("n", 257), "task_name"},
	} {
		e := wantError(t, f.do(t, request{method: "GET", path: tasksPath + tc.query}), 400, "HSS.0001")
		if !strings.Contains(e.ErrorMsg, "parameter "+tc.param) {
			t.Errorf("GET tasks%s: error_msg %q does not name parameter %s", tc.query, e.ErrorMsg, tc.param)
		}
	}
}
