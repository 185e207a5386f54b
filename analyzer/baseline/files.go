package baseline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// configFile reports whether the rules read the file at p as configuration.
func configFile(p string) bool {
	switch p {
	case "etc/passwd", "etc/shadow", "etc/sudoers", "etc/ssh/sshd_config":
		return true
	}
	dir, name := path.Split(p)
	switch dir {
	case "etc/sudoers.d/":
		return sudoIncluded(name)
	case "etc/ssh/sshd_config.d/":
		return true
	}
	return false
}

// sudoIncluded reports whether sudo's @includedir reads a file of that name.
func sudoIncluded(name string) bool {
	return name != "" && !strings.HasSuffix(name, "~") && !strings.Contains(name, ".")
}

// credentialFile reports whether p is a credential file whose content
// tells whether it holds credentials.
func credentialFile(p string) bool { return credentialKind(p) != "" }

func credentialKind(p string) string {
	name := path.Base(p)
	parent := path.Base(path.Dir(p))
	switch {
	case name == "credentials" && parent == ".aws":
		return "aws"
	case name == "config.json" && parent == ".docker":
		return "docker"
	case name == ".git-credentials":
		return "git"
	case name == ".netrc" || name == "_netrc":
		return "netrc"
	}
	return ""
}

// gcloudCredential reports whether p is a file where gcloud keeps
// credentials; any content there is a credential.
func gcloudCredential(p string) bool {
	i := strings.Index(p, ".config/gcloud/")
	if i < 0 || (i > 0 && p[i-1] != '/') {
		return false
	}
	switch rest := p[i+len(".config/gcloud/"):]; {
	case rest == "credentials.db", rest == "access_tokens.db", rest == "application_default_credentials.json":
		return true
	case strings.HasPrefix(rest, "legacy_credentials/"):
		return true
	}
	return false
}

// keyCandidate reports whether the file at p may be a private key.
func keyCandidate(p string) bool {
	name := path.Base(p)
	if strings.HasSuffix(name, ".pub") {
		return false
	}
	switch ext := path.Ext(name); ext {
	case ".pem", ".key":
		return true
	}
	if strings.HasPrefix(name, "id_") || strings.HasSuffix(name, "_key") || name == "identity" {
		return true
	}
	return strings.HasPrefix(p, ".ssh/") || strings.Contains(p, "/.ssh/")
}

// account is one line of /etc/passwd or /etc/shadow.
type account struct {
	name, password string
	file           string
}

// accounts returns the password of every account: /etc/shadow's, and
// /etc/passwd's for accounts whose field there is not "x".
func (st *state) accounts() []account {
	var out []account
	shadowed := make(map[string]bool)
	for _, l := range lines(st.files["etc/shadow"]) {
		f := strings.Split(l, ":")
		if len(f) < 2 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		shadowed[f[0]] = true
		out = append(out, account{name: f[0], password: f[1], file: "/etc/shadow"})
	}
	for _, l := range lines(st.files["etc/passwd"]) {
		f := strings.Split(l, ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") || shadowed[f[0]] || f[1] == "x" {
			continue
		}
		out = append(out, account{name: f[0], password: f[1], file: "/etc/passwd"})
	}
	return out
}

// passwdUID returns the uid /etc/passwd gives a user name.
func (st *state) passwdUID(name string) (string, bool) {
	for _, l := range lines(st.files["etc/passwd"]) {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[0] == name {
			return f[2], true
		}
	}
	return "", false
}

func (st *state) haveAccounts() bool {
	_, shadow := st.files["etc/shadow"]
	_, passwd := st.files["etc/passwd"]
	return shadow || passwd
}

func locked(pw string) bool { return strings.HasPrefix(pw, "!") || strings.HasPrefix(pw, "*") }

var desHash = regexp.MustCompile(`^[./0-9A-Za-z]{13}$`)

// weakHash names the weak scheme of a password hash, "" if it is not weak.
func weakHash(pw string) string {
	switch {
	case locked(pw):
		return ""
	case strings.HasPrefix(pw, "$1$"):
		return "MD5"
	case desHash.MatchString(pw):
		return "DES"
	}
	return ""
}

func checkEmptyPasswords(st *state) outcome {
	if !st.haveAccounts() {
		return pass("no /etc/shadow or /etc/passwd")
	}
	var found []string
	for _, a := range st.accounts() {
		if a.password == "" {
			found = append(found, fmt.Sprintf("%s (%s)", a.name, a.file))
		}
	}
	if len(found) == 0 {
		return pass("no account has an empty password field")
	}
	return fail("accounts with an empty password: " + list(found))
}

