package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"customs"
)

// Paging follows the distribution spec: the first request carries n=, each
// answer may carry a Link header to the next page, which is followed as
// given. go-containerregistry's remote.Catalogger and remote.Lister do the
// same, but each remote.Puller pings the registry again for every repository
// it touches; going through Client keeps one challenge and one token per
// repository, and lets Catalog hand each page over as it arrives.

// maxListBody bounds one page of a catalog or tag list.
const maxListBody = 32 << 20

// Catalog lists every repository of the registry, calling fn with each page
// in the registry's order. It stops at the first error fn returns, and
// returns it as is.
func (c *Client) Catalog(ctx context.Context, fn func(repos []string) error) error {
	rt, err := c.transport(ctx, catalogScope)
	if err != nil {
		return fmt.Errorf("list catalog of %s: %w", c.addr, err)
	}
	next := c.firstPage("/v2/_catalog")
	for next != "" {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		next, err = c.page(ctx, rt, next, &page)
		if err != nil {
			return fmt.Errorf("list catalog of %s: %w", c.addr, err)
		}
		if len(page.Repositories) > 0 {
			if err := fn(page.Repositories); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tags lists every tag of repo.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	if err := validRepository(repo); err != nil {
		return nil, err
	}
	rt, err := c.transport(ctx, repoScope(repo))
	if err != nil {
		return nil, fmt.Errorf("list tags of %s/%s: %w", c.addr, repo, err)
	}
	var tags []string
	next := c.firstPage("/v2/" + repo + "/tags/list")
	for next != "" {
		var page struct {
			Tags []string `json:"tags"`
		}
		next, err = c.page(ctx, rt, next, &page)
		if err != nil {
			return nil, fmt.Errorf("list tags of %s/%s: %w", c.addr, repo, err)
		}
		tags = append(tags, page.Tags...)
	}
	return tags, nil
}

func (c *Client) firstPage(path string) string {
	return c.baseURL + path + "?n=" + strconv.Itoa(c.pageSize)
}

// page GETs one page into v and returns the URL of the next one, or "".
func (c *Client) page(ctx context.Context, rt http.RoundTripper, u string, v any) (string, error) {
	resp, err := c.get(ctx, rt, http.MethodGet, u, "application/json")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListBody)).Decode(v); err != nil {
		return "", fmt.Errorf("read %s: %w", u, err)
	}
	next, err := c.nextPage(resp)
	if err != nil {
		return "", err
	}
	if next == u {
		return "", fmt.Errorf("registry links page %s to itself", u)
	}
	return next, nil
}

// nextPage returns the absolute URL of the rel="next" Link of resp, or "".
// A link to another host is refused: the client's credentials would follow it.
func (c *Client) nextPage(resp *http.Response) (string, error) {
	for _, h := range resp.Header.Values("Link") {
		for _, link := range strings.Split(h, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !isNextRel(params) {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				return "", fmt.Errorf("malformed Link header %q", h)
			}
			ref, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				return "", fmt.Errorf("malformed Link header %q: %w", h, err)
			}
			u := resp.Request.URL.ResolveReference(ref)
			if u.Scheme != c.registry.Scheme() || u.Host != c.registry.RegistryStr() {
				return "", fmt.Errorf("registry links the next page to another server: %s", u.Redacted())
			}
			return u.String(), nil
		}
	}
	return "", nil
}

func isNextRel(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "rel") && strings.Contains(" "+strings.Trim(v, `"`)+" ", " next ") {
			return true
		}
	}
	return false
}

// validRepository rejects a repository path the registry API cannot name.
func validRepository(repo string) error {
	if _, err := name.NewRepository(repo); err != nil || repo == "" {
		return customs.Errorf(customs.EINVALID, "repository %q is not valid: use lowercase path segments of letters, digits and separators (., _, -)", repo)
	}
	return nil
}
