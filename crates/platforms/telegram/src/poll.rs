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
//! acknowledged like handled ones. An update whose `update_id` cannot be
//! read cannot be acknowledged by itself: it is skipped (WARN), and the
//! offset moves past the other updates of its batch; a batch of only such
//! updates is a failed round, so it is fetched again after a backoff, never
//! in a loop.
//!
//! A round is one `getUpdates` and the handling of its batch. The backoff
//! grows (1 s, doubling, with jitter, capped by `max_reconnect_delay_secs`)
//! while rounds keep failing at any step — the call itself, a batch that
//! cannot be acknowledged, recording an update, saving the offset — and
//! starts over only after a round that fully succeeded. Meanwhile the
//! adapter reports itself degraded (`Health`), and running again after a
//! success. Telegram's answers: timeouts, dropped connections and 5xx back
//! off; 429 waits Telegram's `retry_after`; 401 and 404 (token revoked or
//! malformed) stop the adapter with `Auth`; 409 (another poller or a
//! webhook) is retried a few times — a previous instance may still be
//! finishing its last poll — then stops the adapter with the reason.

use crate::ConnectionState;
use crate::adapter::TelegramAdapter;
use crate::error::TelegramError;
use crate::receive::{Handled, Me, update_id};
use crate::types::{ALLOWED_UPDATES, GetUpdates, update_kind};
use hermod_core::{AdapterContext, AdapterError};
use std::time::Duration;
use tracing::{info, warn};

/// Consecutive 409 answers tolerated before giving up.
const MAX_CONFLICTS: u32 = 5;

/// Extra time a long poll may take beyond its own timeout.
const POLL_GRACE: Duration = Duration::from_secs(10);

/// Why a round did not fully succeed.
#[derive(Debug)]
struct Failed {
    /// What went wrong, for the log and the health report.
    reason: String,
    /// How long Telegram asked us to wait, when it did.
    retry_after: Option<Duration>,
}

impl Failed {
    fn because(reason: String) -> Self {
        Self {
            reason,
            retry_after: None,
        }
    }
}

/// What became of a batch.
#[derive(Debug)]
enum Batch {
    /// Every update recorded or skipped, and the offset saved.
    Done,
    Failed(Failed),
    /// Shutting down.
    Stop,
}

impl TelegramAdapter {
    /// Polls until `ctx.shutdown` (returns `Ok`) or a failure the adapter
    /// cannot go on from (`run` then marks the connection failed).
    pub(crate) async fn poll(&self, me: &Me, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let key = format!("telegram:offset:{}", me.id);
        let mut offset = self.load_offset(&key).await;
        // Rounds that failed in a row; the backoff grows with it.
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
            let round = match result {
                Ok(updates) => {
                    conflicts = 0;
                    match self.handle_batch(updates, me, ctx, &key, &mut offset).await {
                        Batch::Done => Ok(()),
                        Batch::Failed(failed) => Err(failed),
                        Batch::Stop => return Ok(()),
                    }
                }
                Err(e) if e.refuses_token() => {
                    return Err(AdapterError::Auth(crate::error::AUTH_HINT.into()));
                }
                Err(TelegramError::Conflict(reason)) => {
                    conflicts += 1;
                    if conflicts >= MAX_CONFLICTS {
                        return Err(AdapterError::Startup(reason));
                    }
                    Err(Failed::because(reason))
                }
                Err(e) => Err(Failed {
                    reason: format!("polling Telegram failed: {e}"),
                    retry_after: e.retry_after(),
                }),
            };
            match round {
                Ok(()) => {
                    if failures > 0 {
                        info!(failures, "receiving Telegram updates again");
                    }
                    failures = 0;
                    self.set_connection(ConnectionState::Connected);
                    self.report_recovered(ctx);
                }
                Err(failed) => {
                    if !self
                        .wait_to_retry(ctx, &mut failures, &failed.reason, failed.retry_after)
                        .await
                    {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Handles a batch in order, saving the offset after each update.
    /// Stops at the first update that could not be recorded. Whatever
    /// Telegram returns is handled, even below the offset (update ids
    /// restart at a random value after a quiet week); the inbox drops what
    /// was seen.
    async fn handle_batch(
        &self,
        updates: Vec<serde_json::Value>,
        me: &Me,
        ctx: &AdapterContext,
        key: &str,
        offset: &mut Option<i64>,
    ) -> Batch {
        let mut unreadable = 0_usize;
        let mut acknowledged = false;
        let mut unsaved = None;
        for raw in updates {
            let Some(update_id) = update_id(&raw) else {
                // Its place in Telegram's queue is unknown: the offset
                // moves past the rest of the batch, or not at all.
                warn!(
                    kind = update_kind(&raw),
                    "skipping an update without a readable update_id"
                );
                unreadable += 1;
                continue;
            };
            let handled = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => Handled::Stop,
                handled = self.handle_update(raw, me, ctx) => handled,
            };
            match handled {
                Handled::Done => {}
                Handled::Retry(reason) => return Batch::Failed(Failed::because(reason)),
                Handled::Stop => return Batch::Stop,
            }
            let next = update_id.saturating_add(1);
            *offset = Some(next);
            acknowledged = true;
            if let Err(e) = self.save_offset(key, next).await {
                // Recorded, so still acknowledged (the next poll carries
                // the offset); but storage is failing, so back off.
                unsaved = Some(e);
            }
        }
        if let Some(e) = unsaved {
            return Batch::Failed(Failed::because(format!(
                "cannot save the Telegram update offset: {e}"
            )));
        }
        if unreadable > 0 && !acknowledged {
            return Batch::Failed(Failed::because(format!(
                "Telegram sent {unreadable} update(s) without a readable update_id"
            )));
        }
        Batch::Done
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

    /// Saves the offset. On failure Telegram still learns it from the next
    /// poll; only a restart before the next save would fetch these updates
    /// again (and drop them as duplicates).
    async fn save_offset(&self, key: &str, offset: i64) -> Result<(), hermod_store::StoreError> {
        let now = hermod_core::now_ms();
        self.store()
            .set_setting(key, &offset.to_string(), now)
            .await
            .inspect_err(|e| warn!(error = %e, "cannot save the Telegram update offset"))
    }
}
