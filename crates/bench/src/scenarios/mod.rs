//! The scenarios, and running them from the command line.
//!
//! Each scenario returns one [`Report`] per target it measured. `--tiny`
//! replaces every size with the smallest one that still exercises the
//! scenario (what CI runs); `all` runs every scenario against hermod (and
//! the four that Hermes supports against Hermes too when `--hermes-venv` is
//! given); `compare` runs those four against both gateways, one after the
//! other, with identical parameters. A scenario that checks correctness
//! (`crash-recovery`) records what went wrong in its report, and
//! `hermod-bench` exits non-zero after printing the table.

pub mod agent;
pub mod api;
pub mod chat;
pub mod chat_throughput;
pub mod cluster;
pub mod crash;
pub mod discord;
pub mod memory;
pub mod slack;
pub mod startup;
pub mod store;
pub mod streaming;
pub mod telegram;

use crate::report::Report;
use crate::target::Target;
use crate::{Cli, Scenario};
use anyhow::{Context, bail};
use chat_throughput::run as chat_throughput;
use discord::DiscordPeer;
use slack::SlackPeer;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use telegram::TelegramPeer;

/// Sizes of every scenario.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    turns: usize,
    clients: usize,
    seconds: u64,
    chats: usize,
    discord_chats: usize,
    slack_chats: usize,
    messages: usize,
    stream_chats: usize,
    tokens: usize,
    tokens_per_second: u64,
    crash_chats: usize,
    sessions: usize,
    soak_seconds: u64,
    runs: usize,
    store_messages: usize,
    agent_turns: usize,
}

/// The `--tiny` sizes: every scenario in seconds, to check they all work.
const TINY: Sizes = Sizes {
    turns: 20,
    clients: 4,
    seconds: 2,
    chats: 20,
    discord_chats: 20,
    slack_chats: 20,
    messages: 1,
    stream_chats: 3,
    tokens: 40,
    tokens_per_second: 200,
    crash_chats: 20,
    sessions: 50,
    soak_seconds: 2,
    runs: 2,
    store_messages: 20_000,
    agent_turns: 10,
};

/// The sizes `all` uses without `--tiny` (the figures of the benchmarks
/// document).
const FULL: Sizes = Sizes {
    turns: 1000,
    clients: 64,
    seconds: 30,
    chats: 10_000,
    discord_chats: 10_000,
    slack_chats: 100,
    messages: 1,
    stream_chats: 100,
    tokens: 500,
    tokens_per_second: 50,
    crash_chats: 200,
    sessions: 10_000,
    soak_seconds: 60,
    runs: 20,
    store_messages: 1_000_000,
    agent_turns: 200,
};

/// Progress on stderr, so stdout carries only the table.
pub(crate) fn progress(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "hermod-bench: {message}");
}

