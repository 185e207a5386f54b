package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"customs"
)

const registriesPath = "/v5/" + projectID + "/image/registries"

// registry is the wire record of a registry.
type registry struct {
	ID                  string `json:"id"`
	RegistryName        string `json:"registry_name"`
	RegistryType        string `json:"registry_type"`
	APIVersion          string `json:"api_version"`
	Protocol            string `json:"protocol"`
	RegistryAddr        string `json:"registry_addr"`
	RegistryUsername    string `json:"registry_username"`
	Namespace           string `json:"namespace"`
	ConnectClusterID    string `json:"connect_cluster_id"`
	GetScanImageChannel string `json:"get_scan_image_channel"`
	Status              string `json:"status"`
	FailReason          string `json:"fail_reason"`
	ImagesNum           int    `json:"images_num"`
	LatestSyncTime      int64  `json:"latest_sync_time"`
}

type registryPage struct {
	TotalNum int        `json:"total_num"`
	DataList []registry `json:"data_list"`
}

func registryBody(name, typ string, extra ...string) string {
	fields := append([]string{
		`"registry_name":"` + name + `"`, `"registry_type":"` + typ + `"`, `"protocol":"https"`,
		`"registry_addr":"` + name + `.example.com:5000"`, `"registry_username":"robot"`, `"registry_password":"s3cret-` + name + `"`,
	}, extra...)
	return "{" + strings.Join(fields, ",") + "}"
}

