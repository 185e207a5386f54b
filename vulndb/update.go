package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"customs"
)

// DefaultEcosystems are the OSV ecosystems of the packages Customs finds
// in images, as the OSV bucket names their directories.
var DefaultEcosystems = []string{"Alpine", "AlmaLinux", "Debian", "Ubuntu", "Rocky Linux", "Red Hat", "Go", "npm", "PyPI", "Maven"}

// DefaultMaxDownload bounds one downloaded all.zip. The largest OSV
// ecosystems publish a few hundred megabytes.
const DefaultMaxDownload = 2 << 30

// Updater downloads each ecosystem's all.zip from an OSV mirror and
// imports it.
type Updater struct {
	Store   Store
	Client  *http.Client // http.DefaultClient when nil
	BaseURL string       // e.g. https://osv-vulnerabilities.storage.googleapis.com
	// MaxDownload bounds one all.zip in bytes; DefaultMaxDownload when 0.
	MaxDownload int64
	// TempDir holds the downloads while they are imported; os.TempDir() when "".
	TempDir string
	Logger  *slog.Logger
}

// Update downloads <baseURL>/<Ecosystem>/all.zip for each ecosystem and
// imports each (one transaction per ecosystem). See Updater.Update.
func Update(ctx context.Context, st Store, client *http.Client, baseURL string, ecosystems []string) (Stats, error) {
	u := &Updater{Store: st, Client: client, BaseURL: baseURL}
	return u.Update(ctx, ecosystems)
}

// Update downloads <BaseURL>/<Ecosystem>/all.zip for each ecosystem (the
// name path-escaped: "Rocky%20Linux") into a temporary file and imports it
// as "<Ecosystem>/all.zip". A mirror that has no all.zip (HTTP 404) for one
// of DefaultEcosystems is skipped with a warning and listed in
// Stats.Missing, since a mirror may carry only some of them; for any other
// ecosystem it is an error naming the URL. The ecosystems imported before a
// failure stay imported; the returned Stats count them.
func (u *Updater) Update(ctx context.Context, ecosystems []string) (Stats, error) {
	if u.Logger == nil {
		u.Logger = slog.Default().With("component", "vulndb")
	}
	base, err := url.Parse(strings.TrimSuffix(u.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Stats{}, customs.Errorf(customs.EINVALID, "The advisory source %q is not an http or https URL (e.g. https://osv-vulnerabilities.storage.googleapis.com).", u.BaseURL)
	}
	if len(ecosystems) == 0 {
		return Stats{}, customs.Errorf(customs.EINVALID, "No ecosystem to update: name at least one (e.g. %q).", "Debian")
	}
	var total Stats
	for _, eco := range ecosystems {
		if eco == "" || strings.Contains(eco, "/") {
			return total, customs.Errorf(customs.EINVALID, "The ecosystem %q is not an OSV ecosystem name (e.g. %q, %q).", eco, "Debian", "Rocky Linux")
		}
		st, err := u.updateOne(ctx, base.String()+"/"+url.PathEscape(eco)+"/all.zip", eco)
		if err != nil {
			return total, err
		}
		total.add(st)
	}
	return total, nil
}

// notFoundError marks a source without the ecosystem.
type notFoundError struct{ url string }

func (e *notFoundError) Error() string { return "not found: " + e.url }

func (u *Updater) updateOne(ctx context.Context, src, eco string) (Stats, error) {
	path, err := u.download(ctx, src)
	if path != "" {
		defer os.Remove(path)
	}
	if nf := (*notFoundError)(nil); errors.As(err, &nf) {
		if slices.Contains(DefaultEcosystems, eco) {
			u.Logger.Warn("the advisory source has no data for an ecosystem; skipped", "ecosystem", eco, "url", src)
			return Stats{Missing: []string{eco}}, nil
		}
		return Stats{}, customs.Errorf(customs.ENOTFOUND, "The advisory source has no %s (HTTP 404): check the ecosystem name %q and the source URL.", src, eco)
	}
	if err != nil {
		return Stats{}, err
	}
	st, err := importPath(ctx, u.Store, path, eco+"/all.zip")
	if err != nil {
		return Stats{}, fmt.Errorf("import %s: %w", src, err)
	}
	u.Logger.Info("advisories updated", "ecosystem", eco, "read", st.Read, "added", st.Added, "updated", st.Updated, "withdrawn", st.Withdrawn)
	return st, nil
}

// download saves src into a temporary file and returns its path, which the
// caller removes (also on error, when not "").
func (u *Updater) download(ctx context.Context, src string) (string, error) {
	limit := u.MaxDownload
	if limit <= 0 {
		limit = DefaultMaxDownload
	}
	client := u.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", src, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", src, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", &notFoundError{url: src}
	case resp.StatusCode != http.StatusOK:
		return "", customs.Errorf(customs.EINVALID, "Downloading %s failed: the source answered HTTP %s.", src, resp.Status)
	case resp.ContentLength > limit:
		return "", customs.Errorf(customs.EINVALID, "%s is %d bytes, more than the limit of %d bytes.", src, resp.ContentLength, limit)
	}
	f, err := os.CreateTemp(u.TempDir, "osv-*.zip")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", src, err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return f.Name(), fmt.Errorf("download %s: %w", src, err)
	}
	if n > limit {
		return f.Name(), customs.Errorf(customs.EINVALID, "%s is more than the limit of %d bytes.", src, limit)
	}
	return f.Name(), nil
}
