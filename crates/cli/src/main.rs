//! The `hermod` command.

mod commands;
mod config;
mod database;
mod dotenv;
mod home;
mod logging;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for a configuration error (EX_CONFIG): a supervisor should not
/// restart-loop on it.
const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(name = "hermod", version, about = "A messaging gateway for AI agents.")]
struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Gateway {
        #[command(subcommand)]
        action: Option<GatewayAction>,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Read stored conversations.
    Sessions {
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Approve, list and revoke users who paired through a DM.
    Pairing {
        #[command(subcommand)]
        action: PairingAction,
    },
    /// Copy the database into a file, safely while the gateway runs.
    Backup {
        /// The backup file to write (a new file unless --force).
        file: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PairingAction {
    /// Allow the user who was given this code.
    Approve { platform: String, code: String },
    /// Show pending requests and approved users.
    List {
        /// Only this platform.
        platform: Option<String>,
    },
    /// Take a user's approval back.
    Revoke { platform: String, user: String },
}

#[derive(Debug, Subcommand)]
enum GatewayAction {
    /// Run in the foreground until SIGINT or SIGTERM (the default).
    Run,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate config.yaml, .env and the environment without starting anything.
    Check,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsAction {
    /// List sessions, most recently active first.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only sessions of this platform (for example api_server).
        #[arg(long)]
        platform: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one session and its messages.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over all messages.
    Search {
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Before anything can create a file: everything hermod writes is private.
    home::restrict_umask();
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Gateway {
                action: None | Some(GatewayAction::Run),
            } => commands::gateway::run().await,
            Command::Config {
                action: ConfigAction::Check,
            } => commands::config_check::run(),
            Command::Sessions { action } => commands::sessions::run(action).await,
            Command::Pairing { action } => commands::pairing::run(action).await,
            Command::Backup { file, force } => commands::backup::run(&file, force).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A storage failure needs an operator (disk, permissions,
            // damage), whichever command met it.
            if let Some(store) = e
                .chain()
                .find_map(|c| c.downcast_ref::<hermod_store::StoreError>())
            {
                tracing::error!(error = %store, "storage failed");
            }
            let code = if e.downcast_ref::<config::ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            };
            commands::eprintln_error(&e);
            code
        }
    }
}
