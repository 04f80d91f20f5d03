//! Reading records from SQLite rows into the shared `Raw*` forms.

use crate::rows::cron::{RawJob, RawRun};
use crate::rows::handoff::RawHandoff;
use crate::rows::inbox::RawInbox;
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

impl RawInbox {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: row.get(0)?,
            platform: row.get(1)?,
            key: row.get(2)?,
            event_json: row.get(3)?,
            state: row.get(4)?,
            received_at_ms: row.get(5)?,
            updated_at_ms: row.get(6)?,
            session_id: row.get(7)?,
            message_row: row.get(8)?,
            preview_ids_json: row.get(9)?,
        })
    }
}

impl RawHandoff {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            session: row.get(0)?,
            platform: row.get(1)?,
            state: row.get(2)?,
            error: row.get(3)?,
            destination: row.get(4)?,
            requested_at_ms: row.get(5)?,
            updated_at_ms: row.get(6)?,
        })
    }
}

impl RawResponse {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            conversation: row.get(1)?,
            session_id: row.get(2)?,
            data: row.get(3)?,
            created_at_ms: row.get(4)?,
        })
    }
}

impl RawJob {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            prompt: row.get(2)?,
            schedule: row.get(3)?,
            schedule_kind: row.get(4)?,
            deliver: row.get(5)?,
            model: row.get(6)?,
            enabled: row.get(7)?,
            creator_platform: row.get(8)?,
            creator_user: row.get(9)?,
            origin_json: row.get(10)?,
            created_at_ms: row.get(11)?,
            updated_at_ms: row.get(12)?,
            next_run_at_ms: row.get(13)?,
            run_requested: row.get(14)?,
            last_run_at_ms: row.get(15)?,
            last_status: row.get(16)?,
            last_error: row.get(17)?,
            claim_owner: row.get(18)?,
            claim_until_ms: row.get(19)?,
            revision: row.get(20)?,
        })
    }
}

impl RawRun {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            job_id: row.get(1)?,
            owner: row.get(2)?,
            scheduled_at_ms: row.get(3)?,
            started_at_ms: row.get(4)?,
            finished_at_ms: row.get(5)?,
            status: row.get(6)?,
            output: row.get(7)?,
            error: row.get(8)?,
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
