//! Telegram as the registry sees it ([`PlatformConfig`]).

use crate::adapter::TelegramAdapter;
use crate::config::TelegramConfig;
use async_trait::async_trait;
use hermod_adapter_kit::WebhookListener;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::EnvVars;
use serde_json::Value;
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

    fn claims(&self) -> Vec<Claim> {
        // One process may poll a bot (Telegram answers a second `getUpdates`
        // with 409), and a webhook is set per bot.
        self.bot_token
            .iter()
            .map(|token| Claim::new("telegram-bot", token))
            .collect()
    }

    fn listens_on(&self) -> Vec<String> {
        let listener = self.listener().0;
        match &self.webhook_url {
            Some(_) if listener.port() != 0 => vec![listener.addr()],
            _ => Vec::new(),
        }
    }

    /// `getMe`: the token is a bot's, and the Bot API answers.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let Some(token) = &self.bot_token else {
            return Err("TELEGRAM_BOT_TOKEN is not set".into());
        };
        let base = self.api_base_url.trim_end_matches('/');
        let url = format!("{base}/bot{}/getMe", token.expose());
        // The token is in the URL: errors are shown without it.
        let response = ctx
            .http
            .reqwest()
            .get(url)
            .timeout(ctx.timeout)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot reach the Bot API at {base}: {}; check the network and \
                     TELEGRAM_API_BASE_URL",
                    e.without_url()
                )
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::NOT_FOUND {
            return Err(format!(
                "Telegram refused TELEGRAM_BOT_TOKEN ({status}): copy the bot's token from \
                 @BotFather (/mybots, API Token) into TELEGRAM_BOT_TOKEN"
            ));
        }
        match body["result"]["username"].as_str() {
            Some(name) if status.is_success() => Ok(format!("bot @{name}")),
            _ => Err(format!(
                "the Bot API at {base} answered getMe with {status} and no bot; check \
                 TELEGRAM_API_BASE_URL"
            )),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        // One cleanup of the media directory for the whole gateway.
        hermod_adapter_kit::MediaCleanup::shared(ctx, config.media_retention);
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
