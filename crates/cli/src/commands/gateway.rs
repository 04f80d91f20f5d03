//! `hermod gateway run`: the gateway in the foreground until SIGINT/SIGTERM.

mod readiness;

use crate::commands::out;
use crate::config::{self, Config};
use crate::database;
use crate::home::{self, Create};
use anyhow::Context;
use hermod_agent::{LlmAgent, LlmConfig, ToolRegistry};
use hermod_core::{BuildContext, ComponentState, Gateway, Health, STORE_COMPONENT};
use readiness::Watched;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub async fn run() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let config = config::load(&home, &process)?;

    // Before anything else is written or printed: a database that cannot be
    // used stops the gateway here rather than failing every request.
    let health = Health::default();
    let db_path = config.database_path();
    let store = database::open(&db_path)?;
    database::check(&store, &db_path).await?;
    health.set(STORE_COMPONENT, ComponentState::Running);
    let store = Arc::new(store);

    let agent = LlmAgent::try_new(llm_config(&config), ToolRegistry::default())
        .map_err(|e| anyhow::anyhow!("cannot set up the model client: {e}"))?;
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
    let build = BuildContext::new(store.clone(), config.home.clone(), shutdown.clone())
        .context("cannot prepare the platforms")?;
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

    let mut builder = Gateway::builder(store, Arc::new(agent), config.gateway.clone())
        .default_model(config.model.default.clone())
        .streaming(config.streaming.clone())
        .display(config.display.clone())
        .output_dir(config.home.join("output"))
        .health(health.clone());
    for a in &adapters {
        info!(platform = a.name, adapter = %a.built.description, "adapter built");
        builder = builder.adapter(Arc::clone(&a.built.adapter));
    }
    let gateway = builder.build().map_err(config::ConfigError)?;

    tokio::spawn(watch_signals(shutdown.clone()));
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
    let ((), watched) = tokio::join!(
        gateway.run(shutdown.clone()),
        readiness::watch(health, watched, ready, shutdown)
    );
    // Every task holding the store has stopped: fold the WAL into hermod.db,
    // so that file alone holds everything (a copy of it is a backup).
    let closed = database::close_path(&db_path).await;
    watched.and(closed)
}

fn llm_config(config: &Config) -> LlmConfig {
    LlmConfig {
        base_url: config.model.base_url.clone(),
        api_key: config.model.api_key.clone(),
        model: config.model.default.clone(),
        request_timeout: config.model_timeout(),
        max_iterations: config.agent.max_turns,
        system_prompt: config.agent.system_prompt.clone(),
        ..LlmConfig::default()
    }
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    ["127.", "localhost", "[::1]"]
        .iter()
        .any(|p| rest.starts_with(p))
}

/// Cancels `shutdown` on SIGINT or SIGTERM; a second signal exits at once.
async fn watch_signals(shutdown: CancellationToken) {
    wait_for_signal().await;
    info!("signal received; shutting down (send it again to exit at once)");
    shutdown.cancel();
    wait_for_signal().await;
    warn!("second signal: exiting without waiting");
    std::process::exit(130);
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the gateway");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
