-- The inbox: every inbound platform message that must be handled exactly
-- once, recorded before the platform is acknowledged.
CREATE TABLE inbox (
    platform TEXT NOT NULL,
    key TEXT NOT NULL,
    event_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'started', 'done')),
    received_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (platform, key)
);

CREATE INDEX inbox_unfinished ON inbox (received_at_ms) WHERE state != 'done';
