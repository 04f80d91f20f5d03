//! How inbox entries map from rows, the same for every backend: each
//! backend reads an `inbox` row into [`RawInbox`] (its position column is
//! the backend's own: SQLite's rowid, PostgreSQL's `seq`), and the checks
//! that turn it into an [`InboxEntry`] live here once.

use super::session_id;
use crate::{InboxEntry, InboxState, InboxTurn, StoreError};
use hermod_model::PlatformId;

/// The `inbox` columns after the position, in the order every backend
/// reads them into [`RawInbox`] (each backend names its position column
/// first).
pub(crate) const INBOX_COLUMNS: &str = "platform, key, event_json, state, received_at_ms, \
     updated_at_ms, session_id, message_row, preview_ids_json";

/// An `inbox` row as stored.
pub(crate) struct RawInbox {
    pub(crate) seq: i64,
    pub(crate) platform: String,
    pub(crate) key: String,
    pub(crate) event_json: String,
    pub(crate) state: String,
    pub(crate) received_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) session_id: Option<String>,
    pub(crate) message_row: Option<i64>,
    pub(crate) preview_ids_json: String,
}

impl RawInbox {
    /// The entry, with its state, preview ids and turn checked.
    pub(crate) fn decode(self) -> Result<InboxEntry, StoreError> {
        let key = self.key;
        let corrupt = |what: &str, detail: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!(
                "inbox entry {key} has an unreadable {what}: {detail}"
            ))
        };
        let state = InboxState::parse(&self.state)
            .ok_or_else(|| corrupt("state", &format_args!("{:?}", self.state)))?;
        let preview_ids: Vec<String> = serde_json::from_str(&self.preview_ids_json)
            .map_err(|e| corrupt("preview id list", &e))?;
        let turn = match (self.session_id, self.message_row) {
            (Some(session), Some(message_id)) => Some(InboxTurn {
                session: session_id(session)?,
                message_id,
            }),
            _ => None,
        };
        Ok(InboxEntry {
            seq: self.seq,
            platform: PlatformId::new(self.platform),
            key,
            event_json: self.event_json,
            state,
            received_at_ms: self.received_at_ms,
            updated_at_ms: self.updated_at_ms,
            turn,
            preview_ids,
        })
    }
}
