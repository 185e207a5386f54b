package customs

import (
	"slices"
	"time"
)

// RegistryType is the kind of a registry (HSS registry_type).
type RegistryType string

const (
	// SwrPrivate is the project's primary registry: its images are private_image.
	SwrPrivate RegistryType = "SwrPrivate"
	// The others are enterprise registry instances: their images are instance_image.
	SwrEnterprise RegistryType = "SwrEnterprise"
	Harbor        RegistryType = "Harbor"
	Jfrog         RegistryType = "Jfrog"
	OtherRegistry RegistryType = "Other"
)

// RegistryTypes lists the registry types a registry can be created with.
var RegistryTypes = []RegistryType{SwrPrivate, SwrEnterprise, Harbor, Jfrog, OtherRegistry}

// Valid reports whether t is one of RegistryTypes.
func (t RegistryType) Valid() bool { return slices.Contains(RegistryTypes, t) }

// ImageType is the type of the images synchronized from a registry of type t.
func (t RegistryType) ImageType() ImageType {
	if t == SwrPrivate {
		return PrivateImage
	}
	return InstanceImage
}

// Registry access states (HSS status).
const (
	RegistryAccessing = "accessing" // created, not synchronized yet
	RegistrySuccess   = "success"   // the last synchronization reached it
	RegistryFail      = "fail"      // the last synchronization could not list it
)

// Registry is an OCI/Docker registry that Customs synchronizes images from.
type Registry struct {
	ID                  string
	ProjectID           string
	EnterpriseProjectID string
	Name                string
	Type                RegistryType
	Protocol            string // "http" or "https"
	Addr                string // host[:port]
	Username            string
	Password            string // in clear only in memory; stores keep it encrypted
	// Namespace, when set, limits synchronization to repositories in it.
	Namespace string

	Status         string // RegistryAccessing, RegistrySuccess or RegistryFail
	FailReason     string
	ImagesNum      int
	LatestSyncTime time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// ImageType is the type of the images synchronized from r.
func (r *Registry) ImageType() ImageType { return r.Type.ImageType() }

// URL is the registry's base URL, e.g. "https://registry.example.com:5000".
func (r *Registry) URL() string { return r.Protocol + "://" + r.Addr }

// RegistryFilter selects registries in a scope. Zero values do not filter.
type RegistryFilter struct {
	ID    string
	Name  string
	Types []RegistryType
}

// RegistryUpdate changes a registry. Nil fields are left as they are.
type RegistryUpdate struct {
	Protocol  *string
	Addr      *string
	Username  *string
	Password  *string
	Namespace *string
}

// RegistrySyncResult is what one synchronization learned about a registry.
type RegistrySyncResult struct {
	Status     string
	FailReason string
	ImagesNum  int
	SyncedAt   time.Time
}
