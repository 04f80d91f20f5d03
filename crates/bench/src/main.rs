//! `hermod-bench`: hermod's benchmarks. See BENCHMARKS.md.

mod peers;
mod report;
mod scenarios;
mod target;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// An HTTP client for the load generators (loopback only).
pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    hermod_http::install_crypto_provider();
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .context("building the HTTP client")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let reports = runtime.block_on(scenarios::run(&cli))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", scenarios::table(&reports))?;
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.scenario))
        })
        .collect();
    if !failures.is_empty() {
        anyhow::bail!(
            "{} check(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

#[derive(Debug, Parser)]
#[command(
    name = "hermod-bench",
    about = "Measure hermod (and the Hermes gateway) under load."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) scenario: Scenario,
    /// Write the figures as JSON here too.
    #[arg(long, global = true)]
    pub(crate) json: Option<PathBuf>,
    /// The smallest configuration of every scenario (to check they work).
    #[arg(long, global = true)]
    pub(crate) tiny: bool,
    /// hermod's binary (default: `hermod` next to this program).
    #[arg(long, global = true)]
    pub(crate) hermod_bin: Option<PathBuf>,
    /// A virtual environment with `hermes-agent==0.19.0` installed, to
    /// measure the Hermes gateway too (`api-latency`, `api-throughput`,
    /// `memory`, `startup`, and `compare`).
    #[arg(long, global = true)]
    pub(crate) hermes_venv: Option<PathBuf>,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Scenario {
    /// Time the gateway adds per turn: one client, sequential turns.
    ApiLatency {
        #[arg(long, default_value_t = 1000)]
        turns: usize,
    },
    /// Turns per second with concurrent clients on distinct sessions.
    ApiThroughput {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// `api-throughput`'s load spread round robin over several gateways
    /// sharing one PostgreSQL database, beside one gateway on SQLite.
    ClusterThroughput {
        /// Gateways on PostgreSQL (default: 1, 2 and 3 in turn).
        #[arg(long)]
        gateways: Option<usize>,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// Many chats on the fake Telegram server: messages in, replies out.
    TelegramThroughput {
        #[arg(long, default_value_t = 10_000)]
        chats: usize,
        #[arg(long, default_value_t = 1)]
        messages: usize,
    },
    /// Many chats on the fake Discord (gateway and REST): messages in,
    /// replies out.
    DiscordThroughput {
        #[arg(long, default_value_t = 10_000)]
        chats: usize,
        #[arg(long, default_value_t = 1)]
        messages: usize,
    },
    /// Many chats on the fake Slack (Socket Mode and Web API): messages
    /// in, replies out.
    SlackThroughput {
        #[arg(long, default_value_t = 100)]
        chats: usize,
        #[arg(long, default_value_t = 1)]
        messages: usize,
    },
    /// Chats streaming long replies through the fake Telegram server.
    Streaming {
        #[arg(long, default_value_t = 100)]
        chats: usize,
        #[arg(long, default_value_t = 500)]
        tokens: usize,
        #[arg(long, default_value_t = 50)]
        tokens_per_second: u64,
    },
    /// `kill -9` while chats wait for streamed replies, restart: every
    /// message must be answered exactly once (fails otherwise).
    CrashRecovery {
        #[arg(long, default_value_t = 200)]
        chats: usize,
    },
    /// Resident memory idle, after many sessions, and over a soak.
    Memory {
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        #[arg(long, default_value_t = 60)]
        soak_seconds: u64,
    },
    /// Process start to `/health` answering.
    Startup {
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// The round trip of one tool call: the same turns plain and with a
    /// call of the built-in `memory` tool.
    ToolCall {
        #[arg(long, default_value_t = 200)]
        turns: usize,
    },
    /// Turns answered by an external agent over ACP (the testkit's fake,
    /// answering at once) beside turns on hermod's own agent.
    AcpTurn {
        #[arg(long, default_value_t = 200)]
        turns: usize,
    },
    /// Store append latency and full-text search over many messages.
    Store {
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
    },
    /// Every scenario, in order.
    All,
    /// `api-latency`, `api-throughput`, `memory` and `startup` against
    /// hermod and Hermes, one after the other, with the ratios. Both run
    /// with the same parameters, sized for Hermes (about 0.3 s per turn,
    /// at most 10 concurrent runs).
    Compare {
        /// Sequential turns of `api-latency`.
        #[arg(long, default_value_t = 100)]
        turns: usize,
        /// Concurrent clients of `api-throughput`.
        #[arg(long, default_value_t = 10)]
        clients: usize,
        /// Duration of `api-throughput`.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Sessions created by `memory`.
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        /// Soak of `memory`.
        #[arg(long, default_value_t = 30)]
        soak_seconds: u64,
        /// Starts measured by `startup`.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}
