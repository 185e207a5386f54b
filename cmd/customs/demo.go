package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"customs"
)

func (m *Main) demoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the service with two sample registries, synchronized, on a temporary data directory",
		Long: "Run the service on its embedded defaults with sample images: two registries served in-process on\n" +
			"loopback (a primary registry and a Harbor-type instance), several namespaces and tags, a multi-arch\n" +
			"index, a Windows image and a Helm chart, registered and synchronized. It prints the admin\n" +
			"credentials and curl commands, and serves until interrupted. With --data it keeps its data there.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("data") && m.Getenv("CUSTOMS_DATA") == "" {
				dir, err := os.MkdirTemp("", "customs-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				m.Config.DataDir = dir
			}
			if m.Getenv("CUSTOMS_LOG_LEVEL") == "" {
				// Keep the terminal for the instructions and the curl output.
				m.Config.LogLevel = slog.LevelWarn
			}
			if m.Config.AdminPassword == "" {
				m.Config.AdminPassword = "demo-" + customs.ImageIDFromConfig(randomID())[:12]
			}
			primary, stopPrimary, err := startDemoRegistry(filepath.Join(m.Config.DataDir, "demo-registry-primary"))
			if err != nil {
				return err
			}
			defer stopPrimary()
			harbor, stopHarbor, err := startDemoRegistry(filepath.Join(m.Config.DataDir, "demo-registry-harbor"))
			if err != nil {
				return err
			}
			defer stopHarbor()
			if err := seedPrimary(ctx, primary); err != nil {
				return fmt.Errorf("seed sample images: %w", err)
			}
			if err := seedHarbor(ctx, harbor); err != nil {
				return fmt.Errorf("seed sample images: %w", err)
			}
			if err := m.Open(ctx); err != nil {
				m.Close()
				return err
			}
			defer m.Close()
			if err := m.importDemoAdvisories(ctx); err != nil {
				return fmt.Errorf("sample advisories: %w", err)
			}
			p, err := m.project(ctx, "")
			if err != nil {
				return err
			}
			scope := customs.ProjectScope(p.ID)
			for _, r := range []*customs.Registry{
				{Name: "demo-swr", Type: customs.SwrPrivate, Protocol: "http", Addr: primary},
				{Name: "demo-harbor", Type: customs.Harbor, Protocol: "http", Addr: harbor},
			} {
				if err := m.DB.CreateRegistry(ctx, scope, r); err != nil && customs.ErrorCode(err) != customs.ECONFLICT {
					return err
				}
			}
			task, err := m.Runner.RunSync(ctx, scope, customs.SyncRequest{Trigger: customs.TriggerManual, All: true}, nil)
			if err != nil {
				return err
			}
			if task.State != customs.TaskFinished {
				return fmt.Errorf("synchronizing the sample registries: %s: %s", task.State, task.FailedReason)
			}
			if m.Config.ScanWorkers > 0 && m.Config.ScanOnSync {
				fmt.Fprintln(m.Stdout, "Scanning the sample images...")
				if err := m.waitForScans(ctx, 5*time.Minute); err != nil {
					return err
				}
			}
			legacyID, err := m.legacyImageID(ctx, p)
			if err != nil {
				return err
			}
			m.printDemo(p, task, legacyID)
			<-ctx.Done()
			fmt.Fprintln(m.Stdout, "Shutting down.")
			return nil
		},
	}
	cmd.Flags().String("addr", m.Config.Addr, "listen address (CUSTOMS_ADDR)")
	return cmd
}

