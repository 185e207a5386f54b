package customs

import "time"

// ManifestKind classifies what a manifest digest points at.
type ManifestKind string

const (
	KindImage    ManifestKind = "image"    // a single-platform image manifest (Docker schema 2 or OCI)
	KindIndex    ManifestKind = "index"    // a multi-platform index or Docker manifest list
	KindSchema1  ManifestKind = "schema1"  // a Docker schema-1 manifest: listed, never scanned
	KindArtifact ManifestKind = "artifact" // an OCI artifact that is not an image (Helm chart, signature, SBOM, ...)
)

// Manifest is what synchronization learns about one manifest digest. It is
// content-addressed: the same digest in any tag, registry or project has the
// same Manifest, so it is fetched once.
type Manifest struct {
	Digest    string
	MediaType string
	Kind      ManifestKind
	// ConfigDigest is the image config digest ("sha256:..."); for an index,
	// the config of the linux/amd64 child if there is one, else of the first.
	ConfigDigest string
	// Size is spec §1.2 image_size: config + layers as the manifest states
	// them; for an index, the sum over the distinct blobs of its children.
	Size int64
	// Created is the image config's created time (for an index, the chosen
	// child's), or an artifact's org.opencontainers.image.created annotation;
	// zero when unknown.
	Created  time.Time
	Platform Platform // single-platform images
	// Scannable is false for non-Linux platforms, schema-1 manifests and
	// artifacts; an index is scannable when any child is.
	Scannable bool
	Children  []ChildImage // index only, in index order
	// Blobs are the blobs an image or artifact manifest references: its
	// config first, then its layers, as listed. Empty for an index or a
	// schema-1 manifest.
	Blobs []Blob
}

// Blob is a blob a manifest references.
type Blob struct {
	Digest    string
	MediaType string
	Size      int64
}

// ImageIDFromConfig is the image_id of a config digest: its hex, without the algorithm.
func ImageIDFromConfig(configDigest string) string {
	for i := 0; i < len(configDigest); i++ {
		if configDigest[i] == ':' {
			return configDigest[i+1:]
		}
	}
	return configDigest
}

// TagState is the stored state of one tag, as synchronization compares it
// with the registry.
type TagState struct {
	Tag       string
	Digest    string
	UpdatedAt time.Time
}

// RepositoryUpdate is the new state of one repository of a registry, as a
// synchronization found it. Stores apply it in one transaction and write
// only what differs from what they hold.
type RepositoryUpdate struct {
	Namespace string
	Name      string
	// Upserts are tags that are new or whose digest changed. The manifest of
	// each Digest must have been stored with PutManifests first.
	Upserts []TagState
	// Deletes are tags that vanished from the registry.
	Deletes []string
	// DeleteAll removes every tag of the repository (it vanished from the catalog).
	DeleteAll bool
}

// SyncCounts counts the rows a synchronization changed.
type SyncCounts struct {
	Added   int
	Updated int
	Removed int
}

// Add returns the sum of c and o.
func (c SyncCounts) Add(o SyncCounts) SyncCounts {
	return SyncCounts{Added: c.Added + o.Added, Updated: c.Updated + o.Updated, Removed: c.Removed + o.Removed}
}
