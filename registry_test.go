package customs_test

import (
	"strings"
	"testing"

	"customs"
)

func TestRegistryValidate(t *testing.T) {
	valid := func() customs.Registry {
		return customs.Registry{Name: "harbor", Type: customs.Harbor, Protocol: "https", Addr: "harbor.example.com:443"}
	}
	for _, addr := range []string{"localhost", "localhost:5000", "10.0.0.5", "10.0.0.5:80", "[::1]:5000", "[fe80::1]", "my_registry.internal:65535"} {
		r := valid()
		r.Addr = addr
		if err := r.Validate(); err != nil {
			t.Errorf("registry_addr %q: %v", addr, err)
		}
	}
	for _, ns := range []string{"library", "team-a", "a.b", "a__b", "a---b", "x1"} {
		r := valid()
		r.Namespace = ns
		if err := r.Validate(); err != nil {
			t.Errorf("namespace %q: %v", ns, err)
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*customs.Registry)
		param string
	}{
		{"empty name", func(r *customs.Registry) { r.Name = "" }, "registry_name"},
		{"long name", func(r *customs.Registry) { r.Name = strings.Repeat("n", 129) }, "registry_name"},
		{"type", func(r *customs.Registry) { r.Type = "Quay" }, "registry_type"},
		{"protocol", func(r *customs.Registry) { r.Protocol = "ftp" }, "protocol"},
		{"scheme in addr", func(r *customs.Registry) { r.Addr = "https://h" }, "registry_addr"},
		{"path in addr", func(r *customs.Registry) { r.Addr = "h/v2" }, "registry_addr"},
		{"port 0", func(r *customs.Registry) { r.Addr = "h:0" }, "registry_addr"},
		{"port too big", func(r *customs.Registry) { r.Addr = "h:65536" }, "registry_addr"},
		{"empty port", func(r *customs.Registry) { r.Addr = "h:" }, "registry_addr"},
		{"empty addr", func(r *customs.Registry) { r.Addr = "" }, "registry_addr"},
		{"space in host", func(r *customs.Registry) { r.Addr = "a b" }, "registry_addr"},
		{"unbracketed v6 with port", func(r *customs.Registry) { r.Addr = "::1:5000" }, "registry_addr"},
		{"long username", func(r *customs.Registry) { r.Username = strings.Repeat("u", 129) }, "registry_username"},
		{"long password", func(r *customs.Registry) { r.Password = strings.Repeat("p", 129) }, "registry_password"},
		{"namespace upper case", func(r *customs.Registry) { r.Namespace = "Team" }, "namespace"},
		{"namespace with slash", func(r *customs.Registry) { r.Namespace = "a/b" }, "namespace"},
		{"namespace trailing separator", func(r *customs.Registry) { r.Namespace = "a-" }, "namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.edit(&r)
			err := r.Validate()
			if customs.ErrorCode(err) != customs.EINVALID || !strings.Contains(customs.ErrorMessage(err), tc.param) {
				t.Errorf("Validate() = %v; want EINVALID naming %s", err, tc.param)
			}
		})
	}
}
