package oci_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"customs"
	"customs/oci"
)

func TestBlob(t *testing.T) {
	addr := newRegistry(t)
	layer, err := random.Layer(4096, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	img := dockerImage(t, linuxAMD64, created1, layer)
	pushImage(t, addr, "team/app", "v1", img)
	c, _ := pinged(t, anonymous(addr))

	want := readAll(t, must(layer.Compressed()))
	body, err := c.Blob(t.Context(), "team/app", must(layer.Digest()).String())
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, body)
	if !bytes.Equal(got, want) {
		t.Errorf("Blob() returned %d bytes that differ from the %d pushed", len(got), len(want))
	}

	_, err = c.Blob(t.Context(), "team/app", "sha256:"+string(bytes.Repeat([]byte("0"), 64)))
	if !errors.Is(err, oci.ErrNotFound) || customs.ErrorCode(err) != customs.ENOTFOUND {
		t.Errorf("Blob(missing) error = %v, want oci.ErrNotFound with code %s", err, customs.ENOTFOUND)
	}
	if _, err := c.Blob(t.Context(), "team/app", "latest"); err == nil {
		t.Error("Blob(\"latest\") succeeded; a blob reference must be a digest")
	}
}

func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
