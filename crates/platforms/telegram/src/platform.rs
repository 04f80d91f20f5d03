//! Telegram as the registry sees it ([`PlatformConfig`]).

use crate::adapter::TelegramAdapter;
use crate::config::TelegramConfig;
use async_trait::async_trait;
use hermod_adapter_kit::WebhookListener;
use hermod_core::{AdapterError, BuildContext, Built, PlatformConfig};
use hermod_model::EnvVars;
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for TelegramConfig {
    const NAME: &'static str = "telegram";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        TelegramConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        TelegramConfig::validate(self)
    }

    fn describe(&self) -> String {
        match &self.webhook_url {
            Some(url) => format!("webhook at {url}"),
            None => "long polling".to_owned(),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        // Webhook platforms share the gateway's one listener.
        let webhooks = WebhookListener::shared(ctx, config.listener().0)?;
        let adapter =
            TelegramAdapter::with_parts(config, Arc::clone(&ctx.store), webhooks, &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Telegram bot".into(),
            first_run: Vec::new(),
        })
    }
}