/// Runs the scenario the command line asks for.
pub async fn run(cli: &Cli) -> anyhow::Result<Vec<Report>> {
    let sizes = |given: Sizes| if cli.tiny { TINY } else { given };
    let mut reports = Vec::new();
    match cli.scenario.clone() {
        Scenario::ApiLatency { turns } => {
            let s = sizes(Sizes { turns, ..FULL });
            for target in targets(cli)? {
                reports.push(api::latency(&target, s.turns).await?);
            }
        }
        Scenario::ApiThroughput { clients, seconds } => {
            let s = sizes(Sizes {
                clients,
                seconds,
                ..FULL
            });
            for target in targets(cli)? {
                reports.push(api::throughput(&target, s.clients, s.seconds).await?);
            }
        }
        Scenario::ClusterThroughput {
            gateways,
            clients,
            seconds,
        } => {
            let s = sizes(Sizes {
                clients,
                seconds,
                ..FULL
            });
            let counts = cluster_gateways(cli.tiny, gateways);
            reports.extend(cluster::run(&hermod(cli)?, &counts, s.clients, s.seconds).await?);
        }
        Scenario::TelegramThroughput { chats, messages } => {
            let s = sizes(Sizes {
                chats,
                messages,
                ..FULL
            });
            let target = hermod(cli)?;
            reports.push(chat_throughput::<TelegramPeer>(&target, s.chats, s.messages).await?);
        }
        Scenario::DiscordThroughput { chats, messages } => {
            let s = sizes(Sizes {
                discord_chats: chats,
                messages,
                ..FULL
            });
            let target = hermod(cli)?;
            reports
                .push(chat_throughput::<DiscordPeer>(&target, s.discord_chats, s.messages).await?);
        }
        Scenario::SlackThroughput { chats, messages } => {
            let s = sizes(Sizes {
                slack_chats: chats,
                messages,
                ..FULL
            });
            let target = hermod(cli)?;
            reports.push(chat_throughput::<SlackPeer>(&target, s.slack_chats, s.messages).await?);
        }
        Scenario::Streaming {
            chats,
            tokens,
            tokens_per_second,
        } => {
            let s = sizes(Sizes {
                stream_chats: chats,
                tokens,
                tokens_per_second,
                ..FULL
            });
            let target = hermod(cli)?;
            reports.push(
                streaming::run(&target, s.stream_chats, s.tokens, s.tokens_per_second).await?,
            );
        }
        Scenario::CrashRecovery { chats } => {
            let s = sizes(Sizes {
                crash_chats: chats,
                ..FULL
            });
            reports.extend(crash::run(&hermod(cli)?, s.crash_chats).await?);
        }
        Scenario::Memory {
            sessions,
            soak_seconds,
        } => {
            let s = sizes(Sizes {
                sessions,
                soak_seconds,
                ..FULL
            });
            for target in targets(cli)? {
                reports.push(memory::run(&target, s.sessions, s.soak_seconds).await?);
            }
        }
        Scenario::Startup { runs } => {
            let s = sizes(Sizes { runs, ..FULL });
            for target in targets(cli)? {
                reports.push(startup::run(&target, s.runs).await?);
            }
        }
        Scenario::ToolCall { turns } => {
            let s = sizes(Sizes {
                agent_turns: turns,
                ..FULL
            });
            reports.push(agent::tool_call(&hermod(cli)?, s.agent_turns).await?);
        }
        Scenario::AcpTurn { turns } => {
            let s = sizes(Sizes {
                agent_turns: turns,
                ..FULL
            });
            reports.push(agent::acp_turn(&hermod(cli)?, s.agent_turns).await?);
        }
        Scenario::Store { messages } => {
            let s = sizes(Sizes {
                store_messages: messages,
                ..FULL
            });
            progress(&format!("store: {} messages", s.store_messages));
            reports.push(store::run(s.store_messages).await?);
        }
        Scenario::All => {
            let s = sizes(FULL);
            let hermod = hermod(cli)?;
            let hermes = hermes(cli)?;
            for target in std::iter::once(&hermod).chain(hermes.as_ref()) {
                reports.extend(gateway_scenarios(target, s).await?);
            }
            reports.push(chat_throughput::<TelegramPeer>(&hermod, s.chats, s.messages).await?);
            reports
                .push(chat_throughput::<DiscordPeer>(&hermod, s.discord_chats, s.messages).await?);
            reports.push(chat_throughput::<SlackPeer>(&hermod, s.slack_chats, s.messages).await?);
            reports.push(
                streaming::run(&hermod, s.stream_chats, s.tokens, s.tokens_per_second).await?,
            );
            reports.extend(crash::run(&hermod, s.crash_chats).await?);
            let counts = cluster_gateways(cli.tiny, None);
            reports.extend(cluster::run(&hermod, &counts, s.clients, s.seconds).await?);
            reports.push(agent::tool_call(&hermod, s.agent_turns).await?);
            reports.push(agent::acp_turn(&hermod, s.agent_turns).await?);
            progress(&format!("store: {} messages", s.store_messages));
            reports.push(store::run(s.store_messages).await?);
        }
        Scenario::Compare {
            turns,
            clients,
            seconds,
            sessions,
            soak_seconds,
            runs,
        } => {
            let s = sizes(Sizes {
                turns,
                clients,
                seconds,
                sessions,
                soak_seconds,
                runs,
                ..FULL
            });
            let hermes = hermes(cli)?.context(
                "compare needs the Hermes gateway: pass --hermes-venv <dir> (a virtual environment \
                 with hermes-agent==0.19.0 and aiohttp==3.14.1; bench/compare-hermes.sh makes one)",
            )?;
            for target in [hermod(cli)?, hermes] {
                reports.extend(gateway_scenarios(&target, s).await?);
            }
        }
    }
    Ok(reports)
}

