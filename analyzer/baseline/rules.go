package baseline

import (
	"slices"

	"customs"
)

// Rule is one baseline rule's metadata: what the API lists and what a
// result carries besides the image's own values.
type Rule struct {
	ID          string // check_rule_id, "<group>.<rule>"
	Name        string // check_rule_name
	CheckName   string // the group
	CheckType   string // equals CheckName
	Standard    string // "hw_standard"
	Severity    string // customs.Severity*
	Description string
	Reference   string // the CIS Docker Benchmark section, where one applies
	Audit       string
	Remediation string
	// SuggestValue is the suggest_value of every result of the rule.
	SuggestValue string
}

// Group is one check_name: a group of rules (spec §3 ListImageRiskConfigs).
type Group struct {
	CheckName   string
	CheckType   string
	Standard    string
	Description string // check_type_desc
}

// Groups of rules, in catalogue order.
const (
	GroupDocker      = "Docker image"
	GroupAccounts    = "Linux accounts"
	GroupSSH         = "SSH"
	GroupPermissions = "File permissions"
	GroupSensitive   = "Sensitive files"
)

const standard = "hw_standard"

var groups = []Group{
	{GroupDocker, GroupDocker, standard, "How the image is configured to run and how it was built: user, health check, exposed ports, build steps and secrets in its configuration."},
	{GroupAccounts, GroupAccounts, standard, "Local accounts and privilege escalation: passwords in /etc/shadow and sudo rules."},
	{GroupSSH, GroupSSH, standard, "The OpenSSH server configuration in /etc/ssh/sshd_config and the files it includes."},
	{GroupPermissions, GroupPermissions, standard, "File modes that let a process gain privileges or other users change files: setuid, setgid and world-writable entries."},
	{GroupSensitive, GroupSensitive, standard, "Private keys and cloud credentials left in the image's filesystem."},
}

// Groups returns the groups of rules in catalogue order.
func Groups() []Group { return slices.Clone(groups) }

// Rules returns the catalogue, in the order results are reported.
func Rules() []Rule { return slices.Clone(catalogue) }

func rule(id, name, group, severity, ref, desc, audit, remediation, suggest string) Rule {
	return Rule{ID: id, Name: name, CheckName: group, CheckType: group, Standard: standard, Severity: severity,
		Description: desc, Reference: ref, Audit: audit, Remediation: remediation, SuggestValue: suggest}
}

const cis = "CIS Docker Benchmark v1.6.0, "

