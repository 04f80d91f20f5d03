//! `hermod gateway run`: the gateway in the foreground until SIGINT/SIGTERM.

mod readiness;

use crate::commands::out;
use crate::config::{self, Config};
use crate::home::{self, Create};
use crate::{database, dotenv};
use anyhow::Context;
use hermod_agent::{LlmAgent, LlmConfig, ToolRegistry};
use hermod_core::{ComponentState, Gateway, Health, STORE_COMPONENT};
use hermod_model::Secret;
use readiness::Watched;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub async fn run() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let mut config = config::load(&home, &process)?;

    // Before anything else is written or printed: a database that cannot be
    // used stops the gateway here rather than failing every request.
    let health = Health::default();
    let db_path = config.database_path();
    let store = database::open(&db_path)?;
    database::check(&store, &db_path).await?;
    health.set(STORE_COMPONENT, ComponentState::Running);
    let store = Arc::new(store);
    ensure_api_key(&mut config)?;

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
    config.platforms.set_home(&config.home);
    let adapters = config
        .platforms
        .build(store.clone())
        .await
        .context("cannot start a platform")?;
    if adapters.is_empty() {
        anyhow::bail!(config::ConfigError(
            "no platform is enabled: enable the API server (API_SERVER_ENABLED=true) or configure a platform"
                .into()
        ));
    }

    let mut builder = Gateway::builder(store, Arc::new(agent), config.gateway.clone())
        .default_model(config.model.default.clone())
        .streaming(config.streaming.clone())
        .display(config.display.clone())
        .output_dir(config.home.join("output"))
        .health(health.clone());
    for built in &adapters {
        info!(adapter = %built.description, "adapter built");
        builder = builder.adapter(Arc::clone(&built.adapter));
    }
    let gateway = builder.build().map_err(config::ConfigError)?;

    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    let watched = adapters
        .iter()
        .map(|a| Watched {
            id: a.adapter.id(),
            description: a.description.clone(),
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

/// On a first run with the API server enabled and no key, generates one,
/// saves it in `HERMOD_HOME/.env` (mode 0600) and prints it once.
fn ensure_api_key(config: &mut Config) -> anyhow::Result<()> {
    let api = &mut config.platforms.api_server;
    if !api.enabled || api.key.is_some() {
        return Ok(());
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot generate an API key: {e}"))?;
    let key = format!("hermod-{}", hermod_model::to_hex(&bytes));
    let path = config.home.join(".env");
    dotenv::append(&path, "API_SERVER_KEY", &key)
        .with_context(|| format!("cannot save the generated API key to {}", path.display()))?;
    out(format_args!(
        "Generated an API key and saved it as API_SERVER_KEY in {}:",
        path.display()
    ));
    out(format_args!("  {key}"));
    out("Clients send it as 'Authorization: Bearer <key>'. It is not shown again.");
    out(format_args!(
        "Conversations are stored in {}.",
        config.home.join("hermod.db").display()
    ));
    out("Try it once the gateway is ready:");
    out(format_args!(
        "  {}",
        crate::commands::chat_example(&api.host, api.port, &key, &api.model_name)
    ));
    api.key = Some(Secret::new(key));
    Ok(())
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
