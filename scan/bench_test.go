package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"customs"
	"customs/analyzer"
	"customs/scan"
)

// nop is an analyzer that wants the files want says it wants and reads
// them to the end, finding nothing.
type nop struct{ want bool }

func (nop) Name() string    { return "nop" }
func (nop) Failure() string { return customs.FailScanSoftware }
func (n nop) Start(context.Context, *analyzer.Image) (analyzer.Scan, error) {
	return nopScan(n), nil
}

type nopScan nop

func (n nopScan) Wants(*analyzer.File) bool { return n.want }
func (nopScan) File(_ context.Context, _ *analyzer.File, c analyzer.Content) error {
	_, err := io.Copy(io.Discard, c)
	return err
}
func (nopScan) Finish(context.Context, *analyzer.Final, *customs.ScanResult) error { return nil }

// generatedLayers returns n gzipped layers of about size bytes of tar each,
// of files of 1 to 64 KiB of text-like content, and their tar bytes in all.
func generatedLayers(b *testing.B, n int, size int) ([]v1.Layer, int64) {
	b.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while libc links " +
		"packages versions config etc usr lib bin share doc 0 1 2 3 4 5 6 7 8 9 == != {} ();")
	var corpus strings.Builder
	for corpus.Len() < 4<<20 {
		corpus.WriteString(words[r.IntN(len(words))])
		corpus.WriteByte(" \n"[r.IntN(2)])
	}
	text := corpus.String()

	var layers []v1.Layer
	var total int64
	for l := range n {
		var tarBytes countingWriter
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(io.MultiWriter(zw, &tarBytes))
		for i := 0; tarBytes.n < int64(size); i++ {
			fsize := 1<<10 + r.IntN(63<<10)
			off := r.IntN(len(text) - fsize)
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("layer%d/dir%d/file%d", l, i%100, i), Size: int64(fsize), Mode: 0o644}
			if err := tw.WriteHeader(hdr); err != nil {
				b.Fatal(err)
			}
			if _, err := io.WriteString(tw, text[off:off+fsize]); err != nil {
				b.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		total += tarBytes.n
		layers = append(layers, static.NewLayer(buf.Bytes(), types.DockerLayer))
	}
	return layers, total
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkScan scans a generated image of about 100 MB of tar (4 gzipped
// layers of small files) from the blob cache. Bytes are the layers'
// decompressed tar bytes.
func BenchmarkScan(b *testing.B) {
	reg := newRegistry(b)
	layers, total := generatedLayers(b, 4, 25<<20)
	m := reg.push(b, "bench/image", "latest", image(b, v1.Config{}, layers...))
	src := reg.source(b, "bench/image")
	cache := newCache(b, filepath.Join(b.TempDir(), "cache"), 1<<30)
	for _, bc := range []struct {
		name string
		a    nop
	}{
		{"wants none", nop{want: false}},
		{"reads every file", nop{want: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &scan.Scanner{Cache: cache, Analyzers: []analyzer.Analyzer{bc.a}, TempDir: b.TempDir(), Logger: quietLogger()}
			if _, err := s.Scan(b.Context(), src, m); err != nil { // fills the cache
				b.Fatal(err)
			}
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Scan(b.Context(), src, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
