package baseline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"customs"
	"customs/analyzer"
)

// entry is one entry of a layer of a test image.
type entry struct {
	path  string
	mode  fs.FileMode // 0 is a regular file with mode 0644
	data  string
	layer int
	gone  bool // a whiteout: the layer deletes path
	// broken makes reading the file's content fail.
	broken bool
}

func file(layer int, p, data string) entry { return entry{path: p, data: data, layer: layer} }

func dir(p string, perm fs.FileMode) entry { return entry{path: p, mode: fs.ModeDir | perm} }

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) {
	return 0, errors.New("layer stream broken")
}

// run scans an image made of cfg and the entries, in order, the way the
// scanner core does: Wants and File for each regular file, the final
// filesystem built alongside, then Finish.
func run(t *testing.T, cfg customs.ImageConfig, entries ...entry) *customs.ScanResult {
	t.Helper()
	a := &Analyzer{Logger: slog.New(slog.DiscardHandler)}
	layers := 1
	for _, e := range entries {
		layers = max(layers, e.layer+1)
	}
	img := &analyzer.Image{Digest: "sha256:test", Config: cfg}
	for i := range layers {
		img.Layers = append(img.Layers, fmt.Sprintf("sha256:layer%d", i))
	}
	s, err := a.Start(t.Context(), img)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	final := analyzer.NewFinal()
	for _, e := range entries {
		if e.gone {
			final.Delete(e.path)
			continue
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		f := &analyzer.File{FileInfo: customs.FileInfo{Path: e.path, Mode: mode, Size: int64(len(e.data))}, Layer: e.layer}
		if mode.IsRegular() && s.Wants(f) {
			var r io.ReaderAt = strings.NewReader(e.data)
			if e.broken {
				r = failingReaderAt{}
			}
			if err := s.File(t.Context(), f, io.NewSectionReader(r, 0, f.Size)); err != nil && !e.broken {
				t.Fatalf("File(%s) = %v", e.path, err)
			}
		}
		final.Put(f)
	}
	res := &customs.ScanResult{Digest: img.Digest}
	if err := s.Finish(t.Context(), final, res); err != nil {
		t.Fatalf("Finish() = %v", err)
	}
	return res
}

// verdict is what a test expects of one rule's result.
type verdict struct {
	Passed  bool
	Current string
}

func result(t *testing.T, res *customs.ScanResult, id string) verdict {
	t.Helper()
	for _, b := range res.Baseline {
		if b.RuleID == id {
			return verdict{b.Passed, b.CurrentValue}
		}
	}
	t.Fatalf("no result for rule %s", id)
	return verdict{}
}

type ruleCase struct {
	name    string
	cfg     customs.ImageConfig
	entries []entry
	want    verdict
}

func runCases(t *testing.T, rule string, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := result(t, run(t, tc.cfg, tc.entries...), rule)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rule %s mismatch (-want +got):\n%s", rule, diff)
			}
		})
	}
}

func TestAnalyzer(t *testing.T) {
	a := &Analyzer{}
	if a.Name() != "baseline" || a.Failure() != customs.FailCheckBaseline {
		t.Errorf("Name(), Failure() = %q, %q; want baseline, %s", a.Name(), a.Failure(), customs.FailCheckBaseline)
	}
	res := run(t, customs.ImageConfig{})
	var ids []string
	for _, b := range res.Baseline {
		ids = append(ids, b.RuleID)
		if b.RuleName == "" || b.CheckName == "" || b.CheckType == "" || b.Standard != "hw_standard" || b.Severity == "" ||
			b.Description == "" || b.Audit == "" || b.Remediation == "" || b.CurrentValue == "" || b.SuggestValue == "" {
			t.Errorf("result of rule %s has empty fields: %+v", b.RuleID, b)
		}
	}
	var want []string
	for _, r := range Rules() {
		want = append(want, r.ID)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("result rule ids mismatch (-want +got):\n%s", diff)
	}
	wantStatus := []customs.AnalyzerStatus{{Name: "baseline", Status: customs.AnalyzerSucceeded}}
	if diff := cmp.Diff(wantStatus, res.Analyzers); diff != "" {
		t.Errorf("analyzer status mismatch (-want +got):\n%s", diff)
	}
}

func TestRules(t *testing.T) {
	severities := []string{customs.SeveritySecurity, customs.SeverityLow, customs.SeverityMedium, customs.SeverityHigh}
	groupNames := make(map[string]bool)
	for _, g := range Groups() {
		groupNames[g.CheckName] = true
		if g.CheckType != g.CheckName || g.Standard != "hw_standard" || g.Description == "" {
			t.Errorf("group %+v: want check_type = check_name, hw_standard and a description", g)
		}
	}
	seen := make(map[string]bool)
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("rule id %s is not unique", r.ID)
		}
		seen[r.ID] = true
		if checks[r.ID] == nil {
			t.Errorf("rule %s has no check", r.ID)
		}
		if !groupNames[r.CheckName] || r.CheckType != r.CheckName {
			t.Errorf("rule %s: group %q/%q is not one of Groups()", r.ID, r.CheckName, r.CheckType)
		}
		if !slices.Contains(severities, r.Severity) {
			t.Errorf("rule %s: severity %q", r.ID, r.Severity)
		}
		if !strings.HasPrefix(r.ID, groupNumber(r.CheckName)+".") {
			t.Errorf("rule %s is in group %q, numbered %s", r.ID, r.CheckName, groupNumber(r.CheckName))
		}
	}
	if len(checks) != len(seen) {
		t.Errorf("%d checks for %d rules", len(checks), len(seen))
	}
	rules := Rules()
	rules[0].Name = "changed"
	if Rules()[0].Name == "changed" {
		t.Error("Rules() returns the catalogue itself, not a copy")
	}
}

