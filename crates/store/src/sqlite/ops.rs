//! The store's operations as plain synchronous functions on one connection.
//!
//! [`super::SqliteStore`] decides which connection (the writer or a reader)
//! and which thread each runs on; here is only the SQL and its contracts,
//! one submodule per subject. Writes that touch more than one row run in a
//! `BEGIN IMMEDIATE` transaction, which takes the write lock up front so a
//! busy database shows up as [`StoreError::Busy`] at the start rather than
//! halfway through.

mod cron;
mod handoff;
mod inbox;
mod memory;
mod messages;
mod outbox;
mod pairing;
mod responses;
mod sessions;
mod settings;
mod summaries;

pub(crate) use cron::{
    cron_add, cron_changes, cron_claim, cron_expire, cron_finish, cron_job, cron_jobs, cron_remove,
    cron_renew, cron_runs, cron_update,
};
pub(crate) use handoff::{handoff, handoff_claim, handoff_finish, handoff_request, handoffs_in};
pub(crate) use inbox::{
    inbox_entry, inbox_prune, inbox_record, inbox_set_previews, inbox_set_state, inbox_start_turn,
    inbox_unfinished,
};
pub(crate) use memory::{
    approval_grant, approval_granted, approval_grants, approval_revoke, memory_add, memory_notes,
    memory_remove, memory_replace,
};
pub(crate) use messages::{
    append_messages, messages, search, search_owned, search_platform, undo_exchanges,
};
pub(crate) use outbox::{
    append_reply, outbox_delivered, outbox_entry, outbox_failed, outbox_pending, outbox_put,
    outbox_retry_later, outbox_set_attachment_progress, outbox_set_message_ids,
};
pub(crate) use pairing::{
    add_pending_pairing, approve_user, approved_users, is_approved, pending_pairings,
    purge_expired_pairings, remove_pending_pairing, revoke_user,
};
pub(crate) use responses::{latest_response, response, response_delete, response_put};
pub(crate) use sessions::{
    create_session, delete_session, end_session, list_sessions, reopen_session, route, session,
    sessions_for_key, set_model_override, set_route, set_title,
};
pub(crate) use settings::{delete_setting, set_setting, setting};
pub(crate) use summaries::{session_summary, set_session_summary};

use super::error::DbResult;
use crate::StoreError;
use hermod_model::SessionId;
use rusqlite::Connection;

/// Rows returned by session listings when the caller passes a limit of 0.
pub(crate) const DEFAULT_LIST_LIMIT: usize = 50;
/// Hits returned by [`search`] when the caller passes a limit of 0.
pub(crate) const DEFAULT_SEARCH_LIMIT: usize = 20;

/// A `usize` count as an SQL integer (saturating: a limit that large is "all").
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A listing limit as an SQL integer, with 0 meaning `default`.
fn sql_limit(limit: usize, default: usize) -> i64 {
    sql_count(if limit == 0 { default } else { limit })
}

/// A number of changed rows as the `u64` callers see.
fn changed_rows(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn not_found(id: &SessionId) -> StoreError {
    StoreError::NotFound(format!("session {id}"))
}

fn session_exists(conn: &Connection, id: &SessionId) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?;
    Ok(stmt.exists([id.as_str()])?)
}
