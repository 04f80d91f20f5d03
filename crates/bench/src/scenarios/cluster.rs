//! `cluster-throughput`: the API load of `api-throughput` against several
//! hermod gateways sharing one PostgreSQL database, beside one gateway on
//! SQLite (the default database) as the baseline.
//!
//! Each configuration gets a fresh fake LLM and fresh gateways; each
//! PostgreSQL configuration also gets its own throwaway server
//! ([`PgServer`]), so no run finds the sessions of another. The gateways of
//! a configuration share the API key and the database URL, and each has its
//! own home, port and node name (`HERMOD_NODE_NAME`). The clients' turns go
//! to the gateways in turn, request by request, as a round-robin load
//! balancer would send them: a session's turns land on different gateways,
//! which find its history in the shared database.
//!
//! The load generator is `api-throughput`'s ([`api::measure_throughput`]);
//! the gateway CPU figures are the sum over a configuration's gateways.
//! The PostgreSQL server's own CPU (its postmaster and the backends serving
//! the gateways) is reported apart, since on one machine it competes with
//! the gateways for the same cores.
//!
//! Without PostgreSQL's programs the scenario says so and measures nothing;
//! under `CI=true` that is an error.

use crate::report::{Metric, Report};
use crate::scenarios::api::{self, SESSION_TURNS};
use crate::scenarios::progress;
use crate::target::{Running, Target, process_cpu_time};
use anyhow::{Context, bail};
use hermod_testkit::postgres::PgServer;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The gateway counts measured when `--gateways` is not given.
pub const DEFAULT_GATEWAYS: [usize; 3] = [1, 2, 3];

/// Where a configuration keeps its data.
enum Database<'a> {
    /// The default: each gateway's own SQLite file in its home.
    Sqlite,
    /// One PostgreSQL server shared by every gateway.
    Postgres(&'a PgServer),
}

