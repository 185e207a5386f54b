package baseline

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"customs"
)

func checkUser(st *state) outcome {
	user := strings.TrimSpace(st.cfg.User)
	name, _, _ := strings.Cut(user, ":")
	if name == "" {
		return fail("USER is not set: the container runs as root")
	}
	if name == "root" {
		return fail(fmt.Sprintf("USER %s: root", user))
	}
	if uid, err := strconv.Atoi(name); err == nil {
		if uid == 0 {
			return fail(fmt.Sprintf("USER %s: uid 0 (root)", user))
		}
		return pass("USER " + user)
	}
	if uid, ok := st.passwdUID(name); ok && uid == "0" {
		return fail(fmt.Sprintf("USER %s: uid 0 (root) in /etc/passwd", user))
	}
	return pass("USER " + user)
}

func checkHealthcheck(st *state) outcome {
	hc := st.cfg.Healthcheck
	switch {
	case len(hc) == 0:
		return fail("no HEALTHCHECK")
	case strings.EqualFold(hc[0], "NONE"):
		return fail("HEALTHCHECK NONE (disabled)")
	}
	return pass(clip("HEALTHCHECK "+strings.Join(hc, " "), 200))
}

func checkSSHPort(st *state) outcome {
	for _, p := range st.cfg.ExposedPorts {
		port, proto, _ := strings.Cut(p, "/")
		if port == "22" && (proto == "" || strings.EqualFold(proto, "tcp")) {
			return fail("EXPOSE " + p)
		}
	}
	if len(st.cfg.ExposedPorts) == 0 {
		return pass("no exposed ports")
	}
	return pass("EXPOSE " + strings.Join(st.cfg.ExposedPorts, " "))
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// instruction returns the Dockerfile instruction of a history entry and its
// arguments, for the classic builder's "/bin/sh -c #(nop) CMD [...]" and
// "/bin/sh -c apt-get update" and BuildKit's "RUN /bin/sh -c ... # buildkit".
// A RUN's arguments are its shell command. It returns "" for entries written
// by other tools ("# debian.sh ...").
func instruction(createdBy string) (op, args string) {
	s := strings.TrimSpace(createdBy)
	s = strings.TrimSpace(strings.TrimSuffix(s, "# buildkit"))
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c #(nop)"); ok {
		op, args, _ = strings.Cut(strings.TrimSpace(rest), " ")
		return strings.ToUpper(op), strings.TrimSpace(args)
	}
	if strings.HasPrefix(s, "/bin/sh -c ") || strings.HasPrefix(s, "|") {
		return "RUN", shellCommand(s)
	}
	op, args, _ = strings.Cut(s, " ")
	op = strings.ToUpper(op)
	if !instructions[op] {
		return "", s
	}
	if op == "RUN" {
		return op, shellCommand(strings.TrimSpace(args))
	}
	return op, strings.TrimSpace(args)
}

var instructions = map[string]bool{
	"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true,
	"HEALTHCHECK": true, "LABEL": true, "MAINTAINER": true, "ONBUILD": true, "RUN": true, "SHELL": true,
	"STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true,
}

// shellCommand strips the build arguments ("|2 A=1 B=2 ") and the shell
// ("/bin/sh -c ") from a RUN's arguments.
func shellCommand(s string) string {
	if _, rest, ok := strings.Cut(s, "/bin/sh -c "); ok {
		return strings.TrimSpace(rest)
	}
	if n, rest, ok := strings.Cut(strings.TrimPrefix(s, "|"), " "); ok && strings.HasPrefix(s, "|") {
		if k, err := strconv.Atoi(n); err == nil {
			f := strings.Fields(rest)
			if k <= len(f) {
				return strings.Join(f[k:], " ")
			}
		}
	}
	return s
}

// ownHistory returns the index of the first entry of the image's own
// history, after its base image's: the entry after the last CMD or
// ENTRYPOINT that a layer-adding entry follows.
func ownHistory(h []customs.HistoryEntry) int {
	layerAfter := false
	for i := len(h) - 1; i >= 0; i-- {
		op, _ := instruction(h[i].CreatedBy)
		if op == "CMD" || op == "ENTRYPOINT" {
			if layerAfter {
				return i + 1
			}
			continue
		}
		if !h[i].EmptyLayer {
			layerAfter = true
		}
	}
	return 0
}

// firstLayer is the index of the first layer-adding entry, -1 if none.
func firstLayer(h []customs.HistoryEntry) int {
	for i, e := range h {
		if !e.EmptyLayer {
			return i
		}
	}
	return -1
}

func checkUpdateAlone(st *state) outcome {
	h := st.cfg.History
	var found []string
	for _, e := range h[ownHistory(h):] {
		op, cmd := instruction(e.CreatedBy)
		if op == "RUN" && updateAlone(cmd) {
			found = append(found, "RUN "+clip(cmd, 160))
		}
	}
	if len(found) == 0 {
		return pass("no RUN step updates the package index without installing")
	}
	return fail(list(found))
}

