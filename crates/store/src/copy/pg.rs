//! The PostgreSQL side of a copy: reading a database in one REPEATABLE
//! READ, READ ONLY transaction, writing one in one transaction.
//!
//! Rows go in a batch per statement, each column bound as one array and
//! turned back into rows by `UNNEST`, so a table needs one statement
//! whatever the batch size. PostgreSQL's text cannot hold NUL characters:
//! a message keeps such text in `content_json` as the store's own appends
//! do (see `pg/ops/messages.rs`); any other row with one is refused.

use super::tables::{Dialect, Kind, TABLES, Table, any_row_sql, check_version, select_sql};
use super::{Batch, Item, Tail, Value, describe_row, key_of, report, source_stopped};
use crate::pg::{Db, DbError, DbResult, search_text};
use crate::{CopyReport, PgStore, Result, StoreError};
use hermod_model::Content;
use tokio::sync::mpsc;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Reads every copied table of `store` in one snapshot and sends it.
pub(super) async fn read(store: &PgStore, sender: mpsc::Sender<Item>) -> Result<()> {
    let name = store.name().to_owned();
    let mut db = store.db().await?;
    read_all(&mut db, &name, &sender)
        .await
        .map_err(|e| e.classify(&name))
}

async fn read_all(db: &mut Db, name: &str, sender: &mpsc::Sender<Item>) -> DbResult<()> {
    db.begin().await?;
    db.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    check_version(name, recorded_version(db).await?, PgStore::schema_version())?;
    for (index, table) in TABLES.iter().enumerate() {
        let first = select_sql(table, Dialect::Postgres, false);
        let next = select_sql(table, Dialect::Postgres, true);
        let mut after: Option<Vec<Value>> = None;
        loop {
            let found = match &after {
                None => db.query(&first, &[]).await?,
                Some(key) => {
                    let params: Vec<&(dyn ToSql + Sync)> =
                        key.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                    db.query(&next, &params).await?
                }
            };
            let rows = found
                .iter()
                .map(|row| values(row, table))
                .collect::<DbResult<Vec<_>>>()?;
            let Some(last) = rows.last() else { break };
            after = Some(key_of(table, last));
            let full = rows.len() == table.batch;
            if sender
                .send(Item::Rows(Batch { table: index, rows }))
                .await
                .is_err()
            {
                // The writer is gone and reports why; dropping the
                // connection inside the transaction ends it.
                return Ok(());
            }
            if !full {
                break;
            }
        }
    }
    let mut tail = Tail::default();
    for (index, table) in TABLES.iter().enumerate() {
        let Some(column) = table.identity else {
            continue;
        };
        let last: Option<i64> = db
            .query_one(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass)",
                &[&table.name, &table.columns[column].name],
            )
            .await?
            .try_get(0)?;
        if let Some(last) = last {
            tail.sequences.push((index, last));
        }
    }
    tail.cron_changes = db
        .query_opt("SELECT counter FROM cron_changes WHERE id = 1", &[])
        .await?
        .map(|row| row.try_get(0))
        .transpose()?
        .unwrap_or(0);
    db.rollback().await?;
    // Nothing to do when the writer is gone: it reports why.
    let _gone = sender.send(Item::End(tail)).await;
    Ok(())
}

/// The highest schema version the database records (0 for none).
async fn recorded_version(db: &mut Db) -> DbResult<i64> {
    Ok(db
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?)
}

