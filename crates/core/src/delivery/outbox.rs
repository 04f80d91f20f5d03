//! Delivering outbox entries: every final reply and scheduled delivery is
//! in the store before it is sent and is marked delivered with the
//! platform's message ids when the platform confirms.
//!
//! Delivery is idempotent per part: an entry's text is split
//! deterministically, and a part whose message id is already recorded is
//! edited to its text instead of being sent again. So an entry redelivered
//! after a crash — even one that happened between sending and recording,
//! when the message was a streamed preview whose id was recorded first —
//! never appears twice.

use crate::adapter::{Adapter, AdapterError};
use crate::session::WorkerDeps;
use hermod_model::text::split_message;
use hermod_model::{Edit, MessageRef, Outbound};
use hermod_store::{OutboxEntry, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Attempts within one delivery before the entry waits for the sweeper.
const ATTEMPTS: u32 = 4;
/// Longest a delivery waits out rate limits in total before it is
/// deferred to the sweeper.
const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(600);
/// Longest single wait for a platform's retry-after inside one delivery.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// When a delivery that gave up is tried again.
const RETRY_LATER: Duration = Duration::from_secs(60);
/// Attempts after which an entry is given up.
const MAX_ATTEMPTS: u32 = 10;
/// How often the sweeper looks for entries to retry.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered(Vec<String>),
    /// Will be retried later by the sweeper.
    Deferred(String),
    /// Given up; recorded with its reason.
    Failed(String),
}

/// Delivers one entry now. Errors are recorded on the entry; the return
/// value says how it ended.
pub(crate) async fn deliver_entry(
    deps: &WorkerDeps,
    entry: &OutboxEntry,
) -> Result<Outcome, StoreError> {
    let now = || deps.clock.now_ms();
    let Some(adapter) = deps.adapters.get(&entry.platform) else {
        let reason = format!("no {} adapter is running", entry.platform);
        deps.store
            .outbox_retry_later(entry.id, &reason, now() + ms(RETRY_LATER), now())
            .await?;
        return Ok(Outcome::Deferred(reason));
    };
    let caps = adapter.capabilities();
    let parts = split_message(&entry.text, caps.max_message_len, caps.length_unit);
    let mut ids = entry.message_ids.clone();
    for (i, part) in parts.iter().enumerate() {
        let result = match ids.get(i) {
            Some(id) if caps.can_edit => edit_or_send(adapter.as_ref(), entry, id, part).await,
            Some(_) => continue,
            None => send(adapter.as_ref(), entry, part).await,
        };
        match result {
            Ok(Some(new_ids)) => {
                match ids.get_mut(i) {
                    Some(slot) => *slot = new_ids.first().cloned().unwrap_or_else(|| slot.clone()),
                    None => ids.extend(new_ids),
                }
                deps.store
                    .outbox_set_message_ids(entry.id, &ids, now())
                    .await?;
            }
            Ok(None) => {}
            Err(error) if is_permanent(&error) => {
                let reason = error.to_string();
                deps.store.outbox_failed(entry.id, &reason, now()).await?;
                warn!(platform = %entry.platform, key = %entry.key, %reason, "giving up on a delivery");
                let notice = format!("⚠️ I couldn't deliver my reply: {reason}");
                let _ = send(adapter.as_ref(), entry, &notice).await;
                return Ok(Outcome::Failed(reason));
            }
            Err(error) => {
                let reason = error.to_string();
                if entry.attempts + 1 >= MAX_ATTEMPTS {
                    deps.store.outbox_failed(entry.id, &reason, now()).await?;
                    warn!(platform = %entry.platform, key = %entry.key, %reason, "delivery failed too often; giving up");
                    return Ok(Outcome::Failed(reason));
                }
                deps.store
                    .outbox_retry_later(entry.id, &reason, now() + ms(RETRY_LATER), now())
                    .await?;
                return Ok(Outcome::Deferred(reason));
            }
        }
    }
    deps.store.outbox_delivered(entry.id, &ids, now()).await?;
    Ok(Outcome::Delivered(ids))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn is_permanent(error: &AdapterError) -> bool {
    !matches!(
        error,
        AdapterError::RateLimited { .. } | AdapterError::Transient(_)
    )
}

/// Runs `call` with retries: waits the platform's retry-after (never
/// calling earlier), backs off on transient failures.
pub(crate) async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AdapterError>>,
{
    let mut backoff = Duration::from_secs(1);
    let mut failures = 1;
    // Rate limits are waited out (the platform said when), up to a budget;
    // only real failures count as attempts.
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(AdapterError::RateLimited { retry_after }) => {
                let wait = retry_after.unwrap_or(backoff);
                if wait > MAX_WAIT || waited + wait > RATE_LIMIT_BUDGET {
                    return Err(AdapterError::RateLimited { retry_after });
                }
                tokio::time::sleep(wait).await;
                waited += wait;
            }
            Err(AdapterError::Transient(_)) if failures < ATTEMPTS => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                failures += 1;
            }
            other => return other,
        }
    }
}

