//! Mattermost as the registry sees it ([`PlatformConfig`]).

use crate::adapter::MattermostAdapter;
use crate::api::{AUTH_HINT, MattermostApi, MmError};
use crate::config::MattermostConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for MattermostConfig {
    const NAME: &'static str = "mattermost";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        MattermostConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        MattermostConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!("bot on {}", self.base_url())
    }

    fn claims(&self) -> Vec<Claim> {
        // Two gateways on one bot account would both answer every post.
        let token = self.token.clone().unwrap_or_else(|| Secret::new(""));
        vec![Claim::new("mattermost-token", &token)]
    }

    /// `GET /api/v4/users/me`: the server answers and the token is good.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let Some(token) = self.token.clone() else {
            return Err("MATTERMOST_TOKEN is not set".into());
        };
        let api = MattermostApi::new(
            ctx.http.reqwest().clone(),
            self.base_url(),
            token,
            ctx.timeout,
        );
        match api.me().await {
            Ok(me) => Ok(format!(
                "signed in as @{} on {}",
                me.username,
                self.base_url()
            )),
            Err(e @ MmError::Auth(_)) => Err(format!("{e}; {AUTH_HINT}")),
            Err(e) => Err(format!("{e}; check MATTERMOST_URL ({})", self.base_url())),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        let adapter = MattermostAdapter::with_http(config, Arc::clone(&ctx.store), &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Mattermost bot".into(),
            first_run: Vec::new(),
        })
    }
}
