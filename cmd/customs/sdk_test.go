package main

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hss "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/hss/v5"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/hss/v5/model"

	"customs/internal/testregistry"
)

// TestOfficialSDK drives the running program with the official Huawei Cloud
// Go SDK, changing nothing but the endpoint: AK/SK signing, the image list
// with every parameter, synchronization, validation and authentication
// errors, and the SDK's discovery of the project id from a region.
//
// BatchScanSwrImage exists in the SDK but is not served yet (scanning is
// separate work), so it is not called here.
func TestOfficialSDK(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithHtpasswd("robot", "robot-secret"))
	pushTo(t, reg)
	m, _ := newMain(t, t.TempDir())
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := m.Server.URL()
	c := &client{t: t, base: base}
	c.login("admin", "e2e-admin-password", "local-1")
	pid := m.Bootstrap.Project.ID
	v5 := "/v5/" + pid + "/image"

	var registry struct {
		ID string `json:"id"`
	}
	c.do("POST", v5+"/registries", map[string]any{
		"registry_name": "dist", "registry_type": "Harbor", "protocol": "http", "registry_addr": reg.Addr,
		"registry_username": reg.Username, "registry_password": reg.Password, "api_version": "V2",
	}, http.StatusOK, &registry)
	var task struct {
		TaskID string `json:"task_id"`
	}
	c.do("POST", v5+"/image-sync/tasks", map[string]any{"sync_all_registries": false, "registry_info": []map[string]string{{"registry_id": registry.ID, "registry_type": "Harbor"}}}, http.StatusOK, &task)
	waitTask(t, c, v5, task.TaskID)

	// An access key for the administrator, through the IAM API.
	var cred struct {
		Credential struct {
			Access string `json:"access"`
			Secret string `json:"secret"`
		} `json:"credential"`
	}
	c.do("POST", "/v3.0/OS-CREDENTIAL/credentials", map[string]any{
		"credential": map[string]string{"user_id": m.Bootstrap.User.ID, "description": "official SDK test"},
	}, http.StatusCreated, &cred)
	ak, sk := cred.Credential.Access, cred.Credential.Secret
	if ak == "" || sk == "" {
		t.Fatalf("created access key %+v, want an access key and a secret key", cred)
	}

	rec := newRecorder(t)
	sdk, err := newHSSClient(basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(pid), rec, base, nil)
	if err != nil {
		t.Fatalf("build the SDK client: %v", err)
	}

	// Every row, every field, as the SDK decodes them.
	rows := []pushedImage{
		inspectImage(t, reg, "shop/multi:1.0"),
		inspectImage(t, reg, "ops/agent:3.0"),
		inspectImage(t, reg, "shop/cart:1.1"),
		inspectImage(t, reg, "shop/checkout:2.0"),
		inspectImage(t, reg, "shop/cart:1.0"),
	}
	notLatest := map[string]bool{"shop/cart:1.0": true}
	var want []model.PrivateImageRepositoryInfo
	for _, p := range rows {
		assoc := []model.AssociateImages{}
		for _, d := range p.children {
			assoc = append(assoc, model.AssociateImages{
				ImageName: ptr(p.name), ImageVersion: ptr(p.tag), ImageType: ptr("instance_image"),
				Namespace: ptr(p.namespace), ImageDigest: ptr(d), ScanStatus: ptr("unscan"),
			})
		}
		want = append(want, model.PrivateImageRepositoryInfo{
			Namespace: ptr(p.namespace), ImageName: ptr(p.name), ImageId: ptr(p.imageID), ImageDigest: ptr(p.digest),
			ImageVersion: ptr(p.tag), ImageType: ptr("instance_image"), LatestVersion: ptr(!notLatest[p.ref()]),
			ScanStatus: ptr("unscan"), ScanFailedDesc: ptr(""), ImageSize: ptr(p.size),
			LatestUpdateTime: ptr(p.created), LatestScanTime: ptr(int64(0)),
			VulNum: ptr(int32(0)), UnsafeSettingNum: ptr(int32(0)), MaliciousFileNum: ptr(int32(0)),
			DomainName: ptr(""), SharedStatus: ptr(""), Scannable: ptr(p.linux),
			InstanceName: ptr("dist"), InstanceId: ptr(registry.ID), InstanceUrl: ptr(reg.Addr),
			AssociationImages: &assoc,
		})
	}
	all, err := sdk.ListSwrImageRepository(&model.ListSwrImageRepositoryRequest{
		Region: ptr("local-1"), EnterpriseProjectId: ptr("all_granted_eps"), ImageType: "instance_image", Limit: ptr(int32(50)),
	})
	if err != nil {
		t.Fatalf("ListSwrImageRepository: %v", err)
	}
	if all.HttpStatusCode != http.StatusOK || all.TotalNum == nil || *all.TotalNum != 5 || all.DataList == nil {
		t.Fatalf("ListSwrImageRepository = %v, want status 200 and 5 rows", all)
	}
	if diff := cmp.Diff(want, *all.DataList, cmpopts.IgnoreFields(model.PrivateImageRepositoryInfo{}, "Id")); diff != "" {
		t.Errorf("ListSwrImageRepository(all) mismatch (-want +got):\n%s", diff)
	}
	ids := map[int64]bool{}
	for _, r := range *all.DataList {
		if r.Id == nil || *r.Id <= 0 || ids[*r.Id] {
			t.Errorf("%s:%s has id %v, want a distinct positive id", deref(r.ImageName), deref(r.ImageVersion), r.Id)
		} else {
			ids[*r.Id] = true
		}
	}

	// The filters, each parameter at least once.
	var biggest int64
	for _, p := range rows {
		biggest = max(biggest, p.size)
	}
	var atLeastBiggest []string
	for _, p := range rows {
		if p.size >= biggest {
			atLeastBiggest = append(atLeastBiggest, p.ref())
		}
	}
	now := time.Now().UnixMilli()
	for _, tc := range []struct {
		name string
		req  model.ListSwrImageRepositoryRequest
		want listPage
	}{{
		name: "namespace and latest version in the default enterprise project",
		req:  model.ListSwrImageRepositoryRequest{EnterpriseProjectId: ptr("0"), Namespace: ptr("shop"), LatestVersion: ptr(true)},
		want: listPage{3, []string{"shop/multi:1.0", "shop/cart:1.1", "shop/checkout:2.0"}},
	}, {
		name: "latest_version false keeps every version",
		req:  model.ListSwrImageRepositoryRequest{LatestVersion: ptr(false), Namespace: ptr("shop"), ImageName: ptr("cart")},
		want: listPage{2, []string{"shop/cart:1.1", "shop/cart:1.0"}},
	}, {
		name: "image name and version as substrings",
		req:  model.ListSwrImageRepositoryRequest{ImageName: ptr("car"), ImageVersion: ptr("1.")},
		want: listPage{2, []string{"shop/cart:1.1", "shop/cart:1.0"}},
	}, {
		name: "instance id and namespace",
		req:  model.ListSwrImageRepositoryRequest{InstanceId: ptr(registry.ID), Namespace: ptr("ops")},
		want: listPage{1, []string{"ops/agent:3.0"}},
	}, {
		name: "instance name substring and minimum size",
		req:  model.ListSwrImageRepositoryRequest{InstanceName: ptr("dis"), ImageSize: ptr(biggest)},
		want: listPage{int32(len(atLeastBiggest)), atLeastBiggest},
	}, {
		name: "latest update time range",
		req:  model.ListSwrImageRepositoryRequest{StartLatestUpdateTime: ptr(int64(1736899200000)), EndLatestUpdateTime: ptr(int64(1738368000000))},
		want: listPage{2, []string{"shop/cart:1.1", "shop/checkout:2.0"}},
	}, {
		name: "latest scan time range while nothing was scanned",
		req:  model.ListSwrImageRepositoryRequest{StartLatestScanTime: ptr(int64(1)), EndLatestScanTime: ptr(now)},
		want: listPage{0, []string{}},
	}, {
		name: "unscanned rows without findings, second page",
		req: model.ListSwrImageRepositoryRequest{
			ScanStatus: ptr("unscan"), HasMaliciousFile: ptr(false), HasUnsafeSetting: ptr(false), HasVul: ptr(false),
			Offset: ptr(int32(3)), Limit: ptr(int32(10)),
		},
		want: listPage{5, []string{"shop/checkout:2.0", "shop/cart:1.0"}},
	}, {
		name: "rows with vulnerabilities while nothing was scanned",
		req:  model.ListSwrImageRepositoryRequest{HasVul: ptr(true), HasMaliciousFile: ptr(true), HasUnsafeSetting: ptr(true)},
		want: listPage{0, []string{}},
	}, {
		name: "private images of a project with only an instance registry",
		req:  model.ListSwrImageRepositoryRequest{ImageType: "private_image"},
		want: listPage{0, []string{}},
	}, {
		name: "local images",
		req:  model.ListSwrImageRepositoryRequest{ImageType: "local_image"},
		want: listPage{0, []string{}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.ImageType == "" {
				req.ImageType = "instance_image"
			}
			resp, err := sdk.ListSwrImageRepository(&req)
			if err != nil {
				t.Fatalf("ListSwrImageRepository(%v): %v", req, err)
			}
			if resp.HttpStatusCode != http.StatusOK || resp.TotalNum == nil || resp.DataList == nil {
				t.Fatalf("ListSwrImageRepository(%v) = %v, want status 200, total_num and data_list", req, resp)
			}
			got := listPage{Total: *resp.TotalNum, Refs: []string{}}
			for _, r := range *resp.DataList {
				got.Refs = append(got.Refs, deref(r.Namespace)+"/"+deref(r.ImageName)+":"+deref(r.ImageVersion))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ListSwrImageRepository(%v) mismatch (-want +got):\n%s", req, diff)
			}
		})
	}

	// Requests that fail validation: the SDK returns the service's error
	// code, the message and the request id.
	for _, tc := range []struct {
		name  string
		req   model.ListSwrImageRepositoryRequest
		param string
	}{
		{"limit below the minimum", model.ListSwrImageRepositoryRequest{ImageType: "instance_image", Limit: ptr(int32(5))}, "limit"},
		{"empty image type", model.ListSwrImageRepositoryRequest{}, "image_type"},
		{"unknown scan status", model.ListSwrImageRepositoryRequest{ImageType: "instance_image", ScanStatus: ptr("done")}, "scan_status"},
		{"update time range that ends before it starts", model.ListSwrImageRepositoryRequest{
			ImageType: "instance_image", StartLatestUpdateTime: ptr(int64(2000)), EndLatestUpdateTime: ptr(int64(1000)),
		}, "start_latest_update_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.take()
			_, err := sdk.ListSwrImageRepository(&tc.req)
			sent := rec.take()
			if len(sent) != 1 {
				t.Fatalf("the SDK sent %d requests, want 1", len(sent))
			}
			want := serviceError{http.StatusBadRequest, "HSS.0001", sent[0].RequestID}
			if diff := cmp.Diff(want, asServiceError(t, err)); diff != "" {
				t.Errorf("ListSwrImageRepository(%v) error mismatch (-want +got):\n%s", tc.req, diff)
			}
			var sre *sdkerr.ServiceResponseError
			if errors.As(err, &sre) && !strings.Contains(sre.ErrorMessage, tc.param) {
				t.Errorf("error message %q does not name parameter %s", sre.ErrorMessage, tc.param)
			}
		})
	}

	// Every query parameter of the list went over the wire at least once.
	sentParams := map[string]bool{}
	for _, e := range rec.all() {
		if e.Path == v5+"/swr-repository" {
			q, err := url.ParseQuery(e.RawQuery)
			if err != nil {
				t.Fatalf("query %q: %v", e.RawQuery, err)
			}
			for k := range q {
				sentParams[k] = true
			}
		}
		if got := e.Header.Get("X-Project-Id"); got != pid {
			t.Errorf("%s %s sent X-Project-Id %q, want %q", e.Method, e.Path, got, pid)
		}
	}
	var missing []string
	for _, p := range []string{
		"enterprise_project_id", "namespace", "image_name", "image_version", "latest_version", "offset", "limit",
		"image_type", "scan_status", "instance_name", "image_size", "start_latest_update_time", "end_latest_update_time",
		"start_latest_scan_time", "end_latest_scan_time", "has_malicious_file", "has_unsafe_setting", "has_vul", "instance_id",
	} {
		if !sentParams[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("parameters never sent: %v", missing)
	}

	// RunImageSynchronize starts a synchronization that ends.
	before := syncTaskIDs(c, v5)
	syncResp, err := sdk.RunImageSynchronize(&model.RunImageSynchronizeRequest{
		Region: ptr("local-1"), EnterpriseProjectId: ptr("0"), Body: &model.RunImageSynchronizeRequestInfo{ImageType: "instance_image"},
	})
	if err != nil {
		t.Fatalf("RunImageSynchronize: %v", err)
	}
	if diff := cmp.Diff(model.RunImageSynchronizeResponse{ErrorCode: ptr(int32(0)), ErrorDescription: ptr("success"), HttpStatusCode: http.StatusOK}, *syncResp); diff != "" {
		t.Errorf("RunImageSynchronize mismatch (-want +got):\n%s", diff)
	}
	var started []string
	for _, id := range syncTaskIDs(c, v5) {
		if !slices.Contains(before, id) {
			started = append(started, id)
		}
	}
	if len(started) != 1 {
		t.Fatalf("RunImageSynchronize started %d tasks, want 1", len(started))
	}
	waitTask(t, c, v5, started[0])

	// BatchScanSwrImage queues a scan of one tag (no worker runs here, so
	// it stays waiting), and the detail APIs decode for that image.
	scanResp, err := sdk.BatchScanSwrImage(&model.BatchScanSwrImageRequest{
		Region: ptr("local-1"), EnterpriseProjectId: ptr("0"), Body: &model.BatchScanPrivateImageRequestInfo{
			ImageType: "instance_image", ImageInfoList: &[]model.BatchScanSwrImageInfo{
				{Namespace: ptr("shop"), ImageName: ptr("cart"), ImageVersion: ptr("1.1"), InstanceId: ptr(registry.ID), InstanceUrl: ptr(reg.Addr)}}},
	})
	if err != nil || scanResp.HttpStatusCode != http.StatusOK {
		t.Fatalf("BatchScanSwrImage: %v %+v", err, scanResp)
	}
	var queued listed
	c.do("GET", v5+"/swr-repository?image_type=instance_image&scan_status=waiting_for_scan", nil, http.StatusOK, &queued)
	if got := queued.names(); !slices.Equal(got, []string{"shop/cart:1.1"}) {
		t.Errorf("after BatchScanSwrImage, waiting for a scan: %v, want shop/cart:1.1", got)
	}
	cart := inspectImage(t, reg, "shop/cart:1.1")
	vulns, err := sdk.ListImageVulnerabilities(&model.ListImageVulnerabilitiesRequest{
		ImageType: "instance_image", ImageId: cart.imageID, InstanceId: ptr(registry.ID), Namespace: "shop", ImageName: "cart", TagName: "1.1",
	})
	if err != nil || vulns.TotalNum == nil || *vulns.TotalNum != 0 || vulns.DataList == nil {
		t.Errorf("ListImageVulnerabilities of an image not scanned yet: %v %+v", err, vulns)
	}

	// A client that knows only its region finds the project id through
	// the IAM API, then lists with it.
	discoverer := newRecorder(t)
	discovered, err := newHSSClient(basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithIamEndpointOverride(base), discoverer, "", region.NewRegion("local-1", base))
	if err != nil {
		t.Fatalf("build the SDK client with project id discovery: %v", err)
	}
	listed, err := discovered.ListSwrImageRepository(&model.ListSwrImageRepositoryRequest{ImageType: "instance_image"})
	if err != nil {
		t.Fatalf("ListSwrImageRepository with the discovered project id: %v", err)
	}
	if listed.TotalNum == nil || *listed.TotalNum != 5 {
		t.Errorf("ListSwrImageRepository with the discovered project id = %v, want 5 rows", listed)
	}
	var gotSent []sentRequest
	for _, e := range discoverer.all() {
		gotSent = append(gotSent, sentRequest{e.Method, e.Path, e.RawQuery, signedHeaders(e.Header.Get("Authorization")), e.Header.Get("X-Project-Id"), e.Status})
	}
	wantSent := []sentRequest{
		{"GET", "/v3/projects", "name=local-1", "x-sdk-date", "", http.StatusOK},
		{"GET", v5 + "/swr-repository", "image_type=instance_image", "user-agent;x-project-id;x-sdk-date", pid, http.StatusOK},
	}
	if diff := cmp.Diff(wantSent, gotSent); diff != "" {
		t.Errorf("requests of the discovering client mismatch (-want +got):\n%s", diff)
	}

	// A wrong secret key is refused as IAM refuses it.
	wrong := newRecorder(t)
	badSK := strings.Repeat("0", len(sk))
	if badSK == sk {
		badSK = strings.Repeat("1", len(sk))
	}
	refused, err := newHSSClient(basic.NewCredentialsBuilder().WithAk(ak).WithSk(badSK).WithProjectId(pid), wrong, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = refused.ListSwrImageRepository(&model.ListSwrImageRepositoryRequest{ImageType: "instance_image"})
	sent := wrong.all()
	if len(sent) != 1 {
		t.Fatalf("the SDK sent %d requests with a wrong secret key, want 1", len(sent))
	}
	if diff := cmp.Diff(serviceError{http.StatusUnauthorized, "APIGW.0301", sent[0].RequestID}, asServiceError(t, err)); diff != "" {
		t.Errorf("ListSwrImageRepository with a wrong secret key: error mismatch (-want +got):\n%s", diff)
	}
}

// syncTaskIDs lists the ids of the project's synchronization tasks.
func syncTaskIDs(c *client, v5 string) []string {
	c.t.Helper()
	var tasks struct {
		DataList []struct {
			TaskID string `json:"task_id"`
		} `json:"data_list"`
	}
	c.do("GET", v5+"/tasks?type=image_sync", nil, http.StatusOK, &tasks)
	var ids []string
	for _, tk := range tasks.DataList {
		ids = append(ids, tk.TaskID)
	}
	return ids
}

// newHSSClient builds the official HSS client as a user would, with only
// the endpoint (or the region's endpoint) pointing at this service. rt sees
// every request the SDK sends.
func newHSSClient(creds *basic.CredentialsBuilder, rt http.RoundTripper, endpoint string, reg *region.Region) (*hss.HssClient, error) {
	cred, err := creds.SafeBuild()
	if err != nil {
		return nil, err
	}
	b := hss.HssClientBuilder().
		WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithHttpRoundTripper(rt).WithTimeout(30 * time.Second))
	if reg != nil {
		b = b.WithRegion(reg)
	} else {
		b = b.WithEndpoints([]string{endpoint})
	}
	hc, err := b.SafeBuild()
	if err != nil {
		return nil, err
	}
	return hss.NewHssClient(hc), nil
}

