//! Delivering outbox entries: every final reply and scheduled delivery is
//! in the store before it is sent and is marked delivered with the
//! platform's message ids when the platform confirms.
//!
//! Delivery is idempotent per part: an entry's text is split
//! deterministically, and a part whose message id is already recorded is
//! edited to its text instead of being sent again. So an entry redelivered
//! after a crash — even one that happened between sending and recording,
//! when the message was a streamed preview whose id was recorded first —
//! never appears twice. A part the platform confirmed without an id is
//! recorded with an empty one: it cannot be edited, and is never sent again.
//!
//! Files go after the text, each as its own message, exactly once or with
//! a notice when that cannot be known (see [`files`]).
//!
//! A delivery in a turn waits out short rate limits and backs off on
//! transient failures before it defers to the sweeper; the sweeper makes
//! one attempt per entry and defers again on failure, so an entry that
//! keeps failing costs one call per sweep and never holds up the entries
//! after it (nor, since turns deliver their own replies, any new reply).

use super::files;
use crate::adapter::{AdapterError, Messenger};
use crate::error::CoreError;
use crate::session::WorkerDeps;
use hermod_model::text::split_message;
use hermod_model::{Edit, MessageRef, Outbound};
use hermod_store::{InboxState, OutboxEntry, OutboxState};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

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
/// How often it looks in a cluster, where it also takes up what a gateway
/// that died left: soon after that gateway's leases ran out.
const CLUSTER_SWEEP_EVERY: Duration = Duration::from_secs(5);

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered(Vec<String>),
    /// Will be retried later by the sweeper.
    Deferred(String),
    /// Given up; recorded with its reason.
    Failed(String),
}

/// How long a delivery keeps trying before it defers to the sweeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// Back off on transient failures and wait out rate limits (see
    /// [`with_retries`]): a reply being delivered for the first time.
    Retry,
    /// One call per message: the sweeper's redeliveries.
    Once,
}

/// Delivers one entry now, retrying in place. Errors are recorded on the
/// entry; the return value says how it ended. Only one delivery of an entry
/// runs at a time in a process: a second caller gets `Deferred` while the
/// first runs, and a caller that comes after reads the entry as the first
/// left it (so a delivered entry is never sent again).
pub(crate) async fn deliver_entry(
    deps: &WorkerDeps,
    entry: &OutboxEntry,
) -> Result<Outcome, CoreError> {
    deliver(deps, entry, Patience::Retry).await
}

/// [`deliver_entry`] with the given patience.
async fn deliver(
    deps: &WorkerDeps,
    entry: &OutboxEntry,
    patience: Patience,
) -> Result<Outcome, CoreError> {
    let Some(_claim) = deps.delivering.claim(entry.id) else {
        return Ok(Outcome::Deferred("being delivered".into()));
    };
    // In a cluster, one gateway at a time delivers an entry: whoever
    // holds its lease (the entry is read again below, so the next one to
    // hold it finds it delivered rather than sending it twice).
    let Some(cluster) = &deps.cluster else {
        return deliver_claimed(deps, entry, patience).await;
    };
    let lease = crate::cluster::outbox_lease(entry.id);
    if !cluster.try_take(&lease).await? {
        return Ok(Outcome::Deferred(
            "being delivered by another gateway".into(),
        ));
    }
    let outcome = deliver_claimed(deps, entry, patience).await;
    cluster.release(&lease).await;
    outcome
}

