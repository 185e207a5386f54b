package oci

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPickChallenge(t *testing.T) {
	tests := []struct {
		name       string
		headers    []string
		wantScheme string
		wantParams map[string]string
	}{
		{
			name:       "bearer",
			headers:    []string{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`},
			wantScheme: "Bearer",
			wantParams: map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull"},
		},
		{
			name:       "basic",
			headers:    []string{`Basic realm="Registry Realm"`},
			wantScheme: "Basic",
			wantParams: map[string]string{"realm": "Registry Realm"},
		},
		{
			name:       "bearer preferred, in one header",
			headers:    []string{`Basic realm="a, b", Bearer realm="https://auth.example/token", service="r"`},
			wantScheme: "Bearer",
			wantParams: map[string]string{"realm": "https://auth.example/token", "service": "r"},
		},
		{
			name:       "basic preferred over unknown schemes",
			headers:    []string{`Negotiate`, `Basic realm=plain`},
			wantScheme: "Basic",
			wantParams: map[string]string{"realm": "plain"},
		},
		{
			name:       "escaped quote",
			headers:    []string{`Bearer realm="https://a.example/t",error="say \"hi\""`},
			wantScheme: "Bearer",
			wantParams: map[string]string{"realm": "https://a.example/t", "error": `say "hi"`},
		},
		{name: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme, params := pickChallenge(tt.headers)
			if scheme != tt.wantScheme {
				t.Errorf("pickChallenge(%q) scheme = %q, want %q", tt.headers, scheme, tt.wantScheme)
			}
			if diff := cmp.Diff(tt.wantParams, params); diff != "" {
				t.Errorf("pickChallenge(%q) params mismatch (-want +got):\n%s", tt.headers, diff)
			}
		})
	}
}
