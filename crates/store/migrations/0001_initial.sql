-- 0001: sessions, messages, full-text search over messages, routing.
--
-- Applied inside one transaction by src/sqlite/migrate.rs, which records the
-- version in schema_migrations. Never edit a released migration: add a new file.

-- One conversation. `source_json` is the full serialized hermod_model::Source;
-- `platform` duplicates Source.platform so listings can filter on an index.
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    session_key       TEXT NOT NULL,
    platform          TEXT NOT NULL,
    source_json       TEXT NOT NULL,
    title             TEXT,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    ended_at_ms       INTEGER,
    end_reason        TEXT,
    message_count     INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX sessions_by_key ON sessions (session_key, created_at_ms DESC);
CREATE INDEX sessions_by_updated ON sessions (updated_at_ms DESC);
-- Serves both the platform filter and its "most recently updated first" order.
CREATE INDEX sessions_by_platform ON sessions (platform, updated_at_ms DESC);

-- One chat message. `content` is the plain text (for search and display);
-- `content_json` holds the full Content only when it is content parts, so a
-- plain-text message is stored once. NULL content means the message had none.
-- `tool_calls_text` is the tool calls' names and arguments as plain text, kept
-- only for the search index (FTS5 cannot extract it from JSON itself: it reads
-- its content without table-valued functions such as json_each).
CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id          TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role                TEXT NOT NULL,
    content             TEXT,
    content_json        TEXT,
    tool_calls_json     TEXT,
    tool_calls_text     TEXT,
    tool_call_id        TEXT,
    tool_name           TEXT,
    at_ms               INTEGER NOT NULL,
    platform_message_id TEXT
);

CREATE INDEX messages_by_session ON messages (session_id, id);

-- The text the full-text index holds for each message: its content, the tool
-- name of a tool result, and the names and arguments of the tool calls it
-- makes. It is the external content of messages_fts, so snippet() reads from
-- here and the index stores no second copy of the text.
CREATE VIEW messages_search (id, body) AS
SELECT id, concat_ws(' ', content, tool_name, tool_calls_text) FROM messages;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages_search',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Keep the index in step with messages. Removal must hand FTS5 exactly the
-- text that was indexed, so it reads the view before the row changes.
CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body)
    SELECT id, body FROM messages_search WHERE id = NEW.id;
END;

CREATE TRIGGER messages_fts_before_delete BEFORE DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
    SELECT 'delete', id, body FROM messages_search WHERE id = OLD.id;
END;

CREATE TRIGGER messages_fts_before_update
BEFORE UPDATE OF id, content, tool_name, tool_calls_text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
    SELECT 'delete', id, body FROM messages_search WHERE id = OLD.id;
END;

CREATE TRIGGER messages_fts_after_update
AFTER UPDATE OF id, content, tool_name, tool_calls_text ON messages BEGIN
    INSERT INTO messages_fts (rowid, body)
    SELECT id, body FROM messages_search WHERE id = NEW.id;
END;

-- Which session a routing key currently points at (gone with the session).
CREATE TABLE routing (
    session_key   TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    updated_at_ms INTEGER NOT NULL
);
