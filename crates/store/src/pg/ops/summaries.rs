//! Session summaries on PostgreSQL: one row per session, replaced whole.
//! `undo_exchanges` (in `messages`) removes a summary that covers a message
//! it takes back, inside its own transaction.
//!
//! Setting a summary is one upsert; the foreign key on `session_id` refuses
//! an unknown session (and holds the session against a concurrent delete
//! until the statement ends), so no separate existence check can go stale.

use super::{Columns, not_found};
use crate::SessionSummary;
use crate::pg::error::{DbError, DbResult};
use crate::pg::pool::Db;
use crate::rows::session_id;
use hermod_model::SessionId;

pub(crate) async fn session_summary(
    db: &mut Db,
    id: &SessionId,
) -> DbResult<Option<SessionSummary>> {
    let row = db
        .query_opt(
            "SELECT session_id, summary, through_message_id, focus, created_at_ms \
             FROM session_summaries WHERE session_id = $1",
            &[&id.as_str()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let c = Columns::new(&row, "session summary");
    Ok(Some(SessionSummary {
        session: session_id(c.get(0)?)?,
        summary: c.get(1)?,
        through_message_id: c.get(2)?,
        focus: c.get(3)?,
        created_at_ms: c.get(4)?,
    }))
}

pub(crate) async fn set_session_summary(db: &mut Db, new: &SessionSummary) -> DbResult<()> {
    let upserted = db
        .execute(
            "INSERT INTO session_summaries \
                 (session_id, summary, through_message_id, focus, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (session_id) DO UPDATE SET \
                 summary = excluded.summary, \
                 through_message_id = excluded.through_message_id, \
                 focus = excluded.focus, \
                 created_at_ms = excluded.created_at_ms",
            &[
                &new.session.as_str(),
                &new.summary,
                &new.through_message_id,
                &new.focus,
                &new.created_at_ms,
            ],
        )
        .await;
    match upserted {
        Ok(_) => Ok(()),
        Err(e) if e.is_foreign_key_violation() => Err(DbError::from(not_found(&new.session))),
        Err(e) => Err(e),
    }
}

/// Removes a session's summary when it covers a message from `first_undone`
/// on. Called inside `undo_exchanges`' transaction, so the summary goes
/// exactly when the messages it spoke of are taken back.
pub(crate) async fn forget_summary_covering(
    db: &mut Db,
    id: &SessionId,
    first_undone: i64,
) -> DbResult<()> {
    db.execute(
        "DELETE FROM session_summaries WHERE session_id = $1 AND through_message_id >= $2",
        &[&id.as_str(), &first_undone],
    )
    .await?;
    Ok(())
}
