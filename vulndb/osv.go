package vulndb

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"customs"
)

// Entry is the part of an OSV record (schema 1.6,
// https://ossf.github.io/osv-schema/) that Customs reads. Fields it does
// not read (credits, related, ...) stay in the stored JSON.
type Entry struct {
	ID        string   `json:"id"`
	Modified  string   `json:"modified"`
	Published string   `json:"published,omitempty"`
	Withdrawn string   `json:"withdrawn,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
	// Upstream lists the records this one is derived from: Debian's DSA
	// and DLA records name the CVEs they fix here.
	Upstream         []string        `json:"upstream,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is a severity score of a given type: a CVSS vector for
// CVSS_V2, CVSS_V3 and CVSS_V4, a word for Ubuntu.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected names one affected package and the versions affected.
type Affected struct {
	Package           AffectedPackage `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// AffectedPackage identifies a package in an ecosystem.
type AffectedPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Purl      string `json:"purl,omitempty"`
}

// Range types.
const (
	RangeEcosystem = "ECOSYSTEM" // versions ordered by the ecosystem's rules
	RangeSemver    = "SEMVER"    // SemVer 2.0 versions, whatever the ecosystem
	RangeGit       = "GIT"       // commit hashes; not matched
)

// Range is a range of affected versions, described by events.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one event of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about the vulnerability.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Parse reads one OSV record. It requires an id and a modified time in RFC
// 3339 form (a withdrawn time, if present, too), and fills Affected with the
// distinct (ecosystem, package) pairs as the record spells them, in the
// order they first appear. The advisory keeps its own copy of data.
//
// Errors are *customs.Error with code EINVALID.
func Parse(data []byte) (*customs.Advisory, error) {
	e, err := decode(data)
	if err != nil {
		return nil, err
	}
	a := &customs.Advisory{ID: e.ID, JSON: bytes.Clone(data)}
	if a.Modified, err = parseTime(e.ID, "modified", e.Modified); err != nil {
		return nil, err
	}
	if e.Withdrawn != "" {
		if a.Withdrawn, err = parseTime(e.ID, "withdrawn", e.Withdrawn); err != nil {
			return nil, err
		}
	}
	seen := map[customs.PackageKey]bool{}
	for _, af := range e.Affected {
		// An entry without a package (a GIT-only range) names nothing to look up.
		k := customs.PackageKey{Ecosystem: af.Package.Ecosystem, Name: af.Package.Name}
		if k.Ecosystem == "" || k.Name == "" || seen[k] {
			continue
		}
		seen[k] = true
		a.Affected = append(a.Affected, k)
	}
	return a, nil
}

// decode unmarshals a record and checks that it has an id and a modified
// time, the fields without which it cannot be stored.
func decode(data []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, customs.Errorf(customs.EINVALID, "The OSV record is not valid JSON: %v (at byte %d).", syn, syn.Offset)
		case errors.As(err, &typ):
			return nil, customs.Errorf(customs.EINVALID, "The OSV record has field %q of JSON type %s, but the OSV schema wants %s.", typ.Field, typ.Value, typ.Type)
		default:
			return nil, customs.Errorf(customs.EINVALID, "The OSV record cannot be read: %v.", err)
		}
	}
	if e.ID == "" {
		return nil, customs.Errorf(customs.EINVALID, `The OSV record has no "id"; every record needs one.`)
	}
	if e.Modified == "" {
		return nil, customs.Errorf(customs.EINVALID, `The OSV record %s has no "modified" time; every record needs one (RFC 3339, e.g. "2024-01-02T03:04:05Z").`, e.ID)
	}
	return &e, nil
}

func parseTime(id, field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, customs.Errorf(customs.EINVALID, "The OSV record %s has %q %q, which is not an RFC 3339 time (e.g. \"2024-01-02T03:04:05Z\").", id, field, s)
	}
	return t.UTC(), nil
}

// summary is the record's one-line description: its summary, else the
// first line of its details.
func (e *Entry) summary() string {
	if e.Summary != "" {
		return e.Summary
	}
	d := strings.TrimSpace(e.Details)
	if i := strings.IndexAny(d, "\r\n"); i >= 0 {
		d = d[:i]
	}
	return strings.TrimSpace(d)
}

// url is where a person reads about the record: its first ADVISORY
// reference, else its first reference, else its page on osv.dev.
func (e *Entry) url() string {
	for _, r := range e.References {
		if r.Type == "ADVISORY" && r.URL != "" {
			return r.URL
		}
	}
	for _, r := range e.References {
		if r.URL != "" {
			return r.URL
		}
	}
	return "https://osv.dev/vulnerability/" + e.ID
}

// aliases are the other ids of the vulnerability: the record's aliases,
// then the upstream ids it derives from (the CVEs a DSA fixes).
func (e *Entry) aliases() []string {
	if len(e.Aliases)+len(e.Upstream) == 0 {
		return nil
	}
	out := make([]string, 0, len(e.Aliases)+len(e.Upstream))
	seen := map[string]bool{e.ID: true}
	for _, list := range [][]string{e.Aliases, e.Upstream} {
		for _, id := range list {
			if id != "" && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
