-- 0002: per-session model override, undoable messages, settings, DM pairing.
--
-- Upgrades a 0001 database in place: existing sessions get no model override
-- and existing messages stay active. Applied inside one transaction by
-- src/sqlite/migrate.rs. Never edit a released migration: add a new file.

-- The model a session uses instead of the configured default; NULL = the default.
ALTER TABLE sessions ADD COLUMN model_override TEXT;

-- 0 once `/undo` or `/retry` took the message back. Taken-back messages stay
-- stored (and in the full-text index, which mirrors every row) but are no
-- longer history: reads and searches skip them, and sessions.message_count
-- counts only active messages. The FTS triggers watch other columns, so
-- changing `active` leaves the index alone.
ALTER TABLE messages ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

-- Small key-value state: home channels, rate-limit stamps and the like.
CREATE TABLE settings (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

-- DM pairing requests waiting for an operator. Only the code's salted hash is
-- kept. Limits, expiry and lockout rules live in the caller; the store keeps
-- the data.
CREATE TABLE pairing_pending (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    user_name     TEXT,
    code_hash     TEXT NOT NULL,
    salt          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);

-- Serves the platform filter and its "oldest first" order.
CREATE INDEX pairing_pending_by_platform ON pairing_pending (platform, created_at_ms);

-- Users allowed to talk to the gateway in direct messages, per platform.
CREATE TABLE pairing_approved (
    platform       TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    user_name      TEXT,
    approved_at_ms INTEGER NOT NULL,
    PRIMARY KEY (platform, user_id)
);
