package baseline

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// secretValues are values that are secrets whatever they are called.
var secretValues = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
	{"GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b`)},
	{"Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"private key", regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`)},
	{"JWT", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
}

// secretWords in a variable's name say its value is a secret.
var secretWords = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"}

// settingSuffixes of a name say the value is where a secret is or how it
// is used, not the secret.
var settingSuffixes = []string{"_FILE", "_PATH", "_DIR", "_URL", "_URI", "_ENDPOINT", "_HOST", "_PORT", "_LENGTH",
	"_TTL", "_TIMEOUT", "_EXPIRY", "_EXPIRES", "_HEADER", "_TYPE", "_MODE", "_ENABLED", "_NAME", "_ID", "_REGION"}

// secret reports whether an ENV variable or label holds a secret, and what
// kind.
func secret(name, value string) (kind string, ok bool) {
	for _, s := range secretValues {
		if s.re.MatchString(value) {
			return s.kind, true
		}
	}
	value = strings.TrimSpace(value)
	if value == "" || reference(value) {
		return "", false
	}
	n := strings.ToUpper(strings.NewReplacer(".", "_", "-", "_", "/", "_").Replace(name))
	for _, suf := range settingSuffixes {
		if strings.HasSuffix(n, suf) {
			return "", false
		}
	}
	// Huawei Cloud access keys have no recognisable shape: only their
	// names (HUAWEICLOUD_SDK_AK, HW_SK…) give them away.
	if n == "AK" || n == "SK" || strings.HasSuffix(n, "_AK") || strings.HasSuffix(n, "_SK") {
		return "access key variable", true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return "secret-like name", true
		}
	}
	return "", false
}

// reference reports whether a value points at a secret rather than being
// one: a path, a variable, a file or vault URL, or a boolean.
func reference(v string) bool {
	l := strings.ToLower(v)
	for _, p := range []string{"/", "./", "~/", "$", "file:", "vault:", "secret:", "arn:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	switch l {
	case "true", "false", "yes", "no", "on", "off", "none", "null":
		return true
	}
	return false
}

// mask shows a secret's length and, when it is long enough for that to
// give little away, its first four characters.
func mask(v string) string {
	n := utf8.RuneCountInString(v)
	if n >= 16 {
		r := []rune(v)
		return fmt.Sprintf("%s…(%d chars)", string(r[:4]), n)
	}
	return fmt.Sprintf("…(%d chars)", n)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
