//! Handoffs on PostgreSQL: one row per session (its latest handoff), moved
//! from state to state by single conditional statements.
//!
//! With several gateways sharing the database, no state change reads the
//! row before writing it: a new request is an `INSERT ... ON CONFLICT DO
//! UPDATE` that replaces only a finished handoff (the condition is checked
//! on the locked row), a claim updates only a pending row and a finish
//! only a running one, so of two gateways racing exactly one changes it.
//! A request for a missing session is refused by the foreign key.

use super::{Columns, not_found, sql_limit};
use crate::pg::error::DbResult;
use crate::pg::pool::Db;
use crate::rows::DEFAULT_HANDOFF_LIMIT;
use crate::rows::handoff::{HANDOFF_COLUMNS, RawHandoff, encode_outcome};
use crate::{Handoff, HandoffOutcome, HandoffState, NewHandoff, StoreError};
use hermod_model::SessionId;
use tokio_postgres::Row;

/// A `handoffs` row read with [`HANDOFF_COLUMNS`], decoded.
fn decode(row: &Row) -> DbResult<Handoff> {
    let c = Columns::new(row, "handoff row");
    let raw = RawHandoff {
        session: c.get(0)?,
        platform: c.get(1)?,
        state: c.get(2)?,
        error: c.get(3)?,
        destination: c.get(4)?,
        requested_at_ms: c.get(5)?,
        updated_at_ms: c.get(6)?,
    };
    Ok(raw.decode()?)
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
         RETURNING {HANDOFF_COLUMNS}"
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
            &format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE session_id = $1"),
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
                "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE state = $1 \
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
    let encoded = encode_outcome(outcome)?;
    let changed = db
        .execute(
            "UPDATE handoffs SET state = $2, error = $3, destination_json = $4, \
             updated_at_ms = $5 WHERE session_id = $1 AND state = 'running'",
            &[
                &session.as_str(),
                &encoded.state.as_str(),
                &encoded.error,
                &encoded.destination_json,
                &at_ms,
            ],
        )
        .await?;
    Ok(changed > 0)
}