/// Runs the SQLite baseline (one gateway), then `gateways` PostgreSQL
/// configurations in turn, each under `clients` clients for `seconds`
/// seconds. Returns no reports (after saying why) when the machine has no
/// PostgreSQL programs, unless `CI=true`.
pub async fn run(
    target: &Target,
    gateways: &[usize],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Vec<Report>> {
    let Some(bin) = PgServer::find_bin() else {
        let what = "PostgreSQL's programs (HERMOD_PG_BIN, or Debian's postgresql package)";
        if std::env::var("CI").as_deref() == Ok("true") {
            bail!("cluster-throughput needs {what} under CI");
        }
        progress(&format!(
            "cluster-throughput skipped: {what} are not available"
        ));
        return Ok(Vec::new());
    };
    let mut reports = vec![configuration(target, Database::Sqlite, 1, clients, seconds).await?];
    for &count in gateways {
        let server = start_postgres(&bin).await?;
        let result = configuration(
            target,
            Database::Postgres(&server),
            count.max(1),
            clients,
            seconds,
        )
        .await;
        stop_postgres(server).await;
        reports.push(result?);
    }
    Ok(reports)
}

/// Starts a throwaway PostgreSQL server (`initdb` and `pg_ctl` block, so
/// off the runtime's workers).
async fn start_postgres(bin: &Path) -> anyhow::Result<PgServer> {
    let bin = bin.to_owned();
    tokio::task::spawn_blocking(move || PgServer::start(&bin))
        .await
        .context("starting PostgreSQL")?
        .map_err(|e| anyhow::anyhow!("starting PostgreSQL: {e}"))
}

/// Stops the server (its drop runs `pg_ctl stop`, which blocks).
async fn stop_postgres(server: PgServer) {
    let _ = tokio::task::spawn_blocking(move || drop(server)).await;
}

/// One configuration: `count` gateways on `database`, the load, then the
/// gateways stopped.
async fn configuration(
    target: &Target,
    database: Database<'_>,
    count: usize,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Report> {
    let (name, url) = match database {
        Database::Sqlite => ("sqlite", None),
        Database::Postgres(server) => ("postgres", Some(server.url("postgres"))),
    };
    let plural = if count == 1 { "" } else { "s" };
    let label = format!("{name}, {count} gateway{plural}");
    progress(&format!(
        "cluster-throughput ({label}): {clients} clients for {seconds} s"
    ));
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let mut running: Vec<Running> = Vec::with_capacity(count);
    for i in 1..=count {
        let node = format!("bench{i}");
        let mut env = vec![("HERMOD_NODE_NAME", node.as_str())];
        if let Some(url) = &url {
            env.push(("HERMOD_DATABASE_URL", url.as_str()));
        }
        match target.start(&llm.base_url(), &env).await {
            Ok(gateway) => {
                progress(&format!(
                    "gateway {node} answers /health after {:.0} ms",
                    gateway.ready_after.as_secs_f64() * 1000.0
                ));
                running.push(gateway);
            }
            Err(e) => {
                stop_all(running).await;
                return Err(e.context(format!("starting gateway {node} ({label})")));
            }
        }
    }
    let postmaster = match database {
        Database::Sqlite => None,
        Database::Postgres(server) => postmaster_pid(server.port()),
    };
    let db_cpu_before = postmaster.map(tree_cpu_time);
    let refs: Vec<&Running> = running.iter().collect();
    let result = api::measure_throughput(&llm, &refs, clients, seconds).await;
    let db_cpu = postmaster
        .map(tree_cpu_time)
        .zip(db_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    if result.is_err() {
        for gateway in &running {
            progress(&format!(
                "the end of {}'s output:\n{}",
                gateway.base_url,
                gateway.log_tail(10)
            ));
        }
    }
    stop_all(running).await;
    let mut metrics = result?;
    if let Some(cpu) = db_cpu {
        let turns = metrics
            .iter()
            .find(|m| m.name == "turns")
            .map_or(0.0, |m| m.value);
        let wall = metrics
            .iter()
            .find(|m| m.name == "turns_per_second")
            .filter(|m| m.value > 0.0)
            .map_or(0.0, |m| turns / m.value);
        if turns > 0.0 && wall > 0.0 {
            metrics.push(Metric::new(
                "postgres_cpu_per_turn",
                cpu.as_secs_f64() * 1000.0 / turns,
                "ms",
            ));
            metrics.push(Metric::new(
                "postgres_cpu",
                cpu.as_secs_f64() / wall,
                "cores",
            ));
        }
    }
    Ok(Report {
        scenario: format!("cluster-throughput ({label})"),
        target: target.kind.name().into(),
        parameters: json!({
            "database": name,
            "gateways": count,
            "clients": clients,
            "seconds": seconds,
            "stream": false,
            "turns_per_session": SESSION_TURNS,
            "spread": "round robin, request by request",
            "llm": "in-process fake, instant echo",
        }),
        metrics,
        failures: Vec::new(),
    })
}

async fn stop_all(running: Vec<Running>) {
    for gateway in running {
        gateway.stop().await;
    }
}

/// The PostgreSQL server listening on `port`: the `postgres` process whose
/// command line carries `-p <port>` (how [`PgServer`] starts it). `None`
/// when it cannot be told, and the database's CPU goes unreported.
fn postmaster_pid(port: u16) -> Option<u32> {
    let wanted = port.to_string();
    pids().into_iter().find(|&pid| {
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
        let program = args
            .first()
            .map(|a| PathBuf::from(String::from_utf8_lossy(a).as_ref()));
        program.is_some_and(|p| p.file_name().is_some_and(|n| n == "postgres"))
            && args
                .windows(2)
                .any(|w| w[0] == b"-p" && w[1] == wanted.as_bytes())
    })
}

/// CPU time of `root` and its direct children (the postmaster and its
/// backends, checkpointer, writers); a child that exits in between counts
/// no more.
fn tree_cpu_time(root: u32) -> Duration {
    let mut total = process_cpu_time(root).unwrap_or_default();
    for pid in pids() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(root) {
            total += process_cpu_time(pid).unwrap_or_default();
        }
    }
    total
}

/// Every process id in `/proc`.
fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}
