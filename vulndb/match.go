package vulndb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"

	"customs"
)

// Matcher finds the advisories that affect packages. Build it once for a
// set of advisories; Match is safe for concurrent use.
type Matcher struct {
	byKey map[customs.PackageKey][]*affected
	ids   map[string]bool
}

// vuln is what a finding says of its advisory.
type vuln struct {
	id      string
	aliases []string
	summary string
	url     string
}

// affected is one affected[] entry of a record, ready to match.
type affected struct {
	vuln      *vuln
	ecosystem string
	severity  string
	versions  map[string]bool
	ranges    []*versionRange
}

// versionRange is an ECOSYSTEM or SEMVER range with its events parsed and
// sorted in the ecosystem's order.
type versionRange struct {
	semver bool // versions are compared as SemVer 2.0, whatever the ecosystem
	events []event
	limits []event
}

type eventKind int

const (
	introduced eventKind = iota
	fixed
	lastAffected
	limit
)

type event struct {
	kind eventKind
	raw  string
	// v is the parsed version; nil for introduced "0" (before every
	// version) and limit "*" (after every version).
	v semantic.Version
}

// NewMatcher parses each advisory once. Withdrawn advisories are left out.
// It fails on a record that is not valid OSV JSON; ranges whose versions
// the ecosystem's ordering cannot read are left out (a versions list of
// the same entry still matches).
func NewMatcher(advs []*customs.Advisory) (*Matcher, error) {
	m := &Matcher{byKey: map[customs.PackageKey][]*affected{}, ids: map[string]bool{}}
	if err := m.add(advs); err != nil {
		return nil, err
	}
	return m, nil
}

// add indexes advs, skipping the ids it holds already.
func (m *Matcher) add(advs []*customs.Advisory) error {
	for _, a := range advs {
		if a == nil || m.ids[a.ID] || !a.Withdrawn.IsZero() {
			continue
		}
		e, err := decode(a.JSON)
		if err != nil {
			return fmt.Errorf("match advisory %s: %w", a.ID, err)
		}
		m.ids[a.ID] = true
		if e.Withdrawn != "" {
			continue
		}
		v := &vuln{id: e.ID, aliases: e.aliases(), summary: e.summary(), url: e.url()}
		recordSeverity := specificSeverity(e.DatabaseSpecific)
		for i := range e.Affected {
			af := &e.Affected[i]
			k := customs.PackageKey{Ecosystem: af.Package.Ecosystem, Name: af.Package.Name}
			if k.Ecosystem == "" || k.Name == "" {
				continue
			}
			c := &affected{vuln: v, ecosystem: k.Ecosystem, severity: entrySeverity(e, af, recordSeverity)}
			if len(af.Versions) > 0 {
				c.versions = make(map[string]bool, len(af.Versions))
				for _, s := range af.Versions {
					c.versions[s] = true
				}
			}
			for _, r := range af.Ranges {
				if vr := compileRange(k.Ecosystem, r); vr != nil {
					c.ranges = append(c.ranges, vr)
				}
			}
			if c.versions == nil && c.ranges == nil {
				continue
			}
			m.byKey[k] = append(m.byKey[k], c)
		}
	}
	return nil
}

// entrySeverity rates one affected entry: the entry's own severity word
// (ecosystem_specific, then database_specific), the record's
// database_specific word, the CVSS vectors of the entry then of the
// record, a Red Hat style "Important:" summary, else unknown.
func entrySeverity(e *Entry, af *Affected, recordSeverity string) string {
	for _, s := range []string{
		specificSeverity(af.EcosystemSpecific),
		specificSeverity(af.DatabaseSpecific),
		recordSeverity,
		scoredSeverity(af.Severity),
		scoredSeverity(e.Severity),
		redHatSeverity(e.Summary),
	} {
		if s != "" {
			return s
		}
	}
	return SeverityUnknown
}

// compileRange parses a range's versions, nil when the range is not matched
// (GIT, unknown types, an ecosystem semantic cannot order, a version it
// cannot read).
func compileRange(ecosystem string, r Range) *versionRange {
	vr := &versionRange{}
	switch r.Type {
	case RangeSemver:
		vr.semver = true
	case RangeEcosystem:
	default:
		return nil
	}
	for _, ev := range r.Events {
		var e event
		switch {
		case ev.Introduced != "":
			e = event{kind: introduced, raw: ev.Introduced}
		case ev.Fixed != "":
			e = event{kind: fixed, raw: ev.Fixed}
		case ev.LastAffected != "":
			e = event{kind: lastAffected, raw: ev.LastAffected}
		case ev.Limit != "":
			e = event{kind: limit, raw: ev.Limit}
		default:
			continue
		}
		if !(e.kind == introduced && e.raw == "0") && !(e.kind == limit && e.raw == "*") {
			v, err := parseVersion(e.raw, ecosystem, vr.semver)
			if err != nil {
				return nil
			}
			e.v = v
		}
		if e.kind == limit {
			vr.limits = append(vr.limits, e)
		} else {
			vr.events = append(vr.events, e)
		}
	}
	if len(vr.events) == 0 {
		return nil
	}
	slices.SortStableFunc(vr.events, compareEvents)
	return vr
}

