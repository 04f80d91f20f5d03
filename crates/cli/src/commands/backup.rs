//! `hermod backup <file>`: a copy of `hermod.db` taken with SQLite's online
//! backup API, safe while the gateway runs (see `SqliteStore::backup`).
//! A PostgreSQL database (`HERMOD_DATABASE_URL`) is the server's to back
//! up: the command says to use `pg_dump` and writes nothing.

use crate::commands::out;
use crate::home::{self, Create};
use crate::{config, database};
use hermod_store::{BackupOptions, Location, SqliteStore, StoreError};
use std::path::Path;

pub async fn run(file: &Path, force: bool) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let db = match database::location(&home, &process)? {
        Location::Sqlite(path) => path,
        postgres @ Location::Postgres(_) => anyhow::bail!(
            "the database is PostgreSQL ({}): back it up with pg_dump (for example \
             `pg_dump --format=custom --file=hermod.dump \"$HERMOD_DATABASE_URL\"`); \
             `hermod backup` copies only a SQLite database",
            postgres.describe()
        ),
    };
    if !db.is_file() {
        anyhow::bail!(
            "there is nothing to back up: {} does not exist (is HERMOD_HOME set to the home the gateway uses?)",
            db.display()
        );
    }
    let options = BackupOptions {
        replace: force,
        ..BackupOptions::default()
    };
    let receipt = SqliteStore::backup(&db, file, options)
        .await
        .map_err(|e| with_advice(e, file, force))?;
    out(format_args!(
        "Backed up {} to {} ({}): {} sessions, {} messages; integrity check passed.",
        db.display(),
        receipt.path.display(),
        size(receipt.bytes),
        receipt.sessions,
        receipt.messages
    ));
    Ok(())
}

fn with_advice(error: StoreError, file: &Path, force: bool) -> anyhow::Error {
    let advice = match &error {
        StoreError::Conflict(_) if !force && file.exists() => format!(
            "{} already exists; pass --force to replace it, or name another file",
            file.display()
        ),
        StoreError::Corrupt(_) => {
            "the backup was not written: the database failed its check (see below)".to_owned()
        }
        _ => format!("cannot back up to {}", file.display()),
    };
    anyhow::Error::new(error).context(advice)
}

/// A byte count for people: `512 B`, `1.5 KiB`, `20.0 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }

    #[test]
    fn an_existing_file_asks_for_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("b.db");
        std::fs::write(&file, "x").expect("write");
        let e = with_advice(StoreError::Conflict("exists".into()), &file, false);
        assert!(e.to_string().contains("pass --force"), "{e}");
        let e = with_advice(
            StoreError::Conflict("the database itself".into()),
            &file,
            true,
        );
        assert!(!e.to_string().contains("--force"), "{e}");
    }
}
