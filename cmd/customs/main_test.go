package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"customs/internal/testregistry"
)

// syncWriter is a buffer safe for the program's concurrent output.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// newMain returns a Main on dir and a free loopback port, with its output
// captured.
func newMain(t *testing.T, dir string) (*Main, *syncWriter) {
	t.Helper()
	out := &syncWriter{}
	m := NewMain()
	m.Config.DataDir, m.Config.Addr, m.Config.SyncInterval = dir, "127.0.0.1:0", 0
	// Scans are neither queued by synchronizations nor run, unless a test
	// asks.
	m.Config.ScanWorkers, m.Config.ScanOnSync = 0, false
	m.Config.AdminPassword = "e2e-admin-password"
	m.Stdout, m.Stderr, m.Stdin = out, out, strings.NewReader("")
	m.Getenv = func(string) string { return "" }
	return m, out
}

// client talks to a running service as an API user would.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) do(method, path string, body any, want int, out any) http.Header {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.Header
}

func (c *client) login(user, password, project string) {
	c.t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"name": "admin"}}}},
		"scope": map[string]any{"project": map[string]any{"name": project}},
	}}
	c.token = ""
	h := c.do("POST", "/v3/auth/tokens", body, http.StatusCreated, nil)
	if c.token = h.Get("X-Subject-Token"); c.token == "" {
		c.t.Fatal("no X-Subject-Token")
	}
}

type listed struct {
	TotalNum int `json:"total_num"`
	DataList []struct {
		Namespace         string `json:"namespace"`
		ImageName         string `json:"image_name"`
		ImageVersion      string `json:"image_version"`
		ImageDigest       string `json:"image_digest"`
		LatestVersion     bool   `json:"latest_version"`
		Scannable         bool   `json:"scannable"`
		InstanceName      string `json:"instance_name"`
		InstanceID        string `json:"instance_id"`
		InstanceURL       string `json:"instance_url"`
		AssociationImages []struct {
			ImageDigest string `json:"image_digest"`
		} `json:"association_images"`
	} `json:"data_list"`
}

func (l listed) names() []string {
	var out []string
	for _, r := range l.DataList {
		out = append(out, r.Namespace+"/"+r.ImageName+":"+r.ImageVersion)
	}
	return out
}

