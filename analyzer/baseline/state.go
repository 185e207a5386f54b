package baseline

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"customs"
	"customs/analyzer"
)

// state is what the rules read of one image.
type state struct {
	cfg *customs.ImageConfig
	// files are the contents of the wanted files of the final filesystem,
	// by path (relative, as in analyzer.File).
	files map[string][]byte

	// From one walk of the final filesystem.
	setid         []string // "/usr/bin/passwd (4755)"
	worldWritable []string
	gcloud        []string // gcloud credential files
}

// outcome is one rule's verdict on one image.
type outcome struct {
	passed  bool
	current string
}

func pass(current string) outcome { return outcome{passed: true, current: current} }
func fail(current string) outcome { return outcome{current: current} }

// checks holds every rule's check, by rule id.
var checks = map[string]func(*state) outcome{
	"1.1": checkUser,
	"1.2": checkHealthcheck,
	"1.3": checkUpdateAlone,
	"1.4": checkAdd,
	"1.5": checkSecrets,
	"1.6": checkSSHPort,
	"2.1": checkEmptyPasswords,
	"2.2": checkWeakHashes,
	"2.3": checkRootPassword,
	"2.4": checkSudoers,
	"3.1": sshdCheck("PermitRootLogin", "prohibit-password", "yes"),
	"3.2": sshdCheck("PasswordAuthentication", "yes", "yes"),
	"3.3": sshdCheck("PermitEmptyPasswords", "no", "yes"),
	"4.1": checkSetid,
	"4.2": checkWorldWritable,
	"5.1": checkPrivateKeys,
	"5.2": checkCredentials,
}

// tempDirs are where world-writable entries are expected.
var tempDirs = []string{"tmp", "var/tmp", "dev/shm", "run/lock"}

// walk collects what the metadata rules need in one pass over the final
// filesystem.
func (st *state) walk(final *analyzer.Final) {
	for f := range final.All() {
		m := f.Mode
		if m.IsRegular() && m&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			st.setid = append(st.setid, fmt.Sprintf("/%s (%s)", f.Path, octal(m)))
		}
		if (m.IsRegular() || m.IsDir()) && m.Perm()&0o002 != 0 {
			switch {
			case !underAny(f.Path, tempDirs):
				st.worldWritable = append(st.worldWritable, fmt.Sprintf("/%s (%s)", f.Path, octal(m)))
			case m.IsDir() && m&fs.ModeSticky == 0:
				st.worldWritable = append(st.worldWritable, fmt.Sprintf("/%s (%s, no sticky bit)", f.Path, octal(m)))
			}
		}
		if m.IsRegular() && f.Size > 0 && gcloudCredential(f.Path) {
			st.gcloud = append(st.gcloud, "/"+f.Path)
		}
	}
}

// octal is a mode as chmod takes it: "4755", "1777".
func octal(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

// underAny reports whether p is one of dirs or below one.
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// list joins items for a current_value, at most maxItems of them.
func list(items []string) string {
	const maxItems = 20
	if len(items) <= maxItems {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxItems], ", "), len(items)-maxItems)
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// lines splits a file into lines without their line endings.
func lines(data []byte) []string {
	return strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
}

func checkSetid(st *state) outcome {
	if len(st.setid) == 0 {
		return pass("no setuid or setgid files")
	}
	return fail(fmt.Sprintf("%d setuid or setgid files: %s", len(st.setid), list(st.setid)))
}

func checkWorldWritable(st *state) outcome {
	if len(st.worldWritable) == 0 {
		return pass("no world-writable files or directories outside /tmp, /var/tmp, /dev/shm, /run/lock")
	}
	return fail(fmt.Sprintf("%d world-writable entries: %s", len(st.worldWritable), list(st.worldWritable)))
}
