//! IRC as the registry sees it ([`PlatformConfig`]).

use crate::adapter::IrcAdapter;
use crate::config::IrcConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for IrcConfig {
    const NAME: &'static str = "irc";

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        IrcConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        IrcConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!(
            "{} on {}:{}{}",
            self.nickname,
            self.server(),
            self.port(),
            if self.use_tls { " (TLS)" } else { "" }
        )
    }

    fn claims(&self) -> Vec<Claim> {
        // Two gateways with one nick on one server would fight over it.
        let identity = format!(
            "{}/{}",
            self.server().to_ascii_lowercase(),
            self.nickname.to_ascii_lowercase()
        );
        vec![Claim::new("irc-nick", &Secret::new(identity))]
    }

    /// Connects (TLS and certificates included), registers under a
    /// throwaway nick with the server password, and quits.
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        crate::probe::probe(self, ctx.timeout).await
    }

    async fn build(&self, _ctx: &BuildContext) -> Result<Built, AdapterError> {
        let adapter = IrcAdapter::new(self.clone())?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: format!("IRC {}", self.describe()),
            first_run: Vec::new(),
        })
    }
}
