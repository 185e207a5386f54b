package scan_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"customs"
	"customs/analyzer"
	"customs/scan"
)

func TestScanCompressions(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB: spooled to a file
	l := layer{
		dir("etc"),
		file("etc/os-release", "ID=test\n"),
		symlink("etc/alt", "os-release"),
		file("./big", big),
		file("/empty", ""),
	}
	tests := []struct {
		name     string
		compress func(testing.TB, []byte) []byte
		mt       types.MediaType
	}{
		{"gzip", gzipped, types.DockerLayer},
		{"zstd", zstded, types.OCILayerZStd},
		{"plain tar", func(_ testing.TB, b []byte) []byte { return b }, types.OCIUncompressedLayer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, static.NewLayer(tt.compress(t, l.tarball(t)), tt.mt)))
			res, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if res.Digest != m.Digest || res.OS != "recorded" || res.ScannedAt.IsZero() {
				t.Errorf("Scan = digest %q, OS %q, scanned at %v; want %q, the analyzer's OS, a time", res.Digest, res.OS, res.ScannedAt, m.Digest)
			}
			if diff := cmp.Diff([]customs.AnalyzerStatus{{Name: "recorder", Status: customs.AnalyzerSucceeded}}, res.Analyzers); diff != "" {
				t.Errorf("Scan statuses mismatch (-want +got):\n%s", diff)
			}
			rec := e.rec.recording()
			wantFinal := map[string]string{
				"etc":            dv(0),
				"etc/os-release": fv(8, 0),
				"etc/alt":        lv(0, "os-release"),
				"big":            fv(len(big), 0),
				"empty":          fv(0, 0),
			}
			if diff := cmp.Diff(wantFinal, rec.final); diff != "" {
				t.Errorf("final view mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"0:etc/os-release", "0:big", "0:empty"}, rec.offered); diff != "" {
				t.Errorf("files offered mismatch (-want +got):\n%s", diff)
			}
			if got := rec.content["0:big"]; got != big {
				t.Errorf("content of big: %d bytes, want the %d written", len(got), len(big))
			}
			if got := rec.content["0:etc/os-release"]; got != "ID=test\n" {
				t.Errorf("content of etc/os-release: %q", got)
			}
			if got := files(t, e.scanner.TempDir); len(got) != 0 {
				t.Errorf("spool directory after the scan: %v, want it empty", got)
			}
		})
	}
}

