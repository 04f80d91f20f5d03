//! Discord as the registry sees it ([`PlatformConfig`]).

use crate::adapter::DiscordAdapter;
use crate::config::DiscordConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::EnvVars;
use serde_json::Value;
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

    fn claims(&self) -> Vec<Claim> {
        // Two gateway sessions of one bot each get every event: both
        // would answer.
        self.bot_token
            .iter()
            .map(|token| Claim::new("discord-bot", token))
            .collect()
    }

    /// `GET /users/@me`: the token is valid, and whose it is.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let Some(token) = &self.bot_token else {
            return Err("DISCORD_BOT_TOKEN is not set".into());
        };
        let base = self.api_base_url.trim_end_matches('/');
        let response = ctx
            .http
            .reqwest()
            .get(format!("{base}/users/@me"))
            .header("Authorization", format!("Bot {}", token.expose()))
            .timeout(ctx.timeout)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot reach Discord at {base}: {}; check the network and \
                     DISCORD_API_BASE_URL",
                    e.without_url()
                )
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "Discord refused DISCORD_BOT_TOKEN ({status}): copy the bot's token from the \
                 Developer Portal (your application, Bot, Reset Token) into DISCORD_BOT_TOKEN"
            ));
        }
        match body["username"].as_str() {
            Some(name) if status.is_success() => Ok(format!("bot {name}")),
            _ => Err(format!(
                "Discord at {base} answered GET /users/@me with {status}; check \
                 DISCORD_API_BASE_URL"
            )),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        // One cleanup of the media directory for the whole gateway.
        hermod_adapter_kit::MediaCleanup::shared(ctx, config.media_retention);
        let adapter = DiscordAdapter::with_http(config, &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Discord bot".into(),
            first_run: Vec::new(),
        })
    }
}
