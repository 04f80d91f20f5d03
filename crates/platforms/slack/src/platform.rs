//! Slack as the registry sees it ([`PlatformConfig`]).

use crate::adapter::SlackAdapter;
use crate::config::SlackConfig;
use async_trait::async_trait;
use hermod_adapter_kit::WebhookListener;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::EnvVars;
use serde_json::Value;
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

    fn claims(&self) -> Vec<Claim> {
        // Socket Mode spreads events over every open connection of an app
        // token: two gateways would each see part of them.
        let bot = self
            .bot_token
            .iter()
            .map(|token| Claim::new("slack-bot", token));
        let app = self
            .app_token
            .iter()
            .filter(|token| !token.is_empty())
            .map(|token| Claim::new("slack-app", token));
        bot.chain(app).collect()
    }

    fn listens_on(&self) -> Vec<String> {
        match self.mode() {
            Some(crate::config::ReceiveMode::EventsApi) if self.webhooks.port() != 0 => {
                vec![self.webhooks.addr()]
            }
            _ => Vec::new(),
        }
    }

    /// `auth.test` with the bot token. The app token is not checked: the
    /// only call it allows (`apps.connections.open`) opens a socket.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let Some(token) = &self.bot_token else {
            return Err("SLACK_BOT_TOKEN is not set".into());
        };
        let base = self.api_base_url.trim_end_matches('/');
        let response = ctx
            .http
            .reqwest()
            .post(format!("{base}/auth.test"))
            .bearer_auth(token.expose())
            .timeout(ctx.timeout)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot reach Slack at {base}: {}; check the network and \
                     SLACK_API_BASE_URL",
                    e.without_url()
                )
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match (body["ok"].as_bool(), body["error"].as_str()) {
            (Some(true), _) => Ok(format!(
                "bot {} in {}",
                body["user"].as_str().unwrap_or("?"),
                body["team"].as_str().unwrap_or("?")
            )),
            (
                Some(false),
                Some(
                    code @ ("invalid_auth"
                    | "not_authed"
                    | "account_inactive"
                    | "token_revoked"
                    | "not_allowed_token_type"),
                ),
            ) => Err(format!(
                "Slack refused SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token \
                 (xoxb-...) from your app's OAuth & Permissions page into SLACK_BOT_TOKEN"
            )),
            (Some(false), Some(code)) => Err(format!("Slack answered auth.test with {code}")),
            _ => Err(format!(
                "Slack at {base} answered auth.test with {status}; check SLACK_API_BASE_URL"
            )),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        // Webhook platforms share the gateway's one listener.
        let webhooks = WebhookListener::shared(ctx, self.webhooks.clone())?;
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        // One cleanup of the media directory for the whole gateway.
        hermod_adapter_kit::MediaCleanup::shared(ctx, config.media_retention);
        let adapter =
            SlackAdapter::with_parts(config, Arc::clone(&ctx.store), webhooks, &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Slack app".into(),
            first_run: Vec::new(),
        })
    }
}
