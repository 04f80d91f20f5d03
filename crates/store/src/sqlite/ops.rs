//! The store's operations as plain synchronous functions on one connection.
//!
//! [`super::SqliteStore`] decides which connection (the writer or a reader)
//! and which thread each runs on; here is only the SQL and its contracts,
//! one submodule per subject. Writes that touch more than one row run in a
//! `BEGIN IMMEDIATE` transaction, which takes the write lock up front so a
//! busy database shows up as [`StoreError::Busy`] at the start rather than
//! halfway through.

mod cluster;
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

pub(crate) use cluster::{
    lease, lease_acquire, lease_purge, lease_release, lease_release_all, lease_renew_all, leases,
    node_beat, node_purge, node_remove, nodes,
};
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
use hermod_model::SessionId;
use rusqlite::Connection;

pub(crate) use crate::rows::{
    DEFAULT_LIST_LIMIT, DEFAULT_SEARCH_LIMIT, changed_rows, not_found, sql_count, sql_limit,
};

fn session_exists(conn: &Connection, id: &SessionId) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?;
    Ok(stmt.exists([id.as_str()])?)
}
