//! Incoming webhooks as the registry sees them ([`PlatformConfig`]).

use crate::adapter::WebhookAdapter;
use crate::config::WebhookPlatformConfig;
use async_trait::async_trait;
use hermod_adapter_kit::WebhookListener;
use hermod_core::{AdapterError, BuildContext, Built, Clock, PlatformConfig};
use hermod_model::EnvVars;
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for WebhookPlatformConfig {
    const NAME: &'static str = crate::NAME;

    fn env_vars() -> Vec<&'static str> {
        hermod_adapter_kit::config::env_vars::<Self>()
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        hermod_adapter_kit::config::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<(), String> {
        WebhookPlatformConfig::validate(self)
    }

    fn describe(&self) -> String {
        WebhookPlatformConfig::describe(self)
    }

    /// Each route's signature is its sender's credential: what passes it
    /// is let in without allowlists or pairing.
    fn authenticates_callers(&self) -> bool {
        true
    }

    fn listens_on(&self) -> Vec<String> {
        let listener = self.listener();
        if listener.port() == 0 {
            Vec::new()
        } else {
            vec![listener.addr()]
        }
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        // Webhook platforms share the gateway's one listener.
        let listener = WebhookListener::shared(ctx, self.listener())?;
        let adapter = WebhookAdapter::new(self, Arc::clone(&ctx.store), listener, Clock::System)?;
        Ok(Built {
            adapter: Arc::new(adapter),
            description: format!(
                "webhooks at http://{}{}<route>",
                self.listener().addr(),
                crate::adapter::ROUTE_PREFIX
            ),
            first_run: Vec::new(),
        })
    }
}