async fn send(
    adapter: &dyn Adapter,
    entry: &OutboxEntry,
    text: &str,
) -> Result<Option<Vec<String>>, AdapterError> {
    let outbound = Outbound {
        target: entry.target.clone(),
        text: text.to_owned(),
        reply_to: entry.reply_to.clone(),
        attachments: Vec::new(),
    };
    with_retries(|| adapter.send(outbound.clone()))
        .await
        .map(|sent| Some(sent.message_ids))
}

/// Edits an already recorded message to its part; a message that is gone
/// (deleted by the user) is sent again instead.
async fn edit_or_send(
    adapter: &dyn Adapter,
    entry: &OutboxEntry,
    id: &str,
    part: &str,
) -> Result<Option<Vec<String>>, AdapterError> {
    let edit = Edit {
        message: MessageRef {
            target: entry.target.clone(),
            message_id: id.to_owned(),
        },
        text: part.to_owned(),
    };
    match with_retries(|| adapter.edit(edit.clone())).await {
        Ok(()) => Ok(None),
        Err(AdapterError::NotFound(_)) => send(adapter, entry, part).await,
        Err(e) => Err(e),
    }
}

/// On start: delivers what a previous run left pending (entries older than
/// `max_age` are reported and given up). Then, every 30 s, retries
/// deliveries that were deferred. Ends with `shutdown`.
pub(crate) async fn run_sweeper(
    deps: Arc<crate::router::Shared>,
    max_age: Duration,
    shutdown: CancellationToken,
) {
    let deps = deps.deps();
    // Entries from before this start belong to no running turn.
    let mut recover_before = Some(deps.clock.now_ms());
    loop {
        if let Err(e) = sweep(deps, max_age, recover_before).await {
            warn!(error = %e, "outbox sweep failed");
        }
        recover_before = None;
        tokio::select! {
            () = tokio::time::sleep(SWEEP_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

async fn sweep(
    deps: &WorkerDeps,
    max_age: Duration,
    recover_before: Option<i64>,
) -> Result<(), StoreError> {
    let now = deps.clock.now_ms();
    for entry in deps.store.outbox_pending(0, 0).await? {
        if now - entry.created_at_ms > ms(max_age) {
            let reason = format!("not delivered within {} s; given up", max_age.as_secs());
            deps.store.outbox_failed(entry.id, &reason, now).await?;
            warn!(platform = %entry.platform, key = %entry.key, "an undelivered reply is too old to send; recorded as failed");
            continue;
        }
        // While running, entries being delivered by their turn have no
        // attempts yet; only deferred ones are the sweeper's.
        let recovering = recover_before.is_some_and(|start| entry.created_at_ms < start);
        let due = recovering || (entry.attempts > 0 && entry.next_attempt_at_ms <= now);
        if !due {
            continue;
        }
        if recovering {
            info!(platform = %entry.platform, key = %entry.key, "delivering a reply left pending by the previous run");
        }
        deliver_entry(deps, &entry).await?;
    }
    Ok(())
}