// packageManagers maps a package manager to its subcommands that refresh
// the index (false) and that install or upgrade (true).
var packageManagers = map[string]map[string]bool{
	"apt-get":  {"update": false, "install": true, "upgrade": true, "dist-upgrade": true, "full-upgrade": true, "build-dep": true, "reinstall": true},
	"apt":      {"update": false, "install": true, "upgrade": true, "dist-upgrade": true, "full-upgrade": true, "build-dep": true, "reinstall": true},
	"apk":      {"update": false, "add": true, "upgrade": true, "fix": true},
	"yum":      {"update": false, "makecache": false, "check-update": false, "install": true, "upgrade": true, "groupinstall": true, "localinstall": true, "reinstall": true},
	"dnf":      {"makecache": false, "check-update": false, "install": true, "upgrade": true, "update": true, "groupinstall": true, "reinstall": true, "distro-sync": true},
	"microdnf": {"makecache": false, "install": true, "upgrade": true, "update": true, "reinstall": true},
	"tdnf":     {"makecache": false, "check-update": false, "install": true, "upgrade": true, "update": true, "reinstall": true},
	"zypper":   {"refresh": false, "ref": false, "install": true, "in": true, "update": true, "up": true, "dist-upgrade": true, "dup": true, "patch": true},
}

// optionsWithValue are package-manager options whose value is a separate word.
var optionsWithValue = map[string]bool{"-o": true, "-c": true, "-t": true, "--option": true, "--config": true, "--repo": true, "--root": true}

// updateAlone reports whether a shell command refreshes a package index
// without installing or upgrading anything.
func updateAlone(cmd string) bool {
	cmd = strings.ReplaceAll(cmd, "\\\n", " ")
	update, install := false, false
	for _, part := range splitCommands(cmd) {
		words := strings.Fields(part)
		for i, w := range words {
			sub, ok := packageManagers[w[strings.LastIndexByte(w, '/')+1:]]
			if !ok {
				continue
			}
			for j := i + 1; j < len(words); j++ {
				a := words[j]
				if strings.HasPrefix(a, "-") {
					if optionsWithValue[a] {
						j++
					}
					continue
				}
				if inst, known := sub[a]; known {
					if inst {
						install = true
					} else {
						update = true
					}
				}
				break
			}
			break
		}
	}
	return update && !install
}

// splitCommands splits a shell command line at ;, &, | and newlines.
func splitCommands(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '&' || r == '|' || r == '\n' })
}

func checkAdd(st *state) outcome {
	h := st.cfg.History
	first := firstLayer(h)
	var found []string
	for i := ownHistory(h); i < len(h); i++ {
		op, args := instruction(h[i].CreatedBy)
		if op != "ADD" {
			continue
		}
		srcs, dest := addSources(args)
		for _, src := range srcs {
			switch {
			case remote(src):
				found = append(found, "ADD "+clip(args, 160)+" (remote source)")
			case archive(src) && !(i == first && (dest == "/" || dest == ".")):
				found = append(found, "ADD "+clip(args, 160)+" (archive)")
			default:
				continue
			}
			break
		}
	}
	if len(found) == 0 {
		return pass("no ADD of a remote URL or an archive")
	}
	return fail(list(found))
}

// addSources parses an ADD's arguments in BuildKit's form ("--chown=1 a b
// /dst/", `["a", "/dst/"]`) and the classic builder's ("file:0a1b… in /").
func addSources(args string) (srcs []string, dest string) {
	args = strings.TrimSpace(args)
	if strings.HasPrefix(args, "[") {
		var a []string
		if json.Unmarshal([]byte(args), &a) == nil && len(a) >= 2 {
			return a[:len(a)-1], a[len(a)-1]
		}
	}
	f := strings.Fields(args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		f = f[1:]
	}
	if len(f) < 2 {
		return nil, ""
	}
	if len(f) >= 3 && f[len(f)-2] == "in" {
		return f[:len(f)-2], f[len(f)-1]
	}
	return f[:len(f)-1], f[len(f)-1]
}

func remote(src string) bool {
	s := strings.ToLower(src)
	for _, p := range []string{"http://", "https://", "git://", "git@", "ssh://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.lz", ".tar.lzma", ".gz", ".bz2", ".xz"}

func archive(src string) bool {
	s := strings.ToLower(src)
	for _, suf := range archiveSuffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}

func checkSecrets(st *state) outcome {
	var found []string
	for _, kv := range st.cfg.Env {
		name, value, _ := strings.Cut(kv, "=")
		if kind, ok := secret(name, value); ok {
			found = append(found, fmt.Sprintf("ENV %s=%s (%s)", name, mask(value), kind))
		}
	}
	for _, name := range sortedKeys(st.cfg.Labels) {
		value := st.cfg.Labels[name]
		if kind, ok := secret(name, value); ok {
			found = append(found, fmt.Sprintf("LABEL %s=%s (%s)", name, mask(value), kind))
		}
	}
	if len(found) == 0 {
		return pass("no secrets in ENV or labels")
	}
	return fail(list(found))
}
