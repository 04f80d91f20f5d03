//! Which database a command uses — the SQLite file `<home>/hermod.db`, or
//! the PostgreSQL database `HERMOD_DATABASE_URL` names — opening it, and
//! telling the operator what to do when it cannot be used.
//!
//! Every command opens its database here, so they all agree on where it
//! is and all explain a failure the same way. Messages name a PostgreSQL
//! database by [`Location::describe`], which never shows the password.

use crate::config::ConfigError;
use crate::dotenv;
use crate::home::{self, Blocked};
use hermod_model::EnvVars;
use hermod_store::{Checkpoint, Database, Location, StoreError, is_postgres_url};
use std::path::Path;
use tracing::debug;

/// The variable naming a PostgreSQL database to use instead of the home's
/// SQLite file (from the environment, else the home's `.env`).
pub const URL_VARIABLE: &str = "HERMOD_DATABASE_URL";

/// The SQLite file in `home`, used when no URL is set.
fn sqlite_path(home: &Path) -> std::path::PathBuf {
    home.join("hermod.db")
}

/// Where the database of `home` is: `HERMOD_DATABASE_URL` from the process
/// environment, else from the home's `.env` (as every `HERMOD_*` setting),
/// else the SQLite file `<home>/hermod.db`. An empty value counts as unset;
/// a value that is not a `postgres://` or `postgresql://` URL is a
/// configuration error (its text is not repeated: it may hold a password).
pub fn location(home: &Path, process: &EnvVars) -> Result<Location, ConfigError> {
    let from_env = process
        .get(URL_VARIABLE)
        .map(|value| (value.trim().to_owned(), "the environment".to_owned()));
    let found = match from_env {
        Some(found) => Some(found),
        None => from_dotenv(home)?,
    };
    match found {
        Some((url, _)) if url.is_empty() => Ok(Location::Sqlite(sqlite_path(home))),
        None => Ok(Location::Sqlite(sqlite_path(home))),
        Some((url, _)) if is_postgres_url(&url) => Ok(Location::Postgres(url)),
        Some((_, source)) => Err(ConfigError(format!(
            "{URL_VARIABLE} (in {source}) is not a PostgreSQL URL: write it as \
             postgres://user:password@host:5432/database, or unset it to use {}",
            sqlite_path(home).display()
        ))),
    }
}

/// `HERMOD_DATABASE_URL` from `<home>/.env`, with where it was found.
fn from_dotenv(home: &Path) -> Result<Option<(String, String)>, ConfigError> {
    let path = home.join(".env");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError(format!("cannot read {}: {e}", path.display())));
        }
    };
    let vars = dotenv::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
    Ok(vars
        .into_iter()
        .rev()
        .find(|(key, _)| key == URL_VARIABLE)
        .map(|(_, value)| (value.trim().to_owned(), path.display().to_string())))
}

/// Opens the database at `location` (from [`location`]: every command
/// opens its database here), bringing its schema up to date (a SQLite file
/// and its directory are created if needed).
pub async fn open_at(location: &Location) -> anyhow::Result<Database> {
    Database::open(location)
        .await
        .map_err(|e| with_advice(e, location, Stage::Open, &home::writable))
}

/// Opens the database at `location` without migrating a PostgreSQL
/// database (for `hermod store migrate`, which says what it applies; a
/// SQLite file is brought up to date as it opens).
pub async fn open_unmigrated(location: &Location) -> anyhow::Result<Database> {
    Database::open_unmigrated(location)
        .await
        .map_err(|e| with_advice(e, location, Stage::Open, &home::writable))
}

/// Brings the schema of `database` (opened at `location`) up to date;
/// returns the versions applied.
pub async fn migrate(database: &Database, location: &Location) -> anyhow::Result<Vec<i64>> {
    database
        .migrate()
        .await
        .map_err(|e| with_advice(e, location, Stage::Open, &home::writable))
}

/// Checks that the database is whole and takes writes, so the gateway never
/// says "ready" on one that fails every request. PostgreSQL is reached
/// here for the first time, so an unreachable server fails here.
pub async fn check(database: &Database, location: &Location) -> anyhow::Result<()> {
    database
        .check()
        .await
        .map_err(|e| with_advice(e, location, Stage::Check, &home::writable))
}

