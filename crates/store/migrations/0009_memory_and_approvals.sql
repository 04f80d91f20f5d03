-- 0009: what the agent remembers about each user, and the actions each
-- user approved for good.
--
-- Upgrades a 0008 database in place (it only adds tables). Applied inside
-- one transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- A user's notes, shown to the model in every turn of that user's sessions.
-- A user is a platform and that platform's user id (Source.platform and
-- Source.user_id). How many notes and how long they may be is the caller's
-- rule; the store only keeps them, oldest first.
CREATE TABLE memory_notes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE INDEX memory_notes_by_owner ON memory_notes (platform, user_id, id);

-- Approval keys (a kind of action, such as a dangerous command's pattern
-- name or a tool's name) a user answered "always" to: a request with that
-- key in any of the user's sessions is approved without asking, until the
-- user revokes it.
CREATE TABLE approval_grants (
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    key           TEXT NOT NULL,
    granted_at_ms INTEGER NOT NULL,
    PRIMARY KEY (platform, user_id, key)
) WITHOUT ROWID;