func parseVersion(s, ecosystem string, semver bool) (semantic.Version, error) {
	if semver {
		return semantic.ParseSemverVersion(s), nil
	}
	return semantic.Parse(s, ecosystem)
}

// compareEvents orders events by version, introduced "0" first.
func compareEvents(a, b event) int {
	switch {
	case a.v == nil && b.v == nil:
		return 0
	case a.v == nil:
		return -1
	case b.v == nil:
		return 1
	}
	c, _ := a.v.Compare(b.v)
	return c
}

// affects reports whether v is in the range (OSV schema, "Evaluation"),
// and the first fixed version above v.
func (r *versionRange) affects(v semantic.Version) (bool, string) {
	if len(r.limits) > 0 {
		below := false
		for _, l := range r.limits {
			if l.v == nil || cmp(v, l.v) < 0 {
				below = true
				break
			}
		}
		if !below {
			return false, ""
		}
	}
	vulnerable := false
	for _, e := range r.events {
		switch e.kind {
		case introduced:
			if e.v == nil || cmp(v, e.v) >= 0 {
				vulnerable = true
			}
		case fixed:
			if cmp(v, e.v) >= 0 {
				vulnerable = false
			}
		case lastAffected:
			if cmp(v, e.v) > 0 {
				vulnerable = false
			}
		}
	}
	if !vulnerable {
		return false, ""
	}
	for _, e := range r.events {
		if e.kind == fixed && cmp(v, e.v) < 0 {
			return true, e.raw
		}
	}
	return true, ""
}

func cmp(a, b semantic.Version) int {
	c, _ := a.Compare(b)
	return c
}

// matchVersion is a package version parsed for the two orderings a record
// may use, each parsed on first use.
type matchVersion struct {
	raw       string
	ecosystem string
	eco, sem  semantic.Version
	ecoErr    error
	ecoDone   bool
}

func (mv *matchVersion) get(semver bool) semantic.Version {
	if semver {
		if mv.sem == nil {
			mv.sem = semantic.ParseSemverVersion(mv.raw)
		}
		return mv.sem
	}
	if !mv.ecoDone {
		mv.eco, mv.ecoErr = semantic.Parse(mv.raw, mv.ecosystem)
		mv.ecoDone = true
	}
	if mv.ecoErr != nil {
		return nil
	}
	return mv.eco
}

// Match returns the findings of pkgs: one per (advisory, package), in the
// order of pkgs and then of advisory id. A Debian binary package is matched
// by its source package and version; a Go standard library version may
// carry the "go" prefix.
func (m *Matcher) Match(pkgs []customs.Package) []customs.Finding {
	var out []customs.Finding
	for i := range pkgs {
		p := &pkgs[i]
		cands := m.byKey[p.Key()]
		if len(cands) == 0 {
			continue
		}
		version := p.Version
		if p.SourceName != "" && p.SourceVersion != "" {
			version = p.SourceVersion
		}
		if p.Ecosystem == "Go" && p.Key().Name == "stdlib" {
			version = strings.TrimPrefix(version, "go")
		}
		if version == "" {
			continue
		}
		mv := &matchVersion{raw: version, ecosystem: p.Ecosystem}
		start := len(out)
		for _, c := range cands {
			hit, fixedIn := c.affects(mv)
			if !hit {
				continue
			}
			if j := slices.IndexFunc(out[start:], func(f customs.Finding) bool { return f.VulnID == c.vuln.id }); j >= 0 {
				if out[start+j].FixedVersion == "" {
					out[start+j].FixedVersion = fixedIn
				}
				continue
			}
			out = append(out, customs.Finding{
				VulnID:       c.vuln.id,
				Aliases:      slices.Clone(c.vuln.aliases),
				Package:      *p,
				Severity:     c.severity,
				Summary:      c.vuln.summary,
				FixedVersion: fixedIn,
				URL:          c.vuln.url,
			})
		}
		slices.SortFunc(out[start:], func(a, b customs.Finding) int { return strings.Compare(a.VulnID, b.VulnID) })
	}
	return out
}

// affects reports whether the entry affects the version: listed in its
// versions, or in one of its ranges. fixedIn is the first fixed version
// above it in the first range that holds it.
func (c *affected) affects(mv *matchVersion) (hit bool, fixedIn string) {
	if c.versions[mv.raw] {
		hit = true
	}
	for _, r := range c.ranges {
		v := mv.get(r.semver)
		if v == nil {
			continue
		}
		if ok, f := r.affects(v); ok {
			if !hit || fixedIn == "" {
				fixedIn = f
			}
			hit = true
			if fixedIn != "" {
				break
			}
		}
	}
	return hit, fixedIn
}
