package vulndb

import (
	"encoding/json"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// Severities of a finding (customs.Finding.Severity).
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
	SeverityUnknown  = "unknown"
)

// severityWord maps the words databases rate with to a finding severity:
// GitHub's CRITICAL/HIGH/MODERATE/LOW, Red Hat's Critical/Important/
// Moderate/Low, Ubuntu's priorities, CVSS ratings. It returns "" for a word
// it does not know.
func severityWord(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return SeverityCritical
	case "high", "important":
		return SeverityHigh
	case "moderate", "medium":
		return SeverityMedium
	case "low", "negligible", "none":
		return SeverityLow
	}
	return ""
}

// specificSeverity reads a "severity" word from a database_specific or
// ecosystem_specific object, "" when there is none.
func specificSeverity(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v struct {
		Severity json.RawMessage `json:"severity"`
	}
	if json.Unmarshal(raw, &v) != nil || len(v.Severity) == 0 {
		return ""
	}
	var word string
	if json.Unmarshal(v.Severity, &word) != nil {
		return ""
	}
	return severityWord(word)
}

// scoredSeverity rates a list of severity scores: the highest rating of
// the CVSS vectors it can read, else an Ubuntu priority; "" when none can
// be read.
func scoredSeverity(list []Severity) string {
	best, word := "", ""
	for _, s := range list {
		switch s.Type {
		case "CVSS_V2", "CVSS_V3", "CVSS_V4":
			if r := cvssSeverity(s.Score); rank(r) > rank(best) {
				best = r
			}
		case "Ubuntu":
			if word == "" {
				word = severityWord(s.Score)
			}
		}
	}
	if best != "" {
		return best
	}
	return word
}

func rank(severity string) int {
	switch severity {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}

// cvssSeverity rates a CVSS vector of any version by its base score, ""
// when the vector cannot be read.
func cvssSeverity(vector string) string {
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		if v, err := gocvss40.ParseVector(vector); err == nil {
			return cvssRating(v.Score())
		}
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		if v, err := gocvss31.ParseVector(vector); err == nil {
			return cvssRating(v.BaseScore())
		}
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		if v, err := gocvss30.ParseVector(vector); err == nil {
			return cvssRating(v.BaseScore())
		}
	default:
		// v2 vectors carry no version prefix. v2 has no critical band:
		// NVD rates 7.0-10.0 high.
		if v, err := gocvss20.ParseVector(vector); err == nil {
			if r := cvssRating(v.BaseScore()); r != SeverityCritical {
				return r
			}
			return SeverityHigh
		}
	}
	return ""
}

// cvssRating is the qualitative rating of a CVSS base score (CVSS v3.1
// specification §5; v4.0 uses the same bands). A score of 0.0 ("none")
// rates low: the advisory still names the package.
func cvssRating(score float64) string {
	switch {
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	default:
		return SeverityLow
	}
}

// redHatSeverity reads the severity Red Hat and its rebuilds (AlmaLinux,
// Rocky Linux) put in front of an erratum's summary: "Important: openssl
// security update".
func redHatSeverity(summary string) string {
	word, _, ok := strings.Cut(summary, ":")
	if !ok {
		return ""
	}
	switch word {
	case "Critical", "Important", "Moderate", "Low":
		return severityWord(word)
	}
	return ""
}