var catalogue = []Rule{
	rule("1.1", "The image runs as a non-root user", GroupDocker, customs.SeverityMedium, cis+"4.1",
		"A container runs as the image's USER. When it is empty, root or uid 0, every process in the container runs as root, and an escape from the container or a mounted host path gives root on the host.",
		"Read the image configuration's User: empty, \"root\", \"0\" and any user whose uid in /etc/passwd is 0 run as root. The group part (\"0:0\", \"root:root\") does not change the user.",
		"Create an unprivileged user in the Dockerfile and switch to it: RUN useradd -r -u 10001 app, then USER 10001.",
		"a non-root USER, e.g. USER 10001"),
	rule("1.2", "The image has a HEALTHCHECK", GroupDocker, customs.SeverityLow, cis+"4.6",
		"Without a HEALTHCHECK the engine cannot tell a hung container from a working one, so it is neither restarted nor taken out of service.",
		"Read the image configuration's Healthcheck: none, or HEALTHCHECK NONE, fails.",
		"Add a HEALTHCHECK instruction that exercises the service, e.g. HEALTHCHECK CMD curl -f http://localhost:8080/healthz || exit 1.",
		"a HEALTHCHECK instruction that tests the service"),
	rule("1.3", "Package index updates are not run alone", GroupDocker, customs.SeverityLow, cis+"4.7",
		"A RUN step that only refreshes the package index (apt-get update, apk update, yum update…) is cached as a layer of its own: later builds reuse the stale index and install outdated packages.",
		"Read the RUN steps of the image's own history (after its base image): a step that updates the package index without installing or upgrading a package fails.",
		"Refresh the index in the same RUN as the installation: RUN apt-get update && apt-get install -y --no-install-recommends pkg && rm -rf /var/lib/apt/lists/*.",
		"package index updates only in the same RUN as an install"),
	rule("1.4", "ADD does not fetch remote files or unpack archives", GroupDocker, customs.SeverityLow, cis+"4.9",
		"ADD downloads remote URLs without verifying them and silently unpacks local archives, which can bring unexpected files into the image; COPY only copies.",
		"Read the ADD steps of the image's own history (after its base image): a source that is a URL or a git repository, or whose name is that of an archive, fails.",
		"Use COPY for local files; download with curl or wget in a RUN that verifies a checksum, or use ADD --checksum.",
		"COPY instead of ADD; downloads verified by checksum"),
	rule("1.5", "No secrets in environment variables or labels", GroupDocker, customs.SeverityHigh, cis+"4.10",
		"ENV values and labels are stored in the image configuration, readable by anyone who can pull the image and by every process in the container. Passwords, tokens and keys there are disclosed.",
		"Read every ENV variable and label: values shaped like an AWS key id, a GitHub or Slack token, a JWT or a PEM private key fail, as do non-empty values of variables named like passwords, secrets, tokens or API keys that are not references to a file or another variable.",
		"Remove the secret from the image and rotate it; pass secrets at run time (docker run --env-file, Kubernetes Secrets, /run/secrets files) or use build secrets (RUN --mount=type=secret).",
		"no secret values in ENV or labels"),
	rule("1.6", "The image does not expose SSH (port 22)", GroupDocker, customs.SeverityMedium, cis+"5.6",
		"An SSH server in a container is a second way in that bypasses the engine's access control and audit, and its keys and passwords live in the image.",
		"Read the image configuration's ExposedPorts: 22/tcp fails.",
		"Remove the SSH server and EXPOSE 22; use docker exec or kubectl exec to get a shell.",
		"port 22 not exposed"),

	rule("2.1", "No account has an empty password", GroupAccounts, customs.SeverityHigh, "",
		"An account with an empty password field lets anyone log in as it, or switch to it with su, without a password.",
		"Read /etc/shadow (and /etc/passwd for accounts it does not shadow): an empty password field fails. Locked accounts (\"!\", \"*\") pass.",
		"Lock the account: passwd -l NAME (or usermod -p '*' NAME) in the Dockerfile.",
		"every password field locked (\"!\" or \"*\") or a SHA-512/yescrypt hash"),
	rule("2.2", "No account has a weak password hash", GroupAccounts, customs.SeverityMedium, "",
		"DES and MD5 password hashes are cracked in minutes to hours, and an image's hashes are readable by anyone who can pull it.",
		"Read /etc/shadow: hashes starting with $1$ (MD5) and 13-character DES hashes fail.",
		"Lock the accounts (passwd -l NAME); if a password is really needed, set it at run time with a SHA-512 or yescrypt hash.",
		"no MD5 or DES password hashes"),
	rule("2.3", "root has a password or is locked", GroupAccounts, customs.SeverityHigh, "",
		"A root account without a password lets any user in the container become root with su.",
		"Read root's entry in /etc/shadow (or /etc/passwd): an empty password field fails.",
		"Lock root: passwd -l root.",
		"root locked (\"*\" or \"!\")"),
	rule("2.4", "sudo does not grant everything without a password", GroupAccounts, customs.SeverityMedium, "",
		"A sudo rule NOPASSWD: ALL makes the user root without any further check, so any code running as that user is root.",
		"Read /etc/sudoers and the files sudo reads from /etc/sudoers.d: a rule granting ALL commands with NOPASSWD fails.",
		"Remove sudo from the image, or grant only the commands needed, with a password.",
		"no NOPASSWD: ALL rules"),

	rule("3.1", "sshd does not permit root login", GroupSSH, customs.SeverityHigh, "",
		"PermitRootLogin yes lets root log in over SSH with a password, the account every attacker tries first.",
		"Read PermitRootLogin in /etc/ssh/sshd_config and the files it includes, the first value winning as in sshd; unset is prohibit-password.",
		"Set PermitRootLogin no (or prohibit-password) in /etc/ssh/sshd_config, or remove the SSH server.",
		"PermitRootLogin no"),
	rule("3.2", "sshd does not allow password authentication", GroupSSH, customs.SeverityMedium, "",
		"Password authentication over SSH exposes the image's accounts to password guessing; keys cannot be guessed.",
		"Read PasswordAuthentication in /etc/ssh/sshd_config and the files it includes, the first value winning as in sshd; unset is yes.",
		"Set PasswordAuthentication no and use keys, or remove the SSH server.",
		"PasswordAuthentication no"),
	rule("3.3", "sshd does not permit empty passwords", GroupSSH, customs.SeverityHigh, "",
		"PermitEmptyPasswords yes lets accounts without a password log in over SSH with nothing at all.",
		"Read PermitEmptyPasswords in /etc/ssh/sshd_config and the files it includes, the first value winning as in sshd; unset is no.",
		"Set PermitEmptyPasswords no, or remove the setting.",
		"PermitEmptyPasswords no"),

	rule("4.1", "Setuid and setgid files are reviewed", GroupPermissions, customs.SeverityLow, cis+"4.8",
		"Setuid and setgid programs run with their owner's or group's privileges whatever user starts them; each one is a way to escalate privileges if it has a flaw. Most containers need none.",
		"List the regular files of the final filesystem with the setuid or setgid bit.",
		"Remove the bits from programs the container does not need: RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} + in the Dockerfile.",
		"no setuid or setgid files, or only reviewed ones"),
	rule("4.2", "No world-writable files or directories outside temporary directories", GroupPermissions, customs.SeverityMedium, "",
		"A world-writable file or directory lets any user in the container change programs, configuration or data that other users and services rely on.",
		"List the regular files and directories of the final filesystem writable by others, outside /tmp, /var/tmp, /dev/shm and /run/lock; inside those, world-writable directories must have the sticky bit.",
		"Remove the write bit for others (chmod o-w PATH), or give the directory to the user that needs it (chown).",
		"no world-writable entries outside temporary directories"),

	rule("5.1", "No private keys in the filesystem", GroupSensitive, customs.SeverityHigh, "",
		"A private key in an image is shared by every container started from it and readable by anyone who can pull it: SSH host keys, TLS keys and personal keys there are disclosed.",
		"Read files with key-like names, files under .ssh directories and small .pem and .key files of the final filesystem for a PEM \"PRIVATE KEY\" block.",
		"Remove the key from every layer (a later rm does not remove it from the image), rotate it, and provide keys at run time as secrets or mounted volumes; generate SSH host keys when the container starts.",
		"no private keys"),
	rule("5.2", "No cloud credential files in the filesystem", GroupSensitive, customs.SeverityHigh, "",
		"Credential files of cloud and developer tools left in an image give anyone who can pull it the access of the account that built it.",
		"Look in the final filesystem for AWS credentials files, Docker config.json with registry credentials, .git-credentials, .netrc with a password and gcloud credential files.",
		"Remove the files from every layer, rotate the credentials, and use build secrets (RUN --mount=type=secret) for credentials the build needs.",
		"no credential files"),
}