func checkWeakHashes(st *state) outcome {
	if !st.haveAccounts() {
		return pass("no /etc/shadow or /etc/passwd")
	}
	var found []string
	for _, a := range st.accounts() {
		if scheme := weakHash(a.password); scheme != "" {
			found = append(found, fmt.Sprintf("%s (%s)", a.name, scheme))
		}
	}
	if len(found) == 0 {
		return pass("no MD5 or DES password hashes")
	}
	return fail("accounts with weak password hashes: " + list(found))
}

func checkRootPassword(st *state) outcome {
	for _, a := range st.accounts() {
		if a.name != "root" {
			continue
		}
		switch {
		case a.password == "":
			return fail(fmt.Sprintf("root has an empty password field in %s", a.file))
		case locked(a.password):
			return pass("root is locked")
		}
		return pass("root has a password hash")
	}
	return pass("no root entry in /etc/shadow or /etc/passwd")
}

func checkSudoers(st *state) outcome {
	paths := []string{"etc/sudoers"}
	for p := range st.files {
		if strings.HasPrefix(p, "etc/sudoers.d/") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths[1:])
	var found []string
	read := 0
	for _, p := range paths {
		data, ok := st.files[p]
		if !ok {
			continue
		}
		read++
		for _, l := range sudoLines(data) {
			if nopasswdAll(l) {
				found = append(found, fmt.Sprintf("/%s: %s", p, clip(l, 160)))
			}
		}
	}
	switch {
	case len(found) > 0:
		return fail(list(found))
	case read == 0:
		return pass("no /etc/sudoers")
	}
	return pass("no NOPASSWD: ALL rule")
}

// sudoLines returns the rules of a sudoers file: continuation lines joined,
// comments and Defaults, aliases and includes left out.
func sudoLines(data []byte) []string {
	joined := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\\\n", " ")
	var out []string
	for _, l := range strings.Split(joined, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		// "#1000 ALL=…" names a uid; any other "#" starts a comment.
		if l[0] == '#' && (len(l) == 1 || l[1] < '0' || l[1] > '9') {
			continue
		}
		first, _, _ := strings.Cut(l, " ")
		switch first {
		case "Defaults", "User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias", "@include", "@includedir":
			continue
		}
		if strings.HasPrefix(first, "Defaults") {
			continue
		}
		out = append(out, l)
	}
	return out
}

var sudoTag = regexp.MustCompile(`^[A-Z_]+:\s*`)

// nopasswdAll reports whether a sudoers rule lets its users run every
// command without a password.
func nopasswdAll(rule string) bool {
	_, spec, ok := strings.Cut(rule, "=")
	if !ok {
		return false
	}
	// Tags carry over from one command to the next until changed.
	nopasswd := false
	for _, cmd := range strings.Split(spec, ",") {
		cmd = strings.TrimSpace(cmd)
		if strings.HasPrefix(cmd, "(") {
			if i := strings.IndexByte(cmd, ')'); i >= 0 {
				cmd = strings.TrimSpace(cmd[i+1:])
			}
		}
		for {
			tag := sudoTag.FindString(cmd)
			if tag == "" {
				break
			}
			switch strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(tag), ":")) {
			case "NOPASSWD":
				nopasswd = true
			case "PASSWD":
				nopasswd = false
			}
			cmd = cmd[len(tag):]
		}
		if nopasswd && strings.TrimSpace(cmd) == "ALL" {
			return true
		}
	}
	return false
}

// sshdSetting is the value sshd uses for one keyword and where it is set.
type sshdSetting struct {
	value string
	file  string
}

// sshdConfig reads sshd's global settings as sshd does: keywords are
// case-insensitive, the first value wins, Include is followed in place and
// Match blocks are conditional and skipped. It reports false when the image
// has no /etc/ssh/sshd_config.
func (st *state) sshdConfig() (map[string]sshdSetting, bool) {
	if _, ok := st.files["etc/ssh/sshd_config"]; !ok {
		return nil, false
	}
	settings := make(map[string]sshdSetting)
	st.readSSHD("etc/ssh/sshd_config", settings, map[string]bool{})
	return settings, true
}

