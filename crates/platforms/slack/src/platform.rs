//! Slack as the registry sees it ([`PlatformConfig`]).

use crate::adapter::SlackAdapter;
use crate::config::SlackConfig;
use async_trait::async_trait;
use hermod_adapter_kit::WebhookListener;
use hermod_core::{AdapterError, BuildContext, Built, PlatformConfig};
use hermod_model::EnvVars;
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for SlackConfig {
    const NAME: &'static str = "slack";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        SlackConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        SlackConfig::validate(self)
    }

    fn describe(&self) -> String {
        SlackConfig::describe(self)
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        // Webhook platforms share the gateway's one listener.
        let webhooks = WebhookListener::shared(ctx, self.webhooks.clone())?;
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        let adapter = SlackAdapter::with_parts(config, webhooks, &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Slack app".into(),
            first_run: Vec::new(),
        })
    }
}
