//! Handoffs on PostgreSQL: one row per session (its latest handoff), moved
//! from state to state by single conditional statements.
//!
//! With several gateways sharing the database, no state change reads the
//! row before writing it: a new request is an `INSERT ... ON CONFLICT DO
//! UPDATE` that replaces only a finished handoff (the condition is checked
//! on the locked row), a claim updates only a pending row and a finish
//! only a running one, so of two gateways racing exactly one changes it.
//! A request for a missing session is refused by the foreign key.

use super::{not_found, sql_limit};
use crate::pg::error::DbResult;
use crate::pg::pool::Db;
use crate::rows::{DEFAULT_HANDOFF_LIMIT, session_id};
use crate::{Handoff, HandoffOutcome, HandoffState, NewHandoff, StoreError};
use hermod_model::{ChatTarget, PlatformId, SessionId};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

/// The `handoffs` columns in the order [`decode`] reads them.
const COLUMNS: &str =
    "session_id, platform, state, error, destination_json, requested_at_ms, updated_at_ms";

/// Column `i` of a handoff row; a value of the wrong type is corrupt data
/// (not a connection failure, as the client's own error would be read).
fn column<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> DbResult<T> {
    row.try_get(i).map_err(|e| {
        StoreError::Corrupt(format!("handoff row has an unreadable column {i}: {e}")).into()
    })
}

/// A `handoffs` row read with [`COLUMNS`], decoded.
fn decode(row: &Row) -> DbResult<Handoff> {
    let session: String = column(row, 0)?;
    let state: String = column(row, 2)?;
    let state = HandoffState::parse(&state).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "handoff of session {session} has an unknown state {state:?}"
        ))
    })?;
    let destination = column::<Option<String>>(row, 4)?
        .map(|json| serde_json::from_str::<ChatTarget>(&json))
        .transpose()
        .map_err(|e| {
            StoreError::Corrupt(format!(
                "handoff of session {session} has an unreadable destination: {e}"
            ))
        })?;
    Ok(Handoff {
        session: session_id(session)?,
        platform: PlatformId::new(column::<String>(row, 1)?),
        state,
        error: column(row, 3)?,
        destination,
        requested_at_ms: column(row, 5)?,
        updated_at_ms: column(row, 6)?,
    })
}

pub(crate) async fn handoff_request(db: &mut Db, new: &NewHandoff) -> DbResult<Handoff> {
    // The WHERE of DO UPDATE is evaluated on the existing row, locked: a
    // pending or running handoff is left alone and nothing is returned.
    let sql = format!(
        "INSERT INTO handoffs (session_id, platform, state, error, destination_json, \
         requested_at_ms, updated_at_ms) VALUES ($1, $2, 'pending', NULL, NULL, $3, $3) \
         ON CONFLICT (session_id) DO UPDATE SET platform = excluded.platform, \
         state = 'pending', error = NULL, destination_json = NULL, \
         requested_at_ms = excluded.requested_at_ms, updated_at_ms = excluded.updated_at_ms \
         WHERE handoffs.state IN ('completed', 'failed') \
         RETURNING {COLUMNS}"
    );
    let written = db
        .query_opt(
            &sql,
            &[&new.session.as_str(), &new.platform.as_str(), &new.at_ms],
        )
        .await;
    let row = match written {
        Ok(row) => row,
        Err(e) if e.is_foreign_key_violation() => return Err(not_found(&new.session).into()),
        Err(e) => return Err(e),
    };
    if let Some(row) = row {
        return decode(&row);
    }
    // Refused: one is under way. Read it only to say which.
    let message = match handoff(db, &new.session).await? {
        Some(current) => format!(
            "a handoff of session {} to {} is already {}",
            new.session,
            current.platform,
            current.state.as_str()
        ),
        None => format!("a handoff of session {} is already under way", new.session),
    };
    Err(StoreError::Conflict(message).into())
}

pub(crate) async fn handoff(db: &mut Db, session: &SessionId) -> DbResult<Option<Handoff>> {
    let row = db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM handoffs WHERE session_id = $1"),
            &[&session.as_str()],
        )
        .await?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn handoffs_in(
    db: &mut Db,
    state: HandoffState,
    limit: usize,
) -> DbResult<Vec<Handoff>> {
    // Ties broken by the id compared byte by byte, as SQLite does, whatever
    // the database's collation.
    let rows = db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM handoffs WHERE state = $1 \
                 ORDER BY requested_at_ms, session_id COLLATE \"C\" LIMIT $2"
            ),
            &[&state.as_str(), &sql_limit(limit, DEFAULT_HANDOFF_LIMIT)],
        )
        .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn handoff_claim(db: &mut Db, session: &SessionId, at_ms: i64) -> DbResult<bool> {
    let changed = db
        .execute(
            "UPDATE handoffs SET state = 'running', updated_at_ms = $2 \
             WHERE session_id = $1 AND state = 'pending'",
            &[&session.as_str(), &at_ms],
        )
        .await?;
    Ok(changed > 0)
}

pub(crate) async fn handoff_finish(
    db: &mut Db,
    session: &SessionId,
    outcome: &HandoffOutcome,
    at_ms: i64,
) -> DbResult<bool> {
    let (state, error, destination) = match outcome {
        HandoffOutcome::Completed(target) => (
            HandoffState::Completed,
            None,
            Some(serde_json::to_string(target).map_err(|e| {
                StoreError::Invalid(format!("cannot encode the handoff destination: {e}"))
            })?),
        ),
        HandoffOutcome::Failed(reason) => (HandoffState::Failed, Some(reason.as_str()), None),
    };
    let changed = db
        .execute(
            "UPDATE handoffs SET state = $2, error = $3, destination_json = $4, \
             updated_at_ms = $5 WHERE session_id = $1 AND state = 'running'",
            &[
                &session.as_str(),
                &state.as_str(),
                &error,
                &destination,
                &at_ms,
            ],
        )
        .await?;
    Ok(changed > 0)
}
