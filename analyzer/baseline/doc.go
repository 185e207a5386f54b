// Package baseline checks container images against a catalogue of unsafe
// settings ("baseline" in HSS terms): how the image is configured to run
// (user, health check, exposed ports, secrets in ENV and labels), how it was
// built (its history) and what its final filesystem holds (accounts, sudo
// and sshd configuration, setuid and world-writable files, private keys,
// cloud credentials).
//
// Analyzer implements analyzer.Analyzer; Rules and Groups describe the
// catalogue for the API (check_rule_id, check_name, check_type and the texts
// of ShowImageCheckRuleDetail). Every scan yields one customs.BaselineResult
// per rule, passed or failed, in catalogue order.
//
// # Identifiers
//
// A rule's check_rule_id is "<group>.<rule>" ("1.1", "3.2"), in the dotted
// numeric style HSS uses; ids are never reused or renumbered. check_name is
// one of a few groups ("Docker image", "Linux accounts", "SSH",
// "File permissions", "Sensitive files") and check_type equals check_name,
// as HSS does for its Linux baselines. The standard is always hw_standard.
// Where a rule implements a CIS Docker Benchmark recommendation, its
// reference names the section.
//
// # Heuristics and their limits
//
//   - The image's own history (rules 1.3 and 1.4) starts after the last
//     CMD or ENTRYPOINT entry that is followed by an entry adding a layer:
//     base images end with one, and the build of the image itself adds
//     layers after it. An image whose base sets neither is treated as all
//     its own; one whose Dockerfile sets CMD before a RUN is cut short. The
//     first layer of the image, when it is an archive added to "/", is a
//     root filesystem and never counts as an ADD of an archive. History
//     written by the classic builder names local ADD sources only by hash
//     ("ADD file:3a1b… in /"), so only remote URLs can be recognised there.
//   - Package-manager updates (1.3) are recognised per RUN entry: a RUN
//     that refreshes the package index (apt-get/apt update, apk update, yum
//     update/makecache/check-update, dnf/microdnf/tdnf makecache or
//     check-update, zypper refresh) and installs or upgrades nothing fails.
//   - Secrets (1.5) are recognised by value (AWS key ids, GitHub, Slack and
//     JWT tokens, PEM private keys) and by name (PASSWORD, PASSWD,
//     PASSPHRASE, SECRET, TOKEN, API_KEY, APIKEY, ACCESS_KEY, PRIVATE_KEY,
//     CREDENTIAL, and the Huawei Cloud *_AK / *_SK pairs, whose values have no
//     recognisable shape). A named variable does not count when its value is
//     empty, a boolean, or a reference ("/run/secrets/db", "${DB_PASSWORD}",
//     "file:…"), or when its name says it holds a location or a setting
//     (*_FILE, *_PATH, *_DIR, *_URL, *_HOST, *_PORT, *_LENGTH, …). Results
//     never show a secret: at most its first four characters when it has
//     16 or more, and its length.
//   - sshd settings (3.x) are read as sshd reads them: case-insensitive
//     keys, the first value wins, Include directives are followed in place
//     (patterns relative to /etc/ssh, matched against the files under
//     /etc/ssh/sshd_config.d/), and Match blocks, being conditional, are
//     skipped. A setting that is not set has sshd's default: PermitRootLogin
//     prohibit-password, PasswordAuthentication yes, PermitEmptyPasswords
//     no. Images without /etc/ssh/sshd_config pass.
//   - /etc/shadow (2.x): a field starting with "!" or "*" is a locked
//     account and passes; an empty field fails, as do MD5 ("$1$") and DES
//     (13 characters) hashes. An account whose /etc/passwd field is empty
//     has no password either.
//   - sudoers (2.4) reads /etc/sudoers and the files of /etc/sudoers.d/
//     that sudo's @includedir reads (no "." in the name, not ending in "~").
//   - Setuid and setgid files (4.1) are all reported, Low severity: the CIS
//     benchmark asks for a review, and which are expected depends on the
//     image.
//   - World-writable entries (4.2): regular files and directories with the
//     write bit for others fail outside /tmp, /var/tmp, /dev/shm and
//     /run/lock; inside those only a world-writable directory without the
//     sticky bit fails.
//   - Private keys (5.1) are looked for in files with key-like names
//     (id_rsa, id_ed25519, *_key…) or under a .ssh directory (first 4 KiB
//     read), and in .pem and .key files (whole up to 64 KiB, else the first
//     4 KiB); a "PRIVATE KEY" PEM header is a key. Cloud credentials (5.2)
//     are AWS credentials files, Docker config.json files with registry
//     credentials, .git-credentials, .netrc files with a password, and
//     gcloud credential files.
//
// Files are judged as they are in the image's final filesystem: content
// read from a layer counts only if no later layer replaced or deleted it.
// Configuration files larger than 1 MiB are not read, and the analyzer's
// status says so.
//
// The package does not run anything in the image, check kernel or runtime
// settings (those belong to the container's deployment, not the image), or
// scan for vulnerable packages or malware.
package baseline
