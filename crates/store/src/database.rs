//! [`Database`]: the store a gateway or command uses, chosen by where it
//! lives — a SQLite file (the default) or a PostgreSQL URL — with what
//! opening, checking and closing it means for each.
//!
//! This is the one place that tells the backends apart, so the rest of
//! hermod holds an `Arc<dyn Store>` and never needs to know which. A build
//! without the `postgres` feature still understands PostgreSQL URLs and
//! says how to get a build that serves them.

use crate::{Checkpoint, Result, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a database lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server (a `postgres://` or `postgresql://` URL, which
    /// may hold a password: never shown).
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// A location from what a user wrote: a PostgreSQL URL, or else a path
    /// to a SQLite file.
    pub fn parse(text: &str) -> Location {
        if is_postgres_url(text) {
            Location::Postgres(text.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }

    /// The location for messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

/// Whether `text` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` with the password of its user part (`user:password@`) replaced.
/// The user part ends at the last `@` before the query, so a password
/// holding `/` or `@` is hidden whole; a `password=` in the query goes
/// with the query.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
    match rest.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => format!("{scheme}://{user}@{host}"),
        },
        None => format!("{scheme}://{rest}"),
    }
}

/// An open database: its store, and how to check and close it.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite {
        store: SqliteStore,
        path: PathBuf,
    },
    #[cfg(feature = "postgres")]
    Postgres(crate::PgStore),
}

impl Database {
    /// Opens the database at `location`, bringing its schema up to date
    /// (creating a SQLite file and its directories if needed). SQLite opens
    /// block briefly; call this at start-up.
    pub async fn open(location: &Location) -> Result<Database> {
        Self::open_with(location, true).await
    }

    /// [`Database::open`] without migrating a PostgreSQL database (SQLite
    /// files are always brought up to date as they open).
    pub async fn open_unmigrated(location: &Location) -> Result<Database> {
        Self::open_with(location, false).await
    }

    /// Opens the database at `location`; `migrate` says whether a
    /// PostgreSQL database is brought up to date.
    async fn open_with(location: &Location, migrate: bool) -> Result<Database> {
        match location {
            Location::Sqlite(path) => Ok(Database::Sqlite {
                store: SqliteStore::open(path)?,
                path: path.clone(),
            }),
            Location::Postgres(url) => Self::open_postgres(url, migrate).await,
        }
    }

    #[cfg(feature = "postgres")]
    async fn open_postgres(url: &str, migrate: bool) -> Result<Database> {
        let size = crate::DEFAULT_POOL_SIZE;
        let store = if migrate {
            crate::PgStore::connect(url, size).await?
        } else {
            crate::PgStore::connect_unmigrated(url, size)?
        };
        Ok(Database::Postgres(store))
    }

    #[cfg(not(feature = "postgres"))]
    async fn open_postgres(url: &str, _migrate: bool) -> Result<Database> {
        Err(crate::StoreError::CannotOpen(format!(
            "{} is a PostgreSQL database, but this hermod was built without PostgreSQL \
             support; build it with `cargo build --release -p hermod --features postgres`, \
             or unset HERMOD_DATABASE_URL to use the SQLite file in the home directory",
            redact(url)
        )))
    }

    /// The store, for everything that reads and writes.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Database::Sqlite { store, .. } => Arc::new(store.clone()),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// The SQLite store, when that is the backend (backups, snapshots).
    pub fn sqlite(&self) -> Option<&SqliteStore> {
        match self {
            Database::Sqlite { store, .. } => Some(store),
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => None,
        }
    }

    /// The SQLite file, when that is the backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Database::Sqlite { path, .. } => Some(path),
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => None,
        }
    }

    /// Where the database lives, for messages (never with a password).
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => path.display().to_string(),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store.name().to_owned(),
        }
    }

    /// Whether several gateways can share this database.
    pub fn is_shared(&self) -> bool {
        !matches!(self, Database::Sqlite { .. })
    }

    /// Checks that the database is whole and takes writes.
    pub async fn check(&self) -> Result<()> {
        match self {
            Database::Sqlite { store, .. } => store.check().await,
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store.check().await,
        }
    }

    /// Brings the schema up to date; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        match self {
            // Opening migrated it already.
            Database::Sqlite { .. } => Ok(Vec::new()),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => store.migrate().await,
        }
    }

    /// The newest schema version this build knows for this backend.
    pub fn schema_version(&self) -> i64 {
        match self {
            Database::Sqlite { .. } => SqliteStore::schema_version(),
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => crate::PgStore::schema_version(),
        }
    }

    /// Ends a command's use of the database: for SQLite, folds the WAL
    /// into the file (see [`SqliteStore::close`]); for PostgreSQL, closes
    /// the idle connections.
    pub async fn close(self) -> Result<Checkpoint> {
        match self {
            Database::Sqlite { store, .. } => store.close().await,
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => {
                store.close().await;
                Ok(Checkpoint::Complete)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert!(matches!(
            Location::parse("postgres://h/db"),
            Location::Postgres(_)
        ));
        assert!(matches!(
            Location::parse("PostgreSQL://h/db"),
            Location::Postgres(_)
        ));
        assert_eq!(
            Location::parse("/var/lib/hermod/hermod.db"),
            Location::Sqlite(PathBuf::from("/var/lib/hermod/hermod.db"))
        );
    }

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://bot:s3cret@db:5432/hermod",
                "postgres://bot:***@db:5432/hermod",
            ),
            ("postgres://db/hermod", "postgres://db/hermod"),
            ("postgres://bot@db/hermod", "postgres://bot@db/hermod"),
            (
                "postgres://bot:ab/s3cret@db:5432/hermod",
                "postgres://bot:***@db:5432/hermod",
            ),
            (
                "postgres://bot:a#s3cret@db/hermod",
                "postgres://bot:***@db/hermod",
            ),
            (
                "postgres://bot:p@ss@db/hermod?password=s3cret",
                "postgres://bot:***@db/hermod",
            ),
        ] {
            let location = Location::parse(url);
            assert_eq!(location.describe(), shown);
            assert!(!format!("{location:?}").contains("s3cret"));
        }
    }
}
