//! Turning SQLite failures into [`StoreError`]s.
//!
//! Operations run against a connection and fail either with a raw
//! [`rusqlite::Error`] or with an already-classified [`StoreError`]; [`DbError`]
//! carries both so `?` works on either. The classification happens once, in
//! [`DbError::classify`], where the database's name is known for the message.

use crate::StoreError;
use rusqlite::ErrorCode;

/// A failure inside a store operation, before it is shown to callers.
#[derive(Debug)]
pub(crate) enum DbError {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The result of an operation run on a connection.
pub(crate) type DbResult<T> = Result<T, DbError>;

impl DbError {
    /// Classifies the failure; `db` names the database (its path) in messages.
    pub(crate) fn classify(self, db: &str) -> StoreError {
        match self {
            Self::Store(e) => e,
            Self::Sqlite(e) => classify_sqlite(&e, db),
        }
    }

    /// Classifies a failure met while opening the database, where a file
    /// SQLite cannot open or is not allowed to open means the path needs
    /// fixing ([`StoreError::CannotOpen`]) rather than the disk.
    pub(crate) fn classify_open(self, db: &str) -> StoreError {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, ref detail))
                if matches!(f.code, ErrorCode::CannotOpen | ErrorCode::PermissionDenied) =>
            {
                let detail = detail.as_deref().unwrap_or("unable to open database file");
                // SQLite's own message often names the file already.
                StoreError::CannotOpen(if detail.contains(db) {
                    detail.to_owned()
                } else {
                    format!("{db}: {detail}")
                })
            }
            other => other.classify(db),
        }
    }
}

/// Whether `e` is a uniqueness (primary key or UNIQUE) violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Whether `e` is a foreign key violation (a reference to a missing row).
pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}

fn classify_sqlite(e: &rusqlite::Error, db: &str) -> StoreError {
    use rusqlite::Error as E;
    match e {
        E::SqliteFailure(f, _) => match f.code {
            ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure => StoreError::Full(format!("cannot write {db}: {e}")),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Busy(format!("{db}: {e}"))
            }
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                StoreError::Corrupt(format!("{db} is not a hermod database or is damaged: {e}"))
            }
            ErrorCode::ConstraintViolation if is_unique_violation(e) => {
                StoreError::Conflict(format!("{db}: {e}"))
            }
            ErrorCode::ConstraintViolation if is_foreign_key_violation(e) => {
                StoreError::NotFound(format!("a referenced record does not exist ({e})"))
            }
            ErrorCode::TooBig => StoreError::Invalid(format!("value too large to store: {e}")),
            ErrorCode::CannotOpen => StoreError::Other(format!("cannot open {db}: {e}")),
            _ => StoreError::Other(format!("{db}: {e}")),
        },
        // Values read back that do not have the type the schema promises.
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..)
        | E::InvalidColumnType(..) => {
            StoreError::Corrupt(format!("{db} holds a value hermod cannot read: {e}"))
        }
        _ => StoreError::Other(format!("{db}: {e}")),
    }
}

/// Classifies a filesystem failure met while preparing the database file.
pub(crate) fn classify_io(e: &std::io::Error, what: &str) -> StoreError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::NotADirectory | K::NotFound => {
            StoreError::CannotOpen(format!("{what}: {e}"))
        }
        K::StorageFull | K::ReadOnlyFilesystem | K::QuotaExceeded => {
            StoreError::Full(format!("{what}: {e}"))
        }
        _ => StoreError::Other(format!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(extended: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(extended), Some("boom".into()))
    }

    #[test]
    fn codes_map_to_kinds() {
        let db = "/tmp/x.db";
        let kind = |code| DbError::from(failure(code)).classify(db);
        assert!(matches!(kind(ffi::SQLITE_FULL), StoreError::Full(_)));
        assert!(matches!(kind(ffi::SQLITE_READONLY), StoreError::Full(_)));
        assert!(matches!(kind(ffi::SQLITE_IOERR_WRITE), StoreError::Full(_)));
        assert!(matches!(kind(ffi::SQLITE_BUSY), StoreError::Busy(_)));
        assert!(matches!(kind(ffi::SQLITE_LOCKED), StoreError::Busy(_)));
        assert!(matches!(
            kind(ffi::SQLITE_CONSTRAINT_PRIMARYKEY),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            kind(ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            StoreError::NotFound(_)
        ));
        assert!(matches!(
            kind(ffi::SQLITE_CONSTRAINT_NOTNULL),
            StoreError::Other(_)
        ));
        assert!(matches!(kind(ffi::SQLITE_ERROR), StoreError::Other(_)));
        match kind(ffi::SQLITE_NOTADB) {
            StoreError::Corrupt(msg) => assert!(msg.contains(db) && msg.contains("not a hermod")),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(matches!(kind(ffi::SQLITE_CORRUPT), StoreError::Corrupt(_)));
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_told_apart_when_opening() {
        let db = "/srv/hermod/hermod.db";
        let cantopen = || DbError::from(failure(ffi::SQLITE_CANTOPEN));
        match cantopen().classify_open(db) {
            StoreError::CannotOpen(msg) => assert_eq!(msg, "/srv/hermod/hermod.db: boom"),
            other => panic!("expected CannotOpen, got {other:?}"),
        }
        let named = rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_CANTOPEN),
            Some(format!("unable to open database file: {db}")),
        );
        match DbError::from(named).classify_open(db) {
            StoreError::CannotOpen(msg) => {
                assert_eq!(msg, format!("unable to open database file: {db}"))
            }
            other => panic!("expected CannotOpen, got {other:?}"),
        }
        assert!(matches!(
            DbError::from(failure(ffi::SQLITE_PERM)).classify_open(db),
            StoreError::CannotOpen(_)
        ));
        assert!(matches!(
            DbError::from(failure(ffi::SQLITE_NOTADB)).classify_open(db),
            StoreError::Corrupt(_)
        ));
        // Past opening, the classification stays as it was.
        assert!(matches!(cantopen().classify(db), StoreError::Other(_)));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(matches!(
            classify_io(&denied, "cannot create /srv/hermod"),
            StoreError::CannotOpen(_)
        ));
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(matches!(classify_io(&full, "x"), StoreError::Full(_)));
    }

    #[test]
    fn classified_errors_pass_through() {
        let e = DbError::from(StoreError::NotFound("session s".into())).classify("db");
        assert!(matches!(e, StoreError::NotFound(m) if m == "session s"));
    }
}