// create adds a registry over HTTP and returns its record. The clock moves
// on after each, so that creation order is the list order.
func (f *fixture) create(t *testing.T, query, body string) registry {
	t.Helper()
	defer f.clock.set(f.clock.now().Add(time.Second))
	res := f.do(t, request{method: "POST", path: registriesPath + query, body: body})
	if res.status != http.StatusOK {
		t.Fatalf("POST %s = %d %s", registriesPath, res.status, res.body)
	}
	noPassword(t, res.body)
	var r registry
	if err := json.Unmarshal(res.body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func noPassword(t *testing.T, body []byte) {
	t.Helper()
	if strings.Contains(string(body), "s3cret") || strings.Contains(string(body), "password") {
		t.Errorf("a registry answer carries a password: %s", body)
	}
}

func TestRegistriesCRUD(t *testing.T) {
	f := newFixture(t)
	harbor := f.create(t, "", registryBody("harbor", "Harbor",
		`"namespace":"team-a"`, `"api_version":"V2"`, `"connect_cluster_id":"c1"`, `"get_scan_image_channel":"Swr"`))
	want := registry{ID: harbor.ID, RegistryName: "harbor", RegistryType: "Harbor", APIVersion: "V2", Protocol: "https",
		RegistryAddr: "harbor.example.com:5000", RegistryUsername: "robot", Namespace: "team-a", Status: customs.RegistryAccessing}
	if diff := cmp.Diff(want, harbor); diff != "" {
		t.Errorf("created registry mismatch (-want +got):\n%s", diff)
	}
	if len(harbor.ID) != 32 {
		t.Errorf("id = %q, want 32 characters", harbor.ID)
	}
	swr := f.create(t, "", registryBody("swr", "SwrPrivate"))
	ep2 := f.create(t, "", registryBody("jfrog", "Jfrog", `"enterprise_project_id":"ep-2"`))
	epQuery := f.create(t, "?enterprise_project_id=ep-3", registryBody("other", "Other"))

	stored := func(id string) *customs.Registry {
		t.Helper()
		regs, err := f.db.FindRegistries(t.Context(), customs.ProjectScope(projectID), customs.RegistryFilter{ID: id})
		if err != nil || len(regs) != 1 {
			t.Fatalf("FindRegistries(%s) = %v, %v", id, regs, err)
		}
		return regs[0]
	}
	if got := stored(harbor.ID).Password; got != "s3cret-harbor" {
		t.Errorf("stored password = %q, want the one given", got)
	}
	for id, ep := range map[string]string{harbor.ID: "0", ep2.ID: "ep-2", epQuery.ID: "ep-3"} {
		if got := stored(id).EnterpriseProjectID; got != ep {
			t.Errorf("registry %s is in enterprise project %q, want %q", id, got, ep)
		}
	}

	t.Run("list", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string // ids, in creation order
		}{
			{"", []string{harbor.ID, swr.ID}},
			{"?enterprise_project_id=all_granted_eps", []string{harbor.ID, swr.ID, ep2.ID, epQuery.ID}},
			{"?enterprise_project_id=ep-2", []string{ep2.ID}},
			{"?enterprise_project_id=all_granted_eps&registry_type=Harbor,Jfrog", []string{harbor.ID, ep2.ID}},
			{"?enterprise_project_id=all_granted_eps&registry_type=SwrShared", []string{}},
			{"?registry_name=swr", []string{swr.ID}},
			{"?registry_id=" + harbor.ID, []string{harbor.ID}},
			{"?registry_addr=swr.example.com:5000", []string{swr.ID}},
			{"?registry_addr=swr.example.com", []string{}},
			{"?status=accessing", []string{harbor.ID, swr.ID}},
			{"?status=success", []string{}},
		} {
			res := f.do(t, request{method: "GET", path: registriesPath + tc.query})
			if res.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.query, res.status, res.body)
			}
			noPassword(t, res.body)
			var page registryPage
			if err := json.Unmarshal(res.body, &page); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range page.DataList {
				got = append(got, r.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || page.TotalNum != len(tc.want) {
				t.Errorf("GET registries%s: total_num %d, ids mismatch (-want +got):\n%s", tc.query, page.TotalNum, diff)
			}
		}
	})

	t.Run("update", func(t *testing.T) {
		res := f.do(t, request{method: "PUT", path: registriesPath + "/" + harbor.ID, body: `{"protocol":"http","registry_addr":"10.0.0.7:8080",
			"registry_username":"bot","registry_password":"s3cret-new","namespace":"team-b","registry_name":"ignored","api_version":"V1"}`})
		if res.status != http.StatusOK {
			t.Fatalf("PUT = %d %s", res.status, res.body)
		}
		noPassword(t, res.body)
		var got registry
		if err := json.Unmarshal(res.body, &got); err != nil {
			t.Fatal(err)
		}
		want := harbor
		want.Protocol, want.RegistryAddr, want.RegistryUsername, want.Namespace = "http", "10.0.0.7:8080", "bot", "team-b"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("updated registry mismatch (-want +got):\n%s", diff)
		}
		if pw := stored(harbor.ID).Password; pw != "s3cret-new" {
			t.Errorf("stored password = %q after update, want s3cret-new", pw)
		}
		// A field left out is left as it is.
		res = f.do(t, request{method: "PUT", path: registriesPath + "/" + harbor.ID, body: `{"registry_username":"bot2"}`})
		if res.status != http.StatusOK {
			t.Fatalf("PUT = %d %s", res.status, res.body)
		}
		if r := stored(harbor.ID); r.Username != "bot2" || r.Password != "s3cret-new" || r.Addr != "10.0.0.7:8080" {
			t.Errorf("after a partial update: username %q, password %q, addr %q", r.Username, r.Password, r.Addr)
		}
		// An empty namespace removes the namespace limit.
		if stored(harbor.ID).Namespace == "" {
			t.Fatal("the registry has no namespace to remove")
		}
		res = f.do(t, request{method: "PUT", path: registriesPath + "/" + harbor.ID, body: `{"namespace":""}`})
		if res.status != http.StatusOK {
			t.Fatalf("PUT = %d %s", res.status, res.body)
		}
		if r := stored(harbor.ID); r.Namespace != "" {
			t.Errorf("after an update with an empty namespace, namespace %q", r.Namespace)
		}
		wantError(t, f.do(t, request{method: "PUT", path: registriesPath + "/00000000000000000000000000000000", body: `{"protocol":"http"}`}), 404, "HSS.0011")
	})

	t.Run("conflicts", func(t *testing.T) {
		e := wantError(t, f.do(t, request{method: "POST", path: registriesPath, body: registryBody("harbor", "Jfrog")}), 409, "HSS.0009")
		if !strings.Contains(e.ErrorMsg, `"harbor"`) {
			t.Errorf("error_msg %q does not name the registry", e.ErrorMsg)
		}
		wantError(t, f.do(t, request{method: "POST", path: registriesPath, body: registryBody("swr2", "SwrPrivate")}), 409, "HSS.0009")
	})

	t.Run("delete", func(t *testing.T) {
		res := f.do(t, request{method: "DELETE", path: registriesPath + "/" + swr.ID})
		if res.status != http.StatusOK || strings.TrimSpace(string(res.body)) != "{}" {
			t.Fatalf("DELETE = %d %s, want 200 {}", res.status, res.body)
		}
		var page registryPage
		f.get(t, registriesPath, &page)
		if page.TotalNum != 1 || page.DataList[0].ID != harbor.ID {
			t.Errorf("after delete, list = %+v, want only harbor", page)
		}
		wantError(t, f.do(t, request{method: "DELETE", path: registriesPath + "/" + swr.ID}), 404, "HSS.0011")
		// Outside the enterprise projects asked for, a registry is not found.
		wantError(t, f.do(t, request{method: "DELETE", path: registriesPath + "/" + ep2.ID}), 404, "HSS.0011")
	})

	t.Run("a read-only user cannot write", func(t *testing.T) {
		reader := f.login(t, "reader", projectID)
		wantError(t, f.do(t, request{method: "POST", path: registriesPath, token: reader, body: registryBody("r", "Harbor")}), 403, "HSS.0013")
	})
}

