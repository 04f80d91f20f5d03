//! The store's operations on one pooled PostgreSQL connection, one
//! submodule per subject, as for SQLite (`crate::sqlite::ops` says what
//! each must do; the trait's documentation is the contract).
//!
//! Writes that touch more than one row run in one transaction
//! ([`Db::begin`](super::pool::Db::begin) ... `commit`); a failure inside
//! one drops the connection, which rolls it back.

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
use super::pool::Db;
use crate::StoreError;
use hermod_model::SessionId;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

pub(crate) use crate::rows::{not_found, sql_count, sql_limit};
pub(crate) use messages::search_text;

/// Whether a session with this id exists.
pub(crate) async fn session_exists(db: &mut Db, id: &SessionId) -> DbResult<bool> {
    Ok(db
        .query_opt("SELECT 1 FROM sessions WHERE id = $1", &[&id.as_str()])
        .await?
        .is_some())
}

/// A row an operation reads, named (`what`, such as "session row") for
/// the message when one of its columns does not hold what the schema says.
pub(crate) struct Columns<'a> {
    row: &'a Row,
    what: &'static str,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(row: &'a Row, what: &'static str) -> Self {
        Self { row, what }
    }

    /// Column `i`. A value of the wrong type is corrupt data
    /// ([`StoreError::Corrupt`]), not a connection failure, as the client's
    /// own error would be classified.
    pub(crate) fn get<T: FromSql<'a>>(&self, i: usize) -> DbResult<T> {
        self.row.try_get(i).map_err(|e| {
            StoreError::Corrupt(format!("{} has an unreadable column {i}: {e}", self.what)).into()
        })
    }
}
