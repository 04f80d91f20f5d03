//! The gateway as the configuration describes it, before its adapters are
//! added: the agent, the store, display and media settings, speech. Shared
//! by `hermod gateway run` and the gateway `hermod chat` starts for itself.

use super::agent::Assembled;
use super::media;
use crate::config::{Config, ConfigError};
use hermod_core::{BuildContext, Clock, CronJobs, Gateway, GatewayBuilder, Health, Metrics};
use hermod_store::Store;
use std::sync::Arc;
use tracing::info;

/// A builder for the gateway `config` describes, on `store`, its clients
/// sharing `build`'s HTTP client; adapters are the caller's to add. The
/// agent comes with it: [`Assembled::attach`] it to the built gateway and
/// [`Assembled::shutdown`] it when the gateway has stopped.
pub(crate) fn builder(
    config: &Config,
    store: Arc<dyn Store>,
    build: &BuildContext,
    metrics: Metrics,
    health: Health,
) -> anyhow::Result<(GatewayBuilder, Assembled)> {
    // Every client of the gateway (model, speech, platforms) shares one
    // connection pool and one copy of the system's root certificates.
    let assembled = Assembled::new(config, store.clone(), build)?;
    let mut builder = Gateway::builder(
        store.clone(),
        assembled.agent.clone(),
        config.gateway.clone(),
    )
    .default_model(config.model.default.clone())
    .streaming(config.streaming.clone())
    .display(config.display.clone())
    .context(config.context.clone())
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
    if let Some(reloader) = assembled.reloader() {
        builder = builder.tools_reload(reloader);
    }
    Ok((builder, assembled))
}

/// Hands the platforms the gateway's scheduled jobs (the API server serves
/// them at `/api/jobs`), read in `gateway.timezone` and checked against the
/// platform names as `hermod cron` and `/cron` check them. Shared as an
/// `Option<CronJobs>`: a gateway that shares none (`hermod chat`'s own)
/// leaves the platforms `None`.
pub(crate) fn share_jobs(
    config: &Config,
    store: Arc<dyn Store>,
    build: &BuildContext,
) -> anyhow::Result<()> {
    let tz = hermod_core::time_zone(&config.gateway).map_err(ConfigError)?;
    let jobs =
        CronJobs::new(store, tz, Clock::System).with_platforms(hermod_platforms::platform_names());
    build.shared.get_or_insert_with(|| Some(jobs));
    Ok(())
}
