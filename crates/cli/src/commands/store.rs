//! `hermod store migrate|copy`: the database itself rather than what it
//! holds. `migrate` brings the configured database's schema up to date
//! and says what it applied (a PostgreSQL database shared by several
//! gateways is migrated once, before they are upgraded); `copy` moves
//! everything one database holds into another, empty one — from the
//! home's SQLite file to PostgreSQL when a second gateway joins, or back.

use crate::commands::gateway::{PidRecord, take_home};
use crate::commands::out;
use crate::home::{self, Create};
use crate::{config, database};
use anyhow::Context;
use clap::{Args, Subcommand};
use hermod_store::{CopyReport, Location, copy_database};

/// Examples at the end of `hermod store migrate --help`.
const MIGRATE_HELP: &str = "\
The database is the one the home uses: HERMOD_DATABASE_URL (from the
environment or the home's .env), else HERMOD_HOME/hermod.db. Gateways
migrate it too as they start; run this first to see what an upgrade
applies, or to migrate a shared PostgreSQL database once, before
upgrading its gateways. A SQLite file is brought up to date as it opens.

Examples:
  hermod store migrate
  HERMOD_DATABASE_URL=postgres://bot@db:5432/hermod hermod store migrate";

/// Examples at the end of `hermod store copy --help`.
const COPY_HELP: &str = "\
Stop every gateway using either database first (`hermod gateway stop`):
the copy is a snapshot, and what a gateway writes during it may be left
behind. The destination must be empty (a new SQLite file, or a PostgreSQL
database hermod has not written to); the copy refuses one that holds
anything. An omitted --from or --to is the home's configured database
(HERMOD_DATABASE_URL, else HERMOD_HOME/hermod.db). Passwords in URLs are
never printed.

After copying into PostgreSQL, set HERMOD_DATABASE_URL (in the home's .env)
so the gateway uses it.

Examples:
  hermod store copy --to postgres://bot:secret@db:5432/hermod
  hermod store copy --from ~/.hermod/hermod.db --to postgres://bot@db/hermod
  hermod store copy --from \"$HERMOD_DATABASE_URL\" --to ./hermod.db";

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Bring the configured database's schema up to date, saying which
    /// versions were applied.
    #[command(after_help = MIGRATE_HELP)]
    Migrate,
    /// Copy everything a database holds (SQLite file or PostgreSQL URL)
    /// into another, empty one. Stop the gateways first: the copy is a
    /// snapshot.
    #[command(after_help = COPY_HELP)]
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The database to copy: a SQLite file's path or a postgres:// URL
    /// (default: the configured database).
    #[arg(long, value_name = "PATH_OR_URL")]
    from: Option<String>,
    /// The empty database to copy into: a SQLite file's path (created) or a
    /// postgres:// URL (default: the configured database).
    #[arg(long, value_name = "PATH_OR_URL")]
    to: Option<String>,
}

pub async fn run(action: StoreAction) -> anyhow::Result<()> {
    match action {
        StoreAction::Migrate => migrate().await,
        StoreAction::Copy(args) => copy(args).await,
    }
}

async fn migrate() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let location = database::location(&home, &process)?;
    let db = database::open_unmigrated(&location).await?;
    let applied = database::migrate(&db, &location).await;
    let version = db.schema_version();
    let closed = database::close(db, &location).await;
    let applied = applied?;
    closed?;
    out(migrated(&location, &applied, version));
    Ok(())
}

/// What `migrate` did, in one line.
fn migrated(location: &Location, applied: &[i64], version: i64) -> String {
    let name = location.describe();
    match (location, applied) {
        (Location::Sqlite(_), _) => {
            format!("{name}: schema at version {version} (a SQLite file is migrated as it opens)")
        }
        (Location::Postgres(_), []) => format!("{name}: schema up to date (version {version})"),
        (Location::Postgres(_), [one]) => format!("applied schema version {one} to {name}"),
        (Location::Postgres(_), [first, .., last]) => {
            format!("applied schema versions {first} to {last} to {name}")
        }
    }
}