func TestScanWhiteouts(t *testing.T) {
	base := layer{
		dir("a"), file("a/1", "1"), file("a/2", "2"),
		dir("b"), file("b/x", "x"), dir("b/sub"), file("b/sub/y", "y"),
		file("c", "c"),
		dir("d"), file("d/e", "e"),
		dir("keep"), file("keep/k", "k"),
	}
	tests := []struct {
		name        string
		upper       []layer
		wantFinal   map[string]string
		wantOffered []string
	}{{
		name: "whiteouts, opaque directory and overrides",
		upper: []layer{{
			file("a/.wh.1", ""),
			file("a/2", "two"),
			file("a/3", "3"),
			file("b/.wh..wh..opq", ""),
			file("b/z", "z"),
			file(".wh.c", ""),
			file("d", "now a file"), // hides d/e
			file(".wh..wh..plnk", ""),
			file("keep/.wh..", ""), // names nothing
			file("keep/.wh.", ""),
		}},
		wantFinal: map[string]string{
			"a": dv(0), "a/2": fv(3, 1), "a/3": fv(1, 1),
			"b": dv(0), "b/z": fv(1, 1),
			"d":    fv(10, 1),
			"keep": dv(0), "keep/k": fv(1, 0),
		},
		wantOffered: []string{"1:a/2", "1:a/3", "1:b/z", "1:d"},
	}, {
		name: "an opaque directory with its own entry",
		upper: []layer{{
			{hdr: dirHeader("b", 0o700)},
			file("b/.wh..wh..opq", ""),
			file("b/z", "z"),
		}},
		wantFinal: map[string]string{
			"a": dv(0), "a/1": fv(1, 0), "a/2": fv(1, 0),
			"b": "drwx------ 0 L1", "b/z": fv(1, 1),
			"c": fv(1, 0), "d": dv(0), "d/e": fv(1, 0), "keep": dv(0), "keep/k": fv(1, 0),
		},
		wantOffered: []string{"1:b/z"},
	}, {
		name: "a whiteout applies to lower layers only",
		upper: []layer{
			{file("c", "new c"), file(".wh.c", "")},
			{dir("c"), file("c/in", "in")}, // a file replaced by a directory
		},
		wantFinal: map[string]string{
			"a": dv(0), "a/1": fv(1, 0), "a/2": fv(1, 0),
			"b": dv(0), "b/x": fv(1, 0), "b/sub": dv(0), "b/sub/y": fv(1, 0),
			"c": dv(2), "c/in": fv(2, 2),
			"d": dv(0), "d/e": fv(1, 0), "keep": dv(0), "keep/k": fv(1, 0),
		},
		wantOffered: []string{"1:c", "2:c/in"},
	}, {
		name:        "an opaque root",
		upper:       []layer{{file(".wh..wh..opq", ""), file("only", "o")}},
		wantFinal:   map[string]string{"only": fv(1, 1)},
		wantOffered: []string{"1:only"},
	}, {
		name:  "deleting a directory deletes what is below it",
		upper: []layer{{file(".wh.b", ""), file(".wh.a", "")}, {file("b/new", "n")}},
		wantFinal: map[string]string{
			"b": dv(2), "b/new": fv(1, 2),
			"c": fv(1, 0), "d": dv(0), "d/e": fv(1, 0), "keep": dv(0), "keep/k": fv(1, 0),
		},
		wantOffered: []string{"2:b/new"},
	}}
	baseOffered := []string{"0:a/1", "0:a/2", "0:b/x", "0:b/sub/y", "0:c", "0:d/e", "0:keep/k"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			layers := []v1.Layer{gz(t, base)}
			for _, l := range tt.upper {
				layers = append(layers, gz(t, l))
			}
			if _, err := e.scan(t, image(t, v1.Config{}, layers...)); err != nil {
				t.Fatalf("Scan: %v", err)
			}
			rec := e.rec.recording()
			if diff := cmp.Diff(tt.wantFinal, rec.final); diff != "" {
				t.Errorf("final view mismatch (-want +got):\n%s", diff)
			}
			// Every layer's files are offered, deleted later or not.
			if diff := cmp.Diff(append(baseOffered, tt.wantOffered...), rec.offered); diff != "" {
				t.Errorf("files offered mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanLinks(t *testing.T) {
	e := newEnv(t)
	e.rec.probes = []string{"loop1", "abs", "out", "lib/os-release", "bin/sh"}
	base := layer{
		file("bin/busybox", "BB"),
		hardlink("bin/sh", "bin/busybox"),
		file("etc/passwd", "root"),
		dir("usr"), dir("usr/lib"), file("usr/lib/os-release", "ID=x"),
		symlink("lib", "usr/lib"),
		symlink("loop1", "loop2"), symlink("loop2", "loop1"),
		symlink("abs", "/etc/passwd"),
		symlink("out", "../../../../etc/passwd"),
	}
	upper := layer{
		hardlink("bin/ls", "/bin/busybox"), // to a file of a lower layer
		hardlink("ghost", "nowhere"),
		hardlink("dirlink", "usr/lib"),
		hardlink("up", "../../etc/passwd"),
		hardlink("hardsym", "lib"),
	}
	if _, err := e.scan(t, image(t, v1.Config{}, gz(t, base), gz(t, upper))); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	rec := e.rec.recording()
	wantFinal := map[string]string{
		"bin":                dv(0), // not in the tar: added as extracting it would
		"etc":                dv(0),
		"bin/busybox":        fv(2, 0),
		"bin/sh":             fv(2, 0) + " -> bin/busybox",
		"bin/ls":             fv(2, 1) + " -> bin/busybox",
		"etc/passwd":         fv(4, 0),
		"usr":                dv(0),
		"usr/lib":            dv(0),
		"usr/lib/os-release": fv(4, 0),
		"lib":                lv(0, "usr/lib"),
		"loop1":              lv(0, "loop2"),
		"loop2":              lv(0, "loop1"),
		"abs":                lv(0, "/etc/passwd"),
		"out":                lv(0, "../../../../etc/passwd"),
		"hardsym":            lv(1, "usr/lib"),
	}
	if diff := cmp.Diff(wantFinal, rec.final); diff != "" {
		t.Errorf("final view mismatch (-want +got):\n%s", diff)
	}
	wantResolved := map[string]string{
		"loop1":          "",
		"abs":            "etc/passwd",
		"out":            "etc/passwd",
		"lib/os-release": "usr/lib/os-release",
		"bin/sh":         "bin/sh",
	}
	if diff := cmp.Diff(wantResolved, rec.resolved); diff != "" {
		t.Errorf("Resolve in the final view mismatch (-want +got):\n%s", diff)
	}
	// A hard link's content is its target's, which the analyzers saw.
	if diff := cmp.Diff([]string{"0:bin/busybox", "0:etc/passwd", "0:usr/lib/os-release"}, rec.offered); diff != "" {
		t.Errorf("files offered mismatch (-want +got):\n%s", diff)
	}
}

func TestScanConfig(t *testing.T) {
	e := newEnv(t)
	cfg := v1.Config{
		User:         "app",
		Env:          []string{"PATH=/bin", "TOKEN=x"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "22/tcp": {}, "53/udp": {}},
		Labels:       map[string]string{"maintainer": "me"},
		Healthcheck:  &v1.HealthConfig{Test: []string{"CMD", "true"}},
		Entrypoint:   []string{"/bin/app"},
		Cmd:          []string{"--serve"},
	}
	l1, l2 := gz(t, layer{file("a", "a")}), gz(t, layer{file("b", "b")})
	m := e.reg.push(t, "test/image", "latest", image(t, cfg, l1, l2))
	if _, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/image"), m); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := &analyzer.Image{
		Digest:   m.Digest,
		Platform: customs.Platform{OS: "linux", Architecture: "amd64"},
		Config: customs.ImageConfig{
			User:         "app",
			Env:          []string{"PATH=/bin", "TOKEN=x"},
			ExposedPorts: []string{"22/tcp", "53/udp", "8080/tcp"},
			Labels:       map[string]string{"maintainer": "me"},
			Healthcheck:  []string{"CMD", "true"},
			Entrypoint:   []string{"/bin/app"},
			Cmd:          []string{"--serve"},
			History:      []customs.HistoryEntry{{CreatedBy: "layer 0"}, {CreatedBy: "layer 1"}},
		},
		Layers: []string{m.Blobs[1].Digest, m.Blobs[2].Digest},
	}
	if diff := cmp.Diff(want, e.rec.recording().img); diff != "" {
		t.Errorf("image the analyzer was given mismatch (-want +got):\n%s", diff)
	}
}

func TestScanDockerConfigShapes(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   customs.ImageConfig
		reason string
	}{{
		name:   "strings where lists belong",
		config: `{"os":"linux","architecture":"arm64","variant":"v8","config":{"Entrypoint":"/bin/sh -c app","Cmd":null,"Healthcheck":{"Test":["NONE"]}},"history":[{"created_by":"ADD x /","comment":"c"},{"created_by":"ENV A=1","empty_layer":true}]}`,
		want: customs.ImageConfig{
			Entrypoint:  []string{"/bin/sh -c app"},
			Healthcheck: []string{"NONE"},
			History:     []customs.HistoryEntry{{CreatedBy: "ADD x /", Comment: "c"}, {CreatedBy: "ENV A=1", EmptyLayer: true}},
		},
	}, {
		name:   "not JSON",
		config: `not a config`,
		reason: customs.FailQueryBasicInformation,
	}, {
		name:   "labels of the wrong type",
		config: `{"os":"linux","config":{"Labels":["a"]}}`,
		reason: customs.FailQueryBasicInformation,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.reg.pushRaw(t, "test/raw", "v1", []byte(tt.config), gzipped(t, layer{file("f", "f")}.tarball(t)))
			_, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/raw"), m)
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("Scan: %v (reason %q), want reason %q", err, got, tt.reason)
			}
			if tt.reason != "" {
				return
			}
			if diff := cmp.Diff(tt.want, e.rec.recording().img.Config); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
			if got, want := e.rec.recording().img.Platform, (customs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}); got != want {
				t.Errorf("platform = %v, want %v", got, want)
			}
		})
	}
}

