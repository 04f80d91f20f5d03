//! Handoffs: one row per session, its latest handoff, and the state
//! transitions as conditional updates (a claim matches only a pending row,
//! so exactly one claimant wins).

use super::{not_found, session_exists, sql_limit};
use crate::rows::DEFAULT_HANDOFF_LIMIT;
use crate::rows::handoff::{HANDOFF_COLUMNS, RawHandoff, encode_outcome};
use crate::sqlite::error::DbResult;
use crate::{Handoff, HandoffOutcome, HandoffState, NewHandoff, StoreError};
use hermod_model::SessionId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

fn read(conn: &Connection, session: &str) -> DbResult<Option<Handoff>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE session_id = ?1"
    ))?;
    let raw = stmt.query_row([session], RawHandoff::from_row).optional()?;
    Ok(raw.map(RawHandoff::decode).transpose()?)
}

pub(crate) fn handoff_request(conn: &mut Connection, new: &NewHandoff) -> DbResult<Handoff> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !session_exists(&tx, &new.session)? {
        return Err(not_found(&new.session).into());
    }
    if let Some(current) = read(&tx, new.session.as_str())?
        && !current.state.is_final()
    {
        return Err(StoreError::Conflict(format!(
            "a handoff of session {} to {} is already {}",
            new.session,
            current.platform,
            current.state.as_str()
        ))
        .into());
    }
    tx.execute(
        "INSERT INTO handoffs (session_id, platform, state, error, destination_json, \
         requested_at_ms, updated_at_ms) VALUES (?1, ?2, 'pending', NULL, NULL, ?3, ?3) \
         ON CONFLICT (session_id) DO UPDATE SET platform = excluded.platform, \
         state = 'pending', error = NULL, destination_json = NULL, \
         requested_at_ms = excluded.requested_at_ms, updated_at_ms = excluded.updated_at_ms",
        params![new.session.as_str(), new.platform.as_str(), new.at_ms],
    )?;
    let stored = read(&tx, new.session.as_str())?
        .ok_or_else(|| StoreError::Other("the handoff just written is gone".into()))?;
    tx.commit()?;
    Ok(stored)
}

pub(crate) fn handoff(conn: &Connection, session: &SessionId) -> DbResult<Option<Handoff>> {
    read(conn, session.as_str())
}

pub(crate) fn handoffs_in(
    conn: &Connection,
    state: HandoffState,
    limit: usize,
) -> DbResult<Vec<Handoff>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE state = ?1 \
         ORDER BY requested_at_ms, session_id LIMIT ?2"
    ))?;
    let raws = stmt
        .query_map(
            params![state.as_str(), sql_limit(limit, DEFAULT_HANDOFF_LIMIT)],
            RawHandoff::from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(raws
        .into_iter()
        .map(RawHandoff::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn handoff_claim(conn: &Connection, session: &SessionId, at_ms: i64) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE handoffs SET state = 'running', updated_at_ms = ?2 \
         WHERE session_id = ?1 AND state = 'pending'",
    )?;
    Ok(stmt.execute(params![session.as_str(), at_ms])? > 0)
}

pub(crate) fn handoff_finish(
    conn: &Connection,
    session: &SessionId,
    outcome: &HandoffOutcome,
    at_ms: i64,
) -> DbResult<bool> {
    let encoded = encode_outcome(outcome)?;
    let mut stmt = conn.prepare_cached(
        "UPDATE handoffs SET state = ?2, error = ?3, destination_json = ?4, updated_at_ms = ?5 \
         WHERE session_id = ?1 AND state = 'running'",
    )?;
    Ok(stmt.execute(params![
        session.as_str(),
        encoded.state.as_str(),
        encoded.error,
        encoded.destination_json,
        at_ms
    ])? > 0)
}
