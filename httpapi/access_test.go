package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/store/sqlite"
)

// recordingStarts answers StartSync without running a synchronization,
// keeping the scope it was given; a real run would rewrite the seeded rows
// the access matrix compares against. Tasks are listed from the store.
type recordingStarts struct {
	db *sqlite.DB

	mu     sync.Mutex
	scopes []customs.Scope
}

func (r *recordingStarts) StartSync(_ context.Context, scope customs.Scope, _ customs.SyncRequest) (*customs.SyncTask, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scopes = append(r.scopes, scope)
	return &customs.SyncTask{ID: fmt.Sprintf("task-%d", len(r.scopes)), ProjectID: scope.ProjectID}, true, nil
}

func (r *recordingStarts) FindSyncTasks(ctx context.Context, scope customs.Scope, f customs.SyncTaskFilter) ([]*customs.SyncTask, int, error) {
	return r.db.FindSyncTasks(ctx, scope, f)
}

// take returns the scopes given since the last call.
func (r *recordingStarts) take() []customs.Scope {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.scopes
	r.scopes = nil
	return s
}

// grantSpec is what one grant allows, written out for the expectations:
// in project (every project when empty), in enterprise project ep (every
// one when empty).
type grantSpec struct {
	project, ep string
	list, set   bool
}

// otherDomainProjects are the projects of the access matrix's second domain.
var otherDomainProjects = map[string]bool{}

// principalSpec is a caller of the access matrix and what it may do.
type principalSpec struct {
	name   string
	other  bool // of the second domain
	admin  bool
	grants []grantSpec
	// request returns a request with the principal's credentials for a
	// path in project.
	request func(t *testing.T, project string) request
}

// outcome is the expected answer to a request: an error, or success with
// the enterprise projects whose rows it may see or change.
type outcome struct {
	status int
	code   string
	all    bool     // every enterprise project
	eps    []string // sorted
}

func (o outcome) sees(ep string) bool {
	return o.status == http.StatusOK && (o.all || slices.Contains(o.eps, ep))
}

// expect is what spec §4.3 and §5 say principal p gets for action in
// project, asking for enterprise_project_id ep ("" when absent), computed
// from the grants as written rather than by the code under test.
func (p principalSpec) expect(project, action, ep string) outcome {
	if p.other != otherDomainProjects[project] {
		// A project of the other domain: the same answer whether or not it exists.
		return outcome{status: 403, code: "HSS.0013"}
	}
	if ep == "" {
		ep = customs.DefaultEnterpriseProject
	}
	if p.admin {
		if ep == customs.AllGrantedEnterpriseProjects {
			return outcome{status: 200, all: true}
		}
		return outcome{status: 200, eps: []string{ep}}
	}
	allows := func(g grantSpec) bool {
		return (g.project == "" || g.project == project) && ((action == customs.ActionImagesList && g.list) || (action == customs.ActionImagesSet && g.set))
	}
	holdsAny := slices.ContainsFunc(p.grants, func(g grantSpec) bool { return (g.project == "" || g.project == project) && (g.list || g.set) })
	if !holdsAny {
		return outcome{status: 403, code: "APIGW.0302"}
	}
	if ep == customs.AllGrantedEnterpriseProjects {
		var eps []string
		for _, g := range p.grants {
			switch {
			case !allows(g):
			case g.ep == "":
				return outcome{status: 200, all: true}
			case !slices.Contains(eps, g.ep):
				eps = append(eps, g.ep)
			}
		}
		if len(eps) == 0 {
			return outcome{status: 403, code: "HSS.0013"}
		}
		slices.Sort(eps)
		return outcome{status: 200, eps: eps}
	}
	if slices.ContainsFunc(p.grants, func(g grantSpec) bool { return allows(g) && (g.ep == "" || g.ep == ep) }) {
		return outcome{status: 200, eps: []string{ep}}
	}
	return outcome{status: 403, code: "HSS.0013"}
}

// seededRow is a seeded image or registry, by project and enterprise project.
type seededRow struct {
	id          string
	project, ep string
}

