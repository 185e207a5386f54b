package customs

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
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

// Validate checks a registry's fields as the API names them (registry_name,
// registry_type, protocol, registry_addr, registry_username,
// registry_password, namespace) and returns an EINVALID error naming the
// first that is wrong, what was given and what is allowed.
func (r *Registry) Validate() error {
	switch {
	case r.Name == "" || len(r.Name) > 128:
		return Errorf(EINVALID, "Invalid parameter registry_name: %q; allowed: 1 to 128 characters.", r.Name)
	case !r.Type.Valid():
		return Errorf(EINVALID, "Invalid parameter registry_type: %q; allowed: SwrPrivate, SwrEnterprise, Harbor, Jfrog, Other.", r.Type)
	}
	return RegistryUpdate{Protocol: &r.Protocol, Addr: &r.Addr, Username: &r.Username, Password: &r.Password, Namespace: &r.Namespace}.Validate()
}

// Validate checks the fields an update sets, as Registry.Validate does. An
// empty Namespace removes the registry's namespace limit.
func (u RegistryUpdate) Validate() error {
	switch {
	case u.Protocol != nil && *u.Protocol != "http" && *u.Protocol != "https":
		return Errorf(EINVALID, "Invalid parameter protocol: %q; allowed: http, https.", *u.Protocol)
	case u.Addr != nil && !validHostPort(*u.Addr):
		return Errorf(EINVALID, "Invalid parameter registry_addr: %q; allowed: host[:port] (a host name, an IPv4 address or a bracketed IPv6 address, an optional port from 1 to 65535, no scheme or path), up to 256 characters.", *u.Addr)
	case u.Username != nil && len(*u.Username) > 128:
		return Errorf(EINVALID, "Invalid parameter registry_username: %d characters; allowed: up to 128.", len(*u.Username))
	case u.Password != nil && len(*u.Password) > 128:
		// Never repeat a password, even a wrong one.
		return Errorf(EINVALID, "Invalid parameter registry_password: %d characters; allowed: up to 128.", len(*u.Password))
	case u.Namespace != nil && *u.Namespace != "" && !validPathComponent(*u.Namespace):
		return Errorf(EINVALID, "Invalid parameter namespace: %q; allowed: up to 128 lower-case letters and digits, separated by one '.', one or two '_', or '-'s, as one component of a repository path.", *u.Namespace)
	}
	return nil
}

// validHostPort reports whether s is host[:port]: a DNS name, an IPv4
// address or a bracketed IPv6 address, and an optional port 1-65535.
func validHostPort(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[1:end], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return false
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return false
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if port == "" || strings.Contains(host, ":") { // IPv6 needs brackets
			return false
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "+") {
			return false
		}
	}
	if strings.HasPrefix(s, "[") {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validPathComponent reports whether s is one component of a repository path
// in the distribution reference grammar, at most 128 characters.
func validPathComponent(s string) bool {
	if len(s) > 128 {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		if !alnum(s[i]) {
			return false
		}
		for i < len(s) && alnum(s[i]) {
			i++
		}
		if i == len(s) {
			return true
		}
		// A separator: "." or "_" or "__" or one or more "-".
		switch {
		case strings.HasPrefix(s[i:], "__"):
			i += 2
		case s[i] == '.' || s[i] == '_':
			i++
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
		if i == len(s) {
			return false
		}
	}
	return s != ""
}
