//! Session summaries: one row per session, replaced whole. `undo_exchanges`
//! (in `messages`) removes a summary that covers a message it takes back.

use super::{not_found, session_exists};
use crate::SessionSummary;
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::session_id;
use hermod_model::SessionId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub(crate) fn session_summary(
    conn: &Connection,
    id: &SessionId,
) -> DbResult<Option<SessionSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT session_id, summary, through_message_id, focus, created_at_ms \
         FROM session_summaries WHERE session_id = ?1",
    )?;
    let raw = stmt
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((session, summary, through_message_id, focus, created_at_ms)) = raw else {
        return Ok(None);
    };
    Ok(Some(SessionSummary {
        session: session_id(session)?,
        summary,
        through_message_id,
        focus,
        created_at_ms,
    }))
}

pub(crate) fn set_session_summary(conn: &mut Connection, new: &SessionSummary) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !session_exists(&tx, &new.session)? {
        return Err(not_found(&new.session).into());
    }
    tx.execute(
        "INSERT INTO session_summaries \
             (session_id, summary, through_message_id, focus, created_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (session_id) DO UPDATE SET \
             summary = excluded.summary, \
             through_message_id = excluded.through_message_id, \
             focus = excluded.focus, \
             created_at_ms = excluded.created_at_ms",
        params![
            new.session.as_str(),
            new.summary,
            new.through_message_id,
            new.focus,
            new.created_at_ms
        ],
    )?;
    tx.commit()?;
    Ok(())
}

/// Removes a session's summary when it covers a message from `first_undone`
/// on (called inside `undo_exchanges`' transaction).
pub(crate) fn forget_summary_covering(
    tx: &Connection,
    id: &SessionId,
    first_undone: i64,
) -> DbResult<()> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM session_summaries WHERE session_id = ?1 AND through_message_id >= ?2",
    )?;
    stmt.execute(params![id.as_str(), first_undone])?;
    Ok(())
}