/// The gateway counts of `cluster-throughput`: `--gateways`, else 1, 2
/// and 3 in turn; `--tiny` measures 2 (the smallest count that spreads).
fn cluster_gateways(tiny: bool, given: Option<usize>) -> Vec<usize> {
    match (tiny, given) {
        (true, _) => vec![2],
        (false, Some(count)) => vec![count],
        (false, None) => cluster::DEFAULT_GATEWAYS.to_vec(),
    }
}

/// `api-latency`, `api-throughput`, `memory` and `startup` against one target.
async fn gateway_scenarios(target: &Target, s: Sizes) -> anyhow::Result<Vec<Report>> {
    Ok(vec![
        api::latency(target, s.turns).await?,
        api::throughput(target, s.clients, s.seconds).await?,
        memory::run(target, s.sessions, s.soak_seconds).await?,
        startup::run(target, s.runs).await?,
    ])
}

/// hermod, and Hermes when a virtual environment is given.
fn targets(cli: &Cli) -> anyhow::Result<Vec<Target>> {
    let mut targets = vec![hermod(cli)?];
    targets.extend(hermes(cli)?);
    Ok(targets)
}

/// hermod's binary: `--hermod-bin`, or `hermod` next to this program.
fn hermod(cli: &Cli) -> anyhow::Result<Target> {
    let (path, build) = match &cli.hermod_bin {
        Some(path) => (path.clone(), "cargo build --release -p hermod".to_owned()),
        None => {
            let exe = std::env::current_exe().context("locating hermod-bench")?;
            let dir = exe.parent().context("hermod-bench has no directory")?;
            let release = dir.file_name().is_some_and(|n| n == "release");
            let build = if release {
                "cargo build --release -p hermod"
            } else {
                "cargo build -p hermod"
            };
            (
                dir.join(format!("hermod{}", std::env::consts::EXE_SUFFIX)),
                build.to_owned(),
            )
        }
    };
    if !path.is_file() {
        bail!(
            "hermod's binary is missing at {}: build it: {build} (or pass --hermod-bin <path>)",
            path.display()
        );
    }
    Ok(Target::hermod(path))
}

/// The Hermes gateway, when `--hermes-venv` is given.
fn hermes(cli: &Cli) -> anyhow::Result<Option<Target>> {
    let Some(venv) = &cli.hermes_venv else {
        return Ok(None);
    };
    let program: PathBuf = venv.join("bin").join("hermes");
    if !program.is_file() {
        bail!(
            "{} is missing: create the environment with `python3 -m venv {venv} && \
             {venv}/bin/pip install hermes-agent==0.19.0 aiohttp==3.14.1` (or run \
             bench/compare-hermes.sh)",
            program.display(),
            venv = venv.display(),
        );
    }
    Ok(Some(Target::hermes(venv.clone())))
}

/// A figure formatted with a precision that suits its size.
fn format_value(value: f64, unit: &str) -> String {
    let magnitude = value.abs();
    let number = if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 0.1 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    };
    format!("{number} {unit}")
}

