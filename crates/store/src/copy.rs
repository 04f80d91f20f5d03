//! Copying everything a database holds into another, empty one: from
//! SQLite to PostgreSQL (moving to several gateways) and back.

use crate::{Database, Result, StoreError};

/// What a copy moved: rows per table, in the order copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// Copies every record of `from` into `to`, which must be empty.
pub async fn copy_database(from: &Database, to: &Database) -> Result<CopyReport> {
    let _ = (from, to);
    Err(StoreError::Other("copying is not written yet".into()))
}
