package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"customs"
)

// What Inspect computes is spec §1.2 (image_size, image_id, scannable) in
// /work/shared/spec/hss-api.md, through the fields of customs.Manifest.

// acceptManifests is the Accept header of manifest requests: every manifest
// type the client can classify, so the registry serves what it stores rather
// than converting it.
var acceptManifests = strings.Join([]string{
	string(types.OCIImageIndex),
	string(types.DockerManifestList),
	string(types.OCIManifestSchema1),
	string(types.DockerManifestSchema2),
	string(types.DockerManifestSchema1Signed),
	string(types.DockerManifestSchema1),
}, ", ")

const (
	maxManifestSize = 4 << 20 // what Distribution accepts on push
	maxConfigSize   = 8 << 20

	// ociArtifactManifest is the short-lived OCI 1.1 release-candidate
	// artifact manifest, which lists "blobs" instead of config and layers.
	ociArtifactManifest types.MediaType = "application/vnd.oci.artifact.manifest.v1+json"

	annotationCreated       = "org.opencontainers.image.created"
	annotationReferenceType = "vnd.docker.reference.type"
)

// Head returns the digest of the manifest repo:tag points at, with one HEAD
// request (a GET when the registry omits Docker-Content-Digest on HEAD).
func (c *Client) Head(ctx context.Context, repo, tag string) (string, error) {
	if err := validRepository(repo); err != nil {
		return "", err
	}
	if err := validReference(tag); err != nil {
		return "", err
	}
	digest, err := c.head(ctx, repo, tag)
	if err != nil {
		return "", fmt.Errorf("head manifest %s: %w", c.refString(repo, tag), err)
	}
	return digest, nil
}

func (c *Client) head(ctx context.Context, repo, tag string) (string, error) {
	rt, err := c.transport(ctx, repoScope(repo))
	if err != nil {
		return "", err
	}
	resp, err := c.get(ctx, rt, http.MethodHead, c.manifestURL(repo, tag), acceptManifests)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
		if _, err := v1.NewHash(d); err != nil {
			return "", fmt.Errorf("registry answered Docker-Content-Digest %q: %w", d, err)
		}
		return d, nil
	}
	raw, err := c.fetchManifest(ctx, rt, repo, tag)
	if err != nil {
		return "", err
	}
	return raw.digest, nil
}

// Inspect GETs the manifest at ref (a tag or a digest) and returns what it
// is. known(digest) is asked first for the manifest digest and for each index
// child that is not itself an index: when it returns a non-nil
// *customs.Manifest, that manifest is used and no further request is made for
// it. Inspect returns the manifest for ref and the new child manifests it had
// to fetch (so the caller can store them too). known may be nil.
//
// An image costs one manifest GET and one config blob GET; a schema-1
// manifest or an artifact costs the manifest GET alone; an index costs its own
// GET, one per child not known and one config blob for the chosen child.
func (c *Client) Inspect(ctx context.Context, repo, ref string, known func(digest string) *customs.Manifest) (m *customs.Manifest, children []*customs.Manifest, err error) {
	if err := validRepository(repo); err != nil {
		return nil, nil, err
	}
	if err := validReference(ref); err != nil {
		return nil, nil, err
	}
	if known == nil {
		known = func(string) *customs.Manifest { return nil }
	}
	if isDigest(ref) {
		if m := known(ref); m != nil {
			return m, nil, nil
		}
	}
	in := &inspection{c: c, repo: repo, known: known, fetched: map[string]*customs.Manifest{}}
	m, children, err = in.run(ctx, ref)
	if err != nil {
		return nil, nil, fmt.Errorf("inspect %s: %w", c.refString(repo, ref), err)
	}
	return m, children, nil
}

// inspection is one Inspect call.
type inspection struct {
	c       *Client
	rt      http.RoundTripper
	repo    string
	known   func(digest string) *customs.Manifest
	fetched map[string]*customs.Manifest // children fetched so far, by digest
}