/// [`deliver`] once this process (and, in a cluster, this gateway) has
/// claimed the entry.
async fn deliver_claimed(
    deps: &WorkerDeps,
    entry: &OutboxEntry,
    patience: Patience,
) -> Result<Outcome, CoreError> {
    let key = &entry.key;
    let Some(entry) = deps
        .persist("read the outbox", || deps.store.outbox_entry(key))
        .await?
    else {
        return Ok(Outcome::Failed("the delivery is no longer recorded".into()));
    };
    match entry.state {
        OutboxState::Pending => {}
        OutboxState::Delivered => return Ok(Outcome::Delivered(entry.message_ids)),
        OutboxState::Failed => {
            return Ok(Outcome::Failed(entry.error.unwrap_or_default()));
        }
    }
    let now = || deps.clock.now_ms();
    let max_age = deps.config.outbox_max_age_secs;
    if now() - entry.created_at_ms > ms(Duration::from_secs(max_age)) {
        let reason = format!("not delivered within {max_age} s; given up");
        let at = now();
        deps.persist("record a failed delivery", || {
            deps.store.outbox_failed(entry.id, &reason, at)
        })
        .await?;
        deps.metrics.outbox_failed(&entry.platform);
        warn!(platform = %entry.platform, key = %entry.key, "an undelivered reply is too old to send; recorded as failed");
        tell_hooks(deps, &entry, Err(&reason));
        return Ok(Outcome::Failed(reason));
    }
    let Some(adapter) = deps.adapters.get(&entry.platform) else {
        let reason = format!("no {} adapter is running", entry.platform);
        retry_later(deps, &entry, &reason, None).await?;
        return Ok(Outcome::Deferred(reason));
    };
    let Some(messenger) = adapter.messenger() else {
        // A request/response source: nothing can be sent to it, now or later.
        let reason = AdapterError::NoMessenger(entry.platform.clone()).to_string();
        give_up(deps, &entry, &reason).await?;
        return Ok(Outcome::Failed(reason));
    };
    let caps = adapter.capabilities();
    let captioned = files::captioned(&entry, &caps);
    // An entry of files alone sends no empty message; a captioned one
    // sends its text with the first file.
    let parts = if captioned || entry.text.trim().is_empty() {
        Vec::new()
    } else {
        split_message(&entry.text, caps.max_message_len, caps.length_unit)
    };
    let mut ids = entry.message_ids.clone();
    let limited = || deps.metrics.rate_limited(&entry.platform);
    for (i, part) in parts.iter().enumerate() {
        let result = match ids.get(i) {
            // Shown, but without an id to edit it by.
            Some(id) if id.is_empty() => continue,
            Some(id) if caps.can_edit => {
                edit_or_send(messenger, &entry, id, part, patience, &limited).await
            }
            Some(_) => continue,
            None => {
                let key = files::text_idempotency_key(&entry, i);
                send(messenger, &entry, part, Some(key), patience, &limited).await
            }
        };
        match result {
            Ok(Some(new_ids)) => {
                // One id per part, so a redelivery edits each part's own
                // message: the first one the part became (a platform may
                // show a part as several), empty when the platform gave none.
                let id = new_ids.into_iter().next().unwrap_or_default();
                match ids.get_mut(i) {
                    Some(slot) => *slot = id,
                    None => ids.push(id),
                }
                let at = now();
                deps.persist("record a sent message", || {
                    deps.store.outbox_set_message_ids(entry.id, &ids, at)
                })
                .await?;
            }
            Ok(None) => {}
            Err(error) if is_permanent(&error) => {
                let reason = error.to_string();
                give_up(deps, &entry, &reason).await?;
                let notice = format!("⚠️ I couldn't deliver my reply: {reason}");
                let _ = send(messenger, &entry, &notice, None, patience, &limited).await;
                return Ok(Outcome::Failed(reason));
            }
            Err(error) => return defer_or_fail(deps, &entry, error).await,
        }
    }
    // Messages beyond the reply's parts (previews of a run that stopped
    // mid-reply) are removed.
    if ids.len() > parts.len() {
        for id in ids.split_off(parts.len()) {
            if id.is_empty() {
                continue;
            }
            let message = MessageRef {
                target: entry.target.clone(),
                message_id: id,
            };
            if let Err(e) = messenger.delete(message).await {
                debug!(error = %e, "could not remove a stale preview");
            }
        }
    }
    let files = files::FileSender {
        deps,
        messenger,
        caps: &caps,
        entry: &entry,
        captioned,
        patience,
        limited: &limited,
    };
    if let Some(error) = files.send_all().await? {
        return defer_or_fail(deps, &entry, error).await;
    }
    let at = now();
    deps.persist("record a delivery", || {
        deps.store.outbox_delivered(entry.id, &ids, at)
    })
    .await?;
    tell_hooks(deps, &entry, Ok(&ids));
    Ok(Outcome::Delivered(ids))
}

