-- 0011: responses of the HTTP API's Responses API, kept for
-- `previous_response_id` chaining and `GET /v1/responses/{id}`.
--
-- Upgrades a database in place (it only adds a table). Applied inside one
-- transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- `data` is the API server's own JSON (the response object and what
-- chaining needs); the store only keeps it. The table is bounded by its
-- writer: each put drops all but the most recently used rows.
-- `session_id` names the session the response's turn ran in; it is not a
-- foreign key, so deleting a session leaves its responses readable.
CREATE TABLE stored_responses (
    id            TEXT PRIMARY KEY,
    conversation  TEXT,
    session_id    TEXT,
    data          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER NOT NULL
);

CREATE INDEX stored_responses_by_use ON stored_responses (used_at_ms DESC);
CREATE INDEX stored_responses_by_conversation
    ON stored_responses (conversation, created_at_ms DESC)
    WHERE conversation IS NOT NULL;
