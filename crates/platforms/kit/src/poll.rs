//! [`poll`]: a long-polling receive loop whose cursor (update offset,
//! sync token) is saved only after what it acknowledges was recorded.
//!
//! A round is one [`PollSource::fetch`] from the cursor and the handling
//! of its batch, in order:
//!
//! 1. each item is recorded ([`PollSource::record`]: converted, its files
//!    downloaded, submitted to core with `submit_once`, which records it
//!    durably and drops what it saw before);
//! 2. the cursor moves past each recorded (or deliberately skipped) item,
//!    in memory — the next fetch carries it, which is how platforms with
//!    offsets learn what we have;
//! 3. once the batch is handled (or stopped at an item that could not be
//!    recorded), the cursor is saved ([`AdapterState`]), so a restart
//!    resumes after the last recorded item.
//!
//! An item is never acknowledged before it is recorded, and a crash
//! between 1 and 3 only means it is fetched again and dropped as a
//! duplicate. An item that could not be recorded (storage failing) stops
//! the batch without acknowledging it: the loop backs off and fetches it
//! again. An item whose place cannot be read ([`PollSource::cursor_after`]
//! is `None`) cannot be acknowledged by itself: it is skipped (WARN) and
//! the cursor moves past the others of its batch; a batch of only such
//! items is a failed round, so it is fetched again after a backoff, never
//! in a loop.
//!
//! Every failed round — the fetch, an item not recorded, the cursor not
//! saved — goes through [`Connection::retry`] (backoff, degraded health),
//! and a round that fully succeeded through [`Connection::connected`].
//! A fetch that fails for good ([`FetchError::Fatal`]) ends the loop with
//! its classified error; shutdown ends it with `Ok`.

use crate::connection::Connection;
use crate::state::AdapterState;
use async_trait::async_trait;
use hermod_core::{AdapterContext, AdapterError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::Duration;
use tracing::{info, warn};

/// What became of one received item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Recorded (or deliberately skipped): acknowledge it.
    Done,
    /// Not recorded, for a reason that may pass (storage failed): do not
    /// acknowledge; it comes again. The reason is for the log and health.
    Retry(String),
    /// The gateway is shutting down: do not acknowledge, stop receiving.
    Stop,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// It may work next time: back off (`retry_after` when the platform
    /// said how long) and fetch again.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Receiving cannot go on (credentials refused, a lasting conflict).
    Fatal(AdapterError),
}

/// A platform's long poll.
#[async_trait]
pub trait PollSource: Send + Sync {
    /// Where the next fetch starts; saved between runs.
    type Cursor: Serialize + DeserializeOwned + Clone + Debug + Send + Sync;
    /// One received item, as fetched (raw, so one malformed item does not
    /// spoil its batch).
    type Item: Send;

    /// What the cursor is called, for logs and health (`the update offset`).
    const CURSOR_NAME: &'static str = "cursor";
    /// What places an item, for logs and health (`update_id`).
    const ID_NAME: &'static str = "id";

    /// Fetches what came after `cursor` (waiting for it, for long polls).
    async fn fetch(&self, cursor: Option<&Self::Cursor>) -> Result<Vec<Self::Item>, FetchError>;

    /// The cursor that acknowledges `item` and everything before it;
    /// `None` when the item's place cannot be read.
    fn cursor_after(&self, item: &Self::Item) -> Option<Self::Cursor>;

    /// Records one item.
    async fn record(&self, item: Self::Item) -> Handled;
}

/// Why a round did not fully succeed.
struct Failed {
    reason: String,
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

enum Round {
    Done,
    Failed(Failed),
    Stop,
}

/// Polls `source` until `ctx.shutdown` (returns `Ok`) or a fetch fails
/// for good (returns its error; the caller marks the connection failed).
pub async fn poll<S: PollSource>(
    source: &S,
    cursor_state: &AdapterState<S::Cursor>,
    connection: &Connection,
    ctx: &AdapterContext,
) -> Result<(), AdapterError> {
    let mut cursor = cursor_state.load_or_warn().await;
    info!(
        key = cursor_state.key(),
        ?cursor,
        "receiving by long polling"
    );
    loop {
        let fetched = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(()),
            fetched = source.fetch(cursor.as_ref()) => fetched,
        };
        let round = match fetched {
            Ok(items) => handle_batch(source, items, cursor_state, &mut cursor, ctx).await,
            Err(FetchError::Fatal(e)) => return Err(e),
            Err(FetchError::Retry {
                reason,
                retry_after,
            }) => Round::Failed(Failed {
                reason,
                retry_after,
            }),
        };
        match round {
            Round::Done => connection.connected(ctx),
            Round::Stop => return Ok(()),
            Round::Failed(failed) => {
                if !connection
                    .retry(ctx, &failed.reason, failed.retry_after)
                    .await
                {
                    return Ok(());
                }
            }
        }
    }
}

/// Handles a batch in order and saves the cursor past what was recorded.
async fn handle_batch<S: PollSource>(
    source: &S,
    items: Vec<S::Item>,
    cursor_state: &AdapterState<S::Cursor>,
    cursor: &mut Option<S::Cursor>,
    ctx: &AdapterContext,
) -> Round {
    let mut unreadable = 0_usize;
    let mut advanced = None;
    let mut outcome = Round::Done;
    for item in items {
        let Some(next) = source.cursor_after(&item) else {
            // Its place is unknown: the cursor moves past the rest of the
            // batch, or not at all.
            warn!(
                id = S::ID_NAME,
                "skipping a received item without a readable {}",
                S::ID_NAME
            );
            unreadable += 1;
            continue;
        };
        let handled = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => Handled::Stop,
            handled = source.record(item) => handled,
        };
        match handled {
            Handled::Done => advanced = Some(next),
            Handled::Retry(reason) => {
                outcome = Round::Failed(Failed::because(reason));
                break;
            }
            Handled::Stop => {
                outcome = Round::Stop;
                break;
            }
        }
    }
    let acknowledged = advanced.is_some();
    if let Some(next) = advanced {
        // Recorded, so acknowledged by the next fetch even if the save
        // fails; only a restart before the next save would fetch these
        // again (and the inbox drops them as duplicates).
        let saved = cursor_state.save(&next).await;
        *cursor = Some(next);
        if let Err(e) = saved
            && matches!(outcome, Round::Done)
        {
            return Round::Failed(Failed::because(format!(
                "cannot save {}: {e}",
                S::CURSOR_NAME
            )));
        }
    }
    if unreadable > 0 && !acknowledged && matches!(outcome, Round::Done) {
        return Round::Failed(Failed::because(format!(
            "received {unreadable} item(s) without a readable {}",
            S::ID_NAME
        )));
    }
    outcome
}

#[cfg(test)]
mod tests;