/// A row read with [`select_sql`] as values.
fn values(row: &Row, table: &Table) -> DbResult<Vec<Value>> {
    let mut values = Vec::with_capacity(table.columns.len());
    let row = crate::pg::Columns::new(row, "row to copy");
    for (i, column) in table.columns.iter().enumerate() {
        let value = match column.kind {
            Kind::Int => row.get::<Option<i64>>(i)?.map(Value::Int),
            Kind::Text => row.get::<Option<String>>(i)?.map(Value::Text),
            Kind::Bool => row.get::<Option<bool>>(i)?.map(Value::Bool),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(values)
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        match self {
            Value::Null => Ok(tokio_postgres::types::IsNull::Yes),
            Value::Int(n) => n.to_sql(ty, out),
            Value::Text(text) => text.to_sql(ty, out),
            Value::Bool(flag) => flag.to_sql(ty, out),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as ToSql>::accepts(ty)
            || <String as ToSql>::accepts(ty)
            || <bool as ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Writes what arrives into `store` in one transaction, committed when the
/// reader says it read everything.
pub(super) async fn write(
    store: &PgStore,
    mut receiver: mpsc::Receiver<Item>,
) -> Result<CopyReport> {
    let name = store.name().to_owned();
    let mut db = store.db().await?;
    // On failure the connection is dropped inside the transaction, which
    // rolls it back (see `pg/pool.rs`).
    write_all(&mut db, &name, &mut receiver)
        .await
        .map_err(|e| e.classify(&name))
}

async fn write_all(
    db: &mut Db,
    name: &str,
    receiver: &mut mpsc::Receiver<Item>,
) -> DbResult<CopyReport> {
    db.begin().await?;
    // No gateway started on the new database may write while it fills.
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    db.batch(&format!(
        "LOCK TABLE {}, cron_changes IN EXCLUSIVE MODE",
        names.join(", ")
    ))
    .await?;
    check_version(name, recorded_version(db).await?, PgStore::schema_version())?;
    let mut holding = Vec::new();
    for table in TABLES {
        if db.query_opt(&any_row_sql(table), &[]).await?.is_some() {
            holding.push(table.name);
        }
    }
    if !holding.is_empty() {
        return Err(super::tables::not_empty(name, &holding).into());
    }
    let mut counts = vec![0u64; TABLES.len()];
    while let Some(item) = receiver.recv().await {
        match item {
            Item::Rows(batch) => {
                let table = &TABLES[batch.table];
                counts[batch.table] += insert(db, table, batch.rows).await?;
            }
            Item::End(tail) => {
                finish(db, &tail).await?;
                db.commit().await?;
                return Ok(report(&counts));
            }
        }
    }
    Err(source_stopped().into())
}

/// One column of a batch, bound as an array.
enum Array {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

impl Array {
    fn new(kind: Kind, len: usize) -> Self {
        match kind {
            Kind::Int => Array::Int(Vec::with_capacity(len)),
            Kind::Text => Array::Text(Vec::with_capacity(len)),
            Kind::Bool => Array::Bool(Vec::with_capacity(len)),
        }
    }

    /// Appends `value`; false when it is not of this column's kind.
    fn push(&mut self, value: Value) -> bool {
        match (self, value) {
            (Array::Int(a), Value::Null) => a.push(None),
            (Array::Text(a), Value::Null) => a.push(None),
            (Array::Bool(a), Value::Null) => a.push(None),
            (Array::Int(a), Value::Int(n)) => a.push(Some(n)),
            (Array::Text(a), Value::Text(t)) => a.push(Some(t)),
            (Array::Bool(a), Value::Bool(b)) => a.push(Some(b)),
            _ => return false,
        }
        true
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Array::Int(a) => a,
            Array::Text(a) => a,
            Array::Bool(a) => a,
        }
    }
}

/// Inserts `rows` into `table` in one statement; returns how many.
async fn insert(db: &mut Db, table: &Table, rows: Vec<Vec<Value>>) -> DbResult<u64> {
    let messages = table.name == "messages";
    let mut columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let mut types: Vec<&str> = table.columns.iter().map(|c| c.kind.pg_array()).collect();
    let mut arrays: Vec<Array> = table
        .columns
        .iter()
        .map(|c| Array::new(c.kind, rows.len()))
        .collect();
    let mut search = Vec::new();
    if messages {
        columns.push("search_text");
        types.push(Kind::Text.pg_array());
        search.reserve(rows.len());
    }
    for mut row in rows {
        if messages {
            search.push(Some(prepare_message(table, &mut row)?));
        } else {
            refuse_nul(table, &row)?;
        }
        for (array, value) in arrays.iter_mut().zip(row) {
            if !array.push(value) {
                return Err(StoreError::Other(format!(
                    "{}: a value does not match its column's kind",
                    table.name
                ))
                .into());
            }
        }
    }
    if messages {
        arrays.push(Array::Text(search));
    }
    let unnest: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("{}::{ty}", Dialect::Postgres.param(i + 1)))
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) SELECT * FROM UNNEST({})",
        table.name,
        columns.join(", "),
        unnest.join(", ")
    );
    let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(Array::param).collect();
    db.execute(&sql, &params).await
}

/// Fails when a text value of `row` holds a NUL character.
fn refuse_nul(table: &Table, row: &[Value]) -> Result<(), DbError> {
    for (column, value) in table.columns.iter().zip(row) {
        if value.as_text().is_some_and(|t| t.contains('\0')) {
            return Err(StoreError::Invalid(format!(
                "{}: {} holds a NUL character, which PostgreSQL cannot store",
                describe_row(table, row),
                column.name
            ))
            .into());
        }
    }
    Ok(())
}

/// A message row as PostgreSQL stores it (exactly as the store's own
/// appends do): text with a NUL character kept exactly in `content_json`
/// and without it in `content`, and `tool_calls_text` without NULs;
/// returns its search text.
fn prepare_message(table: &Table, row: &mut [Value]) -> DbResult<String> {
    let index = |name: &str| {
        table
            .column(name)
            .ok_or_else(|| StoreError::Other(format!("messages has no column {name}")))
    };
    let (content, json, calls, tool) = (
        index("content")?,
        index("content_json")?,
        index("tool_calls_text")?,
        index("tool_name")?,
    );
    // Searched as written (a NUL separates words), as appends index it.
    let search = search_text(
        row[content].as_text(),
        row[tool].as_text(),
        row[calls].as_text(),
    );
    if let Value::Text(text) = &row[content]
        && text.contains('\0')
    {
        let text = text.clone();
        if row[json] == Value::Null {
            let exact = serde_json::to_string(&Content::Text(text.clone()))
                .map_err(|e| StoreError::Invalid(format!("{}: {e}", describe_row(table, row))))?;
            row[json] = Value::Text(exact);
        }
        row[content] = Value::Text(text.replace('\0', ""));
    }
    if let Value::Text(text) = &row[calls]
        && text.contains('\0')
    {
        row[calls] = Value::Text(text.replace('\0', ""));
    }
    refuse_nul(table, row)?;
    Ok(search)
}

/// Sets each identity to continue after the copied ids and the source's
/// sequences, and carries over the cron change counter.
async fn finish(db: &mut Db, tail: &Tail) -> DbResult<()> {
    for (index, table) in TABLES.iter().enumerate() {
        let Some(column) = table.identity else {
            continue;
        };
        let column = table.columns[column].name;
        let largest: i64 = db
            .query_one(
                &format!(
                    "SELECT COALESCE(MAX({column}), 0)::bigint FROM {}",
                    table.name
                ),
                &[],
            )
            .await?
            .try_get(0)?;
        let handed_out = tail
            .sequences
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(0, |(_, seq)| *seq);
        let last = largest.max(handed_out);
        if last > 0 {
            db.query_one(
                "SELECT setval(pg_get_serial_sequence($1, $2)::regclass, $3)",
                &[&table.name, &column, &last],
            )
            .await?;
        }
    }
    db.execute(
        "UPDATE cron_changes SET counter = GREATEST(counter, $1) WHERE id = 1",
        &[&tail.cron_changes],
    )
    .await?;
    Ok(())
}
