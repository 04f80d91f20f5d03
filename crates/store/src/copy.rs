//! Copying everything a database holds into another, empty one: from
//! SQLite to PostgreSQL (moving to several gateways) and back, or between
//! two databases of the same kind.
//!
//! The copy keeps every id (messages, outbox entries, pairing requests,
//! cron runs, memory notes, the inbox's order) and every column as it is,
//! so the destination holds the same data, taken-back messages and cron
//! revisions included; only what each backend computes itself differs
//! (SQLite's FTS index, PostgreSQL's `search_text`). Afterwards new rows
//! get ids after the copied ones, and after any id the source ever handed
//! out (its sequences), so an id never names two different rows.
//!
//! How: a reader walks the source's tables in one consistent snapshot
//! (SQLite: one read transaction; PostgreSQL: one REPEATABLE READ, READ
//! ONLY transaction), a batch of rows at a time in key order, and hands
//! the batches over a small channel to a writer, which inserts them into
//! the destination inside one transaction: a failure anywhere leaves the
//! destination as it was. Only a few batches are in memory at once, so
//! databases of any size copy. The destination must be empty
//! ([`StoreError::Conflict`] otherwise) and both schemas at the version
//! this build knows.

#[cfg(feature = "postgres")]
mod pg;
mod sqlite;
mod tables;

use crate::{Database, Result, StoreError};
use tokio::sync::mpsc;

/// What a copy moved: rows per table, in the order copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// Batches the reader may be ahead of the writer.
const CHANNEL_BATCHES: usize = 2;

/// One column value of a copied row, in the kind its column declares
/// ([`tables::Kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl Value {
    fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// Rows of one table (an index into [`tables::TABLES`]), each with the
/// table's columns in order.
pub(crate) struct Batch {
    table: usize,
    rows: Vec<Vec<Value>>,
}

/// What the source learned beside the rows, read in the same snapshot.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The highest id each table (by index) ever handed out, where the
    /// source keeps one (SQLite's `sqlite_sequence`, PostgreSQL's
    /// sequences): ids of deleted rows are not handed out again.
    sequences: Vec<(usize, i64)>,
    /// `cron_changes.counter`.
    cron_changes: i64,
}

/// What the reader sends the writer.
pub(crate) enum Item {
    Rows(Batch),
    /// Everything was read; the writer may commit.
    End(Tail),
}

/// Copies every record of `from` into `to`, which must be empty.
///
/// Fails with [`StoreError::Conflict`] when `to` holds anything (or is
/// `from` itself), or when either database's schema is older than this
/// build's; with [`StoreError::Corrupt`] when one is newer; with
/// [`StoreError::Invalid`] when a row cannot be stored in `to` (text with
/// a NUL character in PostgreSQL). `to` is unchanged when the copy fails.
pub async fn copy_database(from: &Database, to: &Database) -> Result<CopyReport> {
    if same_database(from, to) {
        return Err(StoreError::Conflict(format!(
            "{} is both the source and the destination of the copy; name another, empty \
             database to copy into",
            from.describe()
        )));
    }
    let (sender, receiver) = mpsc::channel(CHANNEL_BATCHES);
    let reading = read(from, sender);
    let writing = write(to, receiver);
    let (read, written) = tokio::join!(reading, writing);
    // A reader that failed closed the channel early, and the writer then
    // failed for that reason only: the reader's error is the one that says
    // what went wrong. A writer that failed first made the reader stop
    // without an error of its own.
    read?;
    written
}

/// Reads `from` and sends its rows; stops quietly when the writer is gone
/// (it has the reason).
async fn read(from: &Database, sender: mpsc::Sender<Item>) -> Result<()> {
    let name = from.describe();
    match from {
        Database::Sqlite { store, .. } => sqlite::read(store, name, sender).await,
        #[cfg(feature = "postgres")]
        Database::Postgres(store) => pg::read(store, sender).await,
    }
}

/// Writes what arrives into `to`, committing on [`Item::End`].
async fn write(to: &Database, receiver: mpsc::Receiver<Item>) -> Result<CopyReport> {
    let name = to.describe();
    match to {
        Database::Sqlite { store, .. } => sqlite::write(store, name, receiver).await,
        #[cfg(feature = "postgres")]
        Database::Postgres(store) => pg::write(store, receiver).await,
    }
}

/// Whether both name the same database (copying one into itself would
/// wait on itself for SQLite, and is never meant).
fn same_database(a: &Database, b: &Database) -> bool {
    match (a, b) {
        (Database::Sqlite { path: a, .. }, Database::Sqlite { path: b, .. }) => {
            match (a.canonicalize(), b.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => a == b,
            }
        }
        #[cfg(feature = "postgres")]
        (Database::Postgres(a), Database::Postgres(b)) => a.name() == b.name(),
        #[cfg(feature = "postgres")]
        _ => false,
    }
}

/// The writer's error when the reader stopped before [`Item::End`] (the
/// reader's own error is reported instead, see [`copy_database`]).
fn source_stopped() -> StoreError {
    StoreError::Other("the source stopped before everything was read; nothing was copied".into())
}

/// The report for `counts` (rows per table, by index).
fn report(counts: &[u64]) -> CopyReport {
    CopyReport {
        tables: tables::TABLES
            .iter()
            .zip(counts)
            .map(|(table, &rows)| (table.name.to_owned(), rows))
            .collect(),
    }
}

/// `row`'s key, as the parameters of the query for the next batch.
fn key_of(table: &tables::Table, row: &[Value]) -> Vec<Value> {
    table.key.iter().map(|&i| row[i].clone()).collect()
}

/// Names a row in messages: its table and key.
fn describe_row(table: &tables::Table, row: &[Value]) -> String {
    let key: Vec<String> = table
        .key
        .iter()
        .map(|&i| {
            let value = match &row[i] {
                Value::Null => "NULL".to_owned(),
                Value::Int(n) => n.to_string(),
                Value::Text(t) => format!("{t:?}"),
                Value::Bool(b) => b.to_string(),
            };
            format!("{} = {value}", table.columns[i].name)
        })
        .collect();
    format!("{} row {}", table.name, key.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[tokio::test]
    async fn a_database_is_never_copied_into_itself() {
        let store = crate::SqliteStore::open_in_memory().expect("open");
        let db = Database::Sqlite {
            store,
            path: PathBuf::from(":memory:"),
        };
        let e = copy_database(&db, &db).await.expect_err("refused");
        assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    }

    #[test]
    fn rows_are_named_by_their_key() {
        let grants = tables::TABLES
            .iter()
            .find(|t| t.name == "approval_grants")
            .expect("table");
        let row = [
            Value::Text("chat".into()),
            Value::Text("42".into()),
            Value::Text("rm".into()),
            Value::Int(1),
        ];
        assert_eq!(
            describe_row(grants, &row),
            "approval_grants row platform = \"chat\", user_id = \"42\", key = \"rm\""
        );
        assert_eq!(key_of(grants, &row).len(), 3);
    }
}
