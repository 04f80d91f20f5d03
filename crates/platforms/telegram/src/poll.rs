//! Long polling: Telegram's side of the kit's [`poll`] loop — `getUpdates`
//! from the saved offset, each update recorded with `submit_once` under
//! `<chat id>:<message id>`, and the offset (settings key
//! `telegram:offset:<bot id>`) saved only after the updates it
//! acknowledges were recorded. The next `getUpdates` carries the offset,
//! which is how Telegram learns an update was received and forgets it.
//! The loop's contract (what is acknowledged when, backoff, health) is the
//! kit's; this file holds what only Telegram has.
//!
//! Telegram's answers: timeouts, dropped connections and 5xx back off;
//! 429 waits Telegram's `retry_after`; 401 and 404 (token revoked or
//! malformed) stop the adapter with `Auth`; 409 (another poller or a
//! webhook) is retried a few times — a previous instance may still be
//! finishing its last poll — then stops the adapter with the reason.
//! Whatever Telegram returns is handled, even below the offset (update
//! ids restart at a random value after a quiet week); the inbox drops
//! what was seen.

use crate::adapter::TelegramAdapter;
use crate::error::TelegramError;
use crate::receive::{Me, update_id};
use crate::types::{ALLOWED_UPDATES, GetUpdates};
use async_trait::async_trait;
use hermod_adapter_kit::{AdapterState, FetchError, Handled, PollSource, StateKey, poll};
use hermod_core::{AdapterContext, AdapterError};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tracing::info;

/// Consecutive 409 answers tolerated before giving up.
const MAX_CONFLICTS: u32 = 5;

/// Extra time a long poll may take beyond its own timeout.
const POLL_GRACE: Duration = Duration::from_secs(10);

/// The update offset, per bot.
const OFFSET: StateKey<i64> = StateKey::new("offset");

/// One run's long poll.
struct Updates<'a> {
    adapter: &'a TelegramAdapter,
    me: &'a Me,
    ctx: &'a AdapterContext,
    /// 409 answers in a row.
    conflicts: AtomicU32,
}

#[async_trait]
impl PollSource for Updates<'_> {
    type Cursor = i64;
    type Item = serde_json::Value;
    const CURSOR_NAME: &'static str = "the Telegram update offset";
    const ID_NAME: &'static str = "update_id";

    async fn fetch(&self, offset: Option<&i64>) -> Result<Vec<serde_json::Value>, FetchError> {
        let config = self.adapter.config();
        let params = GetUpdates {
            offset: offset.copied(),
            timeout: config.poll_timeout_secs,
            allowed_updates: ALLOWED_UPDATES,
        };
        let result = self
            .adapter
            .api()
            .call_with_timeout("getUpdates", &params, config.poll_timeout() + POLL_GRACE)
            .await;
        match result {
            Ok(updates) => {
                self.conflicts.store(0, Ordering::Relaxed);
                Ok(updates)
            }
            Err(e) if e.refuses_token() => Err(FetchError::Fatal(AdapterError::Auth(
                crate::error::AUTH_HINT.into(),
            ))),
            Err(TelegramError::Conflict(reason)) => {
                if self.conflicts.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_CONFLICTS {
                    return Err(FetchError::Fatal(AdapterError::Startup(reason)));
                }
                Err(FetchError::Retry {
                    reason,
                    retry_after: None,
                })
            }
            Err(e) => Err(FetchError::Retry {
                reason: format!("polling Telegram failed: {e}"),
                retry_after: e.retry_after(),
            }),
        }
    }

    fn cursor_after(&self, update: &serde_json::Value) -> Option<i64> {
        update_id(update).map(|id| id.saturating_add(1))
    }

    async fn record(&self, update: serde_json::Value) -> Handled {
        self.adapter.handle_update(update, self.me, self.ctx).await
    }
}

impl TelegramAdapter {
    /// Polls until `ctx.shutdown` (returns `Ok`) or a failure the adapter
    /// cannot go on from (`run` then marks the connection failed).
    pub(crate) async fn poll(&self, me: &Me, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let offset =
            AdapterState::new(self.store().clone(), &crate::PLATFORM, OFFSET.scoped(me.id));
        info!(bot = %me.username, "receiving Telegram updates by long polling");
        let updates = Updates {
            adapter: self,
            me,
            ctx,
            conflicts: AtomicU32::new(0),
        };
        poll(&updates, &offset, self.connection(), ctx).await
    }
}