// TestAccessMatrix runs every /v5 endpoint for every kind of caller, in two
// projects, for every way of asking for enterprise projects, and checks the
// status and the rows against what the grants allow.
func TestAccessMatrix(t *testing.T) {
	starts := &recordingStarts{}
	queue := &recordingQueue{}
	f := newFixture(t, func(t *testing.T, f *fixture) {
		starts.db = f.db
		f.srv.Sync = starts
	}, withScans(queue))
	ctx := t.Context()

	// The first domain's identities, through the API.
	dev := idOf(t, f.must(t, request{method: "POST", path: "/v3/projects", body: `{"project":{"name":"` + region + `_dev"}}`}, 201), "project")
	newEP := func(name string) string {
		return decode[struct {
			EnterpriseProject struct {
				ID string `json:"id"`
			} `json:"enterprise_project"`
		}](t, f.must(t, request{method: "POST", path: "/v1.0/enterprise-projects", body: `{"name":"` + name + `"}`}, 200)).EnterpriseProject.ID
	}
	ep1, ep2 := newEP("team-1"), newEP("team-2")
	newRole := func(name, action string) string {
		return idOf(t, f.must(t, request{method: "POST", path: "/v3.0/OS-ROLE/roles", body: `{"role":{"display_name":"` + name +
			`","policy":{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["` + action + `"]}]}}}`}, 201), "role")
	}
	listOnly, setOnly := newRole("images-list", customs.ActionImagesList), newRole("images-set", customs.ActionImagesSet)
	readonly, custom, grouped, nogrants := f.createUser(t, "readonly"), f.createUser(t, "custom"), f.createUser(t, "grouped"), f.createUser(t, "nogrants")
	group := idOf(t, f.must(t, request{method: "POST", path: "/v3/groups", body: `{"group":{"name":"dev-admins"}}`}, 201), "group")
	for _, path := range []string{
		"/v3/groups/" + group + "/users/" + grouped,
		"/v3/projects/" + projectID + "/users/" + readonly + "/roles/hss-readonly",
		"/v3.0/OS-PERMISSION/enterprise-projects/" + ep1 + "/users/" + custom + "/roles/" + listOnly,
		"/v3.0/OS-PERMISSION/enterprise-projects/" + ep2 + "/users/" + custom + "/roles/" + setOnly,
		"/v3/projects/" + dev + "/groups/" + group + "/roles/hss-admin",
	} {
		f.must(t, request{method: "PUT", path: path}, 204)
	}
	_, otherAdmin, otherProject, err := f.auth.CreateDomain(ctx, "other", "admin2", password)
	if err != nil {
		t.Fatal(err)
	}
	otherToken := f.loginIn(t, "other", "admin2", otherProject.ID)
	otherKey := f.createAccessKey(t, otherToken, otherAdmin.ID)
	otherDev := idOf(t, f.must(t, request{method: "POST", path: "/v3/projects", token: otherToken, body: `{"project":{"name":"` + region + `_dev"}}`}, 201), "project")
	clear(otherDomainProjects)
	otherDomainProjects[otherProject.ID], otherDomainProjects[otherDev] = true, true
	otherTokens := map[string]string{otherProject.ID: otherToken, otherDev: f.loginIn(t, "other", "admin2", otherDev)}

	// Credentials: tokens scoped to the path's project, or access keys
	// signing with X-Project-Id as the SDK does.
	tokens := map[[2]string]string{}
	token := func(user string) func(t *testing.T, project string) request {
		return func(t *testing.T, project string) request {
			if otherDomainProjects[project] {
				project = projectID // its own token, sent to another domain's project
			}
			k := [2]string{user, project}
			if tokens[k] == "" {
				tokens[k] = f.login(t, user, project)
			}
			return request{token: tokens[k]}
		}
	}
	signed := func(userID string) func(t *testing.T, project string) request {
		key := f.createAccessKey(t, "", userID)
		return func(t *testing.T, project string) request {
			return request{key: &key, header: map[string]string{"X-Project-Id": project}}
		}
	}
	adminSpec := principalSpec{admin: true}
	readonlySpec := principalSpec{grants: []grantSpec{{project: projectID, list: true}}}
	customSpec := principalSpec{grants: []grantSpec{{ep: ep1, list: true}, {ep: ep2, set: true}}}
	groupedSpec := principalSpec{grants: []grantSpec{{project: dev, list: true, set: true}}}
	otherSpec := principalSpec{other: true, admin: true}
	var principals []principalSpec
	for _, p := range []struct {
		spec   principalSpec
		name   string
		userID string
	}{
		{adminSpec, "admin", adminID},
		{readonlySpec, "readonly", readonly},
		{customSpec, "custom", custom},
		{groupedSpec, "grouped", grouped},
		{principalSpec{}, "nogrants", nogrants},
	} {
		tok, key := p.spec, p.spec
		tok.name, tok.request = p.name+"-token", token(p.name)
		key.name, key.request = p.name+"-aksk", signed(p.userID)
		principals = append(principals, tok, key)
	}
	otherTok, otherSigned := otherSpec, otherSpec
	otherTok.name, otherTok.request = "other-admin-token", func(_ *testing.T, project string) request {
		if tok, ok := otherTokens[project]; ok {
			return request{token: tok}
		}
		return request{token: otherToken}
	}
	otherSigned.name, otherSigned.request = "other-admin-aksk", func(_ *testing.T, project string) request {
		return request{key: &otherKey, header: map[string]string{"X-Project-Id": project}}
	}
	principals = append(principals, otherTok, otherSigned)

	// Seeded rows, through the store: a registry with a different number of
	// images in each (project, enterprise project), in both domains.
	var registries, images []seededRow
	v0Digests := map[string]string{} // by registry id
	tasks := map[string][]string{}
	n := 0
	for _, pair := range []struct{ project, ep string }{
		{projectID, "0"}, {projectID, ep1}, {projectID, ep2},
		{dev, "0"}, {dev, ep1}, {dev, ep2},
		{otherProject.ID, "0"}, {otherProject.ID, ep1}, {otherProject.ID, ep2},
		{otherDev, "0"}, {otherDev, ep1}, {otherDev, ep2},
	} {
		scope := customs.ProjectScope(pair.project)
		reg := &customs.Registry{Name: fmt.Sprintf("harbor-%d", n), Type: customs.Harbor, Protocol: "https", Addr: "harbor.example.com",
			EnterpriseProjectID: pair.ep}
		if err := f.db.CreateRegistry(ctx, scope, reg); err != nil {
			t.Fatal(err)
		}
		registries = append(registries, seededRow{reg.ID, pair.project, pair.ep})
		n++
		var tags []customs.TagState
		for i := range n {
			m := image(fmt.Sprintf("%s-%d", reg.ID, i), 1000)
			if err := f.db.PutManifests(ctx, []*customs.Manifest{m}); err != nil {
				t.Fatal(err)
			}
			tags = append(tags, customs.TagState{Tag: fmt.Sprintf("v%d", i), Digest: m.Digest, UpdatedAt: epoch.Add(-time.Duration(i) * time.Minute)})
		}
		if _, err := f.db.ApplyRepositoryUpdates(ctx, scope, reg.ID, []customs.RepositoryUpdate{{Namespace: "team", Name: "app", Upserts: tags}}); err != nil {
			t.Fatal(err)
		}
		imgs, total, err := f.db.FindImages(ctx, scope, customs.ImageFilter{Type: customs.InstanceImage, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if total < n {
			t.Fatalf("seeded %d images in registry %s, the store has %d in its project", n, reg.ID, total)
		}
		for _, img := range imgs {
			if img.RegistryID == reg.ID {
				images = append(images, seededRow{fmt.Sprint(img.ID), pair.project, pair.ep})
			}
		}
		// Tag v0 of each registry fails a baseline rule named after the registry.
		v0 := image(reg.ID+"-0", 1000)
		if err := f.db.SaveScanResult(ctx, &customs.ScanResult{Digest: v0.Digest, ScannedAt: epoch, Baseline: []customs.BaselineResult{{
			RuleID: "rule-" + reg.ID, RuleName: "rule of " + reg.ID, CheckName: "matrix", CheckType: "matrix", Standard: "hw_standard", Severity: customs.SeverityLow,
		}}}); err != nil {
			t.Fatal(err)
		}
		v0Digests[reg.ID] = v0.Digest
	}
	for _, seed := range []struct {
		project string
		keys    []string
	}{{projectID, []string{"all", "private_image"}}, {dev, []string{"all"}}, {otherProject.ID, []string{"all"}}, {otherDev, []string{"all"}}} {
		for _, key := range seed.keys {
			task := &customs.SyncTask{Trigger: customs.TriggerManual, Key: key}
			if err := f.db.CreateSyncTask(ctx, customs.ProjectScope(seed.project), task); err != nil {
				t.Fatal(err)
			}
			tasks[seed.project] = append(tasks[seed.project], task.ID)
		}
	}

	projects := []struct{ id, name string }{{projectID, "region-a"}, {dev, "region-a_dev"}, {otherProject.ID, "other-region-a"}, {otherDev, "other-region-a_dev"}}
	eps := []struct{ param, name string }{{"", "absent"}, {"0", "0"}, {ep1, "ep-1"}, {ep2, "ep-2"}, {customs.AllGrantedEnterpriseProjects, "all"}}
	type cell struct {
		p       principalSpec
		project string
		ep      string
	}
	run := func(endpoint string, fn func(t *testing.T, c cell)) {
		for _, p := range principals {
			for _, pr := range projects {
				for _, ep := range eps {
					t.Run(strings.Join([]string{endpoint, p.name, pr.name, ep.name}, "/"), func(t *testing.T) {
						fn(t, cell{p, pr.id, ep.param})
					})
				}
			}
		}
	}
	// send sends method path?query with the cell's credentials and
	// enterprise_project_id, checks the refusal if one is expected, and
	// reports whether the request succeeded.
	send := func(t *testing.T, c cell, want outcome, method, path, query, body string) (response, bool) {
		t.Helper()
		r := c.p.request(t, c.project)
		r.method, r.body = method, body
		if c.ep != "" {
			query += "&enterprise_project_id=" + c.ep
		}
		r.path = "/v5/" + c.project + path + "?" + strings.TrimPrefix(query, "&")
		res := f.do(t, r)
		if want.status != http.StatusOK {
			wantError(t, res, want.status, want.code)
			return res, false
		}
		if res.status != http.StatusOK {
			t.Fatalf("%s %s = %d %s, want 200", method, r.path, res.status, res.body)
		}
		return res, true
	}
	visible := func(rows []seededRow, project string, o outcome) []string {
		ids := []string{}
		for _, r := range rows {
			if r.project == project && o.sees(r.ep) {
				ids = append(ids, r.id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	checkPage := func(t *testing.T, res response, want []string, idOf func(map[string]any) string) {
		t.Helper()
		page := decode[struct {
			TotalNum int              `json:"total_num"`
			DataList []map[string]any `json:"data_list"`
		}](t, res)
		got := []string{}
		for _, row := range page.DataList {
			got = append(got, idOf(row))
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" || page.TotalNum != len(want) {
			t.Errorf("total_num %d (want %d), rows mismatch (-want +got):\n%s", page.TotalNum, len(want), diff)
		}
	}
	wantScope := func(t *testing.T, project string, want outcome) {
		t.Helper()
		got := starts.take()
		if want.status != http.StatusOK {
			if len(got) != 0 {
				t.Errorf("a refused request started synchronizations with scopes %+v", got)
			}
			return
		}
		scope := customs.Scope{ProjectID: project, AllEnterpriseProjects: want.all, EnterpriseProjectIDs: want.eps}
		if diff := cmp.Diff([]customs.Scope{scope}, got); diff != "" {
			t.Errorf("synchronization scopes mismatch (-want +got):\n%s", diff)
		}
	}

	// Reads first: the writes below leave the seeded rows as they are, but
	// the order keeps any mistake there from hiding one here.
	run("list-images", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesList, c.ep)
		if res, ok := send(t, c, want, "GET", "/image/swr-repository", "image_type=instance_image&limit=200", ""); ok {
			checkPage(t, res, visible(images, c.project, want), func(row map[string]any) string { return fmt.Sprint(row["id"]) })
		}
	})
	run("list-registries", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesList, c.ep)
		if res, ok := send(t, c, want, "GET", "/image/registries", "limit=200", ""); ok {
			checkPage(t, res, visible(registries, c.project, want), func(row map[string]any) string { return row["id"].(string) })
		}
	})
	run("risk-config-rules", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesList, c.ep)
		if res, ok := send(t, c, want, "GET", "/image/baseline/risk-configs/matrix/rules",
			"image_type=instance_image&namespace=team&image_name=app&image_version=v0&standard=hw_standard&limit=200", ""); ok {
			checkPage(t, res, visible(registries, c.project, want), func(row map[string]any) string { return strings.TrimPrefix(row["check_rule_id"].(string), "rule-") })
		}
	})
	run("list-tasks", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesList, c.ep)
		if res, ok := send(t, c, want, "GET", "/image/tasks", "type=image_sync&limit=200", ""); ok {
			// Tasks belong to the project, not to an enterprise project.
			ids := slices.Sorted(slices.Values(tasks[c.project]))
			checkPage(t, res, ids, func(row map[string]any) string { return row["task_id"].(string) })
		}
	})

	// A registry is changed in the enterprise project asked for (the first
	// granted one for all_granted_eps); one the caller may not change there
	// is not found.
	target := func(c cell) string {
		switch c.ep {
		case "":
			return customs.DefaultEnterpriseProject
		case customs.AllGrantedEnterpriseProjects:
			return ep1
		}
		return c.ep
	}
	registryAt := func(t *testing.T, project, ep string) string {
		t.Helper()
		i := slices.IndexFunc(registries, func(r seededRow) bool { return r.project == project && r.ep == ep })
		if i < 0 {
			t.Fatalf("no registry seeded in (%s, %s)", project, ep)
		}
		return registries[i].id
	}
	stored := func(t *testing.T, project string, f2 customs.RegistryFilter) []*customs.Registry {
		t.Helper()
		regs, err := f.db.FindRegistries(ctx, customs.ProjectScope(project), f2)
		if err != nil {
			t.Fatal(err)
		}
		return regs
	}
	created := 0
	run("create-registry", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesSet, c.ep)
		if c.p.other == otherDomainProjects[c.project] && c.ep == customs.AllGrantedEnterpriseProjects {
			want = outcome{status: 400, code: "HSS.0001"} // a registry belongs to one enterprise project
		}
		created++
		name := fmt.Sprintf("created-%d", created)
		_, ok := send(t, c, want, "POST", "/image/registries", "", registryBody(name, "Jfrog"))
		regs := stored(t, c.project, customs.RegistryFilter{Name: name})
		switch {
		case !ok && len(regs) != 0:
			t.Errorf("a refused request created registry %s", name)
		case ok && (len(regs) != 1 || regs[0].EnterpriseProjectID != target(c)):
			t.Errorf("created %+v, want one registry in enterprise project %q", regs, target(c))
		}
		for _, r := range regs {
			if err := f.db.DeleteRegistry(ctx, customs.ProjectScope(c.project), r.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
	run("update-registry", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesSet, c.ep)
		if want.status == http.StatusOK && !want.sees(target(c)) {
			want = outcome{status: 404, code: "HSS.0011"}
		}
		id := registryAt(t, c.project, target(c))
		user := fmt.Sprintf("robot-%s-%s", c.p.name, c.ep)
		_, ok := send(t, c, want, "PUT", "/image/registries/"+id, "", `{"registry_username":"`+user+`"}`)
		if got := stored(t, c.project, customs.RegistryFilter{ID: id})[0].Username; (got == user) != ok {
			t.Errorf("registry username %q after a request that succeeded: %t", got, ok)
		}
	})
	run("delete-registry", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesSet, c.ep)
		if want.status == http.StatusOK && !want.sees(target(c)) {
			want = outcome{status: 404, code: "HSS.0011"}
		}
		reg := &customs.Registry{Name: "doomed", Type: customs.OtherRegistry, Protocol: "https", Addr: "doomed.example.com", EnterpriseProjectID: target(c)}
		if err := f.db.CreateRegistry(ctx, customs.ProjectScope(c.project), reg); err != nil {
			t.Fatal(err)
		}
		_, ok := send(t, c, want, "DELETE", "/image/registries/"+reg.ID, "", "")
		if left := stored(t, c.project, customs.RegistryFilter{ID: reg.ID}); (len(left) == 0) != ok {
			t.Errorf("%d registries left after a request that succeeded: %t", len(left), ok)
		}
		if !ok {
			if err := f.db.DeleteRegistry(ctx, customs.ProjectScope(c.project), reg.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
	run("synchronize", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesSet, c.ep)
		send(t, c, want, "POST", "/image/synchronize", "", `{"image_type":"instance_image"}`)
		wantScope(t, c.project, want)
	})
	run("batch-scan", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesSet, c.ep)
		send(t, c, want, "POST", "/image/batch-scan", "",
			`{"image_type":"instance_image","operate_all":true,"namespace":"team","image_name":"app","image_version":"v0"}`)
		got := queue.take()
		if want.status != http.StatusOK {
			if len(got) != 0 {
				t.Errorf("a refused request queued %v", got)
			}
			return
		}
		var digests []string
		for _, id := range visible(registries, c.project, want) {
			digests = append(digests, v0Digests[id])
		}
		slices.Sort(digests)
		if diff := cmp.Diff([][]string{digests}, got); diff != "" {
			t.Errorf("queued (-want +got):\n%s", diff)
		}
	})
	run("image-sync-task", func(t *testing.T, c cell) {
		want := c.p.expect(c.project, customs.ActionImagesSet, c.ep)
		send(t, c, want, "POST", "/image/image-sync/tasks", "", `{"sync_all_registries":true}`)
		wantScope(t, c.project, want)
	})
}