func (in *inspection) run(ctx context.Context, ref string) (*customs.Manifest, []*customs.Manifest, error) {
	rt, err := in.c.transport(ctx, repoScope(in.repo))
	if err != nil {
		return nil, nil, err
	}
	in.rt = rt
	raw, err := in.c.fetchManifest(ctx, rt, in.repo, ref)
	if err != nil {
		return nil, nil, err
	}
	if !isDigest(ref) { // a digest was asked about before the GET
		if m := in.known(raw.digest); m != nil {
			return m, nil, nil
		}
	}
	if raw.mediaType.IsIndex() {
		return in.index(ctx, raw)
	}
	m, err := describe(raw)
	if err != nil {
		return nil, nil, err
	}
	if m.Kind == customs.KindImage {
		if err := in.readConfig(ctx, m); err != nil {
			return nil, nil, err
		}
	}
	return m, nil, nil
}

// index describes an index from its children: the known ones as they are,
// the others fetched (without their config, except for the chosen child).
func (in *inspection) index(ctx context.Context, raw *rawManifest) (*customs.Manifest, []*customs.Manifest, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw.body))
	if err != nil {
		return nil, nil, fmt.Errorf("parse index %s: %w", raw.digest, err)
	}
	m := &customs.Manifest{Digest: raw.digest, MediaType: string(raw.mediaType), Kind: customs.KindIndex}
	var entries []v1.Descriptor
	for _, d := range idx.Manifests {
		if isAttestation(d) {
			continue
		}
		entries = append(entries, d)
		m.Children = append(m.Children, customs.ChildImage{Digest: d.Digest.String(), Platform: platformOf(d.Platform)})
	}
	chosen := chooseChild(entries)

	var (
		children  []*customs.Manifest
		manifests = make([]*customs.Manifest, len(entries)) // nil for a nested index
	)
	for i, d := range entries {
		digest := d.Digest.String()
		// A nested index is listed but not fetched: describing it takes its
		// own children, and a partial Manifest stored under its digest would
		// be wrong wherever that digest is tagged on its own. Known or not,
		// it adds nothing, so the index is described the same either way.
		if d.MediaType.IsIndex() {
			continue
		}
		if km := in.known(digest); km != nil {
			if km.Kind != customs.KindIndex {
				manifests[i] = km
			}
			continue
		}
		if cm, ok := in.fetched[digest]; ok {
			manifests[i] = cm
			continue
		}
		craw, err := in.c.fetchManifest(ctx, in.rt, in.repo, digest)
		if err != nil {
			return nil, nil, missing(err, "index child "+digest)
		}
		if craw.mediaType.IsIndex() {
			continue
		}
		cm, err := describe(craw)
		if err != nil {
			return nil, nil, err
		}
		if cm.Kind == customs.KindImage {
			cm.Platform = platformOf(d.Platform)
			cm.Scannable = cm.Platform.OS == "linux"
			if i == chosen {
				if err := in.readConfig(ctx, cm); err != nil {
					return nil, nil, err
				}
			}
		}
		in.fetched[digest] = cm
		manifests[i] = cm
		children = append(children, cm)
	}

	// Size counts each distinct blob of the children once: platforms often
	// share layers (a COPY of the same files gives the same layer).
	blobs := map[string]int64{}
	for _, cm := range manifests {
		if cm != nil {
			for _, b := range cm.Blobs {
				blobs[b.Digest] = b.Size
			}
		}
	}
	for _, size := range blobs {
		m.Size += size
	}
	for _, cm := range manifests {
		if cm != nil && cm.Kind == customs.KindImage && cm.Scannable {
			m.Scannable = true
		}
	}
	if chosen >= 0 && manifests[chosen] != nil {
		cm := manifests[chosen]
		m.ConfigDigest = cm.ConfigDigest
		m.Created = cm.Created
		if m.Created.IsZero() && cm.Kind == customs.KindImage && cm.ConfigDigest != "" && in.fetched[cm.Digest] == nil {
			// A known child stored without its created time (it was not
			// the chosen child of the index it was first seen in).
			cfg, err := in.config(ctx, cm.ConfigDigest)
			if err != nil {
				return nil, nil, err
			}
			m.Created = cfg.created()
		}
	}
	return m, children, nil
}

// chooseChild returns the index of the linux/amd64 entry, else 0; -1 when
// there are none.
func chooseChild(entries []v1.Descriptor) int {
	for i, d := range entries {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			return i
		}
	}
	if len(entries) == 0 {
		return -1
	}
	return 0
}

