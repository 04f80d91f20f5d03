//! Reading records from SQLite rows into the shared `Raw*` forms.

pub(crate) use crate::rows::*;
use crate::{ApprovedUser, PendingPairing};
use hermod_model::PlatformId;
use rusqlite::Row;

impl RawSession {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            key: row.get(1)?,
            platform: row.get(2)?,
            source_json: row.get(3)?,
            title: row.get(4)?,
            created_at_ms: row.get(5)?,
            updated_at_ms: row.get(6)?,
            ended_at_ms: row.get(7)?,
            end_reason: row.get(8)?,
            message_count: row.get(9)?,
            prompt_tokens: row.get(10)?,
            completion_tokens: row.get(11)?,
            model_override: row.get(12)?,
        })
    }
}

impl RawMessage {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            session_id: row.get(1)?,
            role: row.get(2)?,
            content: row.get(3)?,
            content_json: row.get(4)?,
            tool_calls_json: row.get(5)?,
            tool_call_id: row.get(6)?,
            tool_name: row.get(7)?,
            at_ms: row.get(8)?,
            platform_message_id: row.get(9)?,
        })
    }
}

impl RawOutbox {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            key: row.get(1)?,
            platform: row.get(2)?,
            chat_id: row.get(3)?,
            thread_id: row.get(4)?,
            reply_to: row.get(5)?,
            text: row.get(6)?,
            session_id: row.get(7)?,
            state: row.get(8)?,
            attempts: row.get(9)?,
            message_ids_json: row.get(10)?,
            error: row.get(11)?,
            created_at_ms: row.get(12)?,
            updated_at_ms: row.get(13)?,
            next_attempt_at_ms: row.get(14)?,
            delivered_at_ms: row.get(15)?,
            attachments_json: row.get(16)?,
            attachment_progress_json: row.get(17)?,
        })
    }
}

pub(crate) fn pending_from_row(row: &Row<'_>) -> rusqlite::Result<PendingPairing> {
    Ok(PendingPairing {
        id: row.get(0)?,
        platform: PlatformId::new(row.get::<_, String>(1)?),
        user_id: row.get(2)?,
        user_name: row.get(3)?,
        code_hash: row.get(4)?,
        salt: row.get(5)?,
        created_at_ms: row.get(6)?,
        expires_at_ms: row.get(7)?,
    })
}

pub(crate) fn approved_from_row(row: &Row<'_>) -> rusqlite::Result<ApprovedUser> {
    Ok(ApprovedUser {
        platform: PlatformId::new(row.get::<_, String>(0)?),
        user_id: row.get(1)?,
        user_name: row.get(2)?,
        approved_at_ms: row.get(3)?,
    })
}