/// A failure that may pass: the entry is retried later, or given up once
/// it failed [`MAX_ATTEMPTS`] times.
async fn defer_or_fail(
    deps: &WorkerDeps,
    entry: &OutboxEntry,
    error: AdapterError,
) -> Result<Outcome, CoreError> {
    let reason = error.to_string();
    let wait = match error {
        AdapterError::RateLimited { retry_after } => retry_after,
        _ => None,
    };
    if entry.attempts + 1 >= MAX_ATTEMPTS {
        let at = deps.clock.now_ms();
        deps.persist("record a failed delivery", || {
            deps.store.outbox_failed(entry.id, &reason, at)
        })
        .await?;
        deps.metrics.outbox_failed(&entry.platform);
        warn!(platform = %entry.platform, key = %entry.key, %reason, "delivery failed too often; giving up");
        tell_hooks(deps, entry, Err(&reason));
        return Ok(Outcome::Failed(reason));
    }
    retry_later(deps, entry, &reason, wait).await?;
    Ok(Outcome::Deferred(reason))
}

/// Records `entry` as failed for good with `reason`.
async fn give_up(deps: &WorkerDeps, entry: &OutboxEntry, reason: &str) -> Result<(), CoreError> {
    let at = deps.clock.now_ms();
    deps.persist("record a failed delivery", || {
        deps.store.outbox_failed(entry.id, reason, at)
    })
    .await?;
    deps.metrics.outbox_failed(&entry.platform);
    warn!(platform = %entry.platform, key = %entry.key, %reason, "giving up on a delivery");
    tell_hooks(deps, entry, Err(reason));
    Ok(())
}

/// Tells the hooks that `entry` reached its chat (`delivery:sent`, with
/// the message ids) or was given up (`delivery:failed`, with the reason).
pub(crate) fn tell_hooks(deps: &WorkerDeps, entry: &OutboxEntry, result: Result<&[String], &str>) {
    let name = match result {
        Ok(_) => crate::hooks::DELIVERY_SENT,
        Err(_) => crate::hooks::DELIVERY_FAILED,
    };
    let event = crate::hooks::HookEvent::new(name)
        .with("platform", entry.platform.as_str())
        .with("chat_id", entry.target.chat_id.as_str())
        .with("thread_id", entry.target.thread_id.clone())
        .with(
            "session_id",
            entry.session.as_ref().map(|s| s.as_str().to_owned()),
        )
        .with("delivery_key", entry.key.as_str())
        .with("reply_to", entry.reply_to.clone())
        .with("message", crate::hooks::capped(&entry.text));
    deps.hooks.emit(match result {
        Ok(ids) => event.with("message_ids", ids.to_vec()),
        Err(reason) => event.with("error", reason),
    });
}

/// Defers `entry` to the sweeper: in [`RETRY_LATER`], or when the
/// platform's retry-after (`wait`) ends, if that is later.
async fn retry_later(
    deps: &WorkerDeps,
    entry: &OutboxEntry,
    reason: &str,
    wait: Option<Duration>,
) -> Result<(), CoreError> {
    let at = deps.clock.now_ms();
    let next = at + ms(wait.map_or(RETRY_LATER, |w| w.max(RETRY_LATER)));
    deps.persist("record a deferred delivery", || {
        deps.store.outbox_retry_later(entry.id, reason, next, at)
    })
    .await?;
    deps.metrics.outbox_retried(&entry.platform);
    Ok(())
}

use crate::clock::millis as ms;

fn is_permanent(error: &AdapterError) -> bool {
    !matches!(
        error,
        AdapterError::RateLimited { .. } | AdapterError::Transient(_)
    )
}

