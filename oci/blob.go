package oci

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Blob opens the blob digest of repo for reading. The caller closes it and
// verifies the content against the digest: the body is the registry's answer
// as served (registries may redirect to storage, which the client follows).
func (c *Client) Blob(ctx context.Context, repo, digest string) (io.ReadCloser, error) {
	if err := validRepository(repo); err != nil {
		return nil, err
	}
	if !isDigest(digest) {
		return nil, fmt.Errorf("blob reference %q is not a digest", digest)
	}
	rt, err := c.transport(ctx, repoScope(repo))
	if err != nil {
		return nil, fmt.Errorf("authenticate for %s: %w", repo, err)
	}
	resp, err := c.get(ctx, rt, http.MethodGet, c.baseURL+"/v2/"+repo+"/blobs/"+digest, "")
	if err != nil {
		return nil, fmt.Errorf("get blob %s of %s: %w", digest, repo, err)
	}
	return resp.Body, nil
}