/// Ends a command's use of the database. For SQLite it folds the WAL into
/// `hermod.db`, so that file alone holds what the command wrote (copying it
/// is a backup); while a gateway uses the database the WAL may stay in
/// part, and the gateway's own close folds that in. For PostgreSQL it
/// closes the idle connections: there is nothing to fold.
pub async fn close(database: Database, location: &Location) -> anyhow::Result<()> {
    match database.close().await {
        Ok(Checkpoint::Complete) => Ok(()),
        Ok(Checkpoint::Partial) => {
            debug!(database = %location.describe(), "another process is using the database; part of the WAL stays for it to fold in");
            Ok(())
        }
        Err(e) => Err(with_advice(e, location, Stage::Check, &home::writable)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    Check,
}

/// Puts what to do in front of the store's own description of the failure.
fn with_advice(
    error: StoreError,
    location: &Location,
    stage: Stage,
    writable: &dyn Fn(&Path) -> bool,
) -> anyhow::Error {
    match location {
        Location::Sqlite(path) => sqlite_advice(error, path, stage, writable),
        Location::Postgres(_) => postgres_advice(error, &location.describe(), stage),
    }
}

/// Advice for a PostgreSQL database; `db` is its URL without the password.
fn postgres_advice(error: StoreError, db: &str, stage: Stage) -> anyhow::Error {
    let advice = match (&error, stage) {
        (StoreError::Busy(_), _) => format!(
            "cannot reach the PostgreSQL server at {db}: is it running, and is \
             {URL_VARIABLE} right?"
        ),
        (StoreError::CannotOpen(_), _) => format!(
            "cannot use the PostgreSQL database {db}: if the server refused the login or knows \
             no such database, check the user, password and database name in {URL_VARIABLE} \
             (and that the database exists and the user may use it)"
        ),
        (StoreError::Corrupt(_), _) => format!(
            "cannot use the PostgreSQL database {db}: if a newer hermod migrated it, run that \
             version (or a newer one); otherwise its tables are not the ones hermod made"
        ),
        (StoreError::Full(_), _) => format!(
            "the PostgreSQL database {db} takes no writes: check the server's free disk space \
             and that the user may write (not a read-only standby)"
        ),
        (_, Stage::Open) => format!("cannot open the PostgreSQL database {db}"),
        (_, Stage::Check) => format!("the PostgreSQL database {db} failed its check"),
    };
    anyhow::Error::new(error).context(advice)
}

/// Advice for the SQLite file at `path`; `writable` tells which paths this
/// user may write, to tell a permission problem from a full disk.
fn sqlite_advice(
    error: StoreError,
    path: &Path,
    stage: Stage,
    writable: &dyn Fn(&Path) -> bool,
) -> anyhow::Error {
    let p = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let blocked = match &error {
        StoreError::CannotOpen(_) | StoreError::Full(_) => Blocked::find(dir, Some(path), writable),
        _ => None,
    };
    let failed = match stage {
        Stage::Open => format!("cannot open the database {p}"),
        Stage::Check => format!("hermod cannot write the database {p}"),
    };
    if let Some(blocked) = blocked {
        let advice = format!("{failed}: {}", blocked.advice(&home::user_id()));
        return anyhow::Error::new(error).context(advice);
    }
    let recover = format!(
        "stop hermod, keep a copy, and recover with `sqlite3 {p} .recover | sqlite3 recovered.db` \
         or restore a backup"
    );
    let advice = match (&error, stage) {
        (StoreError::Full(_), _) => {
            format!("hermod cannot write {p}: check its permissions and free disk space")
        }
        (StoreError::Corrupt(_), Stage::Check) => format!("the database {p} is damaged: {recover}"),
        // Opening also refuses foreign files and newer schemas, which the
        // store's message (shown below this one) tells apart from damage.
        (StoreError::Corrupt(_), Stage::Open) => {
            format!("cannot open the database {p}; if it is damaged: {recover}")
        }
        (StoreError::Busy(_), _) => format!(
            "the database {p} is locked by another program; stop it (is another hermod running?) and try again"
        ),
        (StoreError::CannotOpen(_), _) => format!(
            "{failed}: make sure {} is a directory this user can write, or set HERMOD_HOME to one",
            dir.display()
        ),
        (_, Stage::Open) => failed,
        (_, Stage::Check) => format!("the database {p} failed its check"),
    };
    anyhow::Error::new(error).context(advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice(error: StoreError, stage: Stage) -> String {
        sqlite_advice(error, Path::new("/h/hermod.db"), stage, &|_| true).to_string()
    }

    #[test]
    fn each_kind_of_failure_says_what_to_do() {
        let full = advice(StoreError::Full("read-only".into()), Stage::Check);
        assert_eq!(
            full,
            "hermod cannot write /h/hermod.db: check its permissions and free disk space"
        );
        let damaged = advice(StoreError::Corrupt("page 3".into()), Stage::Check);
        assert!(
            damaged.starts_with("the database /h/hermod.db is damaged: stop hermod, keep a copy")
                && damaged.contains("`sqlite3 /h/hermod.db .recover")
                && damaged.ends_with("or restore a backup"),
            "{damaged}"
        );
        let foreign = advice(StoreError::Corrupt("newer hermod".into()), Stage::Open);
        assert!(foreign.starts_with("cannot open the database /h/hermod.db; if it is damaged"));
        let busy = advice(StoreError::Busy("locked".into()), Stage::Open);
        assert!(busy.contains("another hermod"), "{busy}");
    }

    #[test]
    fn the_store_error_stays_in_the_chain() {
        let e = sqlite_advice(
            StoreError::Full("x".into()),
            Path::new("db"),
            Stage::Open,
            &|_| true,
        );
        assert!(e.chain().any(|c| c.downcast_ref::<StoreError>().is_some()));
    }

    /// SQLite's "unable to open database file" in a home this user may not
    /// write: the message names the directory and what to do.
    #[test]
    fn a_database_in_a_home_that_is_not_writable_is_a_permission_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("hermod.db");
        let cantopen =
            || StoreError::CannotOpen(format!("{}: unable to open database file", db.display()));
        let home_denied = |p: &Path| p != dir.path();
        let message = sqlite_advice(cantopen(), &db, Stage::Open, &home_denied).to_string();
        let (d, uid) = (dir.path().display(), home::user_id());
        assert_eq!(
            message,
            format!(
                "cannot open the database {}: a permission problem: {d} is not writable by \
                 this user (uid {uid}); give it to this user with `chown -R {uid} {d}` (as root) \
                 or make it writable with `chmod u+w {d}`, or set HERMOD_HOME to a directory \
                 this user can write",
                db.display()
            )
        );

        // A database file that is there but read-only, found when its
        // first write fails.
        std::fs::write(&db, "").expect("write");
        let file_denied = |p: &Path| p != db;
        let message = sqlite_advice(
            StoreError::Full("attempt to write a readonly database".into()),
            &db,
            Stage::Check,
            &file_denied,
        )
        .to_string();
        assert!(
            message.starts_with(&format!(
                "hermod cannot write the database {0}: a permission problem: {0} is not writable",
                db.display()
            )) && message.contains("set HERMOD_HOME"),
            "{message}"
        );

        // Permissions are fine: the path itself is the problem.
        let message = sqlite_advice(cantopen(), &db, Stage::Open, &|_| true).to_string();
        assert_eq!(
            message,
            format!(
                "cannot open the database {}: make sure {d} is a directory this user can \
                 write, or set HERMOD_HOME to one",
                db.display()
            )
        );
    }

    #[test]
    fn postgres_failures_name_the_server_never_the_password() {
        let location = Location::parse("postgres://bot:s3cret@db:5432/hermod");
        let advice =
            |error: StoreError| with_advice(error, &location, Stage::Open, &|_| true).to_string();
        let busy = advice(StoreError::Busy("connection refused".into()));
        assert_eq!(
            busy,
            "cannot reach the PostgreSQL server at postgres://bot:***@db:5432/hermod: is it \
             running, and is HERMOD_DATABASE_URL right?"
        );
        let login = advice(StoreError::CannotOpen(
            "password authentication failed".into(),
        ));
        assert!(
            login.contains("user, password and database name"),
            "{login}"
        );
        let newer = advice(StoreError::Corrupt("schema version 9".into()));
        assert!(newer.contains("newer hermod"), "{newer}");
        for text in [busy, login, newer] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn the_url_comes_from_the_environment_then_the_dotenv_else_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path();
        let file = Location::Sqlite(home.join("hermod.db"));
        assert_eq!(location(home, &env(&[])).expect("default"), file);
        assert_eq!(
            location(home, &env(&[(URL_VARIABLE, " ")])).expect("empty"),
            file
        );
        std::fs::write(
            home.join(".env"),
            "HERMOD_DATABASE_URL=postgres://bot:pw@dotenv/hermod\n",
        )
        .expect("write");
        assert_eq!(
            location(home, &env(&[])).expect("dotenv"),
            Location::Postgres("postgres://bot:pw@dotenv/hermod".into())
        );
        assert_eq!(
            location(home, &env(&[(URL_VARIABLE, "postgresql://env/db")])).expect("env"),
            Location::Postgres("postgresql://env/db".into())
        );
        let wrong = location(home, &env(&[(URL_VARIABLE, "mysql://u:s3cret@h/db")]))
            .expect_err("not PostgreSQL");
        assert!(
            wrong.0.contains("not a PostgreSQL URL") && !wrong.0.contains("s3cret"),
            "{wrong}"
        );
    }
}