func (m *Main) printDemo(p *customs.Project, task *customs.SyncTask, legacyID string) {
	url := m.Server.URL()
	password := m.Config.AdminPassword
	if m.Bootstrap == nil || !m.Bootstrap.Created {
		password = "<the admin password of this data directory>"
	}
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":"%s","domain":{"name":"admin"}}}},"scope":{"project":{"id":"%s"}}}}`, password, p.ID)
	fmt.Fprintf(m.Stdout, `
Customs demo is serving the HSS API on %[1]s
  data directory  %[2]s
  region          %[3]s (project id %[4]s)
  domain / user   admin / admin
  password        %[5]s
  synchronized    %[6]d image versions from two sample registries

Get a token:

  TOKEN=$(curl -si %[1]s/v3/auth/tokens -H 'Content-Type: application/json' \
    -d '%[7]s' \
    | tr -d '\r' | awk 'tolower($1)=="x-subject-token:" {print $2}')

List the private images, newest first:

  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/swr-repository?image_type=private_image&limit=20'

Only the latest version of each image, only namespace library, a multi-arch index, the instance registry:

  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/swr-repository?image_type=private_image&latest_version=true'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/swr-repository?image_type=private_image&namespace=library'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/swr-repository?image_type=private_image&image_name=busybox'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/swr-repository?image_type=instance_image'

Scan results: the vulnerabilities, malicious files and unsafe settings of payments/legacy:2.3.0 (its
image id is in the list's image_id field):

  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/swr-repository?image_type=private_image&image_name=legacy'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/%[8]s/vulnerabilities?image_type=private_image&namespace=payments&image_name=legacy&tag_name=2.3.0'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/%[8]s/malwares?image_type=private_image&namespace=payments&image_name=legacy&tag_name=2.3.0'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/baseline/risk-configs?image_type=private_image&namespace=payments&image_name=legacy&image_version=2.3.0'

Scan an image again:

  curl -s -H "X-Auth-Token: $TOKEN" -X POST -d '{"image_type":"private_image","image_info_list":[{"namespace":"payments","image_name":"legacy","image_version":"2.3.0"}]}' '%[1]s/v5/%[4]s/image/batch-scan'

Synchronize again and follow the task:

  curl -s -H "X-Auth-Token: $TOKEN" -X POST -d '{"image_type":"private_image"}' '%[1]s/v5/%[4]s/image/synchronize'
  curl -s -H "X-Auth-Token: $TOKEN" '%[1]s/v5/%[4]s/image/tasks?type=image_sync'

Press Ctrl-C to stop.
`, url, m.Config.DataDir, m.Config.Region, p.ID, password, task.Succeeded, body, legacyID)
}

// startDemoRegistry serves an in-process registry on loopback with its blobs
// in dir, and returns its address.
func startDemoRegistry(dir string) (addr string, stop func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)), registry.Logger(discardLogger())), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// sampleImage is a small image with a realistic configuration.
type sampleImage struct {
	os, arch, variant string
	created           string // RFC 3339
	files             map[string]string
	user              string
	env, cmd          []string
	ports             []string
	labels            map[string]string
}

