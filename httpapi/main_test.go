package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	sdkrequest "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"customs"
	"customs/httpapi"
	"customs/iam"
	"customs/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// Fixed identities, so that golden files are stable.
const (
	region      = "region-a"
	domainID    = "d0000000000000000000000000000001"
	adminID     = "a0000000000000000000000000000001"
	readerID    = "a0000000000000000000000000000002"
	projectID   = "0123456789abcdef0123456789abcdef"
	projectBID  = "fedcba9876543210fedcba9876543210"
	password    = "correct-horse-battery"
	projectName = region
)

// epoch is the frozen time of every fixture.
var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable frozen clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a running server over a real SQLite store and the real iam
// service, with a domain "admin" holding an administrator, a user granted
// the read-only system policy in region-a, and two projects (region-a, the
// server's, and region-b).
type fixture struct {
	clock *clock
	db    *sqlite.DB
	auth  *iam.Service
	srv   *httpapi.Server
	logs  *lockedBuffer
	// token is the administrator's token for projectID.
	token string
}

// fixtureOption changes a fixture after its store and identity service are
// open and before its server starts.
type fixtureOption func(t *testing.T, f *fixture)

func newFixture(t *testing.T, opts ...fixtureOption) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: epoch}, logs: &lockedBuffer{}}
	f.db = openStore(t, f.clock)
	hash, err := iam.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	created, err := f.db.Bootstrap(ctx,
		&customs.Domain{ID: domainID, Name: iam.AdminDomain},
		&customs.User{ID: adminID, Name: iam.AdminUser, PasswordHash: hash, Admin: true, Enabled: true},
		&customs.Project{ID: projectID, Name: projectName, Enabled: true})
	if err != nil || !created {
		t.Fatalf("Bootstrap() = %v, %v", created, err)
	}
	if err := f.db.CreateProject(ctx, &customs.Project{ID: projectBID, DomainID: domainID, Name: "region-b", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateUser(ctx, &customs.User{ID: readerID, DomainID: domainID, Name: "reader", PasswordHash: hash, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	readOnly := &customs.Grant{DomainID: domainID, UserID: readerID, PolicyID: customs.PolicyHSSReadOnly.ID, ProjectID: projectID,
		EnterpriseProjectID: customs.AllEnterpriseProjectsGrant}
	if err := f.db.CreateGrant(ctx, readOnly); err != nil {
		t.Fatal(err)
	}
	f.auth = &iam.Service{Store: f.db, Region: region, Now: f.clock.now, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	f.srv = &httpapi.Server{
		Addr:       "127.0.0.1:0",
		Region:     region,
		Auth:       f.auth,
		IAM:        f.auth,
		Images:     f.db,
		Registries: f.db,
		Shares:     f.db,
		Logger:     slog.New(slog.NewJSONHandler(io.MultiWriter(f.logs, t.Output()), nil)),
		Now:        f.clock.now,
	}
	for _, o := range opts {
		o(t, f)
	}
	if err := f.srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.srv.Close(ctx); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	f.token = f.login(t, iam.AdminUser, projectID)
	return f
}

func openStore(t *testing.T, c *clock) *sqlite.DB {
	t.Helper()
	cipher, err := iam.NewCipher(bytes.Repeat([]byte{7}, iam.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(filepath.Join(t.TempDir(), "customs.db"))
	db.Cipher = cipher
	db.Now = c.now
	db.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// login gets a token for user in domain "admin", scoped to project id.
func (f *fixture) login(t *testing.T, user, project string) string {
	t.Helper()
	res := f.do(t, request{method: "POST", path: "/v3/auth/tokens", noToken: true, body: tokenRequest(user, password, project)})
	if res.status != http.StatusCreated {
		t.Fatalf("POST /v3/auth/tokens = %d %s", res.status, res.body)
	}
	tok := res.header.Get("X-Subject-Token")
	if tok == "" {
		t.Fatal("POST /v3/auth/tokens: no X-Subject-Token")
	}
	return tok
}

func tokenRequest(user, pw, project string) string {
	return `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + user + `","password":"` + pw +
		`","domain":{"name":"admin"}}}},"scope":{"project":{"id":"` + project + `"}}}}`
}

// request is one call to the server. The administrator's token is sent
// unless token is set, key is set (the request is then signed with the
// access key, as the Huawei Go SDK signs) or noToken is true.
type request struct {
	method  string
	path    string // with the query
	body    string
	token   string
	noToken bool
	header  map[string]string
	key     *accessKey
	// onlyDate signs with X-Sdk-Date alone, without the SDK's User-Agent.
	onlyDate bool
	// tamper changes the request after it is signed.
	tamper func(*http.Request)
}

// accessKey is an access key and its secret key.
type accessKey struct {
	access, secret string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, r request) response {
	t.Helper()
	var req *http.Request
	if r.key != nil {
		req = f.signedRequest(t, r)
	} else {
		req = f.plainRequest(t, r)
	}
	if r.tamper != nil {
		r.tamper(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if id := res.Header.Get("X-Request-Id"); len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("%s %s: X-Request-Id = %q, want 32 hex characters", r.method, r.path, id)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (f *fixture) plainRequest(t *testing.T, r request) *http.Request {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), r.method, f.srv.URL()+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case r.token != "":
		req.Header.Set("X-Auth-Token", r.token)
	case !r.noToken:
		req.Header.Set("X-Auth-Token", f.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	return req
}

// signedRequest builds r with the Huawei Go SDK's request builder and signs
// it with its signer, at the fixture's clock, as the SDK's clients do: a
// JSON body encoded with the trailing newline of its encoder, the SDK's
// User-Agent, and the headers of r (X-Project-Id, ...) signed.
func (f *fixture) signedRequest(t *testing.T, r request) *http.Request {
	t.Helper()
	u, err := url.Parse(r.path)
	if err != nil {
		t.Fatal(err)
	}
	b := sdkrequest.NewHttpRequestBuilder().WithEndpoint(f.srv.URL()).WithPath(u.Path).WithMethod(r.method)
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range query {
		if len(vs) == 1 {
			b.AddQueryParam(k, reflect.ValueOf(vs[0]))
		} else {
			b.AddQueryParam(k, reflect.ValueOf(vs))
		}
	}
	b.AddHeaderParam("X-Sdk-Date", f.clock.now().UTC().Format("20060102T150405Z"))
	if !r.onlyDate {
		b.AddHeaderParam("User-Agent", "huaweicloud-usdk-go/3.0")
	}
	for k, v := range r.header {
		b.AddHeaderParam(k, v)
	}
	if r.body != "" {
		b.AddHeaderParam("Content-Type", "application/json;charset=UTF-8")
		if json.Valid([]byte(r.body)) {
			b.WithBody("application/json", json.RawMessage(r.body))
		} else {
			b.WithBody("application/json", r.body)
		}
	}
	sr := b.Build()
	added, err := signer.Sign(sr, r.key.access, r.key.secret)
	if err != nil {
		t.Fatalf("sign %s %s: %v", r.method, r.path, err)
	}
	for k, v := range added {
		sr.AddHeaderParam(k, v)
	}
	req, err := sr.ConvertRequest()
	if err != nil {
		t.Fatal(err)
	}
	return req.WithContext(t.Context())
}

// get is a GET with the administrator's token that must answer 200.
func (f *fixture) get(t *testing.T, path string, into any) {
	t.Helper()
	res := f.do(t, request{method: "GET", path: path})
	if res.status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, res.status, res.body)
	}
	if err := json.Unmarshal(res.body, into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, res.body)
	}
}

// hssError is the HSS error body.
type hssError struct {
	ErrorCode        string `json:"error_code"`
	ErrorDescription string `json:"error_description"`
	ErrorMsg         string `json:"error_msg"`
	RequestID        string `json:"request_id"`
}

// wantError checks an HSS or gateway error answer and returns its body.
func wantError(t *testing.T, res response, status int, code string) hssError {
	t.Helper()
	var e hssError
	if err := json.Unmarshal(res.body, &e); err != nil {
		t.Fatalf("error body %s: %v", res.body, err)
	}
	if res.status != status || e.ErrorCode != code {
		t.Errorf("answer = %d %s, want %d %s; body %s", res.status, e.ErrorCode, status, code, res.body)
	}
	if e.ErrorMsg == "" {
		t.Errorf("error_msg is empty; body %s", res.body)
	}
	if strings.HasPrefix(code, "APIGW.") {
		if e.RequestID != res.header.Get("X-Request-Id") {
			t.Errorf("request_id = %q, want the X-Request-Id header %q", e.RequestID, res.header.Get("X-Request-Id"))
		}
	} else if e.ErrorDescription != e.ErrorMsg {
		t.Errorf("error_description %q != error_msg %q", e.ErrorDescription, e.ErrorMsg)
	}
	return e
}

// golden compares a JSON body, indented, with testdata/name.golden after
// replacing each key of redact (a value that differs between runs) by its value.
func golden(t *testing.T, name string, body []byte, redact map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: %v in %s", name, err, body)
	}
	got := buf.String()
	for k, v := range redact {
		got = strings.ReplaceAll(got, k, v)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// Seeding through the store, as synchronization writes.

func (f *fixture) registry(t *testing.T, name string, typ customs.RegistryType, ep string) *customs.Registry {
	t.Helper()
	r := &customs.Registry{Name: name, Type: typ, Protocol: "https", Addr: name + ".example.com:5000", Username: "robot", Password: "pw-" + name, EnterpriseProjectID: ep}
	if err := f.db.CreateRegistry(t.Context(), customs.ProjectScope(projectID), r); err != nil {
		t.Fatalf("CreateRegistry(%s) = %v", name, err)
	}
	return r
}

// tag points repo:tag of reg at manifest m, updated at when.
func (f *fixture) tag(t *testing.T, reg *customs.Registry, repo, tag string, m *customs.Manifest, when time.Time) {
	t.Helper()
	if err := f.db.PutManifests(t.Context(), []*customs.Manifest{m}); err != nil {
		t.Fatalf("PutManifests() = %v", err)
	}
	ns, name := customs.SplitRepository(repo)
	_, err := f.db.ApplyRepositoryUpdates(t.Context(), customs.ProjectScope(projectID), reg.ID, []customs.RepositoryUpdate{{
		Namespace: ns, Name: name, Upserts: []customs.TagState{{Tag: tag, Digest: m.Digest, UpdatedAt: when}},
	}})
	if err != nil {
		t.Fatalf("ApplyRepositoryUpdates(%s:%s) = %v", repo, tag, err)
	}
}

func (f *fixture) scanned(t *testing.T, summaries map[string]customs.ScanSummary) {
	t.Helper()
	if err := f.db.SetScanSummaries(t.Context(), summaries); err != nil {
		t.Fatalf("SetScanSummaries() = %v", err)
	}
}

// digest is a sha256 digest made from seed.
func digest(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// image is a single-platform linux/amd64 manifest made from seed.
func image(seed string, size int64) *customs.Manifest {
	return &customs.Manifest{
		Digest: digest(seed), MediaType: "application/vnd.oci.image.manifest.v1+json", Kind: customs.KindImage,
		ConfigDigest: digest("config-" + seed), Size: size, Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Platform: customs.Platform{OS: "linux", Architecture: "amd64"}, Scannable: true,
	}
}
