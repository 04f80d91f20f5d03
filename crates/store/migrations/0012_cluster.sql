-- 0012: leases and nodes, for gateways sharing one database.
--
-- Upgrades a database in place (it only adds tables). Applied inside one
-- transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- A named lease (`session:<key>`, `receiver:<platform>:<id>`,
-- `outbox:<id>`) held by one node until `until_ms`; anyone may take it
-- over after that. Released leases are deleted.
CREATE TABLE leases (
    name           TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    acquired_at_ms INTEGER NOT NULL,
    until_ms       INTEGER NOT NULL
);

CREATE INDEX leases_by_owner ON leases (owner);

-- Each gateway process and its last heartbeat; `info_json` is what it
-- says about itself (platforms and their state).
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    version       TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    seen_at_ms    INTEGER NOT NULL,
    info_json     TEXT NOT NULL
);
