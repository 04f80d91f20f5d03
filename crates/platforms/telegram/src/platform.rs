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
        vec![
            "TELEGRAM_BOT_TOKEN",
            "TELEGRAM_API_BASE_URL",
            "TELEGRAM_GROUP_ALLOWED_USERS",
            "TELEGRAM_GROUP_ALLOWED_CHATS",
            "TELEGRAM_ALLOW_BOTS",
            "TELEGRAM_REQUIRE_MENTION",
            "TELEGRAM_FREE_RESPONSE_CHATS",
            "TELEGRAM_REPLY_TO_MODE",
            "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_WEBHOOK_SECRET",
            "WEBHOOK_HOST",
            "WEBHOOK_PORT",
            "TELEGRAM_WEBHOOK_HOST",
            "TELEGRAM_WEBHOOK_PORT",
            "TELEGRAM_MEDIA_MAX_BYTES",
            "TELEGRAM_IGNORE_EDITS",
            "TELEGRAM_POLL_TIMEOUT",
            "TELEGRAM_REQUEST_TIMEOUT",
            "TELEGRAM_MAX_RECONNECT_DELAY",
        ]
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        TelegramConfig::apply_env(self, env)
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
