-- 0008: handoff of a conversation to a chat platform.
--
-- Upgrades a 0007 database in place (it only adds a table). Applied inside
-- one transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- The latest handoff asked of each session: `state` moves
-- pending -> running -> completed | failed. A new request replaces a
-- completed or failed one; one pending or running is never replaced.
-- `destination_json` is the hermod_model::ChatTarget the conversation went
-- to (completed only), `error` why it failed (failed only).
CREATE TABLE handoffs (
    session_id       TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    platform         TEXT NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('pending', 'running', 'completed', 'failed')),
    error            TEXT,
    destination_json TEXT,
    requested_at_ms  INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);

-- What the gateway polls for: the few handoffs not finished, oldest first.
CREATE INDEX handoffs_unfinished ON handoffs (state, requested_at_ms)
    WHERE state IN ('pending', 'running');
