//! Webhook mode: Telegram POSTs each update to `TELEGRAM_WEBHOOK_URL`,
//! which a TLS-terminating proxy forwards to the shared webhook listener
//! (the kit's [`WebhookListener`], `WEBHOOK_HOST:WEBHOOK_PORT`), where
//! Telegram's route is the URL's path.
//!
//! On start the route is registered first (so a port in use fails before
//! Telegram is told anything), then `setWebhook` registers the URL and
//! the secret. The listener accepts a request only when its
//! `X-Telegram-Bot-Api-Secret-Token` header equals the secret (compared
//! in constant time, before the body is parsed), and bounds the body.
//! The answer tells Telegram whether to deliver again: 200 once the update
//! is recorded (or deliberately skipped), 500 when recording failed
//! (Telegram then delivers it again later, with its own backoff), 503
//! while shutting down. While recording fails the adapter reports itself
//! degraded, and running again after the next recorded update. On stop
//! the route is closed and `deleteWebhook` is called (bounded, so `run`
//! still returns promptly); updates that arrive while no webhook is set
//! wait at Telegram until the next start.

use crate::ConnectionState;
use crate::adapter::TelegramAdapter;
use crate::receive::Me;
use crate::types::{ALLOWED_UPDATES, Done, SetWebhook};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use hermod_adapter_kit::{Handled, SecretHeader, WebhookHandler};
use hermod_core::{AdapterContext, AdapterError};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The header Telegram puts the secret in.
const SECRET_HEADER: HeaderName = HeaderName::from_static("x-telegram-bot-api-secret-token");

/// Longest `deleteWebhook` may take on shutdown.
const DELETE_TIMEOUT: Duration = Duration::from_millis(400);

/// Telegram's route on the shared listener.
struct Hook {
    adapter: TelegramAdapter,
    me: Me,
    ctx: AdapterContext,
}

impl TelegramAdapter {
    /// Serves the webhook until `ctx.shutdown`.
    pub(crate) async fn serve_webhook(
        &self,
        me: Me,
        ctx: &AdapterContext,
    ) -> Result<(), AdapterError> {
        let config = self.config();
        let (Some(url), Some(secret)) = (config.webhook_url.clone(), config.webhook_secret.clone())
        else {
            return Err(AdapterError::Startup(
                "webhook mode needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET".into(),
            ));
        };
        let path = config.webhook_path().unwrap_or_else(|| "/".into());
        let username = me.username.clone();
        let hook = Arc::new(Hook {
            adapter: self.clone(),
            me,
            ctx: ctx.clone(),
        });
        let verifier = Arc::new(SecretHeader::new(SECRET_HEADER, secret.clone()));
        let route = self
            .webhooks()
            .register(&path, verifier, hook)
            .await
            .map_err(AdapterError::from)?;
        let params = SetWebhook {
            url,
            secret_token: secret.expose().to_owned(),
            allowed_updates: ALLOWED_UPDATES,
        };
        let set = self.set_webhook(&params, ctx).await;
        if matches!(set, Ok(true)) {
            self.connection().set_state(ConnectionState::Connected);
            let addr = self.webhooks().config().addr();
            info!(bot = %username, %addr, %path, "receiving Telegram updates by webhook");
            ctx.shutdown.cancelled().await;
        }
        route.close().await;
        if matches!(set, Ok(true)) {
            self.delete_webhook().await;
        }
        set.map(|_| ())
    }

    /// Registers the webhook, retrying transient failures; false when
    /// shutdown came first.
    async fn set_webhook(
        &self,
        params: &SetWebhook,
        ctx: &AdapterContext,
    ) -> Result<bool, AdapterError> {
        loop {
            let result = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(false),
                result = self.api().call::<_, Done>("setWebhook", params) => result,
            };
            match result {
                Ok(_) => {
                    self.connection().succeeded(ctx);
                    return Ok(true);
                }
                Err(e) if e.is_retryable() => {
                    let reason = format!("cannot set the Telegram webhook: {e}");
                    if !self.connection().retry(ctx, &reason, e.retry_after()).await {
                        return Ok(false);
                    }
                }
                Err(e) if e.refuses_token() => {
                    return Err(AdapterError::Auth(crate::error::AUTH_HINT.into()));
                }
                Err(e) => {
                    return Err(AdapterError::Startup(format!(
                        "Telegram refused the webhook (check TELEGRAM_WEBHOOK_URL): {e}"
                    )));
                }
            }
        }
    }

    async fn delete_webhook(&self) {
        let call = self.api().call_with_timeout::<_, Done>(
            "deleteWebhook",
            &crate::types::NoParams {},
            DELETE_TIMEOUT,
        );
        if let Err(e) = call.await {
            warn!(error = %e, "cannot remove the Telegram webhook");
        }
    }
}

#[async_trait]
impl WebhookHandler for Hook {
    /// One delivery from Telegram, its secret already checked.
    async fn handle(&self, _headers: HeaderMap, body: Bytes) -> Response {
        let raw: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(raw) => raw,
            Err(e) => {
                // Acknowledged, so Telegram does not deliver it again.
                warn!(error = %e, "skipping a webhook body that is not JSON");
                return StatusCode::OK.into_response();
            }
        };
        let handled = tokio::select! {
            biased;
            () = self.ctx.shutdown.cancelled() => Handled::Stop,
            handled = self.adapter.handle_update(raw, &self.me, &self.ctx) => handled,
        };
        match &handled {
            Handled::Done => self.adapter.connection().recovered(&self.ctx),
            Handled::Retry(reason) => {
                self.adapter.connection().degraded(&self.ctx, reason);
            }
            Handled::Stop => {}
        }
        handled.status().into_response()
    }
}