/// Runs `call` with retries: waits the platform's retry-after (never
/// calling earlier), backs off on transient failures. With
/// [`Patience::Once`], calls once. `limited` is called for each rate-limit
/// answer (the metrics count them).
pub(crate) async fn with_retries<T, F, Fut>(
    patience: Patience,
    limited: &(dyn Fn() + Sync),
    mut call: F,
) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AdapterError>>,
{
    if patience == Patience::Once {
        let result = call().await;
        if matches!(result, Err(AdapterError::RateLimited { .. })) {
            limited();
        }
        return result;
    }
    let mut backoff = Duration::from_secs(1);
    let mut failures = 1;
    // Rate limits are waited out (the platform said when), up to a budget;
    // only real failures count as attempts.
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(AdapterError::RateLimited { retry_after }) => {
                limited();
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

/// Sends `text` for `entry`; `key` makes the send idempotent where the
/// platform deduplicates (the same part of the same entry has the same
/// key on every delivery).
async fn send(
    messenger: &dyn Messenger,
    entry: &OutboxEntry,
    text: &str,
    key: Option<String>,
    patience: Patience,
    limited: &(dyn Fn() + Sync),
) -> Result<Option<Vec<String>>, AdapterError> {
    let outbound = Outbound {
        target: entry.target.clone(),
        text: text.to_owned(),
        reply_to: entry.reply_to.clone(),
        attachments: Vec::new(),
        idempotency_key: key,
    };
    with_retries(patience, limited, || messenger.send(outbound.clone()))
        .await
        .map(|sent| Some(sent.message_ids))
}

/// Edits an already recorded message to its part; a message that is gone
/// (deleted by the user) is sent again instead.
async fn edit_or_send(
    messenger: &dyn Messenger,
    entry: &OutboxEntry,
    id: &str,
    part: &str,
    patience: Patience,
    limited: &(dyn Fn() + Sync),
) -> Result<Option<Vec<String>>, AdapterError> {
    let edit = Edit {
        message: MessageRef {
            target: entry.target.clone(),
            message_id: id.to_owned(),
        },
        text: part.to_owned(),
    };
    match with_retries(patience, limited, || messenger.edit(edit.clone())).await {
        Ok(()) => Ok(None),
        // A new message: the deleted one's key would bring it back.
        Err(AdapterError::NotFound(_)) => {
            send(messenger, entry, part, None, patience, limited).await
        }
        Err(e) => Err(e),
    }
}

/// Recovery and retries, for as long as the gateway runs: on start and
/// then every 30 s, pages through every pending outbox entry and delivers
/// those no delivery in this process is working on — left by a previous
/// run, deferred and due, or orphaned (a turn that could not deliver) —
/// and through every unfinished inbound message, handing those no worker
/// has to their sessions. Entries older than the configured maximum age
/// are given up (see [`deliver_entry`]); handled inbound messages are forgotten after a week.
///
/// `held` (a restart loop): unfinished inbound messages from before this
/// start are left for a later start.
pub(crate) async fn run_sweeper(
    shared: Arc<crate::router::Shared>,
    shutdown: CancellationToken,
    held: bool,
) {
    let router = crate::router::Router::from_shared(&shared);
    let deps = shared.deps();
    let started = deps.clock.now_ms();
    let mut next_prune = tokio::time::Instant::now();
    loop {
        if let Err(e) = sweep_inbox(&router, started, held).await {
            warn!(error = %e, "inbox sweep failed");
        }
        if let Err(e) = sweep(deps, started).await {
            warn!(error = %e, "outbox sweep failed");
        }
        if tokio::time::Instant::now() >= next_prune {
            next_prune += PRUNE_EVERY;
            let before = deps.clock.now_ms() - ms(INBOX_KEEP);
            match deps.store.inbox_prune(before).await {
                Ok(0) => {}
                Ok(n) => debug!(removed = n, "forgot handled inbound messages"),
                Err(e) => warn!(error = %e, "pruning the inbox failed"),
            }
        }
        let every = if deps.cluster.is_some() {
            CLUSTER_SWEEP_EVERY
        } else {
            SWEEP_EVERY
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Page size of the sweeps.
const SWEEP_PAGE: usize = 500;
/// An entry this process wrote and has not delivered after this long, with
/// no delivery running, belongs to a turn that could not deliver it.
const ORPHANED_AFTER: Duration = Duration::from_secs(60);
/// In a cluster, an inbound message this old whose session nobody holds
/// was left by a gateway that died (a live one takes the session's lease
/// as soon as it queues the message).
const CLUSTER_ORPHANED_AFTER: Duration = Duration::from_secs(5);
/// How long handled inbound messages are remembered, to drop redeliveries.
const INBOX_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often the inbox is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

async fn sweep(deps: &WorkerDeps, started: i64) -> Result<(), CoreError> {
    let max_age = Duration::from_secs(deps.config.outbox_max_age_secs);
    let mut after = 0;
    // Entries still pending after this pass, for the metrics.
    let mut pending = 0;
    loop {
        let page = deps.store.outbox_pending(after, SWEEP_PAGE).await?;
        let Some(last) = page.last() else {
            deps.metrics.outbox_pending(pending);
            return Ok(());
        };
        after = last.id;
        for entry in page {
            pending += 1;
            if deps.delivering.contains(&entry.id) {
                continue;
            }
            let now = deps.clock.now_ms();
            // Left by a previous run of this gateway; in a cluster only
            // an entry nobody tried yet counts (one another gateway failed
            // to send keeps its backoff, that gateway may be running).
            let recovering =
                entry.created_at_ms < started && (deps.cluster.is_none() || entry.attempts == 0);
            let due = recovering
                || now - entry.created_at_ms > ms(max_age)
                || (entry.attempts > 0 && entry.next_attempt_at_ms <= now)
                || (entry.attempts == 0 && now - entry.created_at_ms >= ms(ORPHANED_AFTER));
            if !due {
                continue;
            }
            if recovering && entry.attempts == 0 {
                info!(platform = %entry.platform, key = %entry.key, "delivering a reply left pending by the previous run");
            }
            if let Outcome::Delivered(_) | Outcome::Failed(_) =
                deliver(deps, &entry, Patience::Once).await?
            {
                pending -= 1;
            }
        }
    }
}

/// Hands unfinished inbound messages that no worker has to their sessions:
/// those a previous run left, and those that could not be queued when they
/// arrived. Messages answered by one turn (merged follow-ups) go as one job.
async fn sweep_inbox(
    router: &crate::router::Router,
    started: i64,
    held: bool,
) -> Result<(), CoreError> {
    let shared = router.shared();
    let deps = shared.deps();
    let mut after = 0;
    loop {
        let page = deps.store.inbox_unfinished(after, SWEEP_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.seq;
        let now = deps.clock.now_ms();
        let mut jobs: Vec<(Option<hermod_store::InboxTurn>, crate::session::Job)> = Vec::new();
        for entry in page {
            let fresh = match &deps.cluster {
                None => {
                    entry.received_at_ms >= started
                        && now - entry.received_at_ms < ms(ORPHANED_AFTER)
                }
                Some(_) => now - entry.received_at_ms < ms(CLUSTER_ORPHANED_AFTER),
            };
            if fresh
                || (held && entry.received_at_ms < started)
                || deps
                    .inflight_inbox
                    .contains(&(entry.platform.clone(), entry.key.clone()))
            {
                continue;
            }
            if let Some((_, job)) = jobs.iter_mut().find(|(turn, job)| {
                turn.is_some() && *turn == entry.turn && job.event.source.platform == entry.platform
            }) {
                job.inbox.push(entry.key);
                continue;
            }
            match serde_json::from_str::<hermod_model::InboundEvent>(&entry.event_json) {
                Ok(event) => {
                    if worked_on_elsewhere(deps, &event).await {
                        continue;
                    }
                    let mut job = crate::session::Job::new(event, crate::reply::ReplyMode::Adapter);
                    job.inbox.push(entry.key);
                    jobs.push((entry.turn, job));
                }
                Err(e) => {
                    warn!(key = %entry.key, error = %e, "an unfinished inbound message is unreadable; dropping it");
                    deps.store
                        .inbox_set_state(&entry.platform, &entry.key, InboxState::Done, now)
                        .await?;
                }
            }
        }
        for (_, job) in jobs {
            submit_when_room(router, job).await;
        }
    }
}

/// Whether another gateway of the cluster works on the event's session
/// now (it answers the event itself); false alone on a database, or when
/// that cannot be read (the worker checks again once it holds the session).
async fn worked_on_elsewhere(deps: &WorkerDeps, event: &hermod_model::InboundEvent) -> bool {
    let Some(cluster) = &deps.cluster else {
        return false;
    };
    let lease = crate::cluster::session_lease(&deps.session_key(event));
    matches!(cluster.held_elsewhere(&lease).await, Ok(Some(_)))
}

/// Queues a recovered job, waiting while its session's queue is full.
pub(crate) async fn submit_when_room(router: &crate::router::Router, job: crate::session::Job) {
    let key = job.inbox.first().cloned().unwrap_or_default();
    info!(platform = %job.event.source.platform, %key, "taking up a message that was not finished");
    let mut wait = Duration::from_millis(100);
    let mut job = Some(job);
    while let Some(next) = job.take() {
        match router.try_submit_job(next) {
            Ok(()) => return,
            Err((CoreError::QueueFull { .. }, returned)) => {
                job = Some(*returned);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err((e, _)) => {
                warn!(%key, error = %e, "could not take up an unfinished message now");
                return;
            }
        }
    }
}