/// A ratio with two significant digits at least (`176x`, `3.5x`, `0.0049x`).
fn format_ratio(ratio: f64) -> String {
    let magnitude = ratio.abs();
    if magnitude >= 100.0 {
        format!("{ratio:.0}x")
    } else if magnitude >= 1.0 || magnitude == 0.0 {
        format!("{ratio:.1}x")
    } else {
        let decimals = (1.0 - magnitude.log10().floor()) as usize;
        format!("{ratio:.decimals$}x")
    }
}

/// One row of the table: a scenario's figure for each target.
#[derive(Debug, Default)]
struct Row {
    unit: String,
    goal: Option<String>,
    hermod: Option<f64>,
    hermes: Option<f64>,
}

/// The reports as a table: one row per scenario and figure, hermod's and
/// Hermes' values side by side with the ratio hermes/hermod and hermod's
/// goal; then the parameters each scenario ran with.
pub fn table(reports: &[Report]) -> String {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for report in reports {
        for metric in &report.metrics {
            let key = (report.scenario.clone(), metric.name.clone());
            let row = rows.entry(key.clone()).or_insert_with(|| {
                order.push(key.clone());
                Row {
                    unit: metric.unit.clone(),
                    ..Row::default()
                }
            });
            if metric.goal.is_some() {
                row.goal.clone_from(&metric.goal);
            }
            if report.target == "hermes" {
                row.hermes = Some(metric.value);
            } else {
                row.hermod = Some(metric.value);
            }
        }
    }
    let header = [
        "scenario",
        "figure",
        "hermod",
        "hermes",
        "hermes/hermod",
        "goal",
    ];
    let mut lines: Vec<[String; 6]> = vec![header.map(str::to_owned)];
    for key in &order {
        let Some(row) = rows.get(key) else { continue };
        let show =
            |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format_value(v, &row.unit));
        let ratio = match (row.hermod, row.hermes) {
            (Some(a), Some(b)) if a != 0.0 => format_ratio(b / a),
            _ => "-".to_owned(),
        };
        lines.push([
            key.0.clone(),
            key.1.clone(),
            show(row.hermod),
            show(row.hermes),
            ratio,
            row.goal.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    let mut widths = [0usize; 6];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(col, (cell, width))| {
                if col >= 2 {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "|-{}-|", rule.join("-|-"));
        }
    }
    out.push('\n');
    for report in reports {
        let _ = writeln!(
            out,
            "{} ({}): {}",
            report.scenario, report.target, report.parameters
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Metric;

    fn report(target: &str, value: f64) -> Report {
        Report {
            scenario: "api-latency".into(),
            target: target.into(),
            parameters: serde_json::json!({"turns": 10}),
            metrics: vec![Metric::new("overhead_p50", value, "ms").goal("<= 1 ms")],
            failures: Vec::new(),
        }
    }

    #[test]
    fn both_targets_share_a_row_with_the_ratio() {
        let text = table(&[report("hermod", 0.5), report("hermes", 300.0)]);
        let row = text.lines().find(|l| l.contains("overhead_p50")).unwrap();
        assert!(row.contains("0.50 ms"), "{row}");
        assert!(row.contains("300 ms"), "{row}");
        assert!(row.contains("600x"), "{row}");
        assert!(row.contains("<= 1 ms"), "{row}");
        assert_eq!(
            text.lines().filter(|l| l.contains("overhead_p50")).count(),
            1
        );
    }

    #[test]
    fn ratios_keep_two_significant_digits() {
        assert_eq!(format_ratio(176.3), "176x");
        assert_eq!(format_ratio(3.54), "3.5x");
        assert_eq!(format_ratio(0.35), "0.35x");
        assert_eq!(format_ratio(10.4 / 2129.0), "0.0049x");
    }

    #[test]
    fn one_target_leaves_the_other_column_empty() {
        let text = table(&[report("hermod", 2.0)]);
        let row = text.lines().find(|l| l.contains("overhead_p50")).unwrap();
        assert!(row.contains("2 ms"), "{row}");
        assert!(row.contains(" - "), "{row}");
    }
}
