//! Webhook mode: Telegram POSTs each update to `TELEGRAM_WEBHOOK_URL`,
//! which a TLS-terminating proxy forwards to this listener
//! (`TELEGRAM_WEBHOOK_HOST:TELEGRAM_WEBHOOK_PORT`, the URL's path).
//!
//! On start the listener is bound first (so a port in use fails before
//! Telegram is told anything), then `setWebhook` registers the URL and the
//! secret. A request is accepted only when its
//! `X-Telegram-Bot-Api-Secret-Token` header equals the secret (compared
//! in constant time, before the body is read); bodies over 1 MB are
//! refused. The answer tells Telegram whether to deliver again: 200 once
//! the update is recorded (or deliberately skipped), 500 when recording
//! failed (Telegram then delivers it again later, with its own backoff),
//! 503 while shutting down. While recording fails the adapter reports
//! itself degraded, and running again after the next recorded update. On
//! stop `deleteWebhook` is called (bounded, so `run` still returns
//! promptly); updates that arrive while no webhook is set wait at Telegram
//! until the next start.

use crate::ConnectionState;
use crate::adapter::TelegramAdapter;
use crate::receive::{Handled, Me};
use crate::types::{ALLOWED_UPDATES, Done, SetWebhook};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use hermod_core::{AdapterContext, AdapterError};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Largest update body accepted.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The header Telegram puts the secret in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Longest `deleteWebhook` may take on shutdown.
const DELETE_TIMEOUT: Duration = Duration::from_millis(800);

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
        let addr = format!("{}:{}", config.webhook_host, config.webhook_port);
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
            AdapterError::Startup(format!(
                "the Telegram webhook cannot listen on {addr}: {e} (set TELEGRAM_WEBHOOK_HOST \
                 and TELEGRAM_WEBHOOK_PORT)"
            ))
        })?;
        let params = SetWebhook {
            url,
            secret_token: secret.expose().to_owned(),
            allowed_updates: ALLOWED_UPDATES,
        };
        if !self.set_webhook(&params, ctx).await? {
            return Ok(());
        }
        self.set_connection(ConnectionState::Connected);
        info!(bot = %me.username, %addr, %path, "receiving Telegram updates by webhook");
        let hook = Arc::new(Hook {
            adapter: self.clone(),
            me,
            ctx: ctx.clone(),
        });
        let app = axum::Router::new()
            .route(&path, post(receive))
            .with_state(hook);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(ctx.shutdown.clone().cancelled_owned())
            .await;
        self.delete_webhook().await;
        served.map_err(|e| AdapterError::Transient(format!("the webhook listener stopped: {e}")))
    }

    /// Registers the webhook, retrying transient failures; false when
    /// shutdown came first.
    async fn set_webhook(
        &self,
        params: &SetWebhook,
        ctx: &AdapterContext,
    ) -> Result<bool, AdapterError> {
        let mut failures = 0;
        loop {
            let result = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(false),
                result = self.api().call::<_, Done>("setWebhook", params) => result,
            };
            match result {
                Ok(_) => {
                    self.report_recovered(ctx);
                    return Ok(true);
                }
                Err(e) if e.is_retryable() => {
                    let reason = format!("cannot set the Telegram webhook: {e}");
                    if !self
                        .wait_to_retry(ctx, &mut failures, &reason, e.retry_after())
                        .await
                    {
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

/// One delivery from Telegram.
async fn receive(State(hook): State<Arc<Hook>>, request: Request) -> StatusCode {
    let authorized = request
        .headers()
        .get(SECRET_HEADER)
        .zip(hook.adapter.config().webhook_secret.as_ref())
        .is_some_and(|(given, secret)| secret.ct_eq(given.as_bytes()));
    if !authorized {
        warn!("refused a webhook request without the right secret");
        return StatusCode::UNAUTHORIZED;
    }
    let body: Body = request.into_body();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let raw: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(raw) => raw,
        Err(e) => {
            // Acknowledged, so Telegram does not deliver it again.
            warn!(error = %e, "skipping a webhook body that is not JSON");
            return StatusCode::OK;
        }
    };
    let handled = tokio::select! {
        biased;
        () = hook.ctx.shutdown.cancelled() => Handled::Stop,
        handled = hook.adapter.handle_update(raw, &hook.me, &hook.ctx) => handled,
    };
    match handled {
        Handled::Done => {
            hook.adapter.report_recovered(&hook.ctx);
            StatusCode::OK
        }
        Handled::Retry(reason) => {
            hook.adapter.report_degraded(&hook.ctx, &reason);
            StatusCode::INTERNAL_SERVER_ERROR
        }
        Handled::Stop => StatusCode::SERVICE_UNAVAILABLE,
    }
}
