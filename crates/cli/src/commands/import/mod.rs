//! `hermod import hermes [HERMES_HOME] [--dry-run]`: moving from Hermes
//! Agent. Its conversations (from `state.db`), the chats' routes to them,
//! approved pairings, home channels and scheduled jobs go into hermod's
//! store; running it again imports nothing twice ([`apply`] says how).
//!
//! The import holds the home's gateway lock while it writes, so it refuses
//! to run beside a gateway on the same home and no gateway starts until it
//! is done. A dry run takes no lock, creates no database and writes
//! nothing: it reads an in-memory copy of a SQLite database, which must be
//! at this hermod's schema (a dry run migrates nothing).
//!
//! The import goes into whichever database the home uses: with
//! `HERMOD_DATABASE_URL`, the PostgreSQL one. Its dry run reads that
//! database itself, unmigrated: every step of the import only reads when
//! it is not to write, so the counts are those a real run would find,
//! without copying a server's database. (The home's lock keeps this
//! home's gateway out; gateways of other homes sharing the database are
//! the operator's to stop.)

mod apply;
mod hermes;
mod jobs;
mod session;

use crate::commands::gateway::{PidRecord, take_home};
use crate::commands::out;
use crate::config;
use crate::database;
use crate::home::{self, Create};
use anyhow::Context;
use apply::{Counts, Summary, Target};
use clap::{Args, Subcommand};
use hermod_core::{Clock, CronJobs};
use hermod_store::{Location, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const HERMES_HELP: &str = "\
What is imported:
  sessions and their messages   state.db (Hermes 0.19, schema version 22),
                                keeping Hermes' session ids and titles
  chat routes                   state.db's routing index and
                                sessions/sessions.json: a chat's next message
                                continues its imported conversation
  approved users                pairing/<platform>-approved.json
  home channels                 <PLATFORM>_HOME_CHANNEL in Hermes' .env, else
                                its config.yaml (where hermod has none)
  scheduled jobs                cron/jobs.json (prompt jobs; scripts are not)

Stop the gateway first (`hermod gateway stop`). Running the import again
imports only what is new, including messages Hermes added to sessions
imported before (until hermod continues such a session itself). A dry run
reads a copy of hermod's database (a PostgreSQL one as it is, unmigrated)
and changes nothing. The import writes into the database the home uses
(HERMOD_DATABASE_URL, else hermod.db). Copy Hermes' .env and config.yaml
yourself: hermod reads both as they are (`hermod config check` shows what
it makes of them).

Examples:
  hermod import hermes --dry-run
  hermod import hermes ~/.hermes/profiles/work";

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Import a Hermes Agent home: conversations, chat routes, approved
    /// users, home channels and scheduled jobs.
    #[command(after_help = HERMES_HELP)]
    Hermes(HermesArgs),
}

#[derive(Debug, Args)]
pub struct HermesArgs {
    /// The Hermes home to import (default: $HERMES_HOME, else ~/.hermes).
    hermes_home: Option<PathBuf>,
    /// Print what would be imported, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(source: ImportSource) -> anyhow::Result<()> {
    let ImportSource::Hermes(args) = source;
    let process = config::process_env();
    let from = match args.hermes_home {
        Some(path) => path,
        None => match (process.get("HERMES_HOME"), process.get("HOME")) {
            (Some(hermes), _) => PathBuf::from(hermes),
            (None, Some(user)) => Path::new(user).join(".hermes"),
            (None, None) => {
                anyhow::bail!("name the Hermes home: `hermod import hermes <HERMES_HOME>`")
            }
        },
    };
    let create = if args.dry_run {
        Create::No
    } else {
        Create::Yes
    };
    let home = home::open(&process, create)?;
    let config = config::load(&home, &process)?;
    let tz = hermod_core::time_zone(&config.gateway).map_err(config::ConfigError)?;
    let now_ms = hermod_core::now_ms();