func TestScanAnalyzerFailures(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		setup      func(r *recorder)
		wantReason string                   // of the scan's failure
		wantStatus []customs.AnalyzerStatus // when it succeeds
	}{{
		name: "an error on one file",
		setup: func(r *recorder) {
			r.file = func(f *analyzer.File) error {
				if f.Path == "b" {
					return boom
				}
				return nil
			}
		},
		wantStatus: []customs.AnalyzerStatus{
			{Name: "recorder", Status: customs.AnalyzerPartial, Reason: "failed on 1 files; first: b: boom"},
			{Name: "other", Status: customs.AnalyzerSucceeded},
		},
	}, {
		name: "a panic on two files",
		setup: func(r *recorder) {
			r.file = func(f *analyzer.File) error {
				if f.Path != "a" {
					panic("parser bug")
				}
				return nil
			}
		},
		wantStatus: []customs.AnalyzerStatus{
			{Name: "recorder", Status: customs.AnalyzerPartial, Reason: "failed on 2 files; first: b: analyzer panicked: parser bug"},
			{Name: "other", Status: customs.AnalyzerSucceeded},
		},
	}, {
		name:  "a panic in Wants",
		setup: func(r *recorder) { r.wants = func(*analyzer.File) bool { panic("wants") } },
		wantStatus: []customs.AnalyzerStatus{
			{Name: "recorder", Status: customs.AnalyzerPartial, Reason: "failed on 3 files; first: a: analyzer panicked: wants"},
			{Name: "other", Status: customs.AnalyzerSucceeded},
		},
	}, {
		name:       "an error in Finish",
		setup:      func(r *recorder) { r.finish = func() error { return boom } },
		wantReason: customs.FailScanSoftware,
	}, {
		name:       "a panic in Finish",
		setup:      func(r *recorder) { r.finish = func() error { panic("finish") } },
		wantReason: customs.FailScanSoftware,
	}, {
		name:       "an error in Start",
		setup:      func(r *recorder) { r.start = func() error { return boom } },
		wantReason: customs.FailScanSoftware,
	}, {
		name:       "a panic in Start without a reason of its own",
		setup:      func(r *recorder) { r.failure = ""; r.start = func() error { panic("start") } },
		wantReason: customs.FailUnknown,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(e.rec)
			// Another analyzer wants only "c", and gets its content whatever
			// the first one does.
			other := &recorder{name: "other", failure: customs.FailCheckBaseline, wants: func(f *analyzer.File) bool { return f.Path == "c" }}
			e.scanner.Analyzers = append(e.scanner.Analyzers, other)
			res, err := e.scan(t, image(t, v1.Config{}, gz(t, layer{file("a", "A"), file("b", "B"), file("c", "C")})))
			if got := reasonOf(err); got != tt.wantReason {
				t.Fatalf("Scan: %v (reason %q), want reason %q", err, got, tt.wantReason)
			}
			if err != nil {
				var f *customs.ScanFailure
				if !errors.As(err, &f) {
					t.Errorf("Scan error %T is not a *customs.ScanFailure", err)
				}
				return
			}
			if diff := cmp.Diff(tt.wantStatus, res.Analyzers); diff != "" {
				t.Errorf("statuses mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]string{"0:c": "C"}, other.recording().content); diff != "" {
				t.Errorf("other analyzer's content mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanManifestKinds(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		kind customs.ManifestKind
		want string
	}{
		{customs.KindSchema1, customs.FailSchemaV1},
		{customs.KindIndex, customs.FailUnknown},
		{customs.KindArtifact, customs.FailUnknown},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			m := &customs.Manifest{Digest: "sha256:" + strings.Repeat("0", 64), Kind: tt.kind}
			res, err := e.scanner.Scan(t.Context(), e.reg.source(t, "test/none"), m)
			if got := reasonOf(err); got != tt.want || res != nil {
				t.Errorf("Scan(%s) = %v, %v (reason %q), want reason %q", tt.kind, res, err, got, tt.want)
			}
		})
	}
	if got := e.reg.blobRequests(); got != 0 {
		t.Errorf("%d blob requests, want none", got)
	}
}

func TestScannerDefaults(t *testing.T) {
	// A zero Scanner but for its cache: the default limits, os.TempDir(),
	// slog.Default().
	e := newEnv(t)
	s := &scan.Scanner{Cache: newCache(t, filepath.Join(t.TempDir(), "cache"), 1<<20)}
	m := e.reg.push(t, "test/image", "latest", image(t, v1.Config{}, gz(t, layer{file("a", "a")})))
	res, err := s.Scan(t.Context(), e.reg.source(t, "test/image"), m)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if res.Digest != m.Digest || len(res.Analyzers) != 0 {
		t.Errorf("Scan = %+v, want a result for %s with no analyzers", res, m.Digest)
	}
	if _, err := (&scan.Scanner{}).Scan(t.Context(), e.reg.source(t, "test/image"), m); reasonOf(err) != customs.FailUnknown {
		t.Errorf("Scan without a cache: %v, want an unknown_error failure", err)
	}
}
