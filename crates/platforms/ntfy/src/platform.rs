//! ntfy as the registry sees it ([`PlatformConfig`]).

use crate::adapter::NtfyAdapter;
use crate::api::{AUTH_HINT, NtfyApi, NtfyError};
use crate::config::NtfyConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for NtfyConfig {
    const NAME: &'static str = "ntfy";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        NtfyConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        NtfyConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!("topic {} on {}", self.topic(), self.server_url)
    }

    fn claims(&self) -> Vec<Claim> {
        // Two gateways on one topic would both answer every message.
        let identity = format!("{}/{}", self.server_url.trim_end_matches('/'), self.topic());
        vec![Claim::new("ntfy-topic", &Secret::new(identity))]
    }

    /// Reads the topic's latest message (`poll=1`): the server answers and
    /// the token may read the topic.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let api = NtfyApi::new(
            ctx.http.reqwest().clone(),
            &self.server_url,
            self.token.clone(),
            ctx.timeout,
        );
        match api.poll_latest(self.topic()).await {
            Ok(()) => Ok(format!("topic {} readable", self.topic())),
            Err(e @ NtfyError::Refused { .. }) => Err(format!("{e}; {AUTH_HINT}")),
            Err(e) => Err(format!("{e}; check NTFY_SERVER_URL ({})", self.server_url)),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        let adapter = NtfyAdapter::with_http(config, Arc::clone(&ctx.store), &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "ntfy topic".into(),
            first_run: Vec::new(),
        })
    }
}
