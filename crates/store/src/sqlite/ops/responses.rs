//! Stored responses of the HTTP API: kept by recent use, bounded by each put.

use super::sql_count;
use crate::StoredResponse;
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::{RESPONSE_COLUMNS, RawResponse};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub(crate) fn response_put(
    conn: &mut Connection,
    response: &StoredResponse,
    keep: usize,
    at_ms: i64,
) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO stored_responses \
             (id, conversation, session_id, data, created_at_ms, used_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO UPDATE SET conversation = excluded.conversation, \
             session_id = excluded.session_id, data = excluded.data, \
             created_at_ms = excluded.created_at_ms, used_at_ms = excluded.used_at_ms",
        params![
            response.id,
            response.conversation,
            response.session_id.as_ref().map(|s| s.as_str()),
            response.data,
            response.created_at_ms,
            at_ms,
        ],
    )?;
    // Ties in use time keep the later write (the higher rowid).
    tx.execute(
        "DELETE FROM stored_responses WHERE rowid NOT IN \
         (SELECT rowid FROM stored_responses ORDER BY used_at_ms DESC, rowid DESC LIMIT ?1)",
        [sql_count(keep)],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn response(
    conn: &mut Connection,
    id: &str,
    at_ms: i64,
) -> DbResult<Option<StoredResponse>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = tx
        .query_row(
            &format!("SELECT {RESPONSE_COLUMNS} FROM stored_responses WHERE id = ?1"),
            [id],
            RawResponse::from_row,
        )
        .optional()?;
    if found.is_some() {
        tx.execute(
            "UPDATE stored_responses SET used_at_ms = max(used_at_ms, ?2) WHERE id = ?1",
            params![id, at_ms],
        )?;
    }
    tx.commit()?;
    Ok(found.map(RawResponse::decode).transpose()?)
}

pub(crate) fn latest_response(
    conn: &Connection,
    conversation: &str,
) -> DbResult<Option<StoredResponse>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RESPONSE_COLUMNS} FROM stored_responses WHERE conversation = ?1 \
         ORDER BY created_at_ms DESC, rowid DESC LIMIT 1"
    ))?;
    let found = stmt
        .query_row([conversation], RawResponse::from_row)
        .optional()?;
    Ok(found.map(RawResponse::decode).transpose()?)
}

pub(crate) fn response_delete(conn: &Connection, id: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM stored_responses WHERE id = ?1")?;
    Ok(stmt.execute([id])? > 0)
}