func (s sampleImage) build() (v1.Image, error) {
	files := map[string][]byte{}
	for p, c := range s.files {
		files[p] = []byte(c)
	}
	layer, err := crane.Layer(files)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	created, err := time.Parse(time.RFC3339, s.created)
	if err != nil {
		return nil, err
	}
	cf.OS, cf.Architecture, cf.Variant, cf.Created = s.os, s.arch, s.variant, v1.Time{Time: created}
	cf.Config = v1.Config{User: s.user, Env: s.env, Cmd: s.cmd, Labels: s.labels}
	if len(s.ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

func linux(arch, created string, files map[string]string) sampleImage {
	return sampleImage{os: "linux", arch: arch, created: created, files: files, env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
}

func osRelease(id, version, pretty string) map[string]string {
	return map[string]string{"etc/os-release": fmt.Sprintf("PRETTY_NAME=%q\nID=%s\nVERSION_ID=%q\n", pretty, id, version)}
}

func push(ctx context.Context, addr, repo string, img v1.Image, tags ...string) error {
	for _, tag := range tags {
		ref, err := name.NewTag(addr+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return nil
}

func seedPrimary(ctx context.Context, addr string) error {
	debian := osRelease("debian", "12", "Debian GNU/Linux 12 (bookworm)")
	alpine := func(v string) map[string]string { return osRelease("alpine", v, "Alpine Linux v"+v) }
	images := []struct {
		repo string
		img  sampleImage
		tags []string
	}{
		{"library/nginx", withPorts(linux("amd64", "2024-04-16T10:00:00Z", debian), "80/tcp"), []string{"1.25.5"}},
		{"library/nginx", withPorts(linux("amd64", "2024-06-12T10:00:00Z", debian), "80/tcp"), []string{"1.27.0", "latest"}},
		{"library/alpine", linux("amd64", "2024-01-26T09:00:00Z", alpine("3.19")), []string{"3.19"}},
		{"library/alpine", linux("amd64", "2024-05-22T09:00:00Z", alpine("3.20")), []string{"3.20", "latest"}},
		{"payments/api", withUser(linux("amd64", "2025-02-03T14:00:00Z", debian), "10001"), []string{"v1.4.0"}},
		{"payments/api", withUser(linux("amd64", "2025-03-10T14:00:00Z", debian), "10001"), []string{"v1.5.0"}},
		{"payments/api", linux("amd64", "2025-03-18T08:30:00Z", debian), []string{"v1.5.1"}},
		{"payments/worker", linux("amd64", "2025-03-18T08:35:00Z", debian), []string{"v1.5.1"}},
		{"payments/legacy", legacyImage(), []string{"2.3.0"}},
		{"tools/win-agent", sampleImage{os: "windows", arch: "amd64", created: "2024-11-05T12:00:00Z", files: map[string]string{"Files/agent.exe": "MZ"}}, []string{"1.0"}},
	}
	for _, i := range images {
		img, err := i.img.build()
		if err != nil {
			return err
		}
		if err := push(ctx, addr, i.repo, img, i.tags...); err != nil {
			return err
		}
	}
	// A multi-arch index with three Linux platforms.
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}} {
		s := linux(p.Architecture, "2024-09-30T00:00:00Z", map[string]string{"bin/busybox": "busybox " + p.Architecture})
		s.variant = p.Variant
		img, err := s.build()
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	ref, err := name.NewTag(addr+"/library/busybox:1.36", name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return pushHelmChart(ctx, addr, "charts/webapp", "0.3.0")
}

func seedHarbor(ctx context.Context, addr string) error {
	alpine := osRelease("alpine", "3.20", "Alpine Linux v3.20")
	for _, i := range []struct {
		repo, created string
		tags          []string
	}{
		{"team-a/frontend", "2025-01-10T16:00:00Z", []string{"2.0.0"}},
		{"team-a/frontend", "2025-02-14T16:00:00Z", []string{"2.1.0"}},
		{"team-a/backend", "2025-02-14T16:05:00Z", []string{"2.1.0"}},
	} {
		img, err := withPorts(linux("amd64", i.created, alpine), "8080/tcp").build()
		if err != nil {
			return err
		}
		if err := push(ctx, addr, i.repo, img, i.tags...); err != nil {
			return err
		}
	}
	return nil
}

func withPorts(s sampleImage, ports ...string) sampleImage { s.ports = ports; return s }
func withUser(s sampleImage, user string) sampleImage      { s.user = user; return s }

// pushHelmChart pushes a Helm chart as an OCI artifact: listed, never scanned.
func pushHelmChart(ctx context.Context, addr, repo, tag string) error {
	config := static.NewLayer([]byte(`{"name":"webapp","version":"0.3.0","apiVersion":"v2"}`), "application/vnd.cncf.helm.config.v1+json")
	chart := static.NewLayer([]byte("chart archive"), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
	r, err := name.NewRepository(addr+"/"+repo, name.Insecure)
	if err != nil {
		return err
	}
	var descs []v1.Descriptor
	for _, l := range []v1.Layer{config, chart} {
		if err := remote.WriteLayer(r, l, remote.WithContext(ctx)); err != nil {
			return err
		}
		d, _ := l.Digest()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		descs = append(descs, v1.Descriptor{MediaType: mt, Digest: d, Size: size})
	}
	manifest, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: descs[0], Layers: descs[1:],
		Annotations: map[string]string{"org.opencontainers.image.created": "2025-03-01T00:00:00Z"},
	})
	if err != nil {
		return err
	}
	return remote.Put(r.Tag(tag), rawManifest{body: manifest, mediaType: types.OCIManifestSchema1}, remote.WithContext(ctx))
}

type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return "sha256:" + hex.EncodeToString(b[:])
}
