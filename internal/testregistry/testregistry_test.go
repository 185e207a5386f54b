package testregistry_test

import (
	"net/http"
	"testing"

	"customs/internal/testregistry"
)

func TestStart(t *testing.T) {
	tests := []struct {
		name     string
		opts     []testregistry.Option
		username string // credentials sent, if any
		password string
		want     int
	}{
		{name: "anonymous", want: http.StatusOK},
		{
			name: "htpasswd without credentials",
			opts: []testregistry.Option{testregistry.WithHtpasswd("alice", "s3cret")},
			want: http.StatusUnauthorized,
		},
		{
			name:     "htpasswd with the right password",
			opts:     []testregistry.Option{testregistry.WithHtpasswd("alice", "s3cret")},
			username: "alice",
			password: "s3cret",
			want:     http.StatusOK,
		},
		{
			name:     "htpasswd with a wrong password",
			opts:     []testregistry.Option{testregistry.WithHtpasswd("alice", "s3cret")},
			username: "alice",
			password: "wrong",
			want:     http.StatusUnauthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testregistry.Start(t, tt.opts...)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.URL()+"/v2/", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.username != "" {
				req.SetBasicAuth(tt.username, tt.password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s/v2/ = %d, want %d", r.URL(), resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s/v2/ = 401 without a WWW-Authenticate challenge", r.URL())
			}
		})
	}
}

func TestStartRecordsCredentials(t *testing.T) {
	r := testregistry.Start(t, testregistry.WithHtpasswd("bob", "pw"))
	if r.Username != "bob" || r.Password != "pw" {
		t.Errorf("Registry credentials = %q/%q, want bob/pw", r.Username, r.Password)
	}
	if want := "http://" + r.Addr; r.URL() != want {
		t.Errorf("URL() = %q, want %q", r.URL(), want)
	}
}
