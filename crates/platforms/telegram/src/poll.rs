//! Long polling: `getUpdates` in a loop, with the update offset persisted
//! in the store so a restart resumes where the last run stopped.
//!
//! The contract, update by update:
//!
//! 1. the update is handled: converted, its files downloaded, and
//!    submitted with `submit_once`, which records it durably under
//!    `<chat id>:<message id>` (a key seen before is dropped as a duplicate);
//! 2. only then is the offset advanced past it and saved (settings key
//!    `telegram:offset:<bot id>`); the next `getUpdates` carries that offset,
//!    which is how Telegram learns the update was received and forgets it.
//!
//! So an update is never acknowledged before it is recorded, and a crash
//! between 1 and 2 only means it is fetched again and dropped as a
//! duplicate. An update that could not be recorded (storage failing) is
//! not acknowledged: polling backs off and fetches it again. Skipped
//! updates (unknown kinds, malformed, not addressed to us) are
//! acknowledged like handled ones.
//!
//! Failures: timeouts, dropped connections and 5xx back off exponentially
//! with jitter (capped by `max_reconnect_delay_secs`); 429 waits Telegram's
//! `retry_after`; 401 stops the adapter with `Auth`; 409 (another poller or
//! a webhook) is retried a few times — a previous instance may still be
//! finishing its last poll — then stops the adapter with the reason.

use crate::ConnectionState;
use crate::adapter::TelegramAdapter;
use crate::error::TelegramError;
use crate::receive::{Handled, Me, sleep_unless_cancelled};
use crate::types::{ALLOWED_UPDATES, GetUpdates};
use hermod_core::{AdapterContext, AdapterError};
use std::time::Duration;
use tracing::{info, warn};

/// Consecutive 409 answers tolerated before giving up.
const MAX_CONFLICTS: u32 = 5;

/// Extra time a long poll may take beyond its own timeout.
const POLL_GRACE: Duration = Duration::from_secs(10);

impl TelegramAdapter {
    /// Polls until `ctx.shutdown` (returns `Ok`) or a failure the adapter
    /// cannot go on from.
    pub(crate) async fn poll(&self, me: &Me, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let key = format!("telegram:offset:{}", me.id);
        let mut offset = self.load_offset(&key).await;
        let mut failures: u32 = 0;
        let mut conflicts: u32 = 0;
        info!(bot = %me.username, ?offset, "receiving Telegram updates by long polling");
        loop {
            let params = GetUpdates {
                offset,
                timeout: self.config().poll_timeout_secs,
                allowed_updates: ALLOWED_UPDATES,
            };
            let timeout = self.config().poll_timeout() + POLL_GRACE;
            let result = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(()),
                result = self
                    .api()
                    .call_with_timeout::<_, Vec<serde_json::Value>>("getUpdates", &params, timeout) => result,
            };
            let error = match result {
                Ok(updates) => {
                    if failures > 0 || conflicts > 0 {
                        info!("Telegram polling recovered");
                    }
                    failures = 0;
                    conflicts = 0;
                    self.set_connection(ConnectionState::Connected);
                    match self.handle_batch(updates, me, ctx, &key, &mut offset).await {
                        Handled::Done => continue,
                        Handled::Stop => return Ok(()),
                        Handled::Retry => TelegramError::Transient("storage failed".into()),
                    }
                }
                Err(TelegramError::Unauthorized) => {
                    self.set_connection(ConnectionState::Failed);
                    return Err(AdapterError::Auth(crate::error::AUTH_HINT.into()));
                }
                Err(TelegramError::Conflict(reason)) => {
                    conflicts += 1;
                    if conflicts >= MAX_CONFLICTS {
                        self.set_connection(ConnectionState::Failed);
                        return Err(AdapterError::Startup(reason));
                    }
                    TelegramError::Conflict(reason)
                }
                Err(e) => e,
            };
            failures += 1;
            let delay = self.backoff(failures, &error);
            warn!(error = %error, ?delay, failures, "polling Telegram failed; retrying");
            self.set_connection(ConnectionState::Retrying);
            if !sleep_unless_cancelled(delay, ctx).await {
                return Ok(());
            }
        }
    }

    /// Handles a batch in order, saving the offset after each update.
    /// Stops at the first update that is not done. Whatever Telegram
    /// returns is handled, even below the offset (update ids restart at a
    /// random value after a quiet week); the inbox drops what was seen.
    async fn handle_batch(
        &self,
        updates: Vec<serde_json::Value>,
        me: &Me,
        ctx: &AdapterContext,
        key: &str,
        offset: &mut Option<i64>,
    ) -> Handled {
        for raw in updates {
            let Some(update_id) = raw.get("update_id").and_then(serde_json::Value::as_i64) else {
                warn!("skipping an update without update_id");
                continue;
            };
            let handled = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => Handled::Stop,
                handled = self.handle_update(raw, me, ctx) => handled,
            };
            if handled != Handled::Done {
                return handled;
            }
            *offset = Some(update_id + 1);
            self.save_offset(key, update_id + 1).await;
        }
        Handled::Done
    }

    async fn load_offset(&self, key: &str) -> Option<i64> {
        match self.store().setting(key).await {
            Ok(Some(raw)) => match raw.trim().parse() {
                Ok(offset) => Some(offset),
                Err(_) => {
                    warn!(
                        key,
                        "the saved Telegram offset is not a number; ignoring it"
                    );
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                warn!(error = %e, "cannot read the saved Telegram offset; starting without it");
                None
            }
        }
    }

    async fn save_offset(&self, key: &str, offset: i64) {
        let now = hermod_core::now_ms();
        if let Err(e) = self
            .store()
            .set_setting(key, &offset.to_string(), now)
            .await
        {
            // Telegram still learns the offset from the next poll; only a
            // restart before the next save would fetch these updates again
            // (and drop them as duplicates).
            warn!(error = %e, "cannot save the Telegram offset");
        }
    }
}
