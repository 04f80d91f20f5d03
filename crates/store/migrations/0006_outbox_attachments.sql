-- 0006: files sent with a delivery, and how far each one got.
--
-- Upgrades a 0005 database in place (it only adds columns). Applied inside
-- one transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- `attachments_json` is a JSON array of hermod_model::Attachment: the files
-- the delivery sends after its text, each as its own message. Written once,
-- with the entry.
ALTER TABLE outbox ADD COLUMN attachments_json TEXT NOT NULL DEFAULT '[]';
-- `attachment_progress_json` is a JSON array of AttachmentProgress, one per
-- attachment (missing entries are pending): "sending" is written before an
-- upload starts and "sent" with the message id after it, so a delivery
-- resumed after a crash can tell a file that may have arrived from one that
-- never left.
ALTER TABLE outbox ADD COLUMN attachment_progress_json TEXT NOT NULL DEFAULT '[]';
