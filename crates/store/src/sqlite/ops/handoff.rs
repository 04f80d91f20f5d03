//! Handoffs: one row per session, its latest handoff, and the state
//! transitions as conditional updates (a claim matches only a pending row,
//! so exactly one claimant wins).

use super::{not_found, session_exists, sql_limit};
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::session_id;
use crate::{Handoff, HandoffOutcome, HandoffState, NewHandoff, StoreError};
use hermod_model::{ChatTarget, PlatformId, SessionId};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::rows::DEFAULT_HANDOFF_LIMIT;

const COLUMNS: &str =
    "session_id, platform, state, error, destination_json, requested_at_ms, updated_at_ms";

/// A row as read, decoded after the statement is done.
struct RawHandoff {
    session: String,
    platform: String,
    state: String,
    error: Option<String>,
    destination: Option<String>,
    requested_at_ms: i64,
    updated_at_ms: i64,
}

impl RawHandoff {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
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

    fn decode(self) -> Result<Handoff, StoreError> {
        let state = HandoffState::parse(&self.state).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "handoff of session {} has an unknown state {:?}",
                self.session, self.state
            ))
        })?;
        let destination = self
            .destination
            .map(|json| serde_json::from_str::<ChatTarget>(&json))
            .transpose()
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "handoff of session {} has an unreadable destination: {e}",
                    self.session
                ))
            })?;
        Ok(Handoff {
            session: session_id(self.session)?,
            platform: PlatformId::new(self.platform),
            state,
            error: self.error,
            destination,
            requested_at_ms: self.requested_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

fn read(conn: &Connection, session: &str) -> DbResult<Option<Handoff>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM handoffs WHERE session_id = ?1"
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
        "SELECT {COLUMNS} FROM handoffs WHERE state = ?1 \
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
    let mut stmt = conn.prepare_cached(
        "UPDATE handoffs SET state = ?2, error = ?3, destination_json = ?4, updated_at_ms = ?5 \
         WHERE session_id = ?1 AND state = 'running'",
    )?;
    Ok(stmt.execute(params![
        session.as_str(),
        state.as_str(),
        error,
        destination,
        at_ms
    ])? > 0)
}
