//! `hermod gateway run`: the gateway in the foreground until SIGINT/SIGTERM,
//! holding its home (`pidfile`) and reporting its state (`state`, `notify`).

mod agent;
pub(crate) use agent::Assembled;
pub(crate) mod assemble;
mod control;
mod files;
mod media;
mod notify;
mod pidfile;
mod readiness;
mod service;
mod state;

use crate::commands::out;
use crate::config;
use crate::database;
use crate::home::{self, Create};
use anyhow::Context;
use hermod_core::{
    BuildContext, ClusterConfig, ComponentState, GatewayStatus, Health, Metrics, STORE_COMPONENT,
    StatusBoard, Stopped,
};
use notify::Notifier;
use readiness::Watched;
use state::{GatewayCounts, StatusFile};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use control::{restart, status, stop};
pub(crate) use pidfile::{PidRecord, acquire as take_home, running as running_on};
pub use service::{InstallArgs, UninstallArgs, install, uninstall};

pub async fn run() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let started_at_ms = hermod_core::now_ms();
    let record = pidfile::PidRecord::current(started_at_ms);
    // Held until this function returns: one gateway per home.
    let _lock = pidfile::acquire(&home, &record)?;
    let notifier = Notifier::from_env();
    let board = StatusBoard::default();
    let mut file = StatusFile::new(
        &home,
        GatewayStatus::starting(record.pid, env!("CARGO_PKG_VERSION"), started_at_ms),
        board.clone(),
        notifier.clone(),
    );
    file.publish();
    let result = serve(&home, &process, &mut file, board, notifier).await;
    file.finish(match &result {
        Ok((how, _)) => Ok(how.clone()),
        Err(e) => Err(format!("{e:#}")),
    });
    match result? {
        (_, Stopped::RestartRequested) => Err(RestartRequested.into()),
        (_, Stopped::Shutdown) => Ok(()),
    }
}

/// `/restart` stopped the gateway: the process exits with
/// [`RestartRequested::EXIT_CODE`] so its service manager starts it again.
#[derive(Debug)]
pub struct RestartRequested;

impl std::fmt::Display for RestartRequested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the gateway stopped to restart, as /restart asked; exit code 75 asks the service \
             manager to start it again",
        )
    }
}

impl std::error::Error for RestartRequested {}

impl RestartRequested {
    /// EX_TEMPFAIL; systemd restarts on it with `RestartForceExitStatus=75`.
    pub const EXIT_CODE: u8 = 75;
}

