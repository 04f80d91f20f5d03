//! Email as the registry sees it ([`PlatformConfig`]).

use crate::adapter::EmailAdapter;
use crate::config::EmailConfig;
use crate::error::EmailError;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for EmailConfig {
    const NAME: &'static str = "email";

    /// Hermes' name for the home channel, besides EMAIL_HOME_CHANNEL.
    const HOME_CHANNEL_VARIABLE: Option<&'static str> = Some("EMAIL_HOME_ADDRESS");

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        EmailConfig::enabled(self)
    }

    fn validate(&self) -> Result<(), String> {
        EmailConfig::validate(self)
    }

    fn describe(&self) -> String {
        format!(
            "{} (IMAP {}:{}, SMTP {}:{})",
            self.address(),
            self.imap_host(),
            self.imap_port,
            self.smtp_host(),
            self.smtp_port
        )
    }

    fn claims(&self) -> Vec<Claim> {
        // Two gateways reading one mailbox would both answer every mail.
        let identity = format!("{}/{}/{}", self.imap_host(), self.address(), self.mailbox);
        vec![Claim::new("email-mailbox", &Secret::new(identity))]
    }

    /// Logs in to the IMAP server and selects the mailbox (SMTP is only
    /// tried by sending).
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        let config = EmailConfig {
            timeout_secs: ctx.timeout.as_secs().max(1),
            ..self.clone()
        };
        let tls = crate::net::tls(&config).map_err(|e| e.to_string())?;
        let mut imap = crate::net::imap(&config, &tls, 1 << 20)
            .await
            .map_err(|e| match e {
                EmailError::Auth(_) => format!("{e}; check EMAIL_ADDRESS and EMAIL_PASSWORD"),
                EmailError::Tls(_) => format!("{e}; check EMAIL_IMAP_SECURITY and EMAIL_CA_FILE"),
                _ => format!("{e}; check EMAIL_IMAP_HOST and EMAIL_IMAP_PORT"),
            })?;
        let selected = imap
            .select(&self.mailbox)
            .await
            .map_err(|e| e.to_string())?;
        imap.logout().await;
        Ok(format!(
            "{} readable (UIDVALIDITY {})",
            self.mailbox, selected.uid_validity
        ))
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        config.set_media_dir(ctx.media_dir.clone());
        let adapter = EmailAdapter::new(config, Arc::clone(&ctx.store))?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: "email".into(),
            first_run: Vec::new(),
        })
    }
}