// readSSHD reads one file into settings. A file is read once: with the
// first value winning, a second reading changes nothing, and files that
// include each other would otherwise be read without end.
func (st *state) readSSHD(p string, settings map[string]sshdSetting, read map[string]bool) {
	if read[p] {
		return
	}
	read[p] = true
	for _, l := range lines(st.files[p]) {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		key, value := sshdKeyValue(l)
		key = strings.ToLower(key)
		switch key {
		case "match":
			return
		case "include":
			for _, pattern := range strings.Fields(value) {
				pattern = strings.Trim(pattern, `"`)
				if strings.HasPrefix(pattern, "/") {
					pattern = pattern[1:]
				} else {
					pattern = "etc/ssh/" + pattern
				}
				for _, q := range st.matching(pattern) {
					st.readSSHD(q, settings, read)
				}
			}
			continue
		}
		if _, seen := settings[key]; !seen {
			first, _, _ := strings.Cut(value, " ")
			settings[key] = sshdSetting{value: strings.Trim(first, `"`), file: "/" + p}
		}
	}
}

// sshdKeyValue splits a configuration line at the first blank or "=".
func sshdKeyValue(l string) (key, value string) {
	i := strings.IndexAny(l, " \t=")
	if i < 0 {
		return l, ""
	}
	key, value = l[:i], strings.TrimSpace(l[i:])
	value = strings.TrimSpace(strings.TrimPrefix(value, "="))
	return key, value
}

// matching returns the read files whose path matches a glob, in order.
func (st *state) matching(pattern string) []string {
	var out []string
	for p := range st.files {
		if ok, _ := path.Match(pattern, p); ok {
			out = append(out, p)
		}
	}
	return sorted(out)
}

// sshdCheck checks that keyword, whose sshd default is def, is not bad.
func sshdCheck(keyword, def, bad string) func(*state) outcome {
	return func(st *state) outcome {
		settings, ok := st.sshdConfig()
		if !ok {
			return pass("no /etc/ssh/sshd_config")
		}
		s, set := settings[strings.ToLower(keyword)]
		current := fmt.Sprintf("%s %s (%s)", keyword, s.value, s.file)
		if !set {
			s.value = def
			current = fmt.Sprintf("%s %s (not set: sshd's default)", keyword, def)
		}
		if strings.EqualFold(s.value, bad) {
			return fail(current)
		}
		return pass(current)
	}
}

var pemKey = regexp.MustCompile(`-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----`)

func checkPrivateKeys(st *state) outcome {
	var found []string
	for _, p := range slices.Sorted(maps.Keys(st.files)) {
		if !keyCandidate(p) {
			continue
		}
		data := st.files[p]
		m := pemKey.FindSubmatch(data)
		if m == nil {
			continue
		}
		kind := strings.TrimSpace(string(m[1]))
		if bytes.Contains(data, []byte("Proc-Type: 4,ENCRYPTED")) {
			kind = strings.TrimSpace(kind + " ENCRYPTED")
		}
		if kind == "" {
			kind = "PKCS#8"
		}
		found = append(found, fmt.Sprintf("/%s (%s)", p, kind))
	}
	if len(found) == 0 {
		return pass("no private keys")
	}
	return fail(fmt.Sprintf("%d private keys: %s", len(found), list(found)))
}

func checkCredentials(st *state) outcome {
	var found []string
	for _, p := range slices.Sorted(maps.Keys(st.files)) {
		kind := credentialKind(p)
		if kind == "" {
			continue
		}
		if what := credentials(kind, st.files[p]); what != "" {
			found = append(found, fmt.Sprintf("/%s (%s)", p, what))
		}
	}
	for _, p := range st.gcloud {
		found = append(found, p+" (gcloud credentials)")
	}
	if len(found) == 0 {
		return pass("no credential files")
	}
	return fail(list(found))
}

// credentials describes the credentials a file of a kind holds, "" for none.
func credentials(kind string, data []byte) string {
	lower := strings.ToLower(string(data))
	switch kind {
	case "aws":
		if strings.Contains(lower, "aws_secret_access_key") || strings.Contains(lower, "aws_session_token") {
			return "AWS secret access key"
		}
	case "docker":
		var cfg struct {
			Auths map[string]struct {
				Auth          string `json:"auth"`
				Password      string `json:"password"`
				IdentityToken string `json:"identitytoken"`
				RegistryToken string `json:"registrytoken"`
			} `json:"auths"`
		}
		if json.Unmarshal(data, &cfg) != nil {
			return ""
		}
		var registries []string
		for reg, a := range cfg.Auths {
			if a.Auth != "" || a.Password != "" || a.IdentityToken != "" || a.RegistryToken != "" {
				registries = append(registries, reg)
			}
		}
		if len(registries) > 0 {
			return "registry credentials for " + strings.Join(sorted(registries), ", ")
		}
	case "git":
		for _, l := range lines(data) {
			if strings.Contains(l, "://") && strings.Contains(l, "@") {
				return "git credentials"
			}
		}
	case "netrc":
		if slices.Contains(strings.Fields(lower), "password") {
			return "password"
		}
	}
	return ""
}
