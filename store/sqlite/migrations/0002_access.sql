-- Access keys (AK/SK). The secret key is sealed with the data directory's
-- key. failures counts consecutive bad signatures; a key is refused until
-- locked_until after too many.
CREATE TABLE credentials (
	access_key   TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	domain_id    TEXT NOT NULL,
	secret       BLOB NOT NULL,
	description  TEXT NOT NULL,
	status       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX credentials_user ON credentials (user_id);

-- Failed password logins per (domain, user name), to slow guessing down.
CREATE TABLE login_failures (
	key          TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL,
	first_at     INTEGER NOT NULL,
	locked_until INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE groups (
	id          TEXT PRIMARY KEY,
	domain_id   TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
	group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE enterprise_projects (
	id          TEXT PRIMARY KEY,
	domain_id   TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	enabled     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	UNIQUE (domain_id, name)
);

-- Custom policies; the system policies live in code.
CREATE TABLE policies (
	id          TEXT PRIMARY KEY,
	domain_id   TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	actions     TEXT NOT NULL, -- JSON array
	created_at  INTEGER NOT NULL,
	UNIQUE (domain_id, name)
);

-- A policy granted to a user or a group: in one project for every
-- enterprise project ('*'), or in one enterprise project in every project
-- of the domain (project_id '').
CREATE TABLE grants (
	id                    TEXT PRIMARY KEY,
	domain_id             TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	user_id               TEXT NOT NULL DEFAULT '',
	group_id              TEXT NOT NULL DEFAULT '',
	policy_id             TEXT NOT NULL,
	project_id            TEXT NOT NULL,
	enterprise_project_id TEXT NOT NULL,
	created_at            INTEGER NOT NULL,
	UNIQUE (user_id, group_id, policy_id, project_id, enterprise_project_id)
);

CREATE INDEX grants_user ON grants (user_id, project_id);
CREATE INDEX grants_group ON grants (group_id, project_id);

-- Repositories of a project's primary registry shared with another domain.
CREATE TABLE shares (
	id               TEXT PRIMARY KEY,
	owner_domain_id  TEXT NOT NULL,
	owner_project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	registry_id      TEXT NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
	namespace        TEXT NOT NULL,
	repository       TEXT NOT NULL,
	access_domain_id TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
	permit           TEXT NOT NULL,
	deadline         INTEGER NOT NULL, -- 0: forever
	description      TEXT NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	UNIQUE (registry_id, namespace, repository, access_domain_id)
);

CREATE INDEX shares_access_domain ON shares (access_domain_id);
