//! The gateway as the configuration describes it, before its adapters are
//! added: the agent, the store, display and media settings, speech. Shared
//! by `hermod gateway run` and the gateway `hermod chat` starts for itself.

use super::media;
use crate::config::Config;
use hermod_agent::{LlmAgent, LlmClient, LlmConfig};
use hermod_core::{BuildContext, Gateway, GatewayBuilder, Health, Metrics};
use hermod_store::SqliteStore;
use std::sync::Arc;
use tracing::info;

/// A builder for the gateway `config` describes, on `store`, its clients
/// sharing `build`'s HTTP client; adapters are the caller's to add.
pub(crate) fn builder(
    config: &Config,
    store: Arc<SqliteStore>,
    build: &BuildContext,
    metrics: Metrics,
    health: Health,
) -> GatewayBuilder {
    // Every client of the gateway (model, speech, platforms) shares one
    // connection pool and one copy of the system's root certificates.
    let agent = LlmAgent::with_client(
        LlmClient::with_http(llm_config(config), &build.http),
        crate::commands::cron::tools(config, store.clone()),
    );
    let mut builder = Gateway::builder(store.clone(), Arc::new(agent), config.gateway.clone())
        .default_model(config.model.default.clone())
        .streaming(config.streaming.clone())
        .display(config.display.clone())
        .output_dir(config.home.join("output"))
        // Files the agent sends with `MEDIA:` lines may come from here.
        .media_dir(build.media_dir.clone())
        .metrics(metrics)
        .health(health)
        .media(Arc::new(media::reader(config, store, &build.http)));
    if let Some(speech) = config.tts.speaker_config() {
        let speaker = hermod_agent::Speaker::with_http(speech, &build.http);
        info!(
            base_url = %config.tts.base_url,
            model = %config.tts.model,
            voice = %config.tts.voice,
            "voice replies available (/voice)"
        );
        // Its voice notes are written to the media directory set above.
        builder = builder.speech(speaker);
    }
    builder
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