    // Read everything before anything is written: a refused state.db
    // leaves hermod as it was.
    let names = hermod_platforms::platform_names();
    let hermes = hermes::read(&from, &names, &hermod_platforms::home_channel_variables())?;

    let _lock = if args.dry_run {
        None
    } else {
        Some(take_home(&home, &PidRecord::current(now_ms)).context(
            "hermod import writes the database the gateway uses, so the gateway must be stopped",
        )?)
    };
    let location = database::location(&home, &process)?;
    let opened = if args.dry_run {
        None
    } else {
        Some(database::open_at(&location).await?)
    };
    let store: Arc<dyn Store> = match (&opened, &location) {
        (Some(db), _) => db.store(),
        // A dry run reads a copy, so the file is neither migrated nor
        // checkpointed; into a home without a database, as into an empty
        // one.
        (None, Location::Sqlite(path)) if path.exists() => {
            Arc::new(SqliteStore::open_snapshot(path).with_context(|| {
                format!("the dry run cannot read the database {}", path.display())
            })?)
        }
        (None, Location::Sqlite(_)) => Arc::new(SqliteStore::open_in_memory()?),
        // The server's database itself, unmigrated: the dry run only reads.
        (None, Location::Postgres(_)) => database::open_unmigrated(&location).await?.store(),
    };
    let known = |platform: &str| names.contains(&platform);
    let configured_home = |platform: &str| {
        config
            .gateway
            .platforms
            .get(platform)
            .and_then(|policy| policy.home_channel.clone())
    };
    let target = Target {
        store: store.clone(),
        jobs: CronJobs::new(store, tz, Clock::System).with_platforms(names.iter().copied()),
        write: !args.dry_run,
        known_platform: &known,
        configured_home: &configured_home,
        key_policy: config.gateway.key_policy(),
        now_ms,
    };
    let done = apply::run(hermes, &target)
        .await
        .map_err(|e| match &location {
            Location::Postgres(_) if args.dry_run => e.context(format!(
                "the dry run cannot read the database {}; it reads the database as it is and \
             migrates nothing: if the database is new, run `hermod store migrate` first",
                location.describe()
            )),
            _ => e,
        });
    drop(target);
    let closed = match opened {
        Some(db) => database::close(db, &location).await,
        None => Ok(()),
    };
    let summary = done?;
    closed?;
    print(&summary, &from, &home, args.dry_run);
    Ok(())
}

fn print(summary: &Summary, from: &Path, home: &Path, dry_run: bool) {
    out(format_args!(
        "{} Hermes' home {} into {}{}",
        if dry_run { "Would import" } else { "Imported" },
        from.display(),
        home.display(),
        if dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    ));
    let line = |what: &str, counts: Counts, existing: &str| {
        out(format_args!(
            "  {what:<15} {} new, {} {existing}",
            counts.new, counts.existing
        ));
    };
    let continued = match summary.continued {
        0 => String::new(),
        n => format!(" ({n} with newer messages)"),
    };
    out(format_args!(
        "  {:<15} {} new ({} messages), {} already imported{continued}",
        "sessions:", summary.sessions.new, summary.messages, summary.sessions.existing
    ));
    line("chat routes:", summary.routes, "already imported");
    line("approved users:", summary.pairings, "already approved");
    line("home channels:", summary.home_channels, "already set");
    line("cron jobs:", summary.jobs, "already imported");
    if !summary.skipped.is_empty() {
        out(format_args!("Skipped ({}):", summary.skipped.len()));
        for s in &summary.skipped {
            out(format_args!("  {} {}: {}", s.kind, s.what, s.why));
        }
    }
    if !summary.notes.is_empty() {
        out("Imported without some parts:");
        for note in &summary.notes {
            out(format_args!("  {note}"));
        }
    }
    let total = summary.new_total();
    out(match (dry_run, total) {
        (true, n) => format!("{n} new would be imported."),
        (false, 0) => "0 new: everything was imported before.".to_owned(),
        (false, n) => format!("{n} new imported."),
    });
}