// pushTo pushes images to the registry at reg with its basic-auth user.
func pushTo(t *testing.T, reg *testregistry.Registry) {
	t.Helper()
	auth := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password}))
	write := func(repoTag string, img v1.Image) {
		ref, err := name.NewTag(reg.Addr+"/"+repoTag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, auth, remote.WithContext(t.Context())); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
	image := func(os, arch, created string) v1.Image {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		ts, _ := time.Parse(time.RFC3339, created)
		cf.OS, cf.Architecture, cf.Created = os, arch, v1.Time{Time: ts}
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	write("shop/cart:1.0", image("linux", "amd64", "2025-01-01T00:00:00Z"))
	write("shop/cart:1.1", image("linux", "amd64", "2025-02-01T00:00:00Z"))
	write("shop/checkout:2.0", image("linux", "amd64", "2025-01-15T00:00:00Z"))
	write("ops/agent:3.0", image("windows", "amd64", "2025-03-01T00:00:00Z"))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: image("linux", "amd64", "2025-04-01T00:00:00Z"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: image("linux", "arm64", "2025-04-01T00:00:00Z"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	ref, _ := name.NewTag(reg.Addr+"/shop/multi:1.0", name.Insecure)
	if err := remote.WriteIndex(ref, idx, auth, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEnd runs the whole program on a temporary directory and a free
// port against the real Distribution registry: log in, add the registry,
// synchronize, wait for the task, list with filters, restart.
func TestEndToEnd(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithHtpasswd("robot", "robot-secret"))
	pushTo(t, reg)
	dir := t.TempDir()
	m, out := newMain(t, dir)
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !strings.Contains(out.String(), `created domain "admin", user "admin" and project "local-1"`) {
		t.Errorf("first start did not say what it created:\n%s", out)
	}
	c := &client{t: t, base: m.Server.URL()}
	c.login("admin", "e2e-admin-password", "local-1")

	var projects struct {
		Projects []struct{ ID, Name string } `json:"projects"`
	}
	c.do("GET", "/v3/projects?name=local-1", nil, http.StatusOK, &projects)
	if len(projects.Projects) != 1 {
		t.Fatalf("projects named local-1: %+v", projects)
	}
	v5 := "/v5/" + projects.Projects[0].ID + "/image"

	var created struct {
		ID string `json:"id"`
	}
	c.do("POST", v5+"/registries", map[string]any{
		"registry_name": "dist", "registry_type": "Harbor", "protocol": "http", "registry_addr": reg.Addr,
		"registry_username": reg.Username, "registry_password": reg.Password, "api_version": "V2", "connect_cluster_id": "ignored",
	}, http.StatusOK, &created)
	var task struct {
		TaskID string `json:"task_id"`
	}
	c.do("POST", v5+"/image-sync/tasks", map[string]any{"sync_all_registries": false, "registry_info": []map[string]string{{"registry_id": created.ID, "registry_type": "Harbor"}}}, http.StatusOK, &task)
	waitTask(t, c, v5, task.TaskID)

	var all listed
	c.do("GET", v5+"/swr-repository?image_type=instance_image&limit=50", nil, http.StatusOK, &all)
	if got := strings.Join(all.names(), " "); all.TotalNum != 5 || got != "shop/multi:1.0 ops/agent:3.0 shop/cart:1.1 shop/checkout:2.0 shop/cart:1.0" {
		t.Errorf("listed %d: %s", all.TotalNum, got)
	}
	for _, r := range all.DataList {
		if r.InstanceID != created.ID || r.InstanceName != "dist" || r.InstanceURL != reg.Addr {
			t.Errorf("%s:%s instance fields %q %q %q", r.ImageName, r.ImageVersion, r.InstanceID, r.InstanceName, r.InstanceURL)
		}
		if want := r.ImageName != "agent"; r.Scannable != want {
			t.Errorf("%s scannable = %v, want %v", r.ImageName, r.Scannable, want)
		}
		if want := map[bool]int{true: 2, false: 0}[r.ImageName == "multi"]; len(r.AssociationImages) != want {
			t.Errorf("%s has %d association images, want %d", r.ImageName, len(r.AssociationImages), want)
		}
	}
	for query, want := range map[string]string{
		"namespace=shop&latest_version=true":                                          "shop/multi:1.0 shop/cart:1.1 shop/checkout:2.0",
		"image_name=car&image_version=1.":                                             "shop/cart:1.1 shop/cart:1.0",
		"instance_id=" + created.ID + "&namespace=ops":                                "ops/agent:3.0",
		"start_latest_update_time=1736899200000&end_latest_update_time=1738368000000": "shop/cart:1.1 shop/checkout:2.0",
		"has_vul=false&scan_status=unscan&limit=10&offset=3":                          "shop/checkout:2.0 shop/cart:1.0",
	} {
		var l listed
		c.do("GET", v5+"/swr-repository?image_type=instance_image&"+query, nil, http.StatusOK, &l)
		if got := strings.Join(l.names(), " "); got != want {
			t.Errorf("%s: listed %q, want %q", query, got, want)
		}
	}
	var none listed
	c.do("GET", v5+"/swr-repository?image_type=private_image", nil, http.StatusOK, &none)
	if none.TotalNum != 0 || none.DataList == nil {
		t.Errorf("private images of a project with only an instance registry: %+v", none)
	}
	c.do("GET", v5+"/swr-repository?image_type=instance_image&limit=201", nil, http.StatusBadRequest, nil)

	// The registry loses a tag; a second synchronization through the
	// HSS endpoint removes its row.
	deleteTag(t, reg, "shop/cart", "1.0")
	c.do("POST", v5+"/synchronize", map[string]string{"image_type": "instance_image"}, http.StatusOK, nil)
	var tasks struct {
		DataList []struct {
			TaskID string `json:"task_id"`
		} `json:"data_list"`
	}
	c.do("GET", v5+"/tasks?type=image_sync", nil, http.StatusOK, &tasks)
	waitTask(t, c, v5, tasks.DataList[0].TaskID)
	c.do("GET", v5+"/swr-repository?image_type=instance_image&limit=50", nil, http.StatusOK, &all)
	if all.TotalNum != 4 {
		t.Errorf("after the registry lost a tag, %d rows, want 4: %v", all.TotalNum, all.names())
	}

	// A restart keeps the token, the registry and the rows.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2, out2 := newMain(t, dir)
	if err := m2.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if strings.Contains(out2.String(), "First start") {
		t.Error("a restart bootstrapped again")
	}
	c.base = m2.Server.URL()
	var again listed
	c.do("GET", v5+"/swr-repository?image_type=instance_image&limit=50", nil, http.StatusOK, &again)
	if strings.Join(again.names(), " ") != strings.Join(all.names(), " ") {
		t.Errorf("after a restart: %v, want %v", again.names(), all.names())
	}
}

func deleteTag(t *testing.T, reg *testregistry.Registry, repo, tag string) {
	t.Helper()
	auth := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password}))
	ref, _ := name.NewTag(reg.Addr+"/"+repo+":"+tag, name.Insecure)
	desc, err := remote.Head(ref, auth)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref.Context().Digest(desc.Digest.String()), auth); err != nil {
		t.Fatal(err)
	}
}

// waitTask polls the task list until the task has ended.
func waitTask(t *testing.T, c *client, v5, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		var tasks struct {
			DataList []struct {
				TaskStatus   int    `json:"task_status"`
				FailedReason string `json:"failed_reason"`
			} `json:"data_list"`
		}
		c.do("GET", v5+"/tasks?type=image_sync&task_id="+url.QueryEscape(id), nil, http.StatusOK, &tasks)
		if len(tasks.DataList) != 1 {
			t.Fatalf("task %s listed %d times", id, len(tasks.DataList))
		}
		switch s := tasks.DataList[0].TaskStatus; {
		case s == 100:
			if r := tasks.DataList[0].FailedReason; r != "" {
				t.Fatalf("task %s: %s", id, r)
			}
			return
		case s < 0:
			t.Fatalf("task %s ended with status %d: %s", id, s, tasks.DataList[0].FailedReason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still running after 60s", id)
		}
		<-poll.C
	}
}
