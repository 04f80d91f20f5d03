-- The inbox row of a platform message records the turn that answers it:
-- the session and the stored user message (written in the same transaction
-- as that message), and the preview messages shown while the reply streamed.
-- Recovery after a crash is keyed by the inbound message through these.
ALTER TABLE inbox ADD COLUMN session_id TEXT;
ALTER TABLE inbox ADD COLUMN message_row INTEGER;
ALTER TABLE inbox ADD COLUMN preview_ids_json TEXT NOT NULL DEFAULT '[]';

-- Done entries are pruned by age.
CREATE INDEX inbox_done ON inbox (updated_at_ms) WHERE state = 'done';
