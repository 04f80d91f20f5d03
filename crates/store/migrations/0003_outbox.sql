-- 0003: the outbox, where every reply and scheduled delivery is written
-- before it is sent.
--
-- Upgrades a 0002 database in place (it only adds a table). Applied inside
-- one transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- One delivery to a chat. `key` is the caller's idempotency key: a second
-- write with the same key finds this row instead of adding a delivery.
-- `chat_id` and `thread_id` are the hermod_model::ChatTarget. `session_id`
-- only records which session the delivery belongs to; it is not a foreign key,
-- so a delivery outlives its session. `message_ids_json` is a JSON array of
-- the platform ids of the messages already created for this delivery.
-- `attempts` counts failed attempts; `next_attempt_at_ms` is when the
-- consumer plans to try again (the store never acts on it).
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    key                TEXT NOT NULL,
    platform           TEXT NOT NULL,
    chat_id            TEXT NOT NULL,
    thread_id          TEXT,
    reply_to           TEXT,
    text               TEXT NOT NULL,
    session_id         TEXT,
    state              TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    message_ids_json   TEXT NOT NULL DEFAULT '[]',
    error              TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    next_attempt_at_ms INTEGER NOT NULL,
    delivered_at_ms    INTEGER
);

-- One delivery per idempotency key.
CREATE UNIQUE INDEX outbox_by_key ON outbox (key);
-- Serves "pending deliveries, oldest first".
CREATE INDEX outbox_by_state ON outbox (state, created_at_ms);
