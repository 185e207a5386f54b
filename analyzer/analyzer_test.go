package analyzer_test

import (
	"io/fs"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/analyzer"
)

func final(entries map[string]string) *analyzer.Final {
	f := analyzer.NewFinal()
	for path, link := range entries {
		info := customs.FileInfo{Path: path, Mode: 0o644}
		switch link {
		case "/":
			info.Mode = fs.ModeDir | 0o755
		case "":
		default:
			info.Mode = fs.ModeSymlink | 0o777
			info.Linkname = link
		}
		f.Put(&analyzer.File{FileInfo: info})
	}
	return f
}

func paths(f *analyzer.Final) []string {
	var got []string
	for file := range f.All() {
		got = append(got, file.Path)
	}
	return got
}

func TestFinalDelete(t *testing.T) {
	f := final(map[string]string{"etc": "/", "etc/passwd": "", "etc/ssh": "/", "etc/ssh/sshd_config": "", "etcetera": "", "usr/bin/sh": ""})
	f.Delete("etc/ssh", "nothing/here")
	if diff := cmp.Diff([]string{"etc", "etc/passwd", "etcetera", "usr/bin/sh"}, paths(f)); diff != "" {
		t.Errorf("after Delete(etc/ssh) (-want +got):\n%s", diff)
	}
	f.Delete("")
	if f.Len() != 0 {
		t.Errorf("after Delete(\"\"): %v, want nothing", paths(f))
	}
}

func TestFinalResolve(t *testing.T) {
	f := final(map[string]string{
		"etc":                "/",
		"etc/os-release":     "../usr/lib/os-release",
		"usr":                "/",
		"usr/lib":            "/",
		"usr/lib/os-release": "",
		"lib":                "usr/lib",
		"abs":                "/usr/lib/os-release",
		"climb":              "../../../../usr/lib/os-release",
		"loop1":              "loop2",
		"loop2":              "loop1",
		"dangling":           "nowhere",
	})
	tests := []struct {
		path string
		want string // "" for not found
	}{
		{"etc/os-release", "usr/lib/os-release"},
		{"lib/os-release", "usr/lib/os-release"},
		{"abs", "usr/lib/os-release"},
		{"climb", "usr/lib/os-release"},
		{"/etc/./os-release", "usr/lib/os-release"},
		{"loop1", ""},
		{"dangling", ""},
		{"etc/missing", ""},
	}
	for _, tt := range tests {
		got, ok := f.Resolve(tt.path)
		switch {
		case tt.want == "" && ok:
			t.Errorf("Resolve(%q) = %q, want not found", tt.path, got.Path)
		case tt.want != "" && (!ok || got.Path != tt.want):
			t.Errorf("Resolve(%q) = %v, %v, want %q", tt.path, got, ok, tt.want)
		}
	}
	if !slices.Contains(paths(f), "loop1") {
		t.Error("Resolve changed the filesystem")
	}
}