func TestRegistriesPaging(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for i := range 23 {
		ids = append(ids, f.create(t, "", registryBody(fmt.Sprintf("reg%02d", i), "Harbor")).ID)
	}
	var got []string
	for offset := 0; offset < 40; offset += 10 {
		var page registryPage
		f.get(t, fmt.Sprintf("%s?offset=%d&limit=10", registriesPath, offset), &page)
		if page.TotalNum != len(ids) {
			t.Errorf("offset %d: total_num = %d, want %d", offset, page.TotalNum, len(ids))
		}
		for _, r := range page.DataList {
			got = append(got, r.ID)
		}
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("paged ids mismatch (-want +got):\n%s", diff)
	}
}

func TestRegistriesInvalid(t *testing.T) {
	f := newFixture(t)
	existing := f.create(t, "", registryBody("existing", "Harbor"))
	long := func(n int) string { return strings.Repeat("a", n) }
	body := func(replace ...string) string {
		fields := map[string]string{
			"registry_name": `"r"`, "registry_type": `"Harbor"`, "protocol": `"https"`, "registry_addr": `"r.example.com"`,
		}
		for i := 0; i+1 < len(replace); i += 2 {
			fields[replace[i]] = replace[i+1]
		}
		var parts []string
		for k, v := range fields {
			if v != "" {
				parts = append(parts, `"`+k+`":`+v)
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		code   string
		param  string
	}{
		{"missing registry_name", "POST", "", body("registry_name", ""), "HSS.0001", "registry_name"},
		{"empty registry_name", "POST", "", body("registry_name", `""`), "HSS.0001", "registry_name"},
		{"long registry_name", "POST", "", body("registry_name", `"`+long(129)+`"`), "HSS.0001", "registry_name"},
		{"registry_name a number", "POST", "", body("registry_name", `5`), "HSS.0001", "registry_name"},
		{"missing registry_type", "POST", "", body("registry_type", ""), "HSS.0001", "registry_type"},
		{"unknown registry_type", "POST", "", body("registry_type", `"Quay"`), "HSS.0001", "registry_type"},
		{"SwrShared cannot be created", "POST", "", body("registry_type", `"SwrShared"`), "HSS.0001", "registry_type"},
		{"missing protocol", "POST", "", body("protocol", ""), "HSS.0001", "protocol"},
		{"protocol ftp", "POST", "", body("protocol", `"ftp"`), "HSS.0001", "protocol"},
		{"missing registry_addr", "POST", "", body("registry_addr", ""), "HSS.0001", "registry_addr"},
		{"empty registry_addr", "POST", "", body("registry_addr", `""`), "HSS.0001", "registry_addr"},
		{"registry_addr with scheme", "POST", "", body("registry_addr", `"https://r.example.com"`), "HSS.0001", "registry_addr"},
		{"registry_addr with path", "POST", "", body("registry_addr", `"r.example.com/v2"`), "HSS.0001", "registry_addr"},
		{"registry_addr port 0", "POST", "", body("registry_addr", `"r.example.com:0"`), "HSS.0001", "registry_addr"},
		{"registry_addr port 65536", "POST", "", body("registry_addr", `"r.example.com:65536"`), "HSS.0001", "registry_addr"},
		{"registry_addr port letters", "POST", "", body("registry_addr", `"r.example.com:http"`), "HSS.0001", "registry_addr"},
		{"registry_addr empty port", "POST", "", body("registry_addr", `"r.example.com:"`), "HSS.0001", "registry_addr"},
		{"registry_addr bad label", "POST", "", body("registry_addr", `"-r.example.com"`), "HSS.0001", "registry_addr"},
		{"registry_addr empty label", "POST", "", body("registry_addr", `"r..com"`), "HSS.0001", "registry_addr"},
		{"registry_addr bare IPv6", "POST", "", body("registry_addr", `"2001:db8::1"`), "HSS.0001", "registry_addr"},
		{"registry_addr unclosed IPv6", "POST", "", body("registry_addr", `"[2001:db8::1"`), "HSS.0001", "registry_addr"},
		{"registry_addr IPv4 in brackets", "POST", "", body("registry_addr", `"[10.0.0.1]:80"`), "HSS.0001", "registry_addr"},
		{"registry_addr too long", "POST", "", body("registry_addr", `"`+long(257)+`"`), "HSS.0001", "registry_addr"},
		{"long registry_username", "POST", "", body("registry_username", `"`+long(129)+`"`), "HSS.0001", "registry_username"},
		{"long registry_password", "POST", "", body("registry_password", `"s3cret`+long(123)+`"`), "HSS.0001", "registry_password"},
		{"empty namespace", "POST", "", body("namespace", `""`), "HSS.0001", "namespace"},
		{"upper-case namespace", "POST", "", body("namespace", `"Team"`), "HSS.0001", "namespace"},
		{"namespace with a slash", "POST", "", body("namespace", `"a/b"`), "HSS.0001", "namespace"},
		{"namespace ending in a separator", "POST", "", body("namespace", `"team-"`), "HSS.0001", "namespace"},
		{"long namespace", "POST", "", body("namespace", `"`+long(129)+`"`), "HSS.0001", "namespace"},
		{"empty enterprise_project_id", "POST", "", body("enterprise_project_id", `""`), "HSS.0001", "enterprise_project_id"},
		{"all_granted_eps for a new registry", "POST", "", body("enterprise_project_id", `"all_granted_eps"`), "HSS.0001", "enterprise_project_id"},
		{"empty query enterprise_project_id", "POST", "?enterprise_project_id=", body(), "HSS.0001", "enterprise_project_id"},
		{"not JSON", "POST", "", `{"registry_name":`, "HSS.0002", ""},
		{"JSON then more", "POST", "", body() + `{}`, "HSS.0002", ""},
		{"empty body", "POST", "", ``, "HSS.0002", ""},
		{"body over 1 MiB", "POST", "", `{"registry_name":"` + strings.Repeat("a", 1<<20) + `"}`, "HSS.0002", ""},
		{"array body", "POST", "", `[]`, "HSS.0001", ""},
		{"update protocol ftp", "PUT", "/" + existing.ID, `{"protocol":"ftp"}`, "HSS.0001", "protocol"},
		{"update registry_addr with scheme", "PUT", "/" + existing.ID, `{"registry_addr":"http://x"}`, "HSS.0001", "registry_addr"},
		{"update id too long", "PUT", "/" + long(65), `{"protocol":"http"}`, "HSS.0001", "id"},
		{"list limit 5", "GET", "?limit=5", "", "HSS.0001", "limit"},
		{"list unknown registry_type", "GET", "?registry_type=Harbor,Quay", "", "HSS.0001", "registry_type"},
		{"list empty registry_type item", "GET", "?registry_type=Harbor,", "", "HSS.0001", "registry_type"},
		{"list status ok", "GET", "?status=ok", "", "HSS.0001", "status"},
		{"list empty registry_name", "GET", "?registry_name=", "", "HSS.0001", "registry_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: tc.method, path: registriesPath + tc.path, body: tc.body})
			e := wantError(t, res, 400, tc.code)
			if tc.param != "" && !strings.Contains(e.ErrorMsg, "parameter "+tc.param) {
				t.Errorf("error_msg %q does not name parameter %s", e.ErrorMsg, tc.param)
			}
			if strings.Contains(e.ErrorMsg, "s3cret") {
				t.Errorf("error_msg repeats a password: %q", e.ErrorMsg)
			}
		})
	}
	var page registryPage
	f.get(t, registriesPath, &page)
	if diff := cmp.Diff([]registry{existing}, page.DataList, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("refused requests changed the registries (-want +got):\n%s", diff)
	}

	t.Run("valid addresses", func(t *testing.T) {
		for i, addr := range []string{"10.0.0.1:5000", "[2001:db8::1]:5000", "[::1]", "registry.example.com", "localhost:5000", "a-b.c-d.io:65535", "ROOT.Example.COM:1"} {
			f.create(t, "", body("registry_name", fmt.Sprintf(`"ok%d"`, i), "registry_addr", `"`+addr+`"`, "namespace", `"a.b__c-d--e"`))
		}
	})
}
