package reposync_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"customs"
	"customs/internal/testregistry"
	"customs/oci"
	"customs/reposync"
)

// BenchmarkSync measures the synchronization of a Distribution registry
// holding CUSTOMS_BENCH_TAGS tags (default 10,000), ten per repository: the
// first sync into an empty store, and a re-sync with nothing changed. It
// reports the requests the client sent per tag (listing requests, which do
// not grow with tags, also on their own), manifest GETs per tag and tags per
// second.
func BenchmarkSync(b *testing.B) {
	nTags := 10000
	if s := os.Getenv("CUSTOMS_BENCH_TAGS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("CUSTOMS_BENCH_TAGS=%q: want a positive number of tags", s)
		}
		nTags = n
	}
	const tagsPerRepo = 10
	reg := testregistry.Start(b)
	pushBench(b, reg.Addr, nTags, tagsPerRepo)

	counter := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	newSyncer := func(b *testing.B) (*reposync.Syncer, *customs.Registry) {
		b.Helper()
		db := openStore(b, time.Now)
		p := &customs.Project{Name: "local-1", Enabled: true}
		if _, err := db.Bootstrap(b.Context(), &customs.Domain{Name: "admin"}, &customs.User{Name: "admin"}, p); err != nil {
			b.Fatal(err)
		}
		r := &customs.Registry{Name: "bench", Type: customs.Harbor, Protocol: "http", Addr: reg.Addr}
		if err := db.CreateRegistry(b.Context(), customs.ProjectScope(p.ID), r); err != nil {
			b.Fatal(err)
		}
		s := &reposync.Syncer{
			Store:  db,
			Dial:   dialer(oci.WithTransport(counter)),
			Logger: slog.New(slog.DiscardHandler),
		}
		return s, r
	}
	syncOnce := func(b *testing.B, s *reposync.Syncer, r *customs.Registry) {
		b.Helper()
		res, err := s.SyncRegistry(b.Context(), r, func(reposync.Progress) {})
		if err != nil {
			b.Fatal(err)
		}
		if res.Images != nTags || len(res.Failed) != 0 {
			b.Fatalf("synchronized %d images with %d failures, want %d and none", res.Images, len(res.Failed), nTags)
		}
	}
	report := func(b *testing.B) {
		var total, listing, manifestGETs float64
		for _, req := range counter.take() {
			total++
			switch {
			case req == "GET /v2/", strings.HasPrefix(req, "GET /v2/_catalog"), strings.Contains(req, "/tags/list"):
				listing++
			case strings.HasPrefix(req, "GET ") && strings.Contains(req, "/manifests/"):
				manifestGETs++
			}
		}
		tags := float64(nTags * b.N)
		b.ReportMetric(total/tags, "requests/tag")
		b.ReportMetric(listing/float64(b.N), "listing-requests/op")
		b.ReportMetric(manifestGETs/tags, "manifest-GETs/tag")
		b.ReportMetric(tags/b.Elapsed().Seconds(), "tags/s")
	}

	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s, r := newSyncer(b)
			counter.take()
			b.StartTimer()
			syncOnce(b, s, r)
		}
		report(b)
	})
	b.Run("resync", func(b *testing.B) {
		s, r := newSyncer(b)
		syncOnce(b, s, r)
		counter.take()
		for b.Loop() {
			syncOnce(b, s, r)
		}
		report(b)
	})
}

// pushBench pushes nTags images, tagsPerRepo per repository. They share one
// small layer and each has its own config (a label), so every tag has its
// own digest while each push uploads only a config and a manifest.
func pushBench(b *testing.B, addr string, nTags, tagsPerRepo int) {
	b.Helper()
	start := time.Now()
	layer := static.NewLayer([]byte("customs benchmark layer"), types.DockerLayer)
	base, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		b.Fatal(err)
	}
	base = withConfig(b, base, linuxAMD64, created1, nil)
	cfg, err := base.ConfigFile()
	if err != nil {
		b.Fatal(err)
	}
	pusher, err := remote.NewPusher(remote.WithContext(b.Context()), remote.WithTransport(http.DefaultTransport.(*http.Transport).Clone()))
	if err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(16)
	for i := range nTags {
		g.Go(func() error {
			cf := cfg.DeepCopy()
			cf.Created = v1.Time{Time: created1.Add(time.Duration(i) * time.Second)}
			cf.Config.Labels = map[string]string{"customs.bench": strconv.Itoa(i)}
			img, err := mutate.ConfigFile(base, cf)
			if err != nil {
				return err
			}
			r, err := name.ParseReference(fmt.Sprintf("%s/bench/repo-%04d:v%d", addr, i/tagsPerRepo, i%tagsPerRepo), name.Insecure)
			if err != nil {
				return err
			}
			return pusher.Push(b.Context(), r, img)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("push: %v", err)
	}
	b.Logf("pushed %d tags in %d repositories in %v", nTags, (nTags+tagsPerRepo-1)/tagsPerRepo, time.Since(start).Round(time.Millisecond))
}
