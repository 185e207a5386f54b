package oci

import "strings"

// pickChallenge parses WWW-Authenticate header values (RFC 7235) and returns
// the Bearer challenge if there is one, else Basic, else the first. The
// registry is pinged with its own protocol only, which go-containerregistry's
// transport.Ping does not offer for plain-HTTP registries, hence this parser.
func pickChallenge(headers []string) (scheme string, params map[string]string) {
	var first string
	var firstParams map[string]string
	for _, h := range headers {
		for _, c := range splitChallenges(h) {
			s, p := parseChallenge(c)
			if s == "" {
				continue
			}
			if strings.EqualFold(s, "bearer") {
				return s, p
			}
			if first == "" || (strings.EqualFold(s, "basic") && !strings.EqualFold(first, "basic")) {
				first, firstParams = s, p
			}
		}
	}
	return first, firstParams
}

// splitChallenges splits a header value holding several challenges, e.g.
// `Basic realm="a", Bearer realm="b",service="c"`: a new challenge starts at a
// token followed by a space that is not inside quotes and not a parameter.
func splitChallenges(h string) []string {
	var out []string
	start := 0
	inQuotes := false
	for i := 0; i < len(h); i++ {
		switch {
		case h[i] == '\\' && inQuotes:
			i++
		case h[i] == '"':
			inQuotes = !inQuotes
		case h[i] == ',' && !inQuotes:
			rest := strings.TrimLeft(h[i+1:], " \t")
			if tok, _, ok := strings.Cut(rest, " "); ok && !strings.Contains(tok, "=") {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
	}
	return append(out, h[start:])
}

// parseChallenge parses one challenge: `Scheme k1="v1", k2=v2`.
func parseChallenge(c string) (scheme string, params map[string]string) {
	c = strings.TrimSpace(c)
	scheme, rest, _ := strings.Cut(c, " ")
	params = map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		after = strings.TrimLeft(after, " \t")
		var val strings.Builder
		if strings.HasPrefix(after, `"`) {
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				val.WriteByte(after[i])
			}
			after = after[min(i+1, len(after)):]
		} else {
			end := strings.IndexByte(after, ',')
			if end < 0 {
				end = len(after)
			}
			val.WriteString(strings.TrimSpace(after[:end]))
			after = after[end:]
		}
		params[key] = val.String()
		rest = strings.TrimLeft(after, " \t,")
	}
	return scheme, params
}
