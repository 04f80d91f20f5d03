//! The SQLite side of a copy: reading a store in one read transaction,
//! writing one in one write transaction.
//!
//! Both run on the store's own connections (a reader, or the writer) for
//! the whole copy, on the blocking pool, and talk to the other side
//! through the channel with its blocking calls.

use super::tables::{Dialect, Kind, TABLES, Table, any_row_sql, check_version, select_sql};
use super::{Batch, Item, Tail, Value, describe_row, key_of, report, source_stopped};
use crate::sqlite::{DbError, DbResult};
use crate::{CopyReport, Result, SqliteStore, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Statement, ToSql, params, params_from_iter};
use tokio::sync::mpsc;

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(n) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*n)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Bool(flag) => {
                ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*flag)))
            }
        })
    }
}

/// Reads every copied table of `store` in one snapshot and sends it.
pub(super) async fn read(
    store: &SqliteStore,
    name: String,
    sender: mpsc::Sender<Item>,
) -> Result<()> {
    store
        .read(move |conn| {
            conn.execute_batch("BEGIN")?;
            let result = read_all(conn, &name, &sender);
            // Ending a read transaction loses nothing, and the pooled
            // reader must not stay in this snapshot.
            let ended = conn.execute_batch("ROLLBACK");
            result?;
            Ok(ended?)
        })
        .await
}

fn read_all(conn: &Connection, name: &str, sender: &mpsc::Sender<Item>) -> DbResult<()> {
    check_version(name, recorded_version(conn)?, SqliteStore::schema_version())?;
    for (index, table) in TABLES.iter().enumerate() {
        let mut first = conn.prepare(&select_sql(table, Dialect::Sqlite, false))?;
        let mut next = conn.prepare(&select_sql(table, Dialect::Sqlite, true))?;
        let mut after: Option<Vec<Value>> = None;
        loop {
            let rows = match &after {
                None => fetch(&mut first, table, &[])?,
                Some(key) => fetch(&mut next, table, key)?,
            };
            let Some(last) = rows.last() else { break };
            after = Some(key_of(table, last));
            let full = rows.len() == table.batch;
            if sender
                .blocking_send(Item::Rows(Batch { table: index, rows }))
                .is_err()
            {
                return Ok(());
            }
            if !full {
                break;
            }
        }
    }
    let mut tail = Tail::default();
    for (index, table) in TABLES.iter().enumerate() {
        if !table.sqlite_autoincrement() {
            continue;
        }
        let seq: Option<i64> = conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [table.name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(seq) = seq {
            tail.sequences.push((index, seq));
        }
    }
    tail.cron_changes = conn
        .query_row("SELECT counter FROM cron_changes WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0);
    // Nothing to do when the writer is gone: it reports why.
    let _gone = sender.blocking_send(Item::End(tail));
    Ok(())
}

/// The highest schema version `conn`'s database records (0 for none).
fn recorded_version(conn: &Connection) -> DbResult<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

/// One batch of `table`'s rows from `statement` with `params`.
fn fetch(
    statement: &mut Statement<'_>,
    table: &Table,
    params: &[Value],
) -> DbResult<Vec<Vec<Value>>> {
    let mut rows = statement.query(params_from_iter(params))?;
    let mut batch = Vec::with_capacity(table.batch);
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            values.push(value(row.get_ref(i)?, column.kind).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{}: column {} of a row holds {:?}, not {:?}",
                    table.name,
                    column.name,
                    row.get_ref(i).map(|v| v.data_type()),
                    column.kind
                ))
            })?);
        }
        batch.push(values);
    }
    Ok(batch)
}

/// A stored value as `kind`, if it is one.
fn value(stored: ValueRef<'_>, kind: Kind) -> Option<Value> {
    match (stored, kind) {
        (ValueRef::Null, _) => Some(Value::Null),
        (ValueRef::Integer(n), Kind::Int) => Some(Value::Int(n)),
        (ValueRef::Integer(0), Kind::Bool) => Some(Value::Bool(false)),
        (ValueRef::Integer(1), Kind::Bool) => Some(Value::Bool(true)),
        (ValueRef::Text(bytes), Kind::Text) => std::str::from_utf8(bytes)
            .ok()
            .map(|text| Value::Text(text.to_owned())),
        _ => None,
    }
}

