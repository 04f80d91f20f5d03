//! [`StoreError`]: what can go wrong in storage, classified for callers.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    Conflict(String),
    /// The caller passed something the store cannot hold (bad query syntax, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The disk is full or read-only: nothing was written.
    #[error("storage is full or read-only ({0}); free disk space and retry")]
    Full(String),
    /// The database is locked or busy; retrying later may succeed.
    #[error("storage busy: {0}")]
    Busy(String),
    /// The database file, or the directory it is in, cannot be opened or
    /// created: permissions, a missing directory, a path that is not a
    /// file. Only opening fails this way; retrying does not help until
    /// someone fixes the path.
    #[error("cannot open the database: {0}")]
    CannotOpen(String),
    /// The database file is damaged or of an unknown newer schema.
    #[error("storage corrupt or incompatible: {0}")]
    Corrupt(String),
    #[error("storage failure: {0}")]
    Other(String),
}