func groupNumber(name string) string {
	for i, g := range Groups() {
		if g.CheckName == name {
			return fmt.Sprint(i + 1)
		}
	}
	return "?"
}

func TestUser(t *testing.T) {
	passwd := file(0, "etc/passwd", testdata(t, "debian12/passwd")+"app:x:1000:1000::/home/app:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n")
	runCases(t, "1.1", []ruleCase{
		{name: "unset", want: verdict{false, "USER is not set: the container runs as root"}},
		{name: "root", cfg: customs.ImageConfig{User: "root"}, want: verdict{false, "USER root: root"}},
		{name: "root:root", cfg: customs.ImageConfig{User: "root:root"}, want: verdict{false, "USER root:root: root"}},
		{name: "0:0", cfg: customs.ImageConfig{User: "0:0"}, want: verdict{false, "USER 0:0: uid 0 (root)"}},
		{name: "0", cfg: customs.ImageConfig{User: "0"}, want: verdict{false, "USER 0: uid 0 (root)"}},
		{name: "uid with root group", cfg: customs.ImageConfig{User: "1000:0"}, want: verdict{true, "USER 1000:0"}},
		{name: "named user", cfg: customs.ImageConfig{User: "app"}, entries: []entry{passwd}, want: verdict{true, "USER app"}},
		{name: "name with uid 0", cfg: customs.ImageConfig{User: "toor"}, entries: []entry{passwd}, want: verdict{false, "USER toor: uid 0 (root) in /etc/passwd"}},
		{name: "name without passwd", cfg: customs.ImageConfig{User: "nonroot"}, want: verdict{true, "USER nonroot"}},
	})
}

func TestHealthcheck(t *testing.T) {
	runCases(t, "1.2", []ruleCase{
		{name: "none", want: verdict{false, "no HEALTHCHECK"}},
		{name: "disabled", cfg: customs.ImageConfig{Healthcheck: []string{"NONE"}}, want: verdict{false, "HEALTHCHECK NONE (disabled)"}},
		{name: "set", cfg: customs.ImageConfig{Healthcheck: []string{"CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"}},
			want: verdict{true, "HEALTHCHECK CMD-SHELL curl -f http://localhost:8080/ || exit 1"}},
	})
}

// Base image histories: the classic builder's, BuildKit's, and one
// written by another tool.
var (
	debianBase = []customs.HistoryEntry{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:6a1b2c3d4e5f in / "},
		{CreatedBy: "/bin/sh -c apt-get update", EmptyLayer: false},
		{CreatedBy: `/bin/sh -c #(nop)  CMD ["bash"]`, EmptyLayer: true},
	}
	alpineBase = []customs.HistoryEntry{
		{CreatedBy: "ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit"},
		{CreatedBy: `CMD ["/bin/sh"]`, EmptyLayer: true},
	}
	debuerreotypeBase = []customs.HistoryEntry{
		{CreatedBy: "# debian.sh --arch 'amd64' out/ 'bookworm' '@1734912000'", Comment: "debuerreotype 0.15"},
	}
)

func history(base []customs.HistoryEntry, own ...string) customs.ImageConfig {
	h := slices.Clone(base)
	for _, c := range own {
		op, _ := instruction(c)
		empty := op == "CMD" || op == "ENTRYPOINT" || op == "ENV" || op == "USER" || op == "EXPOSE" || op == "WORKDIR" || op == "LABEL"
		h = append(h, customs.HistoryEntry{CreatedBy: c, EmptyLayer: empty})
	}
	return customs.ImageConfig{History: h}
}

func TestUpdateAlone(t *testing.T) {
	runCases(t, "1.3", []ruleCase{
		// Scanned on its own, the base image's history is its own.
		{name: "the base image itself", cfg: history(debianBase), want: verdict{false, "RUN apt-get update"}},
		{name: "update in the base image does not count", cfg: history(debianBase, "/bin/sh -c apt-get install -y curl"),
			want: verdict{true, "no RUN step updates the package index without installing"}},
		{name: "classic update alone", cfg: history(debianBase, "/bin/sh -c apt-get update", "/bin/sh -c apt-get install -y curl"),
			want: verdict{false, "RUN apt-get update"}},
		{name: "buildkit update and install", cfg: history(debianBase,
			"RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* # buildkit"),
			want: verdict{true, "no RUN step updates the package index without installing"}},
		{name: "buildkit update alone with build args", cfg: history(alpineBase, "RUN |1 VERSION=1.2 /bin/sh -c apk update # buildkit"),
			want: verdict{false, "RUN apk update"}},
		{name: "apk add --no-cache", cfg: history(alpineBase, "RUN /bin/sh -c apk add --no-cache curl # buildkit"),
			want: verdict{true, "no RUN step updates the package index without installing"}},
		{name: "apt-get with options", cfg: history(debianBase, "RUN /bin/sh -c DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 -q update # buildkit"),
			want: verdict{false, "RUN DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 -q update"}},
		{name: "yum update alone", cfg: history(debuerreotypeBase, "RUN /bin/sh -c yum update -y # buildkit"), want: verdict{false, "RUN yum update -y"}},
		{name: "dnf makecache alone", cfg: history(debuerreotypeBase, "RUN /bin/sh -c dnf makecache # buildkit"), want: verdict{false, "RUN dnf makecache"}},
		{name: "upgrade counts as install", cfg: history(debianBase, "/bin/sh -c apt-get update && apt-get -y upgrade"),
			want: verdict{true, "no RUN step updates the package index without installing"}},
		{name: "path to the package manager", cfg: history(debianBase, "/bin/sh -c /usr/bin/apt-get update;"), want: verdict{false, "RUN /usr/bin/apt-get update;"}},
	})
}