type listPage struct {
	Total int32
	Refs  []string
}

type serviceError struct {
	Status    int
	Code      string
	RequestID string
}

// asServiceError returns what the SDK's error says, failing the test when
// err is not the SDK's service error.
func asServiceError(t *testing.T, err error) serviceError {
	t.Helper()
	var sre *sdkerr.ServiceResponseError
	if !errors.As(err, &sre) {
		t.Fatalf("error %v (%T), want *sdkerr.ServiceResponseError", err, err)
	}
	return serviceError{sre.StatusCode, sre.ErrorCode, sre.RequestId}
}

type sentRequest struct {
	Method, Path, Query, SignedHeaders, ProjectID string
	Status                                        int
}

// signedHeaders returns the SignedHeaders of an SDK-HMAC-SHA256
// Authorization header.
func signedHeaders(authorization string) string {
	_, params, _ := strings.Cut(authorization, " ")
	for p := range strings.SplitSeq(params, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "SignedHeaders="); ok {
			return v
		}
	}
	return ""
}

// exchange is one request the SDK sent and what came back.
type exchange struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Status                 int
	RequestID              string
}

// recorder is the SDK's transport: it passes requests to a real transport
// and keeps what was sent and answered.
type recorder struct {
	next  *http.Transport
	mu    sync.Mutex
	log   []exchange
	taken int // how many of log take has returned
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(r.next.CloseIdleConnections)
	return r
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	e := exchange{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: req.Header.Clone()}
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		e.Status, e.RequestID = resp.StatusCode, resp.Header.Get("X-Request-Id")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, e)
	return resp, err
}