// isAttestation reports whether an index entry is a BuildKit attestation
// (provenance, SBOM) rather than a platform image.
func isAttestation(d v1.Descriptor) bool {
	if d.Annotations[annotationReferenceType] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

func platformOf(p *v1.Platform) customs.Platform {
	if p == nil {
		return customs.Platform{}
	}
	return customs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// describe classifies a single manifest (not an index) from its body alone,
// with the blobs it references. An image still lacks what its config holds
// (Created, Platform, Scannable).
func describe(raw *rawManifest) (*customs.Manifest, error) {
	m := &customs.Manifest{Digest: raw.digest, MediaType: string(raw.mediaType)}
	if raw.mediaType.IsSchema1() {
		m.Kind = customs.KindSchema1
		return m, nil
	}
	var doc struct {
		v1.Manifest
		Blobs []v1.Descriptor `json:"blobs"`
	}
	if err := json.Unmarshal(raw.body, &doc); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", raw.digest, err)
	}
	var blobs []v1.Descriptor
	if doc.Config.Digest.Algorithm != "" {
		blobs = append(blobs, doc.Config)
		m.ConfigDigest = doc.Config.Digest.String()
	}
	blobs = append(blobs, doc.Layers...)
	blobs = append(blobs, doc.Blobs...)
	for _, b := range blobs {
		m.Size += b.Size
		m.Blobs = append(m.Blobs, customs.Blob{Digest: b.Digest.String(), MediaType: string(b.MediaType), Size: b.Size})
	}
	if isImage(raw.mediaType, &doc.Manifest) {
		m.Kind = customs.KindImage
		return m, nil
	}
	m.Kind = customs.KindArtifact
	if t, err := time.Parse(time.RFC3339, doc.Annotations[annotationCreated]); err == nil {
		m.Created = t.UTC()
	}
	return m, nil
}

// isImage reports whether a manifest is a runnable image: an image manifest
// type whose config is an image config and whose layers are all tar layers.
// Anything else (Helm charts, signatures, attestations, SBOMs, anything with
// an artifactType) is an artifact.
func isImage(mt types.MediaType, m *v1.Manifest) bool {
	if !mt.IsImage() || m.ArtifactType != "" || !m.Config.MediaType.IsConfig() {
		return false
	}
	for _, l := range m.Layers {
		if !l.MediaType.IsLayer() {
			return false
		}
	}
	return true
}

// imageConfig is the part of an image config that synchronization records.
type imageConfig struct {
	Created      string `json:"created"`
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
}

func (c *imageConfig) created() time.Time {
	t, err := time.Parse(time.RFC3339Nano, c.Created)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// readConfig completes image m from its config blob. A config that is not
// JSON leaves the image recorded but not scannable.
func (in *inspection) readConfig(ctx context.Context, m *customs.Manifest) error {
	cfg, err := in.config(ctx, m.ConfigDigest)
	if errors.Is(err, errNotJSON) {
		in.c.logger.DebugContext(ctx, "image config is not JSON: not scannable", "digest", m.Digest, "config", m.ConfigDigest)
		m.Scannable = false
		return nil
	}
	if err != nil {
		return err
	}
	m.Created = cfg.created()
	if cfg.OS != "" || cfg.Architecture != "" {
		m.Platform = customs.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	}
	m.Scannable = m.Platform.OS == "linux"
	return nil
}

var errNotJSON = errors.New("config is not JSON")

// config GETs and parses the config blob digest.
func (in *inspection) config(ctx context.Context, digest string) (*imageConfig, error) {
	resp, err := in.c.get(ctx, in.rt, http.MethodGet, in.c.baseURL+"/v2/"+in.repo+"/blobs/"+digest, "")
	if err != nil {
		return nil, missing(fmt.Errorf("get config blob %s: %w", digest, err), "config blob "+digest)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config blob %s: %w", digest, err)
	}
	if len(body) > maxConfigSize {
		return nil, fmt.Errorf("config blob %s is larger than %d bytes", digest, maxConfigSize)
	}
	if err := verify(digest, body); err != nil {
		return nil, fmt.Errorf("config blob %s: %w", digest, err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		return nil, errNotJSON
	}
	return &cfg, nil
}

// rawManifest is a manifest as served.
type rawManifest struct {
	digest    string
	mediaType types.MediaType
	body      []byte
}

// fetchManifest GETs the manifest at ref and checks its digest: against ref
// when ref is a digest, and against Docker-Content-Digest when the registry
// sends one.
func (c *Client) fetchManifest(ctx context.Context, rt http.RoundTripper, repo, ref string) (*rawManifest, error) {
	resp, err := c.get(ctx, rt, http.MethodGet, c.manifestURL(repo, ref), acceptManifests)
	if err != nil {
		return nil, fmt.Errorf("get manifest %s: %w", ref, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", ref, err)
	}
	if len(body) > maxManifestSize {
		return nil, fmt.Errorf("manifest %s is larger than %d bytes", ref, maxManifestSize)
	}
	raw := &rawManifest{mediaType: mediaTypeOf(resp.Header.Get("Content-Type"), body), body: body}

	var claimed []string
	if isDigest(ref) {
		claimed = append(claimed, ref)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != ref {
		claimed = append(claimed, h)
	}
	for _, d := range claimed {
		if err := verify(d, body); err != nil {
			// A signed schema-1 manifest's digest is that of its payload
			// without the signatures, not of the bytes served.
			if raw.mediaType == types.DockerManifestSchema1Signed {
				continue
			}
			return nil, fmt.Errorf("manifest %s: %w", ref, err)
		}
	}
	if len(claimed) > 0 {
		raw.digest = claimed[0]
	} else {
		sum := sha256.Sum256(body)
		raw.digest = "sha256:" + hex.EncodeToString(sum[:])
	}
	return raw, nil
}

// mediaTypeOf is the manifest's media type as served, or, when the
// Content-Type is generic, as the body states or its shape implies.
func mediaTypeOf(contentType string, body []byte) types.MediaType {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "", "application/json", "text/plain", "application/octet-stream", "binary/octet-stream":
	default:
		return types.MediaType(mt)
	}
	var probe struct {
		MediaType     string          `json:"mediaType"`
		SchemaVersion int             `json:"schemaVersion"`
		Signatures    json.RawMessage `json:"signatures"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return types.MediaType(mt)
	}
	switch {
	case probe.MediaType != "":
		return types.MediaType(probe.MediaType)
	case probe.SchemaVersion == 1 && probe.Signatures != nil:
		return types.DockerManifestSchema1Signed
	case probe.SchemaVersion == 1:
		return types.DockerManifestSchema1
	case probe.Manifests != nil:
		return types.OCIImageIndex
	case probe.Config != nil:
		return types.OCIManifestSchema1
	}
	return types.MediaType(mt)
}

// verify checks that body has digest ("algorithm:hex").
func verify(digest string, body []byte) error {
	alg, want, _ := strings.Cut(digest, ":")
	var h hash.Hash
	switch alg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return fmt.Errorf("digest %q: unsupported algorithm", digest)
	}
	h.Write(body)
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("content has digest %s:%s, not %s", alg, got, digest)
	}
	return nil
}

// missing turns a 404 for something a manifest references into a plain
// error: the tag still exists, the registry lost part of it, and callers
// must not take ErrNotFound to mean the tag is gone.
func missing(err error, what string) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s is missing from the registry", what)
	}
	return err
}

func (c *Client) manifestURL(repo, ref string) string {
	return c.baseURL + "/v2/" + repo + "/manifests/" + ref
}

// refString names repo:tag or repo@digest in messages.
func (c *Client) refString(repo, ref string) string {
	if isDigest(ref) {
		return c.addr + "/" + repo + "@" + ref
	}
	return c.addr + "/" + repo + ":" + ref
}

func isDigest(ref string) bool { return strings.Contains(ref, ":") }

// validReference rejects what is neither a tag nor a digest.
func validReference(ref string) error {
	if isDigest(ref) {
		if _, err := v1.NewHash(ref); err != nil {
			return customs.Errorf(customs.EINVALID, "digest %q is not valid: use algorithm:hex, e.g. sha256:<64 hex digits>", ref)
		}
		return nil
	}
	if !validTag(ref) {
		return customs.Errorf(customs.EINVALID, "tag %q is not valid: use 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", ref)
	}
	return nil
}

func validTag(tag string) bool {
	if tag == "" || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for _, r := range tag {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return false
		}
	}
	return true
}