func TestAdd(t *testing.T) {
	runCases(t, "1.4", []ruleCase{
		{name: "alpine image itself", cfg: history(alpineBase), want: verdict{true, "no ADD of a remote URL or an archive"}},
		{name: "COPY on alpine", cfg: history(alpineBase, "COPY app /app # buildkit"), want: verdict{true, "no ADD of a remote URL or an archive"}},
		{name: "remote URL", cfg: history(alpineBase, "ADD https://example.com/tool.sh /usr/local/bin/tool # buildkit"),
			want: verdict{false, "ADD https://example.com/tool.sh /usr/local/bin/tool (remote source)"}},
		{name: "archive", cfg: history(debianBase, "ADD --chown=app app.tar.gz /opt/ # buildkit"),
			want: verdict{false, "ADD --chown=app app.tar.gz /opt/ (archive)"}},
		{name: "json form", cfg: history(debianBase, `ADD ["https://example.com/a.sh", "/a.sh"] # buildkit`),
			want: verdict{false, `ADD ["https://example.com/a.sh", "/a.sh"] (remote source)`}},
		{name: "classic local file", cfg: history(debianBase, "/bin/sh -c #(nop) ADD file:0a1b2c3d in /app "),
			want: verdict{true, "no ADD of a remote URL or an archive"}},
		{name: "classic remote", cfg: history(debianBase, "/bin/sh -c #(nop) ADD https://example.com/x.tgz in /opt "),
			want: verdict{false, "ADD https://example.com/x.tgz in /opt (remote source)"}},
		{name: "base image's ADD does not count", cfg: history([]customs.HistoryEntry{
			{CreatedBy: "ADD rootfs.tar.xz / # buildkit"},
			{CreatedBy: "ADD https://example.com/base-tool /bin/ # buildkit"},
			{CreatedBy: `ENTRYPOINT ["/bin/base-tool"]`, EmptyLayer: true},
		}, "COPY . /src # buildkit"), want: verdict{true, "no ADD of a remote URL or an archive"}},
		{name: "archive to / after the first layer", cfg: history(alpineBase, "ADD overlay.tar / # buildkit"),
			want: verdict{false, "ADD overlay.tar / (archive)"}},
	})
}