async fn copy(args: CopyArgs) -> anyhow::Result<()> {
    let process = config::process_env();
    // Copying into the home's database may create the home.
    let create = if args.to.is_none() {
        Create::Yes
    } else {
        Create::No
    };
    let home = home::open(&process, create)?;
    if args.from.is_none() && args.to.is_none() {
        anyhow::bail!(
            "name where to copy from or to: `hermod store copy --to <path-or-url>` copies the \
             configured database there, `--from <path-or-url>` copies into it"
        );
    }
    let configured = || database::location(&home, &process);
    let from = match &args.from {
        Some(text) => Location::parse(text.trim()),
        None => configured()?,
    };
    let to = match &args.to {
        Some(text) => Location::parse(text.trim()),
        None => configured()?,
    };
    if from == to {
        anyhow::bail!(
            "--from and --to are the same database ({}); name another one",
            to.describe()
        );
    }
    if let Location::Sqlite(path) = &from
        && !path.is_file()
    {
        anyhow::bail!(
            "there is nothing to copy: {} does not exist",
            path.display()
        );
    }
    // When the copy involves this home's database, no gateway on this home
    // may write during it (gateways of other homes are the operator's).
    let _lock = if args.from.is_none() || args.to.is_none() {
        Some(
            take_home(&home, &PidRecord::current(hermod_core::now_ms())).context(
                "the copy is a snapshot of the database the gateway uses, so the gateway must \
                 be stopped",
            )?,
        )
    } else {
        None
    };
    let source = database::open_at(&from).await?;
    let destination = match database::open_at(&to).await {
        Ok(db) => db,
        Err(e) => {
            let _ = database::close(source, &from).await;
            return Err(e);
        }
    };
    let copied = copy_database(&source, &destination)
        .await
        .with_context(|| format!("cannot copy {} to {}", from.describe(), to.describe()));
    let closed_from = database::close(source, &from).await;
    let closed_to = database::close(destination, &to).await;
    let report = copied?;
    closed_from?;
    closed_to?;
    for line in report_lines(&from, &to, &report) {
        out(line);
    }
    Ok(())
}

/// The copy's report: rows per table and the total.
fn report_lines(from: &Location, to: &Location, report: &CopyReport) -> Vec<String> {
    let width = report
        .tables
        .iter()
        .map(|(table, _)| table.len())
        .max()
        .unwrap_or(0)
        .max("total".len());
    let mut lines = vec![format!("Copied {} to {}:", from.describe(), to.describe())];
    for (table, rows) in &report.tables {
        lines.push(format!("  {table:<width$}  {rows:>9}"));
    }
    let total: u64 = report.tables.iter().map(|(_, rows)| rows).sum();
    lines.push(format!("  {:<width$}  {total:>9} rows", "total"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_says_what_it_applied_without_the_password() {
        let pg = Location::parse("postgres://bot:s3cret@db:5432/hermod");
        assert_eq!(
            migrated(&pg, &[1], 1),
            "applied schema version 1 to postgres://bot:***@db:5432/hermod"
        );
        assert_eq!(
            migrated(&pg, &[1, 2, 3], 3),
            "applied schema versions 1 to 3 to postgres://bot:***@db:5432/hermod"
        );
        assert_eq!(
            migrated(&pg, &[], 3),
            "postgres://bot:***@db:5432/hermod: schema up to date (version 3)"
        );
        let file = Location::parse("/h/hermod.db");
        assert!(migrated(&file, &[], 4).starts_with("/h/hermod.db: schema at version 4"));
    }

    #[test]
    fn the_copy_report_lists_tables_and_a_total() {
        let report = CopyReport {
            tables: vec![("sessions".into(), 2), ("messages".into(), 40)],
        };
        let lines = report_lines(
            &Location::parse("/h/hermod.db"),
            &Location::parse("postgres://bot:s3cret@db/hermod"),
            &report,
        );
        assert_eq!(
            lines,
            [
                "Copied /h/hermod.db to postgres://bot:***@db/hermod:",
                "  sessions          2",
                "  messages         40",
                "  total            42 rows",
            ]
        );
    }
}
