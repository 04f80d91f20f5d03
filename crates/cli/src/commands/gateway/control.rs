//! `hermod gateway status | stop | restart`: the commands that ask the
//! gateway running on a home how it is, and stop or replace it. They read
//! the PID file (`pidfile`) and the status file (`state`); they never take
//! the home's lock.
//!
//! `status` exits 0 when a gateway runs and every component is healthy,
//! 2 when it runs with a component degraded, retrying or failed, and 1
//! when no gateway runs on the home.

use super::pidfile::{self, PidRecord};
use super::state::STATE_FILE;
use crate::commands::{out, utc};
use crate::config;
use anyhow::Context;
use hermod_core::{GatewayConfig, GatewayPhase, GatewayStatus};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `status`: running and healthy.
pub const EXIT_RUNNING: i32 = 0;
/// `status`: no gateway runs on the home.
pub const EXIT_NOT_RUNNING: i32 = 1;
/// `status`: it runs, but a component is degraded, retrying or failed.
pub const EXIT_DEGRADED: i32 = 2;

/// How long `stop` waits beyond the drain timeout and the grace period for
/// cancelled turns.
const STOP_MARGIN: Duration = Duration::from_secs(20);
/// How often `stop` and `restart` look at the process while they wait.
const POLL: Duration = Duration::from_millis(100);
/// How long `restart` waits for the new gateway to say it runs.
const START_WAIT: Duration = Duration::from_secs(60);

fn home() -> anyhow::Result<PathBuf> {
    Ok(config::home_dir(&config::process_env())?)
}

/// The status file, if it exists and can be read.
pub fn read_status(home: &Path) -> Option<GatewayStatus> {
    serde_json::from_slice(&std::fs::read(home.join(STATE_FILE)).ok()?).ok()
}

/// What `status` concludes.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Running,
    Degraded,
    NotRunning,
}

fn assess(live: Option<&PidRecord>, status: Option<&GatewayStatus>) -> Verdict {
    let Some(record) = live else {
        return Verdict::NotRunning;
    };
    match status.filter(|s| s.pid == record.pid) {
        Some(s) if !s.healthy => Verdict::Degraded,
        _ => Verdict::Running,
    }
}

/// `hermod gateway status [--json]`; exits with the codes above. On a
/// shared database it also shows every gateway sharing it.
pub async fn status(as_json: bool) -> anyhow::Result<()> {
    let home = home()?;
    let cluster = cluster(&home).await;
    let (live, stale) = match pidfile::running(&home) {
        Some(Ok(record)) => (Some(record), None),
        Some(Err(reason)) => (None, Some(reason)),
        None => (None, None),
    };
    let status = read_status(&home);
    let verdict = assess(live.as_ref(), status.as_ref());
    // A status file left by an earlier run describes that run.
    let current = status
        .as_ref()
        .filter(|s| live.as_ref().is_some_and(|r| r.pid == s.pid));
    if as_json {
        out(serde_json::to_string_pretty(&json!({
            "home": home,
            "running": verdict != Verdict::NotRunning,
            "verdict": match verdict {
                Verdict::Running => "running",
                Verdict::Degraded => "degraded",
                Verdict::NotRunning => "not_running",
            },
            "pid": live.as_ref().map(|r| r.pid),
            "pid_file": live,
            "stale_pid_file": stale,
            "status": status,
            "cluster": cluster.as_ref().map(|c| json!({
                "database": c.database,
                "gateways": c.gateways.as_ref().ok(),
                "error": c.gateways.as_ref().err(),
            })),
        }))?);
    } else {
        print_human(
            &home,
            live.as_ref(),
            current,
            status.as_ref(),
            stale.as_deref(),
        );
        if let Some(cluster) = &cluster {
            print_cluster(cluster);
        }
    }
    std::process::exit(match verdict {
        Verdict::Running => EXIT_RUNNING,
        Verdict::Degraded => EXIT_DEGRADED,
        Verdict::NotRunning => EXIT_NOT_RUNNING,
    })
}