func TestOwnHistory(t *testing.T) {
	tests := []struct {
		name string
		cfg  customs.ImageConfig
		want int
	}{
		{"no history", customs.ImageConfig{}, 0},
		{"base only", history(debianBase), 0},
		{"own layers after the base's CMD", history(debianBase, "COPY a /a # buildkit", `CMD ["/a"] # buildkit`), 3},
		{"two generations", history(debianBase, "RUN /bin/sh -c true # buildkit", `CMD ["x"] # buildkit`, "COPY b /b # buildkit"), 5},
		{"base without CMD", history(debuerreotypeBase, "RUN /bin/sh -c true # buildkit"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ownHistory(tc.cfg.History); got != tc.want {
				t.Errorf("ownHistory() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	env := func(kv ...string) customs.ImageConfig {
		return customs.ImageConfig{Env: append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, kv...)}
	}
	runCases(t, "1.5", []ruleCase{
		{name: "official image variables", cfg: env("GOSU_VERSION=1.17", "PYTHON_SHA256=24887b92e2afd4a2ac602419ad4b596372f67ac9b077190f459aba390faf5550", "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", "LANG=C.UTF-8"),
			want: verdict{true, "no secrets in ENV or labels"}},
		{name: "password file", cfg: env("POSTGRES_PASSWORD_FILE=/run/secrets/db", "DB_PASSWORD=/run/secrets/db"), want: verdict{true, "no secrets in ENV or labels"}},
		{name: "references and empty values", cfg: env("DB_PASSWORD=${DB_PASSWORD}", "API_TOKEN=", "USE_TOKEN=true", "TOKEN_URL=https://auth.example.com/token"),
			want: verdict{true, "no secrets in ENV or labels"}},
		{name: "AWS keys", cfg: env("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
			want: verdict{false, "ENV AWS_ACCESS_KEY_ID=AKIA…(20 chars) (AWS access key id), ENV AWS_SECRET_ACCESS_KEY=wJal…(40 chars) (secret-like name)"}},
		{name: "short password", cfg: env("MYSQL_ROOT_PASSWORD=hunter2"), want: verdict{false, "ENV MYSQL_ROOT_PASSWORD=…(7 chars) (secret-like name)"}},
		{name: "huawei cloud keys", cfg: env("HUAWEICLOUD_SDK_AK=QTWAOYTTINDUT2QVKYUC", "HUAWEICLOUD_SDK_SK=MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"),
			want: verdict{false, "ENV HUAWEICLOUD_SDK_AK=QTWA…(20 chars) (access key variable), ENV HUAWEICLOUD_SDK_SK=MFyf…(40 chars) (access key variable)"}},
		{name: "token in an innocent name", cfg: env("CI_SETUP=ghp_1234567890abcdefghijklmnopqrstuvwxyzAB"),
			want: verdict{false, "ENV CI_SETUP=ghp_…(42 chars) (GitHub token)"}},
		{name: "labels", cfg: customs.ImageConfig{Labels: map[string]string{
			"org.opencontainers.image.source": "https://github.com/example/app",
			"slack.hook":                      "xoxb-123456789012-abcdefghijkl",
			"auth":                            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		}}, want: verdict{false, "LABEL auth=eyJh…(92 chars) (JWT), LABEL slack.hook=xoxb…(30 chars) (Slack token)"}},
		{name: "private key", cfg: env("SSH_KEY=-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"),
			want: verdict{false, "ENV SSH_KEY=----…(94 chars) (private key)"}},
	})
}

func TestSecretNeverShown(t *testing.T) {
	secrets := []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "hunter2", "correct horse battery staple"}
	res := run(t, customs.ImageConfig{Env: []string{"AWS_SECRET_ACCESS_KEY=" + secrets[0], "DB_PASSWORD=" + secrets[1], "APP_SECRET=" + secrets[2]}})
	got := result(t, res, "1.5")
	if got.Passed {
		t.Fatal("rule 1.5 passed with secrets in ENV")
	}
	for _, s := range secrets {
		if strings.Contains(got.Current, s) || strings.Contains(got.Current, s[4:]) {
			t.Errorf("current value %q shows the secret %q", got.Current, s)
		}
	}
}

func TestSSHPort(t *testing.T) {
	runCases(t, "1.6", []ruleCase{
		{name: "none", want: verdict{true, "no exposed ports"}},
		{name: "http", cfg: customs.ImageConfig{ExposedPorts: []string{"8080/tcp", "2222/tcp"}}, want: verdict{true, "EXPOSE 8080/tcp 2222/tcp"}},
		{name: "ssh", cfg: customs.ImageConfig{ExposedPorts: []string{"80/tcp", "22/tcp"}}, want: verdict{false, "EXPOSE 22/tcp"}},
		{name: "udp 22", cfg: customs.ImageConfig{ExposedPorts: []string{"22/udp"}}, want: verdict{true, "EXPOSE 22/udp"}},
	})
}

func TestAccounts(t *testing.T) {
	debianShadow := file(0, "etc/shadow", testdata(t, "debian12/shadow"))
	debianPasswd := file(0, "etc/passwd", testdata(t, "debian12/passwd"))
	alpineShadow := file(0, "etc/shadow", testdata(t, "alpine320/shadow"))
	// Alpine images before 3.6 shipped root with an empty field (CVE-2019-5021).
	emptyRoot := file(0, "etc/shadow", "root:::0:::::\nbin:!::0:::::\n")
	weak := file(0, "etc/shadow", testdata(t, "debian12/shadow")+
		"legacy:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/:19880:0:99999:7:::\n"+
		"old:abJnggxhB/yWI:19880:0:99999:7:::\n"+
		"lockedmd5:!$1$saltsalt$qjXMvbEw8oaL.CzflDugX/:19880:0:99999:7:::\n"+
		"modern:$y$j9T$abcdefghijklmnop$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg:19880:0:99999:7:::\n")
	tests := []struct {
		name    string
		entries []entry
		want    map[string]verdict
	}{
		{"no files", nil, map[string]verdict{
			"2.1": {true, "no /etc/shadow or /etc/passwd"},
			"2.2": {true, "no /etc/shadow or /etc/passwd"},
			"2.3": {true, "no root entry in /etc/shadow or /etc/passwd"},
		}},
		{"debian", []entry{debianPasswd, debianShadow}, map[string]verdict{
			"2.1": {true, "no account has an empty password field"},
			"2.2": {true, "no MD5 or DES password hashes"},
			"2.3": {true, "root is locked"},
		}},
		{"alpine", []entry{alpineShadow}, map[string]verdict{
			"2.1": {true, "no account has an empty password field"},
			"2.3": {true, "root is locked"},
		}},
		{"empty root", []entry{emptyRoot}, map[string]verdict{
			"2.1": {false, "accounts with an empty password: root (/etc/shadow)"},
			"2.3": {false, "root has an empty password field in /etc/shadow"},
		}},
		{"weak hashes", []entry{debianPasswd, weak}, map[string]verdict{
			"2.1": {true, "no account has an empty password field"},
			"2.2": {false, "accounts with weak password hashes: legacy (MD5), old (DES)"},
		}},
		{"passwd without shadow entry", []entry{file(0, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nguest::1001:1001::/home/guest:/bin/sh\n"),
			file(0, "etc/shadow", "root:*:19880:0:99999:7:::\n")}, map[string]verdict{
			"2.1": {false, "accounts with an empty password: guest (/etc/passwd)"},
			"2.3": {true, "root is locked"},
		}},
		{"empty root replaced by a later layer", []entry{emptyRoot, file(1, "etc/shadow", testdata(t, "alpine320/shadow"))}, map[string]verdict{
			"2.1": {true, "no account has an empty password field"},
			"2.3": {true, "root is locked"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, customs.ImageConfig{}, tc.entries...)
			got := make(map[string]verdict)
			for id := range tc.want {
				got[id] = result(t, res, id)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("account rules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSudoers(t *testing.T) {
	debian := file(0, "etc/sudoers", testdata(t, "debian12/sudoers"))
	readme := file(0, "etc/sudoers.d/README", "#\n# The default /etc/sudoers file created on installation of the\n# sudo  package now includes the directive:\n#\n#\t@includedir /etc/sudoers.d\n")
	runCases(t, "2.4", []ruleCase{
		{name: "no sudo", want: verdict{true, "no /etc/sudoers"}},
		{name: "debian default", entries: []entry{debian, readme}, want: verdict{true, "no NOPASSWD: ALL rule"}},
		{name: "drop-in", entries: []entry{debian, file(1, "etc/sudoers.d/app", "app ALL=(ALL) NOPASSWD: ALL\n")},
			want: verdict{false, "/etc/sudoers.d/app: app ALL=(ALL) NOPASSWD: ALL"}},
		{name: "more tags", entries: []entry{file(0, "etc/sudoers", "%wheel ALL=(ALL:ALL) NOPASSWD:SETENV: ALL\n")},
			want: verdict{false, "/etc/sudoers: %wheel ALL=(ALL:ALL) NOPASSWD:SETENV: ALL"}},
		{name: "uid", entries: []entry{file(0, "etc/sudoers", "#1000 ALL=(ALL) NOPASSWD: ALL\n")},
			want: verdict{false, "/etc/sudoers: #1000 ALL=(ALL) NOPASSWD: ALL"}},
		{name: "continuation line", entries: []entry{file(0, "etc/sudoers", "deploy ALL=(root) \\\n  NOPASSWD: ALL\n")},
			want: verdict{false, "/etc/sudoers: deploy ALL=(root)    NOPASSWD: ALL"}},
		{name: "commented", entries: []entry{file(0, "etc/sudoers", "# %sudo ALL=(ALL) NOPASSWD: ALL\n")}, want: verdict{true, "no NOPASSWD: ALL rule"}},
		{name: "one command", entries: []entry{file(0, "etc/sudoers", "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart app\n")},
			want: verdict{true, "no NOPASSWD: ALL rule"}},
		{name: "password for ALL", entries: []entry{file(0, "etc/sudoers", "deploy ALL=(root) NOPASSWD: /bin/ls, PASSWD: ALL\n")},
			want: verdict{true, "no NOPASSWD: ALL rule"}},
		{name: "file sudo does not read", entries: []entry{debian, file(0, "etc/sudoers.d/app.bak", "app ALL=(ALL) NOPASSWD: ALL\n"),
			file(0, "etc/sudoers.d/app~", "app ALL=(ALL) NOPASSWD: ALL\n")}, want: verdict{true, "no NOPASSWD: ALL rule"}},
		{name: "drop-in deleted later", entries: []entry{debian, file(0, "etc/sudoers.d/app", "app ALL=(ALL) NOPASSWD: ALL\n"),
			{path: "etc/sudoers.d/app", layer: 1, gone: true}}, want: verdict{true, "no NOPASSWD: ALL rule"}},
	})
}

func TestSSHD(t *testing.T) {
	debian := file(0, "etc/ssh/sshd_config", testdata(t, "debian12/sshd_config"))
	type want struct{ root, password, empty verdict }
	tests := []struct {
		name    string
		entries []entry
		want    want
	}{
		{"no sshd", nil, want{
			verdict{true, "no /etc/ssh/sshd_config"}, verdict{true, "no /etc/ssh/sshd_config"}, verdict{true, "no /etc/ssh/sshd_config"}}},
		{"debian default", []entry{debian}, want{
			verdict{true, "PermitRootLogin prohibit-password (not set: sshd's default)"},
			verdict{false, "PasswordAuthentication yes (not set: sshd's default)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
		{"debian with a drop-in", []entry{debian, file(1, "etc/ssh/sshd_config.d/10-local.conf",
			"PermitRootLogin yes\npasswordauthentication no\nPermitEmptyPasswords=yes\n")}, want{
			verdict{false, "PermitRootLogin yes (/etc/ssh/sshd_config.d/10-local.conf)"},
			verdict{true, "PasswordAuthentication no (/etc/ssh/sshd_config.d/10-local.conf)"},
			verdict{false, "PermitEmptyPasswords yes (/etc/ssh/sshd_config.d/10-local.conf)"}}},
		{"include comes first", []entry{
			file(0, "etc/ssh/sshd_config", "Include sshd_config.d/*.conf\nPermitRootLogin no\nPasswordAuthentication no\n"),
			file(0, "etc/ssh/sshd_config.d/50-cloud.conf", "PasswordAuthentication yes\n"),
			file(0, "etc/ssh/sshd_config.d/99-root.conf", "PermitRootLogin yes\nPasswordAuthentication no\n"),
			file(0, "etc/ssh/sshd_config.d/notes.txt", "PermitEmptyPasswords yes\n"),
		}, want{
			verdict{false, "PermitRootLogin yes (/etc/ssh/sshd_config.d/99-root.conf)"},
			verdict{false, "PasswordAuthentication yes (/etc/ssh/sshd_config.d/50-cloud.conf)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
		{"drop-in without include", []entry{
			file(0, "etc/ssh/sshd_config", "PasswordAuthentication no\n"),
			file(0, "etc/ssh/sshd_config.d/10-root.conf", "PermitRootLogin yes\n"),
		}, want{
			verdict{true, "PermitRootLogin prohibit-password (not set: sshd's default)"},
			verdict{true, "PasswordAuthentication no (/etc/ssh/sshd_config)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
		{"first value wins", []entry{file(0, "etc/ssh/sshd_config", "PermitRootLogin no\nPermitRootLogin yes\nPASSWORDAUTHENTICATION YES\nPasswordAuthentication no\n")}, want{
			verdict{true, "PermitRootLogin no (/etc/ssh/sshd_config)"},
			verdict{false, "PasswordAuthentication YES (/etc/ssh/sshd_config)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
		{"match blocks are conditional", []entry{file(0, "etc/ssh/sshd_config", "PasswordAuthentication no\nMatch Address 10.0.0.0/8\n\tPermitRootLogin yes\n")}, want{
			verdict{true, "PermitRootLogin prohibit-password (not set: sshd's default)"},
			verdict{true, "PasswordAuthentication no (/etc/ssh/sshd_config)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
		// Files that include each other (hostile): each is read once, the
		// first value still wins, and the scan ends.
		{"include loop", append([]entry{file(0, "etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*\nPasswordAuthentication no\n")},
			func() []entry {
				var es []entry
				for i := range 8 {
					es = append(es, file(0, fmt.Sprintf("etc/ssh/sshd_config.d/%d.conf", i), "Include /etc/ssh/sshd_config.d/*\nInclude /etc/ssh/sshd_config\nPermitRootLogin yes\n"))
				}
				return es
			}()...), want{
			verdict{false, "PermitRootLogin yes (/etc/ssh/sshd_config.d/7.conf)"}, // depth first, as sshd reads
			verdict{true, "PasswordAuthentication no (/etc/ssh/sshd_config)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
		{"replaced by a later layer", []entry{
			file(0, "etc/ssh/sshd_config", "PermitRootLogin yes\n"),
			file(1, "etc/ssh/sshd_config", "PermitRootLogin no\nPasswordAuthentication no\n"),
		}, want{
			verdict{true, "PermitRootLogin no (/etc/ssh/sshd_config)"},
			verdict{true, "PasswordAuthentication no (/etc/ssh/sshd_config)"},
			verdict{true, "PermitEmptyPasswords no (not set: sshd's default)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, customs.ImageConfig{}, tc.entries...)
			got := want{result(t, res, "3.1"), result(t, res, "3.2"), result(t, res, "3.3")}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("sshd rules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetid(t *testing.T) {
	passwd := entry{path: "usr/bin/passwd", mode: 0o755 | fs.ModeSetuid, data: "ELF"}
	wall := entry{path: "usr/bin/wall", mode: 0o755 | fs.ModeSetgid, data: "ELF"}
	many := []entry{}
	for i := range 23 {
		many = append(many, entry{path: fmt.Sprintf("usr/bin/s%02d", i), mode: 0o755 | fs.ModeSetuid, data: "ELF"})
	}
	var listed []string
	for i := range 20 {
		listed = append(listed, fmt.Sprintf("/usr/bin/s%02d (4755)", i))
	}
	runCases(t, "4.1", []ruleCase{
		{name: "none", entries: []entry{file(0, "usr/bin/ls", "ELF")}, want: verdict{true, "no setuid or setgid files"}},
		{name: "two", entries: []entry{passwd, wall}, want: verdict{false, "2 setuid or setgid files: /usr/bin/passwd (4755), /usr/bin/wall (2755)"}},
		{name: "bit removed by a later layer", entries: []entry{passwd, {path: "usr/bin/passwd", mode: 0o755, data: "ELF", layer: 1}},
			want: verdict{true, "no setuid or setgid files"}},
		{name: "capped", entries: many, want: verdict{false, "23 setuid or setgid files: " + strings.Join(listed, ", ") + " and 3 more"}},
	})
}

func TestWorldWritable(t *testing.T) {
	runCases(t, "4.2", []ruleCase{
		{name: "temp dirs", entries: []entry{
			dir("tmp", 0o777|fs.ModeSticky), dir("var/tmp", 0o777|fs.ModeSticky), dir("tmp/.X11-unix", 0o777|fs.ModeSticky),
			{path: "var/tmp/scratch", mode: 0o666, data: "x"},
			{path: "app/link", mode: fs.ModeSymlink | 0o777},
			dir("app", 0o755),
		}, want: verdict{true, "no world-writable files or directories outside /tmp, /var/tmp, /dev/shm, /run/lock"}},
		{name: "sticky dir outside temp dirs", entries: []entry{dir("app", 0o777|fs.ModeSticky)}, want: verdict{false, "1 world-writable entries: /app (1777)"}},
		{name: "files and dirs", entries: []entry{dir("app", 0o755), dir("app/uploads", 0o777), {path: "app/config.yaml", mode: 0o666, data: "a: b"}, dir("tmp", 0o777|fs.ModeSticky)},
			want: verdict{false, "2 world-writable entries: /app/config.yaml (0666), /app/uploads (0777)"}},
		{name: "temp subdir without sticky bit", entries: []entry{dir("tmp", 0o777|fs.ModeSticky), dir("tmp/shared", 0o777)},
			want: verdict{false, "1 world-writable entries: /tmp/shared (0777, no sticky bit)"}},
		{name: "temp dir name prefix", entries: []entry{dir("tmpfiles", 0o777|fs.ModeSticky)}, want: verdict{false, "1 world-writable entries: /tmpfiles (1777)"}},
	})
}

const (
	opensshKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
	pkcs8Key   = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHjrcUn6tq8mSS8e6oK5Y4ZJp3bPo2wMx4tGJU0b6lYt\n-----END PRIVATE KEY-----\n"
	encKey     = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiX\n-----END ENCRYPTED PRIVATE KEY-----\n"
	cert       = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
)

func TestPrivateKeys(t *testing.T) {
	bigPEM := cert + strings.Repeat("#", 70<<10)
	runCases(t, "5.1", []ruleCase{
		{name: "none", entries: []entry{file(0, "etc/ssl/certs/ca.pem", cert), file(0, "root/.ssh/id_rsa.pub", "ssh-ed25519 AAAA"),
			file(0, "root/.ssh/authorized_keys", "ssh-ed25519 AAAA")}, want: verdict{true, "no private keys"}},
		{name: "keys", entries: []entry{
			file(0, "etc/ssh/ssh_host_ed25519_key", opensshKey),
			file(1, "root/.ssh/id_ed25519", opensshKey),
			file(1, "srv/tls/server.key", pkcs8Key),
			file(1, "srv/tls/backup.pem", cert+encKey),
			file(1, "home/app/.ssh/deploy", opensshKey),
		}, want: verdict{false, "5 private keys: /etc/ssh/ssh_host_ed25519_key (OPENSSH), /home/app/.ssh/deploy (OPENSSH), /root/.ssh/id_ed25519 (OPENSSH), /srv/tls/backup.pem (ENCRYPTED), /srv/tls/server.key (PKCS#8)"}},
		{name: "replaced by a later layer", entries: []entry{file(0, "root/.ssh/id_rsa", opensshKey), file(1, "root/.ssh/id_rsa", "removed\n")},
			want: verdict{true, "no private keys"}},
		{name: "deleted by a later layer", entries: []entry{file(0, "root/.ssh/id_rsa", opensshKey), {path: "root/.ssh", layer: 1, gone: true}},
			want: verdict{true, "no private keys"}},
		{name: "added back after a deletion", entries: []entry{file(0, "root/.ssh/id_rsa", "nothing"), {path: "root/.ssh/id_rsa", layer: 1, gone: true},
			file(2, "root/.ssh/id_rsa", opensshKey)}, want: verdict{false, "1 private keys: /root/.ssh/id_rsa (OPENSSH)"}},
		{name: "large pem is read only at its start", entries: []entry{file(0, "srv/bundle.pem", bigPEM+pkcs8Key)}, want: verdict{true, "no private keys"}},
	})
}

func TestCredentials(t *testing.T) {
	aws := file(0, "root/.aws/credentials", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
	runCases(t, "5.2", []ruleCase{
		{name: "none", entries: []entry{file(0, "root/.aws/config", "[default]\nregion = eu-west-1\n"),
			file(0, "root/.docker/config.json", `{"credsStore": "desktop", "auths": {"ghcr.io": {}}}`)}, want: verdict{true, "no credential files"}},
		{name: "files", entries: []entry{
			aws,
			file(0, "root/.docker/config.json", `{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}, "ghcr.io": {}}}`),
			file(0, "home/app/.git-credentials", "https://app:ghp_x@github.com\n"),
			file(0, "root/.netrc", "machine example.com login app password s3cret\n"),
			file(0, "root/.config/gcloud/application_default_credentials.json", `{"type": "authorized_user"}`),
			file(0, "root/.config/gcloud/legacy_credentials/app@example.com/adc.json", `{}`),
		}, want: verdict{false, "/home/app/.git-credentials (git credentials), /root/.aws/credentials (AWS secret access key), " +
			"/root/.docker/config.json (registry credentials for https://index.docker.io/v1/), /root/.netrc (password), " +
			"/root/.config/gcloud/application_default_credentials.json (gcloud credentials), /root/.config/gcloud/legacy_credentials/app@example.com/adc.json (gcloud credentials)"}},
		{name: "emptied by a later layer", entries: []entry{aws, file(1, "root/.aws/credentials", "")}, want: verdict{true, "no credential files"}},
		{name: "deleted by a later layer", entries: []entry{aws, {path: "root/.aws", layer: 1, gone: true}}, want: verdict{true, "no credential files"}},
	})
}

func TestWants(t *testing.T) {
	tests := []struct {
		path string
		size int64
		mode fs.FileMode
		want bool
	}{
		{"etc/shadow", 900, 0o640, true},
		{"etc/shadow", 2 << 20, 0o640, false},
		{"etc/passwd", 1200, 0o644, true},
		{"etc/ssh/sshd_config", 3000, 0o644, true},
		{"etc/ssh/sshd_config.d/10.conf", 30, 0o644, true},
		{"etc/sudoers.d/app", 30, 0o440, true},
		{"etc/sudoers.d/app.dpkg-old", 30, 0o440, false},
		{"root/.ssh/id_rsa", 2600, 0o600, true},
		{"srv/big.pem", 1 << 30, 0o644, true},
		{"etc/ssh/ssh_host_rsa_key.pub", 500, 0o644, false},
		{"usr/bin/ls", 140000, 0o755, false},
		{"etc/hosts", 100, 0o644, false},
		{"etc/shadow", 0, fs.ModeSymlink | 0o777, false},
		{"root/.docker/config.json", 200, 0o600, true},
	}
	s, err := (&Analyzer{}).Start(t.Context(), &analyzer.Image{Digest: "sha256:x", Layers: []string{"l"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		f := &analyzer.File{FileInfo: customs.FileInfo{Path: tc.path, Size: tc.size, Mode: tc.mode}}
		if got := s.Wants(f); got != tc.want {
			t.Errorf("Wants(%s, %d bytes, %v) = %t, want %t", tc.path, tc.size, tc.mode, got, tc.want)
		}
	}
}

func TestPartial(t *testing.T) {
	t.Run("unreadable file", func(t *testing.T) {
		res := run(t, customs.ImageConfig{},
			file(0, "etc/shadow", "root:::0:::::\n"),
			entry{path: "etc/shadow", data: "root:*::0:::::\n", layer: 1, broken: true})
		want := []customs.AnalyzerStatus{{Name: "baseline", Status: customs.AnalyzerPartial,
			Reason: "1 files could not be read; the first: read /etc/shadow: layer stream broken"}}
		if diff := cmp.Diff(want, res.Analyzers); diff != "" {
			t.Errorf("status mismatch (-want +got):\n%s", diff)
		}
		// The older, readable version is not in the image: it must not count.
		if got := result(t, res, "2.3"); !got.Passed {
			t.Errorf("rule 2.3 = %+v; the replaced shadow counted", got)
		}
	})
	t.Run("file too large", func(t *testing.T) {
		res := run(t, customs.ImageConfig{},
			file(0, "etc/shadow", "root:::0:::::\n"),
			file(1, "etc/shadow", "root:*::0:::::\n"+strings.Repeat("#\n", 1<<20)))
		want := []customs.AnalyzerStatus{{Name: "baseline", Status: customs.AnalyzerPartial,
			Reason: "not read, larger than 1048576 bytes or past 67108864 bytes of files read: /etc/shadow"}}
		if diff := cmp.Diff(want, res.Analyzers); diff != "" {
			t.Errorf("status mismatch (-want +got):\n%s", diff)
		}
		if got := result(t, res, "2.3"); !got.Passed {
			t.Errorf("rule 2.3 = %+v; the replaced shadow counted", got)
		}
	})
	t.Run("too much to keep", func(t *testing.T) {
		// A hostile image with many credential files: what is kept is
		// bounded; the files past the bound are reported, not read.
		var es []entry
		creds := "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
		big := creds + strings.Repeat("#", 1<<20-len(creds))
		for i := range 70 {
			es = append(es, file(0, fmt.Sprintf("home/u%02d/.aws/credentials", i), big))
		}
		res := run(t, customs.ImageConfig{}, es...)
		if st := res.Analyzers[0]; st.Status != customs.AnalyzerPartial || !strings.Contains(st.Reason, "/home/u69/.aws/credentials") || strings.Contains(st.Reason, "/home/u00/") {
			t.Errorf("status = %+v, want partial naming the files past the bound", st)
		}
		if got := result(t, res, "5.2"); got.Passed {
			t.Errorf("rule 5.2 = %+v, want failed on the files kept", got)
		}
	})
	t.Run("too large file replaced", func(t *testing.T) {
		res := run(t, customs.ImageConfig{},
			file(0, "etc/shadow", strings.Repeat("#\n", 1<<20)),
			file(1, "etc/shadow", "root:::0:::::\n"))
		if res.Analyzers[0].Status != customs.AnalyzerSucceeded {
			t.Errorf("status = %+v, want succeeded", res.Analyzers[0])
		}
		if got := result(t, res, "2.3"); got.Passed {
			t.Errorf("rule 2.3 = %+v, want failed", got)
		}
	})
}

func TestFinishCanceled(t *testing.T) {
	s, err := (&Analyzer{}).Start(t.Context(), &analyzer.Image{Digest: "sha256:x"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Finish(ctx, analyzer.NewFinal(), &customs.ScanResult{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Finish(canceled) = %v, want context.Canceled", err)
	}
}

func TestInstruction(t *testing.T) {
	tests := []struct {
		createdBy, op, args string
	}{
		{`/bin/sh -c #(nop)  CMD ["bash"]`, "CMD", `["bash"]`},
		{"/bin/sh -c #(nop) ADD file:0a1b in / ", "ADD", "file:0a1b in /"},
		{"/bin/sh -c apt-get update", "RUN", "apt-get update"},
		{"|2 A=1 B=2 /bin/sh -c make", "RUN", "make"},
		{"RUN |1 A=1 make install # buildkit", "RUN", "make install"},
		{"RUN /bin/sh -c apk add curl # buildkit", "RUN", "apk add curl"},
		{"COPY --from=build /out /app # buildkit", "COPY", "--from=build /out /app"},
		{"# debian.sh --arch 'amd64' out/ 'bookworm' '@1734912000'", "", "# debian.sh --arch 'amd64' out/ 'bookworm' '@1734912000'"},
		{"", "", ""},
	}
	for _, tc := range tests {
		op, args := instruction(tc.createdBy)
		if diff := cmp.Diff([]string{tc.op, tc.args}, []string{op, args}); diff != "" {
			t.Errorf("instruction(%q) mismatch (-want +got):\n%s", tc.createdBy, diff)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 4, "abcd…"},
		{"ab€cd", 3, "ab…"}, // never cuts a rune in two
	}
	for _, tc := range tests {
		if got := clip(tc.s, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestRootWithPassword(t *testing.T) {
	res := run(t, customs.ImageConfig{}, file(0, "etc/shadow", "root:$6$rounds=5000$salt$hash:19880:0:99999:7:::\n"))
	if diff := cmp.Diff(verdict{true, "root has a password hash"}, result(t, res, "2.3")); diff != "" {
		t.Errorf("rule 2.3 mismatch (-want +got):\n%s", diff)
	}
}
