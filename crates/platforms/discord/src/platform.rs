//! Discord as the registry sees it ([`PlatformConfig`]).

use crate::adapter::DiscordAdapter;
use crate::config::DiscordConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, PlatformConfig};
use hermod_model::EnvVars;
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for DiscordConfig {
    const NAME: &'static str = "discord";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        DiscordConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        DiscordConfig::validate(self)
    }

    fn describe(&self) -> String {
        let mut parts = vec!["gateway websocket".to_owned()];
        if self.auto_thread {
            parts.push("auto-thread".into());
        }
        if self.reactions {
            parts.push("reactions".into());
        }
        parts.join(", ")
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        let adapter = DiscordAdapter::with_http(config, &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Discord bot".into(),
            first_run: Vec::new(),
        })
    }
}
