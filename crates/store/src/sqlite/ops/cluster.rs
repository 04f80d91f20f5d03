//! Leases and nodes: how gateways sharing a database divide the work (see
//! `crate::cluster`). Each operation is one statement, so it is atomic
//! whoever else writes.

use crate::rows::{LEASE_COLUMNS, NODE_COLUMNS};
use crate::sqlite::error::DbResult;
use crate::{Lease, Node};
use rusqlite::{Connection, OptionalExtension, Row, params};

fn lease_from_row(r: &Row<'_>) -> rusqlite::Result<Lease> {
    Ok(Lease {
        name: r.get(0)?,
        owner: r.get(1)?,
        acquired_at_ms: r.get(2)?,
        until_ms: r.get(3)?,
    })
}

fn node_from_row(r: &Row<'_>) -> rusqlite::Result<Node> {
    Ok(Node {
        id: r.get(0)?,
        host: r.get(1)?,
        pid: r.get(2)?,
        version: r.get(3)?,
        started_at_ms: r.get(4)?,
        seen_at_ms: r.get(5)?,
        info_json: r.get(6)?,
    })
}

pub(crate) fn lease_acquire(
    conn: &Connection,
    name: &str,
    owner: &str,
    until_ms: i64,
    now_ms: i64,
) -> DbResult<bool> {
    // Inserted when free; otherwise updated only when the holder is the
    // same owner (extended, keeping when it was taken) or let it run out.
    let mut stmt = conn.prepare_cached(
        "INSERT INTO leases (name, owner, acquired_at_ms, until_ms) VALUES (?1, ?2, ?4, ?3) \
         ON CONFLICT (name) DO UPDATE SET \
             acquired_at_ms = CASE WHEN leases.owner = excluded.owner \
                                   THEN leases.acquired_at_ms ELSE excluded.acquired_at_ms END, \
             owner = excluded.owner, until_ms = excluded.until_ms \
         WHERE leases.owner = excluded.owner OR leases.until_ms <= ?4",
    )?;
    Ok(stmt.execute(params![name, owner, until_ms, now_ms])? > 0)
}

pub(crate) fn lease_renew_all(conn: &Connection, owner: &str, until_ms: i64) -> DbResult<u64> {
    let mut stmt = conn.prepare_cached("UPDATE leases SET until_ms = ?2 WHERE owner = ?1")?;
    Ok(super::changed_rows(stmt.execute(params![owner, until_ms])?))
}

pub(crate) fn lease_release(conn: &Connection, name: &str, owner: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM leases WHERE name = ?1 AND owner = ?2")?;
    Ok(stmt.execute(params![name, owner])? > 0)
}

pub(crate) fn lease_release_all(conn: &Connection, owner: &str) -> DbResult<u64> {
    let mut stmt = conn.prepare_cached("DELETE FROM leases WHERE owner = ?1")?;
    Ok(super::changed_rows(stmt.execute([owner])?))
}

pub(crate) fn lease(conn: &Connection, name: &str) -> DbResult<Option<Lease>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LEASE_COLUMNS} FROM leases WHERE name = ?1"
    ))?;
    Ok(stmt.query_row([name], lease_from_row).optional()?)
}

pub(crate) fn leases(conn: &Connection, prefix: &str, now_ms: i64) -> DbResult<Vec<Lease>> {
    // A range on the primary key rather than LIKE, whose wildcards the
    // prefix might contain: names from `prefix` up to `prefix` followed by
    // the highest character.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LEASE_COLUMNS} FROM leases \
         WHERE name >= ?1 AND substr(name, 1, length(?1)) = ?1 AND until_ms > ?2 ORDER BY name"
    ))?;
    Ok(stmt
        .query_map(params![prefix, now_ms], lease_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn lease_purge(conn: &Connection, before_ms: i64) -> DbResult<u64> {
    let mut stmt = conn.prepare_cached("DELETE FROM leases WHERE until_ms < ?1")?;
    Ok(super::changed_rows(stmt.execute([before_ms])?))
}

pub(crate) fn node_beat(conn: &Connection, node: &Node) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO nodes ({NODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
             version = excluded.version, started_at_ms = excluded.started_at_ms, \
             seen_at_ms = excluded.seen_at_ms, info_json = excluded.info_json"
    ))?;
    stmt.execute(params![
        node.id,
        node.host,
        node.pid,
        node.version,
        node.started_at_ms,
        node.seen_at_ms,
        node.info_json,
    ])?;
    Ok(())
}

pub(crate) fn nodes(conn: &Connection) -> DbResult<Vec<Node>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY id"))?;
    Ok(stmt
        .query_map([], node_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn node_purge(conn: &Connection, before_ms: i64) -> DbResult<u64> {
    let mut stmt = conn.prepare_cached("DELETE FROM nodes WHERE seen_at_ms < ?1")?;
    Ok(super::changed_rows(stmt.execute([before_ms])?))
}

pub(crate) fn node_remove(conn: &Connection, id: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM nodes WHERE id = ?1")?;
    Ok(stmt.execute([id])? > 0)
}
