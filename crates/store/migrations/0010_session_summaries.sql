-- 0010: the summary that stands in for a long session's older messages.
--
-- Upgrades a database in place (it only adds a table). Applied inside one
-- transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- At most one per session: the latest summary of its messages up to and
-- including `through_message_id`. The messages stay stored in full; the
-- gateway sends the model this summary and the messages after it. A new
-- summary (which folds in the previous one) replaces the row. Taking back
-- a message the summary covers (/undo, /retry) removes the row, so a
-- summary never speaks of messages that are no longer history.
CREATE TABLE session_summaries (
    session_id         TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    summary            TEXT NOT NULL,
    through_message_id INTEGER NOT NULL,
    focus              TEXT,
    created_at_ms      INTEGER NOT NULL
);
