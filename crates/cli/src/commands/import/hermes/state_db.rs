//! Reading Hermes' `state.db`: its sessions, their messages and its routing
//! index (`gateway_routing`), from a database at the one schema version
//! this reader knows.
//!
//! The database is opened read-only and never changed. Only active
//! messages are read (the ones Hermes itself would send the model: rewound
//! and compacted ones are not), in the order Hermes appended them.

use super::{HermesMessage, HermesRoute, HermesSession};
use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;

/// The `schema_version` of Hermes 0.19's `state.db` (`SCHEMA_VERSION` in
/// its `hermes_state.py`), the only one whose tables this reader knows.
pub const SCHEMA_VERSION: i64 = 22;

/// What `state.db` holds for the import.
#[derive(Debug, Default)]
pub struct StateDb {
    pub sessions: Vec<HermesSession>,
    /// The routing index, one entry per routing key (the newest when the
    /// index has several scopes).
    pub routes: Vec<HermesRoute>,
}

/// Reads `path`, refusing a database at another schema version.
pub fn read(path: &Path) -> anyhow::Result<StateDb> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open Hermes' database {}", path.display()))?;
    check_version(&db, path)?;
    let sessions = sessions(&db).context("cannot read the sessions of Hermes' state.db")?;
    let routes = routes(&db).context("cannot read the routing index of Hermes' state.db")?;
    Ok(StateDb { sessions, routes })
}

/// The version Hermes recorded, refused unless it is [`SCHEMA_VERSION`].
fn check_version(db: &Connection, path: &Path) -> anyhow::Result<()> {
    let p = path.display();
    let version: Option<i64> = db
        .query_row("SELECT version FROM schema_version LIMIT 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(|e| {
            anyhow::anyhow!("{p} is not a Hermes state.db (no schema_version table: {e})")
        })?;
    match version {
        None => anyhow::bail!("{p} records no schema version; is it a Hermes state.db?"),
        Some(v) if v < SCHEMA_VERSION => anyhow::bail!(
            "{p} is at schema version {v}, older than the version {SCHEMA_VERSION} this import \
             reads (Hermes 0.19). Run Hermes 0.19 once on it (for example `hermes sessions list`) \
             so that it migrates the database, then import again."
        ),
        Some(v) if v > SCHEMA_VERSION => anyhow::bail!(
            "{p} is at schema version {v}, newer than the version {SCHEMA_VERSION} this import \
             reads (Hermes 0.19); its tables may have changed. Import it with a hermod release \
             that knows version {v}."
        ),
        Some(_) => Ok(()),
    }
}

fn sessions(db: &Connection) -> rusqlite::Result<Vec<HermesSession>> {
    let mut statement = db.prepare(
        "SELECT id, source, user_id, session_key, chat_id, chat_type, thread_id, display_name, \
                origin_json, started_at, ended_at, end_reason, title \
         FROM sessions ORDER BY started_at, id",
    )?;
    let mut sessions: Vec<HermesSession> = statement
        .query_map([], |row| {
            Ok(HermesSession {
                id: row.get(0)?,
                platform: row.get(1)?,
                user_id: text(row.get_ref(2)?),
                key: row.get(3)?,
                chat_id: text(row.get_ref(4)?),
                chat_type: row.get(5)?,
                thread_id: text(row.get_ref(6)?),
                chat_name: row.get(7)?,
                origin_json: row.get(8)?,
                started_ms: seconds_to_ms(row.get(9)?),
                ended_ms: row.get::<_, Option<f64>>(10)?.map(seconds_to_ms),
                end_reason: row.get(11)?,
                title: row.get(12)?,
                messages: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut by_id: BTreeMap<String, Vec<HermesMessage>> = BTreeMap::new();
    let mut statement = db.prepare(
        "SELECT session_id, role, content, tool_call_id, tool_calls, tool_name, timestamp, \
                platform_message_id, id \
         FROM messages WHERE active = 1 ORDER BY id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            HermesMessage {
                role: row.get(1)?,
                content: row.get(2)?,
                tool_call_id: row.get(3)?,
                tool_calls: row.get(4)?,
                tool_name: row.get(5)?,
                at_ms: seconds_to_ms(row.get::<_, Option<f64>>(6)?.unwrap_or(0.0)),
                platform_message_id: text(row.get_ref(7)?),
                id: row.get(8)?,
            },
        ))
    })?;
    for row in rows {
        let (session, message) = row?;
        by_id.entry(session).or_default().push(message);
    }
    for session in &mut sessions {
        session.messages = by_id.remove(&session.id).unwrap_or_default();
    }
    Ok(sessions)
}

fn routes(db: &Connection) -> rusqlite::Result<Vec<HermesRoute>> {
    let mut statement = db.prepare(
        "SELECT session_key, entry_json FROM gateway_routing ORDER BY updated_at, scope",
    )?;
    let mut newest: BTreeMap<String, HermesRoute> = BTreeMap::new();
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (key, entry) = row?;
        if let Some(route) = HermesRoute::from_entry(&key, &entry) {
            // Later rows are newer: they replace.
            newest.insert(key, route);
        }
    }
    Ok(newest.into_values().collect())
}

/// A column Hermes may have written as text or as a number (ids).
fn text(value: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
    .filter(|s| !s.is_empty())
}

/// Hermes' Unix times are seconds (fractional); hermod's milliseconds.
pub fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}