// all returns every exchange so far.
func (r *recorder) all() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// take returns the exchanges since the last take.
func (r *recorder) take() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.log[r.taken:])
	r.taken = len(r.log)
	return out
}

// pushedImage is what the registry holds for a tag, as the list should
// report it.
type pushedImage struct {
	namespace, name, tag string
	digest               string   // of the manifest or index
	imageID              string   // config digest hex (linux/amd64 child of an index)
	children             []string // platform manifest digests of an index
	size                 int64    // distinct config and layer blobs
	created              int64    // ms, the config's created time
	linux                bool
}

func (p pushedImage) ref() string { return p.namespace + "/" + p.name + ":" + p.tag }

// inspectImage reads repoTag ("namespace/name:tag") back from the registry.
func inspectImage(t *testing.T, reg *testregistry.Registry, repoTag string) pushedImage {
	t.Helper()
	ref, err := name.NewTag(reg.Addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password})), remote.WithContext(t.Context())}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	repo := ref.RepositoryStr()
	slash := strings.LastIndex(repo, "/")
	p := pushedImage{namespace: repo[:slash], name: repo[slash+1:], tag: ref.TagStr(), digest: desc.Digest.String()}
	blobs := map[v1.Hash]int64{}
	addBlobs := func(img v1.Image) {
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		blobs[mf.Config.Digest] = mf.Config.Size
		for _, l := range mf.Layers {
			blobs[l.Digest] = l.Size
		}
	}
	var chosen v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			addBlobs(img)
			p.children = append(p.children, d.Digest.String())
			if chosen == nil && d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
				chosen = img
			}
		}
	} else {
		if chosen, err = desc.Image(); err != nil {
			t.Fatal(err)
		}
		addBlobs(chosen)
	}
	for _, size := range blobs {
		p.size += size
	}
	cfgName, err := chosen.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := chosen.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	p.imageID, p.created, p.linux = cfgName.Hex, cf.Created.UnixMilli(), cf.OS == "linux"
	return p
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
