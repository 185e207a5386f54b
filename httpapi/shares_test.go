package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"customs"
)

// TestShares shares a repository with another domain through the SWR-style
// endpoints and checks what the other domain's project lists.
func TestShares(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	swr := f.registry(t, "swr", customs.SwrPrivate, "")
	f.tag(t, swr, "team/app", "1.0", image("app-1", 10), epoch)
	f.tag(t, swr, "team/app", "2.0", image("app-2", 20), epoch.Add(time.Hour))
	f.tag(t, swr, "team/other", "1.0", image("other", 5), epoch)
	_, _, globex, err := f.auth.CreateDomain(ctx, "globex", "root", "globex-password")
	if err != nil {
		t.Fatal(err)
	}
	base := "/v2/manage/namespaces/team/repositories/app/access-domains"

	for _, tc := range []struct {
		name, body, param string
	}{
		{"no access_domain", `{"permit":"read","deadline":"forever"}`, "access_domain"},
		{"write permit", `{"access_domain":"globex","permit":"write","deadline":"forever"}`, "permit"},
		{"deadline in the past", `{"access_domain":"globex","permit":"read","deadline":"2001-01-01T00:00:00Z"}`, "deadline"},
		{"deadline not a time", `{"access_domain":"globex","permit":"read","deadline":"next week"}`, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, f.do(t, request{method: "POST", path: base, body: tc.body}), 400, "HSS.0001")
			if !strings.Contains(e.ErrorMsg, tc.param) {
				t.Errorf("error %q does not name %s", e.ErrorMsg, tc.param)
			}
		})
	}
	wantError(t, f.do(t, request{method: "POST", path: base, body: `{"access_domain":"nowhere","permit":"read","deadline":"forever"}`}), 404, "HSS.0011")
	wantError(t, f.do(t, request{method: "POST", path: base, token: f.login(t, "reader", projectID),
		body: `{"access_domain":"globex","permit":"read","deadline":"forever"}`}), 403, "HSS.0013")

	deadline := epoch.Add(48 * time.Hour).Format(time.RFC3339)
	res := f.do(t, request{method: "POST", path: base, body: `{"access_domain":"globex","permit":"read","deadline":"` + deadline + `","description":"audit"}`})
	if res.status != http.StatusCreated {
		t.Fatalf("POST share = %d %s", res.status, res.body)
	}
	wantError(t, f.do(t, request{method: "POST", path: base, body: `{"access_domain":"globex","permit":"read","deadline":"forever"}`}), 409, "HSS.0009")

	var listed []struct {
		Namespace, Repository, Permit, Deadline, Description string
		AccessDomain                                         string `json:"access_domain"`
		Status                                               bool
	}
	res = f.do(t, request{method: "GET", path: "/v2/manage/namespaces/team/repos/app/access-domains"})
	if err := json.Unmarshal(res.body, &listed); err != nil || len(listed) != 1 {
		t.Fatalf("GET shares = %d %s", res.status, res.body)
	}
	if l := listed[0]; l.AccessDomain != "globex" || l.Deadline != deadline || !l.Status || l.Description != "audit" || l.Repository != "app" {
		t.Errorf("listed share %+v", l)
	}

	// The other domain's project lists the shared tags after a refresh.
	if _, err := f.db.RefreshSharedImages(ctx, customs.ProjectScope(globex.ID)); err != nil {
		t.Fatal(err)
	}
	tok, err := f.auth.IssueToken(ctx, customs.TokenRequest{UserName: "root", UserDomainName: "globex", Password: "globex-password", ProjectID: globex.ID})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		TotalNum int `json:"total_num"`
		DataList []struct {
			ImageName    string `json:"image_name"`
			ImageVersion string `json:"image_version"`
			DomainName   string `json:"domain_name"`
			SharedStatus string `json:"shared_status"`
			Scannable    bool   `json:"scannable"`
		} `json:"data_list"`
	}
	list := func() {
		t.Helper()
		res := f.do(t, request{method: "GET", path: "/v5/" + globex.ID + "/image/swr-repository?image_type=shared_image", token: tok.Secret})
		if err := json.Unmarshal(res.body, &page); err != nil || res.status != 200 {
			t.Fatalf("list shared images = %d %s", res.status, res.body)
		}
	}
	list()
	if page.TotalNum != 2 || page.DataList[0].ImageVersion != "2.0" || page.DataList[0].DomainName != "admin" || page.DataList[0].SharedStatus != "effective" || !page.DataList[0].Scannable {
		t.Errorf("shared images: %+v", page)
	}
	// The other domain cannot manage the owner's shares.
	wantError(t, f.do(t, request{method: "DELETE", path: base + "/globex", token: tok.Secret}), 404, "HSS.0011")

	// Past the deadline the rows show as expired; a PATCH makes the share forever.
	f.clock.set(epoch.Add(49 * time.Hour))
	if tok, err = f.auth.IssueToken(ctx, customs.TokenRequest{UserName: "root", UserDomainName: "globex", Password: "globex-password", ProjectID: globex.ID}); err != nil {
		t.Fatal(err)
	}
	f.token = f.login(t, "admin", projectID)
	list()
	if page.DataList[0].SharedStatus != "expired" || page.DataList[0].Scannable {
		t.Errorf("after the deadline: %+v", page.DataList[0])
	}
	if res := f.do(t, request{method: "PATCH", path: base + "/globex", body: `{"deadline":"forever"}`}); res.status != http.StatusCreated {
		t.Fatalf("PATCH share = %d %s", res.status, res.body)
	}
	list()
	if page.DataList[0].SharedStatus != "effective" {
		t.Errorf("after PATCH forever: %+v", page.DataList[0])
	}
	if res := f.do(t, request{method: "DELETE", path: base + "/globex"}); res.status != http.StatusNoContent {
		t.Fatalf("DELETE share = %d %s", res.status, res.body)
	}
	list()
	if page.TotalNum != 0 {
		t.Errorf("after the share ended: %+v", page)
	}
	wantError(t, f.do(t, request{method: "DELETE", path: base + "/globex"}), 404, "HSS.0011")
}
