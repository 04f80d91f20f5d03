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

    /// Hermes' default: the first channel joined, as the adapter names
    /// it (folded by RFC 1459 until the server says otherwise).
    fn default_home_channel(&self) -> Option<String> {
        let first = self.channels().into_iter().next()?;
        Some(crate::text::CaseMapping::default().fold(&first.name))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_channel_is_the_home_channel_as_hermes_has_it() {
        let mut config = IrcConfig::default();
        assert_eq!(config.default_home_channel(), None);
        let env: EnvVars = [
            ("IRC_SERVER", "irc.example.org"),
            ("IRC_CHANNEL", "#Hermod[1] key,#other"),
        ]
        .into_iter()
        .collect();
        PlatformConfig::apply_env(&mut config, &env).unwrap();
        assert_eq!(config.default_home_channel().as_deref(), Some("#hermod{1}"));
    }
}
