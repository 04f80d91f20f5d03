//! Turning PostgreSQL failures into [`StoreError`]s.
//!
//! As for SQLite, operations fail either with the client's raw error or
//! with an already-classified [`StoreError`]; [`DbError::classify`] sorts
//! the raw ones once, where the database's name is known for the message.

use crate::StoreError;
use tokio_postgres::error::SqlState;

#[derive(Debug)]
pub(crate) enum DbError {
    Pg(tokio_postgres::Error),
    Store(StoreError),
    /// The store was closed.
    Closed,
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Pg(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub(crate) type DbResult<T> = Result<T, DbError>;

impl DbError {
    /// Classifies the failure; `db` names the database (its URL without
    /// the password) in messages.
    pub(crate) fn classify(self, db: &str) -> StoreError {
        match self {
            Self::Store(e) => e,
            Self::Closed => StoreError::Other(format!("{db}: the store was closed")),
            Self::Pg(e) => classify_pg(&e, db),
        }
    }

    /// Whether this is the violation of a unique or primary key constraint.
    pub(crate) fn is_unique_violation(&self) -> bool {
        self.code() == Some(&SqlState::UNIQUE_VIOLATION)
    }

    /// Whether this is a reference to a missing row.
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        self.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
    }

    fn code(&self) -> Option<&SqlState> {
        match self {
            Self::Pg(e) => e.code(),
            _ => None,
        }
    }
}

fn classify_pg(e: &tokio_postgres::Error, db: &str) -> StoreError {
    if let Some(refused) = super::tls::classify(e, db) {
        return refused;
    }
    let detail = match e.as_db_error() {
        Some(db_error) => db_error.message().to_owned(),
        None => std::error::Error::source(e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
    };
    let message = format!("{db}: {detail}");
    let Some(code) = e.code() else {
        return classify_client(e, message);
    };
    let class = &code.code()[..2];
    match class {
        // Serialization failures and deadlocks: the transaction may simply
        // be retried. Lock timeouts and cancelled statements likewise.
        "40" | "55" | "57" if *code != SqlState::ADMIN_SHUTDOWN => StoreError::Busy(message),
        // Shut down, too many connections, out of memory: the server
        // cannot serve right now.
        "57" | "53" if *code == SqlState::DISK_FULL => StoreError::Full(message),
        "57" | "53" | "08" => StoreError::Busy(message),
        // A read-only server (a standby, or default_transaction_read_only).
        "25" if *code == SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::Full(format!(
            "{message}: the server accepts no writes (a standby, or read-only); point \
             HERMOD_DATABASE_URL at the primary"
        )),
        // Authentication, a missing database or role, no permission.
        "28" | "3D" | "42" if *code == SqlState::INSUFFICIENT_PRIVILEGE => {
            StoreError::CannotOpen(message)
        }
        "28" | "3D" => StoreError::CannotOpen(message),
        // Data the schema refuses.
        "22" | "23" => StoreError::Invalid(message),
        // A column or table missing: not a hermod database, or damaged.
        "42" | "XX" => StoreError::Corrupt(message),
        _ => StoreError::Other(message),
    }
}

/// A failure with no SQLSTATE: the client's own. The client names its
/// kind only in the text it shows, which starts with it.
fn classify_client(e: &tokio_postgres::Error, message: String) -> StoreError {
    let shown = e.to_string();
    // No answer from the server: it is down, unreachable or the connection
    // broke. Retrying later may succeed.
    let unreachable = e.is_closed()
        || [
            "error connecting",
            "error communicating",
            "timeout",
            "connection closed",
        ]
        .iter()
        .any(|kind| shown.starts_with(kind));
    if unreachable {
        return StoreError::Busy(format!(
            "{message} (is the PostgreSQL server running and reachable?)"
        ));
    }
    // The URL asks for what cannot be (no password where one is needed, a
    // channel binding that cannot be met, no host): retrying will not help.
    if shown.starts_with("invalid configuration") || shown.starts_with("authentication error") {
        return StoreError::CannotOpen(format!(
            "{message}; check the user, password and options in HERMOD_DATABASE_URL"
        ));
    }
    // Values that do not convert, rows not as expected.
    StoreError::Other(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_pass_through() {
        let e = DbError::Store(StoreError::NotFound("session s".into()));
        assert!(matches!(e.classify("db"), StoreError::NotFound(_)));
        assert!(matches!(
            DbError::Closed.classify("db"),
            StoreError::Other(_)
        ));
    }
}