fn print_human(
    home: &Path,
    live: Option<&PidRecord>,
    current: Option<&GatewayStatus>,
    last: Option<&GatewayStatus>,
    stale: Option<&str>,
) {
    let Some(record) = live else {
        out(format_args!("no gateway is running on {}", home.display()));
        if let Some(reason) = stale {
            out(format_args!(
                "  the PID file is stale ({reason}); the next start takes it over"
            ));
        }
        if let Some(last) = last {
            out(format_args!(
                "  last run: pid {}, {} at {}{}",
                last.pid,
                phase_name(last.state),
                utc(last.updated_at_ms),
                last.exit_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        return;
    };
    out(format_args!(
        "gateway running on {}: pid {}, version {}, started {}",
        home.display(),
        record.pid,
        record.version,
        utc(record.started_at_ms)
    ));
    let Some(status) = current else {
        out("  no status yet (it is starting)");
        return;
    };
    out(format_args!(
        "  state: {}, {}",
        phase_name(status.state),
        if status.healthy {
            "healthy"
        } else {
            "degraded"
        }
    ));
    for (name, c) in &status.components {
        let mut line = format!("  {name}: {}", c.state);
        if let Some(reason) = &c.reason {
            line.push_str(&format!(" ({reason})"));
        }
        line.push_str(&format!(" since {}", utc(c.since_ms)));
        if let (Some(error), Some(at), None) = (&c.last_error, c.last_error_ms, &c.reason) {
            line.push_str(&format!("; last error at {}: {error}", utc(at)));
        }
        out(line);
    }
    let outbox = status
        .outbox_pending
        .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    out(format_args!(
        "  active sessions: {}, turns running: {}, outbox pending: {outbox}",
        status.active_sessions, status.running_turns
    ));
    out(format_args!("  updated {}", utc(status.updated_at_ms)));
}

/// The gateways sharing a database, as read from it.
struct Cluster {
    database: String,
    gateways: Result<Vec<hermod_core::GatewayView>, String>,
}

/// The cluster view, when this home's database is one gateways share.
async fn cluster(home: &Path) -> Option<Cluster> {
    let location = crate::database::location(home, &config::process_env()).ok()?;
    let db = hermod_store::Database::open_unmigrated(&location).await;
    let db = match db {
        Ok(db) if db.is_shared() => db,
        Ok(_) => return None,
        Err(e) => {
            return Some(Cluster {
                database: location.describe(),
                gateways: Err(e.to_string()),
            });
        }
    };
    let gateways = hermod_core::cluster_view(db.store().as_ref(), hermod_core::now_ms())
        .await
        .map_err(|e| e.to_string());
    Some(Cluster {
        database: db.describe(),
        gateways,
    })
}

fn print_cluster(cluster: &Cluster) {
    out(format_args!("gateways sharing {}:", cluster.database));
    let gateways = match &cluster.gateways {
        Ok(gateways) if gateways.is_empty() => return out("  none running"),
        Ok(gateways) => gateways,
        Err(e) => return out(format_args!("  cannot be read: {e}")),
    };
    for g in gateways {
        if !g.alive {
            out(format_args!(
                "  {} (pid {}): silent since {}",
                g.name,
                g.pid,
                utc(g.seen_at_ms)
            ));
            continue;
        }
        out(format_args!(
            "  {} (pid {}, version {}, up since {}): {}",
            g.name,
            g.pid,
            g.version,
            utc(g.started_at_ms),
            g.summary()
        ));
        let platforms: Vec<String> = g
            .platforms
            .iter()
            .filter(|(name, _)| name.as_str() != hermod_core::STORE_COMPONENT)
            .map(|(name, state)| format!("{name} {state}"))
            .collect();
        if !platforms.is_empty() {
            out(format_args!("    {}", platforms.join(", ")));
        }
    }
}

fn phase_name(phase: GatewayPhase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `hermod gateway stop`.
pub async fn stop() -> anyhow::Result<()> {
    let home = home()?;
    match pidfile::running(&home) {
        Some(Ok(record)) => {
            let how = stop_gateway(&home, &record).await?;
            out(how);
            Ok(())
        }
        Some(Err(reason)) => {
            out(format_args!(
                "no gateway is running on {} (the PID file is stale: {reason})",
                home.display()
            ));
            Ok(())
        }
        None => {
            out(format_args!("no gateway is running on {}", home.display()));
            Ok(())
        }
    }
}

/// Sends SIGTERM and waits for the drain; returns how it ended.
async fn stop_gateway(home: &Path, record: &PidRecord) -> anyhow::Result<String> {
    let pid = record.pid;
    let process = config::process_env();
    // The drain timeout of the home's configuration, or the default when
    // it cannot be read (the gateway that runs read it when it started).
    let drain = config::load(home, &process)
        .map(|c| c.gateway.drain_timeout())
        .unwrap_or_else(|_| GatewayConfig::default().drain_timeout());
    let limit = drain + Duration::from_secs(5) + STOP_MARGIN;
    pidfile::terminate(pid).with_context(|| format!("cannot send SIGTERM to pid {pid}"))?;
    out(format_args!(
        "sent SIGTERM to the gateway (pid {pid}); waiting up to {}s for it to finish its turns",
        limit.as_secs()
    ));
    let started = tokio::time::Instant::now();
    let ended = tokio::time::timeout(limit, async {
        let mut ticks = tokio::time::interval(POLL);
        loop {
            ticks.tick().await;
            if has_ended(home, pid) {
                return;
            }
        }
    })
    .await;
    if ended.is_err() {
        anyhow::bail!(
            "the gateway (pid {pid}) is still running after {}s; it may be stuck: `kill -KILL {pid}` ends it at once",
            limit.as_secs()
        );
    }
    let took = started.elapsed().as_secs_f64();
    Ok(match read_status(home).filter(|s| s.pid == pid) {
        Some(s) if s.state == GatewayPhase::Failed => format!(
            "the gateway (pid {pid}) ended with an error after {took:.1}s: {}",
            s.exit_reason.unwrap_or_default()
        ),
        Some(s) => format!(
            "the gateway (pid {pid}) {} after {took:.1}s",
            s.exit_reason.unwrap_or_else(|| "stopped".into())
        ),
        None => format!("the gateway (pid {pid}) ended after {took:.1}s"),
    })
}

/// The process is gone, or has written its final state and given up the
/// PID file (a process not yet reaped by its parent still exists).
fn has_ended(home: &Path, pid: u32) -> bool {
    if !pidfile::is_alive(pid) {
        return true;
    }
    let released = pidfile::read(&home.join(pidfile::PID_FILE)).is_none_or(|r| r.pid != pid);
    released && read_status(home).is_some_and(|s| s.pid == pid && !s.state.is_live())
}

/// `hermod gateway restart`: stop, then start in the background.
pub async fn restart() -> anyhow::Result<()> {
    let home = home()?;
    if let Some(Ok(record)) = pidfile::running(&home) {
        if record.supervisor.as_deref() == Some("systemd") {
            let how = match &record.unit {
                Some(unit) => format!("use `{}`", unit.restart_command()),
                None => "use `systemctl restart` on its unit (`systemctl status <pid>` names it)"
                    .to_owned(),
            };
            anyhow::bail!(
                "the gateway (pid {}) runs under systemd, which would restart it itself: {how}",
                record.pid
            );
        }
        out(stop_gateway(&home, &record).await?);
    }
    let logs = home.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let log_path = logs.join("gateway.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the hermod binary")?;
    let mut command = std::process::Command::new(&exe);
    command
        .args(["gateway", "run"])
        .env("HERMOD_HOME", &home)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(unix)]
    {
        // Its own process group: Ctrl-C in this terminal does not reach it.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let pid = child.id();
    let started = tokio::time::timeout(START_WAIT, async {
        let mut ticks = tokio::time::interval(POLL);
        loop {
            ticks.tick().await;
            if let Ok(Some(exit)) = child.try_wait() {
                return Err(exit);
            }
            if let Some(s) = read_status(&home).filter(|s| s.pid == pid)
                && s.state != GatewayPhase::Starting
            {
                return Ok(s);
            }
        }
    })
    .await;
    match started {
        Ok(Ok(s)) if s.state.is_live() => {
            out(format_args!(
                "started the gateway in the background (pid {pid}, {}); its output goes to {}",
                phase_name(s.state),
                log_path.display()
            ));
            Ok(())
        }
        Ok(Ok(s)) => anyhow::bail!(
            "the new gateway (pid {pid}) stopped at once: {}; see {}",
            s.exit_reason.unwrap_or_default(),
            log_path.display()
        ),
        Ok(Err(exit)) => anyhow::bail!(
            "the new gateway (pid {pid}) exited at once ({exit}); see {}",
            log_path.display()
        ),
        Err(_) => anyhow::bail!(
            "the new gateway (pid {pid}) did not report running within {}s; `hermod gateway status` shows how it is, {} what it printed",
            START_WAIT.as_secs(),
            log_path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_follows_the_pid_file_and_the_health() {
        let record = PidRecord::current(0);
        let mut status = GatewayStatus::starting(record.pid, "0", 0);
        assert_eq!(assess(None, Some(&status)), Verdict::NotRunning);
        assert_eq!(assess(Some(&record), None), Verdict::Running);
        assert_eq!(assess(Some(&record), Some(&status)), Verdict::Running);
        status.healthy = false;
        assert_eq!(assess(Some(&record), Some(&status)), Verdict::Degraded);
        status.pid += 1;
        assert_eq!(
            assess(Some(&record), Some(&status)),
            Verdict::Running,
            "an earlier run's status says nothing"
        );
    }
}