/// Runs the gateway on `home` until it stops; returns how it was stopped.
async fn serve(
    home: &Path,
    process: &hermod_model::EnvVars,
    file: &mut StatusFile,
    board: StatusBoard,
    notifier: Notifier,
) -> anyhow::Result<(String, Stopped)> {
    let config = config::load(home, process)?;

    // Before anything else is written or printed: a database that cannot be
    // used stops the gateway here rather than failing every request.
    let health = Health::default();
    let location = database::location(home, process)?;
    let db = database::open_at(&location).await?;
    database::check(&db, &location).await?;
    info!(database = %db.describe(), "database open");
    health.set(STORE_COMPONENT, ComponentState::Running);
    let store = db.store();

    if config.model.api_key.is_none() && !is_loopback_url(&config.model.base_url) {
        warn!(
            base_url = %config.model.base_url,
            provider = %config.model.provider.describe(),
            "no model key is set ({}); the model will refuse requests",
            config.model.provider.key_hint()
        );
    }
    for notice in &config.notices {
        warn!(setting = %notice.subject, "recognised but not used: {}", notice.message);
    }
    let shutdown = CancellationToken::new();
    let mut build = BuildContext::new(store.clone(), config.home.clone(), shutdown.clone())
        .context("cannot prepare the platforms")?;
    build.shared_database = db.is_shared();
    // What the platforms that serve the status (`/health/detailed`) read.
    build.shared.get_or_insert_with(|| board.clone());
    // One set of metrics: the gateway records, the API server serves `/metrics`.
    let metrics = build.shared.get_or_insert_with(Metrics::new);
    // The scheduled jobs the API server serves (`/api/jobs`).
    assemble::share_jobs(&config, store.clone(), &build)?;
    let adapters = config
        .platforms
        .build(&build)
        .await
        .context("cannot start a platform")?;
    if adapters.is_empty() {
        anyhow::bail!(config::ConfigError(
            "no platform is enabled: configure one (its token in .env, or its section in config.yaml); `hermod config check` shows what is enabled"
                .into()
        ));
    }
    for line in adapters.iter().flat_map(|a| &a.built.first_run) {
        out(line);
    }

    let (builder, assembled) =
        assemble::builder(&config, store.clone(), &build, metrics, health.clone())?;
    let mut builder = builder
        .restart_loop_guard(true)
        // The operator's hooks (HERMOD_HOME/hooks), read once at start.
        .hooks(super::hooks::load(
            &config.home,
            process,
            build.http.clone(),
        ));
    for a in &adapters {
        info!(platform = a.name, adapter = %a.built.description, "adapter built");
        builder = builder.adapter(Arc::clone(&a.built.adapter));
    }
    if db.is_shared() {
        // Several gateways may share this database: divide the work.
        let name = node_name(process);
        info!(node = %name, "on a shared database: joining the gateways that use it");
        builder = builder.cluster(ClusterConfig::new(name));
    }
    let gateway = builder.build().map_err(config::ConfigError)?;
    assembled.attach(&gateway);

    let signalled = Arc::new(OnceLock::new());
    tokio::spawn(watch_signals(shutdown.clone(), Arc::clone(&signalled)));
    let stop_reporting = CancellationToken::new();
    if let Some(interval) = notify::watchdog_interval(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
    ) && notifier.is_active()
    {
        tokio::spawn(notify::watchdog(
            notifier.clone(),
            interval,
            stop_reporting.clone(),
        ));
    }
    let counts = GatewayCounts {
        router: gateway.router().clone(),
        metrics: gateway.metrics().clone(),
        store,
    };
    let components = adapters
        .iter()
        .map(|a| a.built.adapter.id().as_str().to_owned())
        .collect();
    let watched = adapters
        .iter()
        .map(|a| Watched {
            id: a.built.adapter.id(),
            description: a.built.description.clone(),
        })
        .collect();
    let ready = |running: &[String]| {
        format!(
            "hermod {} ready: {} (model {} at {})",
            env!("CARGO_PKG_VERSION"),
            running.join(", "),
            config.model.default,
            config.model.base_url
        )
    };
    let (stopped, watched, ()) = tokio::join!(
        async {
            let stopped = gateway.serve(shutdown.clone()).await;
            // After `/restart` nothing else has stopped yet.
            shutdown.cancel();
            stop_reporting.cancel();
            stopped
        },
        readiness::watch(
            health.clone(),
            watched,
            ready,
            release_startup_code_soon,
            shutdown.clone()
        ),
        state::keep(
            file,
            health,
            components,
            &counts,
            shutdown.clone(),
            stop_reporting.clone()
        ),
    );
    drop(counts);
    assembled.shutdown().await;
    file.stopping();
    // Every task holding the store has stopped: fold the WAL into hermod.db,
    // so that file alone holds everything (a copy of it is a backup). A
    // PostgreSQL database has nothing to fold: its idle connections close.
    let closed = database::close(db, &location).await;
    watched.and(closed)?;
    let how = match (stopped, signalled.get()) {
        (Stopped::RestartRequested, _) => "restarting, as /restart asked".to_owned(),
        (Stopped::Shutdown, Some(signal)) => format!("stopped by {signal}"),
        (Stopped::Shutdown, None) => "stopped".to_owned(),
    };
    Ok((how, stopped))
}

/// How long after the ready line the start-up code is handed back: the
/// adapters' first rounds (a poll, a websocket's hello) have run by then.
const RELEASE_STARTUP_CODE_AFTER: Duration = Duration::from_secs(1);

/// Soon after the gateway is ready, hands the pages of the executable
/// that only start-up used back to the kernel (`hermod_sys`), so an idle
/// gateway's resident memory is the code it runs while idle.
/// `HERMOD_KEEP_STARTUP_CODE=1` keeps them (to compare).
fn release_startup_code_soon() {
    if std::env::var_os("HERMOD_KEEP_STARTUP_CODE").is_some_and(|v| v != "0") {
        return;
    }
    tokio::spawn(async {
        tokio::time::sleep(RELEASE_STARTUP_CODE_AFTER).await;
        match tokio::task::spawn_blocking(hermod_sys::release_startup_code).await {
            Ok(Ok(released)) => tracing::debug!("{released}"),
            Ok(Err(e)) => tracing::debug!("start-up code not released: {e}"),
            Err(e) => tracing::debug!("start-up code not released: {e}"),
        }
    });
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    ["127.", "localhost", "[::1]"]
        .iter()
        .any(|p| rest.starts_with(p))
}

/// Cancels `shutdown` on SIGINT or SIGTERM, recording which in
/// `signalled`; a second signal exits at once.
async fn watch_signals(shutdown: CancellationToken, signalled: Arc<OnceLock<&'static str>>) {
    let signal = wait_for_signal().await;
    let _ = signalled.set(signal);
    info!(
        signal,
        "signal received; shutting down (send it again to exit at once)"
    );
    shutdown.cancel();
    wait_for_signal().await;
    warn!("second signal: exiting without waiting");
    std::process::exit(130);
}

/// Waits for SIGINT or SIGTERM and names it.
#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the gateway");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}

/// This gateway's name among those sharing its database:
/// `HERMOD_NODE_NAME`, else the host name.
fn node_name(process: &hermod_model::EnvVars) -> String {
    process
        .get("HERMOD_NODE_NAME")
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(host_name)
}

#[cfg(unix)]
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "gateway".to_owned())
}
