-- Identities. Secrets are never stored in clear: passwords as argon2id
-- hashes, tokens as SHA-256 hashes.
CREATE TABLE domains (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	domain_id     TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	admin         INTEGER NOT NULL DEFAULT 0,
	enabled       INTEGER NOT NULL DEFAULT 1,
	created_at    INTEGER NOT NULL,
	UNIQUE (domain_id, name)
);

CREATE TABLE projects (
	id         TEXT PRIMARY KEY,
	domain_id  TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	enabled    INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	UNIQUE (domain_id, name)
);

CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	domain_id  TEXT NOT NULL,
	project_id TEXT NOT NULL,
	methods    TEXT NOT NULL,
	issued_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Registries. The password is sealed with the data directory's key.
CREATE TABLE registries (
	id                    TEXT PRIMARY KEY,
	project_id            TEXT NOT NULL REFERENCES projects (id),
	enterprise_project_id TEXT NOT NULL,
	name                  TEXT NOT NULL,
	type                  TEXT NOT NULL,
	protocol              TEXT NOT NULL,
	addr                  TEXT NOT NULL,
	username              TEXT NOT NULL,
	password              BLOB,
	namespace             TEXT NOT NULL,
	status                TEXT NOT NULL,
	fail_reason           TEXT NOT NULL,
	images_num            INTEGER NOT NULL DEFAULT 0,
	latest_sync_time      INTEGER NOT NULL DEFAULT 0,
	created_at            INTEGER NOT NULL,
	updated_at            INTEGER NOT NULL,
	UNIQUE (project_id, name)
);

-- SwrPrivate is the project's primary registry: one per project.
CREATE UNIQUE INDEX registries_one_primary ON registries (project_id) WHERE type = 'SwrPrivate';

-- What sync learned about each manifest digest, and the outcome of its
-- scan. Content-addressed, so one row serves every tag, registry and project
-- that points at the digest: a digest is scanned once.
CREATE TABLE manifests (
	id                 INTEGER PRIMARY KEY,
	digest             TEXT NOT NULL UNIQUE,
	media_type         TEXT NOT NULL,
	kind               TEXT NOT NULL,
	config_digest      TEXT NOT NULL,
	size               INTEGER NOT NULL,
	created            INTEGER NOT NULL,
	os                 TEXT NOT NULL,
	architecture       TEXT NOT NULL,
	variant            TEXT NOT NULL,
	scannable          INTEGER NOT NULL,
	children           TEXT NOT NULL, -- JSON array of {digest, os, architecture, variant}
	blobs              TEXT NOT NULL, -- JSON array of {digest, media_type, size}: config, then layers
	scan_status        TEXT NOT NULL DEFAULT 'unscan',
	scan_failed_desc   TEXT NOT NULL DEFAULT '',
	scanned_at         INTEGER NOT NULL DEFAULT 0,
	vul_num            INTEGER NOT NULL DEFAULT 0,
	unsafe_setting_num INTEGER NOT NULL DEFAULT 0,
	malicious_file_num INTEGER NOT NULL DEFAULT 0
);

-- One row per repository tag. The list reads it with its manifest's row (one
-- join by primary key per row of a page) and never joins findings. Every
-- write stamps the row with the transaction's change sequence (meta
-- image_seq), and every delete leaves a tombstone, so in-memory list indexes
-- can follow.
CREATE TABLE images (
	id                    INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id            TEXT NOT NULL,
	enterprise_project_id TEXT NOT NULL,
	registry_id           TEXT NOT NULL REFERENCES registries (id),
	image_type            TEXT NOT NULL,
	namespace             TEXT NOT NULL,
	name                  TEXT NOT NULL,
	tag                   TEXT NOT NULL,
	manifest_id           INTEGER NOT NULL REFERENCES manifests (id),
	updated_at            INTEGER NOT NULL,
	latest                INTEGER NOT NULL DEFAULT 0,
	domain_name           TEXT NOT NULL DEFAULT '', -- shared images: the owner's domain
	share_id              TEXT NOT NULL DEFAULT '', -- shared images: the share that shows them
	seq                   INTEGER NOT NULL,
	UNIQUE (registry_id, project_id, namespace, name, tag)
);

CREATE INDEX images_project_seq ON images (project_id, seq);
CREATE INDEX images_manifest ON images (manifest_id);

CREATE TABLE image_tombstones (
	seq        INTEGER NOT NULL,
	project_id TEXT NOT NULL,
	id         INTEGER NOT NULL
);

CREATE INDEX image_tombstones_project_seq ON image_tombstones (project_id, seq);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('image_seq', 0), ('tombstones_pruned_seq', 0);

-- Synchronization runs. One running task per project and key; a running task
-- whose heartbeat stopped is taken as stopped.
CREATE TABLE sync_tasks (
	id            TEXT PRIMARY KEY,
	project_id    TEXT NOT NULL,
	trigger       TEXT NOT NULL,
	key           TEXT NOT NULL,
	image_type    TEXT NOT NULL,
	registry_ids  TEXT NOT NULL, -- JSON array
	state         TEXT NOT NULL,
	progress      INTEGER NOT NULL,
	total         INTEGER NOT NULL,
	succeeded     INTEGER NOT NULL,
	failed        INTEGER NOT NULL,
	added         INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	removed       INTEGER NOT NULL,
	failed_reason TEXT NOT NULL,
	failed_images TEXT NOT NULL, -- JSON array
	started_at    INTEGER NOT NULL,
	finished_at   INTEGER NOT NULL,
	heartbeat_at  INTEGER NOT NULL
);

CREATE UNIQUE INDEX sync_tasks_one_running ON sync_tasks (project_id, key) WHERE state = 'running';
CREATE INDEX sync_tasks_project_started ON sync_tasks (project_id, started_at);