/// Writes what arrives into `store` in one transaction, committed when the
/// reader says it read everything.
pub(super) async fn write(
    store: &SqliteStore,
    name: String,
    mut receiver: mpsc::Receiver<Item>,
) -> Result<CopyReport> {
    store
        .write(move |conn| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let result = write_all(conn, &name, &mut receiver)
                .and_then(|report| Ok(conn.execute_batch("COMMIT").map(|()| report)?));
            if result.is_err() {
                // Already gone when COMMIT failed on its own; the store
                // rolls back a transaction left open before its next write.
                let _rolled_back = conn.execute_batch("ROLLBACK");
            }
            result
        })
        .await
}

fn write_all(
    conn: &Connection,
    name: &str,
    receiver: &mut mpsc::Receiver<Item>,
) -> DbResult<CopyReport> {
    check_version(name, recorded_version(conn)?, SqliteStore::schema_version())?;
    let mut holding = Vec::new();
    for table in TABLES {
        if conn
            .query_row(&any_row_sql(table), [], |_| Ok(()))
            .optional()?
            .is_some()
        {
            holding.push(table.name);
        }
    }
    if !holding.is_empty() {
        return Err(super::tables::not_empty(name, &holding).into());
    }
    let mut counts = vec![0u64; TABLES.len()];
    while let Some(item) = receiver.blocking_recv() {
        match item {
            Item::Rows(batch) => {
                let table = &TABLES[batch.table];
                counts[batch.table] += insert(conn, table, batch.rows)?;
            }
            Item::End(tail) => {
                finish(conn, &tail)?;
                return Ok(report(&counts));
            }
        }
    }
    Err(source_stopped().into())
}

/// Inserts `rows` into `table`; returns how many.
fn insert(conn: &Connection, table: &Table, rows: Vec<Vec<Value>>) -> DbResult<u64> {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.sqlite).collect();
    let params: Vec<String> = (1..=columns.len())
        .map(|n| Dialect::Sqlite.param(n))
        .collect();
    let mut statement = conn.prepare(&format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        columns.join(", "),
        params.join(", ")
    ))?;
    let messages = table.name == "messages";
    let mut count = 0;
    for mut row in rows {
        if messages {
            restore_text(table, &mut row)?;
        }
        statement
            .execute(params_from_iter(row.iter()))
            .map_err(|e| annotate(e, table, &row))?;
        count += 1;
    }
    Ok(count)
}

/// A message whose text had a NUL character keeps its exact text in
/// `content_json` in PostgreSQL (as a JSON string); SQLite holds any text
/// in `content` and keeps `content_json` for content parts only.
fn restore_text(table: &Table, row: &mut [Value]) -> DbResult<()> {
    let (Some(content), Some(json)) = (table.column("content"), table.column("content_json"))
    else {
        return Ok(());
    };
    let text = match row[json].as_text() {
        Some(json) if json.starts_with('"') => {
            serde_json::from_str::<String>(json).map_err(|e| {
                StoreError::Corrupt(format!(
                    "{}: unreadable content_json: {e}",
                    describe_row(table, row)
                ))
            })?
        }
        _ => return Ok(()),
    };
    row[content] = Value::Text(text);
    row[json] = Value::Null;
    Ok(())
}

/// Names the row an insert failed on, keeping the failure's kind.
fn annotate(e: rusqlite::Error, table: &Table, row: &[Value]) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(failure, detail) => {
            DbError::from(rusqlite::Error::SqliteFailure(
                failure,
                Some(format!(
                    "{} ({})",
                    detail.as_deref().unwrap_or("insert failed"),
                    describe_row(table, row)
                )),
            ))
        }
        other => DbError::from(other),
    }
}

/// Carries over the source's sequences and cron change counter, never
/// lowering what the inserts left.
fn finish(conn: &Connection, tail: &Tail) -> DbResult<()> {
    for &(index, seq) in &tail.sequences {
        let table = &TABLES[index];
        if !table.sqlite_autoincrement() {
            // The inbox: SQLite takes the next rowid after the largest.
            continue;
        }
        conn.execute(
            "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND seq < ?2",
            params![table.name, seq],
        )?;
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
            params![table.name, seq],
        )?;
    }
    conn.execute(
        "UPDATE cron_changes SET counter = max(counter, ?1) WHERE id = 1",
        [tail.cron_changes],
    )?;
    Ok(())
}
