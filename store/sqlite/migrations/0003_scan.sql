-- Scan results, by image manifest. An index has none of its own: its rows
-- show the distinct union of its children's, and its summary columns on
-- manifests are recomputed whenever a child's change.

-- Which image manifests an index holds, for finding the indexes a child's
-- scan moves.
CREATE TABLE manifest_children (
	parent_id    INTEGER NOT NULL REFERENCES manifests (id),
	child_digest TEXT NOT NULL, -- the child's manifest may be stored later
	PRIMARY KEY (parent_id, child_digest)
) WITHOUT ROWID;
CREATE INDEX manifest_children_child ON manifest_children (child_digest);

INSERT OR IGNORE INTO manifest_children (parent_id, child_digest)
SELECT p.id, json_extract(j.value, '$.digest') FROM manifests p, json_each(p.children) j WHERE p.kind = 'index';

ALTER TABLE manifests ADD COLUMN scan_os TEXT NOT NULL DEFAULT '';
ALTER TABLE manifests ADD COLUMN scan_analyzers TEXT NOT NULL DEFAULT '[]'; -- JSON [{name, status, reason}]
ALTER TABLE manifests ADD COLUMN scan_queued_at INTEGER NOT NULL DEFAULT 0;

-- The inventory: what re-matching reads when advisories change. key_name is
-- the name advisories use (a Debian binary package's source package).
CREATE TABLE scan_packages (
	manifest_id    INTEGER NOT NULL REFERENCES manifests (id),
	ecosystem      TEXT NOT NULL,
	key_name       TEXT NOT NULL,
	name           TEXT NOT NULL,
	version        TEXT NOT NULL,
	source_name    TEXT NOT NULL,
	source_version TEXT NOT NULL,
	os             INTEGER NOT NULL,
	path           TEXT NOT NULL,
	layer          TEXT NOT NULL
);
CREATE INDEX scan_packages_manifest ON scan_packages (manifest_id);
CREATE INDEX scan_packages_key ON scan_packages (ecosystem, key_name, manifest_id);

-- One row per (advisory, package occurrence): vul_num counts them.
CREATE TABLE scan_findings (
	manifest_id   INTEGER NOT NULL REFERENCES manifests (id),
	vul_id        TEXT NOT NULL,
	aliases       TEXT NOT NULL, -- JSON array
	severity      TEXT NOT NULL,
	repair        TEXT NOT NULL, -- repair_necessity
	summary       TEXT NOT NULL,
	fixed_version TEXT NOT NULL,
	url           TEXT NOT NULL,
	ecosystem     TEXT NOT NULL,
	name          TEXT NOT NULL,
	version       TEXT NOT NULL,
	source_name    TEXT NOT NULL,
	source_version TEXT NOT NULL,
	os            INTEGER NOT NULL,
	path          TEXT NOT NULL,
	layer         TEXT NOT NULL,
	PRIMARY KEY (manifest_id, vul_id, name, version, path)
) WITHOUT ROWID;

CREATE TABLE scan_malware (
	manifest_id INTEGER NOT NULL REFERENCES manifests (id),
	path        TEXT NOT NULL,
	signature   TEXT NOT NULL,
	size        INTEGER NOT NULL,
	sha256      TEXT NOT NULL,
	layer       TEXT NOT NULL,
	deleted     INTEGER NOT NULL,
	PRIMARY KEY (manifest_id, path, layer)
) WITHOUT ROWID;

-- Rule texts once, results per image.
CREATE TABLE baseline_rules (
	rule_id     TEXT PRIMARY KEY,
	rule_name   TEXT NOT NULL,
	check_name  TEXT NOT NULL,
	check_type  TEXT NOT NULL,
	standard    TEXT NOT NULL,
	severity    TEXT NOT NULL,
	description TEXT NOT NULL,
	reference   TEXT NOT NULL,
	audit       TEXT NOT NULL,
	remediation TEXT NOT NULL
);

CREATE TABLE scan_baseline (
	manifest_id   INTEGER NOT NULL REFERENCES manifests (id),
	rule_id       TEXT NOT NULL REFERENCES baseline_rules (rule_id),
	passed        INTEGER NOT NULL,
	current_value TEXT NOT NULL,
	suggest_value TEXT NOT NULL,
	PRIMARY KEY (manifest_id, rule_id)
) WITHOUT ROWID;

-- OSV advisories as published, indexed by the packages they name.
CREATE TABLE advisories (
	id          TEXT PRIMARY KEY,
	modified    INTEGER NOT NULL,
	withdrawn   INTEGER NOT NULL, -- 0 unless withdrawn
	source      TEXT NOT NULL,
	imported_at INTEGER NOT NULL,
	record      BLOB NOT NULL
);

CREATE TABLE advisory_packages (
	ecosystem   TEXT NOT NULL,
	name        TEXT NOT NULL,
	advisory_id TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
	PRIMARY KEY (ecosystem, name, advisory_id)
) WITHOUT ROWID;
CREATE INDEX advisory_packages_advisory ON advisory_packages (advisory_id);

-- Malware signature files as imported (ClamAV formats), read by every worker.
CREATE TABLE signature_files (
	name        TEXT PRIMARY KEY,
	sha256      TEXT NOT NULL,
	content     BLOB NOT NULL,
	imported_at INTEGER NOT NULL
);
