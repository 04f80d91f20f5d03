//! Email as the registry sees it ([`PlatformConfig`]).

use crate::adapter::EmailAdapter;
use crate::config::EmailConfig;
use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, Claim, PlatformConfig, ProbeContext};
use hermod_model::{EnvVars, Secret};
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for EmailConfig {
    const NAME: &'static str = "email";

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

    /// Logs in to the IMAP server and selects the mailbox.
    async fn probe(&self, _ctx: &ProbeContext) -> Result<String, String> {
        let tls = crate::net::tls(self).map_err(|e| e.to_string())?;
        let mut imap = crate::net::imap(self, &tls, 1 << 20)
            .await
            .map_err(|e| format!("{e}; check EMAIL_IMAP_HOST, EMAIL_IMAP_PORT and the password"))?;
        let selected = imap
            .select(&self.mailbox)
            .await
            .map_err(|e| e.to_string())?;
        imap.logout().await;
        Ok(format!(
            "{} readable (next UID {})",
            self.mailbox, selected.uid_next
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
