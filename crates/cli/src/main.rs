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

/// Where hermod keeps its files and how to see more of what it does, at the
/// end of `hermod --help`.
const ENVIRONMENT_HELP: &str = "\
Environment:
  HERMOD_HOME          The directory holding config.yaml, .env and the
                       database hermod.db (default: ~/.hermod). Created on
                       first run.
  HERMOD_DATABASE_URL  A PostgreSQL database to use instead of hermod.db
                       (postgres://user:password@host:5432/database), for
                       several gateways sharing one database; also read
                       from the home's .env.
  RUST_LOG             Log filter, overriding -v (for example: debug, or
                       hermod_core=debug,warn).";

/// Examples at the end of `hermod chat --help`.
const CHAT_HELP: &str = "\
Examples:
  hermod chat
  hermod chat --session 20261121_120000_ab12cd

In the chat:
  /handoff <platform> continue this conversation in that platform's home
                      channel (a name `hermod config check` lists)
  /new, /status, ...  slash commands, as in any chat
  /quit               leave (so does Ctrl-D); Ctrl-C stops a reply";

/// Examples at the end of `hermod handoff --help`.
const HANDOFF_HELP: &str = "\
Examples:
  hermod handoff --session 20261121_120000_ab12cd --to <platform>
  hermod handoff --session \"$(hermod sessions list --json | jq -r '.[0].id')\" --to <platform>

<platform> is a name `hermod config check` lists as enabled.
The platform needs a home channel: send /sethome in the chat to use, or set
<PLATFORM>_HOME_CHANNEL. The command waits up to 60 s for the gateway and
says where the conversation went, or why it could not.";

#[derive(Debug, Parser)]
#[command(
    name = "hermod",
    version,
    about = "A messaging gateway for AI agents.",
    after_help = ENVIRONMENT_HELP
)]
struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log lines for people (human) or one JSON object per line (json).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "HERMOD_LOG_FORMAT",
        default_value_t
    )]
    log_format: logging::LogFormat,
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
    /// Check the configuration and, live, the model, each platform's
    /// credentials, the database, the home's permissions and the ports.
    Doctor,
    /// Read stored conversations.
    Sessions {
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Programs and URLs told of what the gateway does, and asked about
    /// commands: list them, or run them on a sample event.
    Hooks {
        #[command(subcommand)]
        action: commands::hooks::HooksAction,
    },
    /// The MCP servers of `mcp_servers:`: their state and tools.
    Mcp {
        #[command(subcommand)]
        action: commands::mcp::McpAction,
    },
    /// Approve, list and revoke users who paired through a DM.
    Pairing {
        #[command(subcommand)]
        action: PairingAction,
    },
    /// Bring over what another gateway kept: `hermod import hermes` moves a
    /// Hermes Agent home's conversations, chat routes, approved users, home
    /// channels and scheduled jobs into hermod's database.
    Import {
        #[command(subcommand)]
        source: commands::import::ImportSource,
    },
    /// Read a document's text for the model (the gateway runs this for
    /// each PDF, so a hostile file costs a child process, not the gateway).
    #[command(name = "extract-text", hide = true)]
    ExtractText {
        /// The file to read.
        path: PathBuf,
        /// The most characters of text to return.
        #[arg(long, default_value_t = 30_000)]
        max_chars: usize,
        /// The file's declared MIME type.
        #[arg(long)]
        mime: Option<String>,
    },
    /// Chat with the agent in the terminal, through the gateway running on
    /// this home (or, without one, a gateway of its own serving only this
    /// chat). Replies stream in; slash commands work as in any chat.
    #[command(after_help = CHAT_HELP)]
    Chat {
        /// Continue this session (its id, as the chat's first line or
        /// `hermod sessions list` shows it) instead of starting one.
        #[arg(long)]
        session: Option<String>,
    },
    /// Continue a conversation in a chat platform's home channel: the
    /// gateway opens a new thread there (a topic, a thread) where the
    /// platform can, posts where the conversation left off, and the next
    /// message there goes on with the same history.
    #[command(after_help = HANDOFF_HELP)]
    Handoff {
        /// The session to hand off, as `hermod sessions list` shows it.
        #[arg(long)]
        session: String,
        /// The platform to continue on, as `hermod config check` lists it.
        #[arg(long)]
        to: String,
    },
    /// Schedule prompts: add, list, change, pause, resume, remove and run
    /// jobs, and read their history. Works whether or not the gateway runs.
    Cron {
        #[command(subcommand)]
        action: commands::cron::CronAction,
    },
    /// The web page the API server serves: sign-in tokens for it.
    Web {
        #[command(subcommand)]
        action: commands::web::WebAction,
    },
    /// The database itself: bring its schema up to date, or copy it into
    /// another database (SQLite file or PostgreSQL).
    Store {
        #[command(subcommand)]
        action: commands::store::StoreAction,
    },
    /// Copy the SQLite database into a file, safely while the gateway runs
    /// (a PostgreSQL database is backed up with pg_dump).
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
    Approve {
        /// The platform the user wrote from, as `hermod pairing list` shows it.
        platform: String,
        /// The pairing code hermod sent the user (not case-sensitive).
        code: String,
    },
    /// Show pending requests and approved users.
    List {
        /// Only this platform.
        platform: Option<String>,
    },
    /// Take a user's approval back.
    Revoke {
        /// The platform the user was approved on, as `hermod pairing list` shows it.
        platform: String,
        /// The user's id on that platform, as `hermod pairing list` shows it.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum GatewayAction {
    /// Run in the foreground until SIGINT or SIGTERM (the default).
    Run,
    /// Show whether a gateway runs on this home and how it is. Exit code:
    /// 0 running and healthy, 1 not running, 2 running with a platform or
    /// the store degraded, retrying or failed.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop the gateway running on this home (SIGTERM), waiting for its
    /// running turns to finish.
    Stop,
    /// Stop the gateway, then start it in the background, its output in
    /// HERMOD_HOME/logs/gateway.log (under systemd: use systemctl).
    Restart,
    /// Run the gateway as a service: a systemd unit (Linux) or a launchd
    /// agent (macOS) that starts it at login or boot and restarts it when it
    /// fails.
    Install(commands::gateway::InstallArgs),
    /// Stop, disable and remove the service `install` wrote.
    Uninstall(commands::gateway::UninstallArgs),
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
        /// Only sessions of this platform, as `hermod sessions list` shows it.
        #[arg(long)]
        platform: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one session and its messages.
    Show {
        /// The session's id, as `hermod sessions list` shows it.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over all messages.
    Search {
        /// Words that must all occur in a message (plain text, not a query
        /// language).
        query: String,
        /// How many matches to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Before any thread starts (hermod_sys says why).
    hermod_sys::limit_malloc_arenas();
    // Before anything can create a file: everything hermod writes is private.
    home::restrict_umask();
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.log_format);
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
            Command::Gateway {
                action: Some(GatewayAction::Status { json }),
            } => commands::gateway::status(json).await,
            Command::Gateway {
                action: Some(GatewayAction::Stop),
            } => commands::gateway::stop().await,
            Command::Gateway {
                action: Some(GatewayAction::Restart),
            } => commands::gateway::restart().await,
            Command::Gateway {
                action: Some(GatewayAction::Install(args)),
            } => commands::gateway::install(args),
            Command::Gateway {
                action: Some(GatewayAction::Uninstall(args)),
            } => commands::gateway::uninstall(args),
            Command::Config {
                action: ConfigAction::Check,
            } => commands::config_check::run(),
            Command::Doctor => commands::doctor::run().await,
            Command::Sessions { action } => commands::sessions::run(action).await,
            Command::Hooks { action } => commands::hooks::run(action).await,
            Command::Mcp { action } => commands::mcp::run(action).await,
            Command::Pairing { action } => commands::pairing::run(action).await,
            Command::Import { source } => commands::import::run(source).await,
            Command::Chat { session } => commands::chat::run(session).await,
            Command::Handoff { session, to } => commands::handoff::run(&session, &to).await,
            Command::Cron { action } => commands::cron::run(action).await,
            Command::Backup { file, force } => commands::backup::run(&file, force).await,
            Command::Store { action } => commands::store::run(action).await,
            Command::Web { action } => commands::web::run(action),
            Command::ExtractText {
                path,
                max_chars,
                mime,
            } => {
                commands::out(hermod_media::worker::extract(
                    &path,
                    mime.as_deref(),
                    max_chars,
                ));
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.downcast_ref::<commands::gateway::RestartRequested>()
                .is_some() =>
        {
            tracing::info!("{e}");
            ExitCode::from(commands::gateway::RestartRequested::EXIT_CODE)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every positional argument of `command` and its subcommands that has
    /// no help text, by its command path.
    fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_positionals() {
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} <{}>", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            undocumented(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_positional_argument_has_help() {
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        undocumented(&command, "hermod", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
    }

    #[test]
    fn the_walk_finds_an_undocumented_positional() {
        let command = clap::Command::new("t")
            .subcommand(clap::Command::new("s").arg(clap::Arg::new("bare").required(true)));
        let mut missing = Vec::new();
        undocumented(&command, "t", &mut missing);
        assert_eq!(missing, ["t s <bare>"]);
    }

    #[test]
    fn help_says_where_the_files_are_and_how_to_log_more() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("HERMOD_HOME")
                && help.contains("~/.hermod")
                && help.contains("config.yaml")
                && help.contains(".env")
                && help.contains("hermod.db")
                && help.contains("RUST_LOG"),
            "{help}"
        );
    }
}
