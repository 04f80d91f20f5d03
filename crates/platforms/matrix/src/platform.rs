//! Matrix as the registry sees it ([`PlatformConfig`]).

use crate::adapter::MatrixAdapter;
use crate::api::{AUTH_HINT, MatrixApi, MatrixError};
use crate::config::{Credentials, MatrixConfig};
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for MatrixConfig {
    const NAME: &'static str = "matrix";

    /// Hermes' name for the home channel, besides MATRIX_HOME_CHANNEL.
    const HOME_CHANNEL_VARIABLE: Option<&'static str> = Some("MATRIX_HOME_ROOM");

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        MatrixConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        MatrixConfig::validate(self)
    }

    fn describe(&self) -> String {
        match &self.user_id {
            Some(user) => format!("{user} on {}", self.homeserver),
            None => format!("access token on {}", self.homeserver),
        }
    }

    fn claims(&self) -> Vec<Claim> {
        // Two gateways syncing one account would both answer every message.
        let account = match self.credentials() {
            Some(Credentials::Token(token)) => token,
            _ => Secret::new(format!(
                "{}/{}",
                self.homeserver.trim_end_matches('/'),
                self.user_id.as_deref().unwrap_or_default()
            )),
        };
        vec![Claim::new("matrix-account", &account)]
    }

    /// `whoami` with the token; for a password login, only that the
    /// homeserver answers (logging in would add a device).
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let api = MatrixApi::new(ctx.http.reqwest().clone(), &self.homeserver, ctx.timeout)?;
        let Some(Credentials::Token(token)) = self.credentials() else {
            return match api.versions().await {
                Ok(versions) => Ok(format!(
                    "the homeserver answers (spec {}); the password is checked when the gateway starts",
                    versions.last().map_or("?", String::as_str)
                )),
                Err(e) => Err(format!(
                    "{e}; check MATRIX_HOMESERVER ({})",
                    self.homeserver
                )),
            };
        };
        api.set_token(token);
        match api.whoami().await {
            Ok(me) => Ok(format!("logged in as {}", me.user_id)),
            Err(e @ MatrixError::Unauthorized { .. }) => Err(format!("{e}; {AUTH_HINT}")),
            Err(e) => Err(format!(
                "{e}; check MATRIX_HOMESERVER ({})",
                self.homeserver
            )),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        let adapter = MatrixAdapter::with_http(config, Arc::clone(&ctx.store), &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Matrix account".into(),
            first_run: Vec::new(),
        })
    }
}
