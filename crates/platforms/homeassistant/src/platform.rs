//! Home Assistant as the registry sees it ([`PlatformConfig`]).

use crate::adapter::HomeAssistantAdapter;
use crate::api::{AUTH_HINT, HassApi, HassError};
use crate::config::HomeAssistantConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for HomeAssistantConfig {
    const NAME: &'static str = "homeassistant";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        HomeAssistantConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        HomeAssistantConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!("Home Assistant at {}", self.base_url())
    }

    fn claims(&self) -> Vec<Claim> {
        // Two gateways on one Home Assistant would both answer every
        // state change.
        vec![Claim::new(
            "homeassistant-url",
            &Secret::new(self.base_url().to_owned()),
        )]
    }

    /// `GET /api/` with the token: Home Assistant answers and accepts it.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let token = self.token.clone().unwrap_or_else(|| Secret::new(""));
        let api = HassApi::new(
            ctx.http.reqwest().clone(),
            self.base_url(),
            token,
            ctx.timeout,
        );
        match api.check().await {
            Ok(message) => Ok(format!("{} ({message})", self.base_url())),
            Err(e @ HassError::Refused(_)) => Err(format!("{e}; {AUTH_HINT}")),
            Err(e) => Err(format!("{e}; check HASS_URL ({})", self.base_url())),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let adapter = HomeAssistantAdapter::with_http(self.clone(), &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Home Assistant".into(),
            first_run: Vec::new(),
        })
    }
}
