//! Signal as the registry sees it ([`PlatformConfig`]).

use crate::adapter::SignalAdapter;
use crate::api::SignalApi;
use crate::config::{SignalConfig, redact_phone};
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for SignalConfig {
    const NAME: &'static str = "signal";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        SignalConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        SignalConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!(
            "account {} through signal-cli at {}",
            redact_phone(self.account()),
            self.http_url()
        )
    }

    fn claims(&self) -> Vec<Claim> {
        // signal-cli hands each event to every listener: two gateways on
        // one account would both answer every message.
        vec![Claim::new("signal-account", &Secret::new(self.account()))]
    }

    /// `GET /api/v1/check`: the daemon runs.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let api = SignalApi::new(
            ctx.http.reqwest().clone(),
            self.http_url(),
            self.account(),
            ctx.timeout,
        );
        match api.check().await {
            Ok(()) => Ok(format!("signal-cli answers at {}", self.http_url())),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.media_dir = Some(ctx.media_dir.clone());
        let adapter = SignalAdapter::with_http(config, Arc::clone(&ctx.store), &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "Signal (signal-cli)".into(),
            first_run: Vec::new(),
        })
    }
}
