//! Leases and nodes: how gateways sharing the database divide the work
//! (see `crate::cluster`). Each operation is one statement; a lease is
//! taken with one `INSERT ... ON CONFLICT DO UPDATE ... WHERE`, which
//! locks the row, so of several gateways asking at once exactly one wins.

use super::super::error::DbResult;
use super::super::pool::Db;
use super::Columns;
use crate::rows::{LEASE_COLUMNS, NODE_COLUMNS};
use crate::{Lease, Node};
use tokio_postgres::Row;

fn lease_from_row(r: &Row) -> DbResult<Lease> {
    let r = Columns::new(r, "lease row");
    Ok(Lease {
        name: r.get(0)?,
        owner: r.get(1)?,
        acquired_at_ms: r.get(2)?,
        until_ms: r.get(3)?,
    })
}

fn node_from_row(r: &Row) -> DbResult<Node> {
    let r = Columns::new(r, "node row");
    let pid: i64 = r.get(2)?;
    Ok(Node {
        id: r.get(0)?,
        host: r.get(1)?,
        pid: u32::try_from(pid).unwrap_or_default(),
        version: r.get(3)?,
        started_at_ms: r.get(4)?,
        seen_at_ms: r.get(5)?,
        info_json: r.get(6)?,
    })
}

pub(crate) async fn lease_acquire(
    db: &mut Db,
    name: &str,
    owner: &str,
    until_ms: i64,
    now_ms: i64,
) -> DbResult<bool> {
    let changed = db
        .execute(
            "INSERT INTO leases (name, owner, acquired_at_ms, until_ms) VALUES ($1, $2, $4, $3) \
             ON CONFLICT (name) DO UPDATE SET \
                 acquired_at_ms = CASE WHEN leases.owner = excluded.owner \
                                       THEN leases.acquired_at_ms ELSE excluded.acquired_at_ms END, \
                 owner = excluded.owner, until_ms = excluded.until_ms \
             WHERE leases.owner = excluded.owner OR leases.until_ms <= $4",
            &[&name, &owner, &until_ms, &now_ms],
        )
        .await?;
    Ok(changed > 0)
}

pub(crate) async fn lease_renew_all(db: &mut Db, owner: &str, until_ms: i64) -> DbResult<u64> {
    db.execute(
        "UPDATE leases SET until_ms = $2 WHERE owner = $1",
        &[&owner, &until_ms],
    )
    .await
}

pub(crate) async fn lease_release(db: &mut Db, name: &str, owner: &str) -> DbResult<bool> {
    let changed = db
        .execute(
            "DELETE FROM leases WHERE name = $1 AND owner = $2",
            &[&name, &owner],
        )
        .await?;
    Ok(changed > 0)
}

pub(crate) async fn lease_release_all(db: &mut Db, owner: &str) -> DbResult<u64> {
    db.execute("DELETE FROM leases WHERE owner = $1", &[&owner])
        .await
}

pub(crate) async fn lease(db: &mut Db, name: &str) -> DbResult<Option<Lease>> {
    db.query_opt(
        &format!("SELECT {LEASE_COLUMNS} FROM leases WHERE name = $1"),
        &[&name],
    )
    .await?
    .as_ref()
    .map(lease_from_row)
    .transpose()
}

pub(crate) async fn leases(db: &mut Db, prefix: &str, now_ms: i64) -> DbResult<Vec<Lease>> {
    // starts_with rather than LIKE, whose wildcards the prefix might contain.
    db.query(
        &format!(
            "SELECT {LEASE_COLUMNS} FROM leases \
             WHERE starts_with(name, $1) AND until_ms > $2 ORDER BY name COLLATE \"C\""
        ),
        &[&prefix, &now_ms],
    )
    .await?
    .iter()
    .map(lease_from_row)
    .collect()
}

pub(crate) async fn lease_purge(db: &mut Db, before_ms: i64) -> DbResult<u64> {
    db.execute("DELETE FROM leases WHERE until_ms < $1", &[&before_ms])
        .await
}

pub(crate) async fn node_beat(db: &mut Db, node: &Node) -> DbResult<()> {
    db.execute(
        &format!(
            "INSERT INTO nodes ({NODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
                 version = excluded.version, started_at_ms = excluded.started_at_ms, \
                 seen_at_ms = excluded.seen_at_ms, info_json = excluded.info_json"
        ),
        &[
            &node.id,
            &node.host,
            &i64::from(node.pid),
            &node.version,
            &node.started_at_ms,
            &node.seen_at_ms,
            &node.info_json,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn nodes(db: &mut Db) -> DbResult<Vec<Node>> {
    db.query(
        &format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY id COLLATE \"C\""),
        &[],
    )
    .await?
    .iter()
    .map(node_from_row)
    .collect()
}

pub(crate) async fn node_purge(db: &mut Db, before_ms: i64) -> DbResult<u64> {
    db.execute("DELETE FROM nodes WHERE seen_at_ms < $1", &[&before_ms])
        .await
}

pub(crate) async fn node_remove(db: &mut Db, id: &str) -> DbResult<bool> {
    Ok(db
        .execute("DELETE FROM nodes WHERE id = $1", &[&id])
        .await?
        > 0)
}
