//! ntfy as the registry sees it ([`PlatformConfig`]).

use crate::adapter::NtfyAdapter;
use crate::config::NtfyConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, PlatformConfig};
use hermod_model::EnvVars;
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for NtfyConfig {
    const NAME: &'static str = "ntfy";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        NtfyConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        NtfyConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!("topic {} on {}", self.topic(), self.server_url)
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let adapter = NtfyAdapter::with_http(self.clone(), Arc::clone(&ctx.store), &ctx.http)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "ntfy topic".into(),
            first_run: Vec::new(),
        })
    }
}
