//! Planned stops and what follows them.
//!
//! When a drain begins, chats whose turn is running are told the gateway
//! is stopping (`gateway.notify_on_drain`). Turns still running when the
//! drain deadline passes are recorded as interrupted, with the time, in the
//! store's settings. The next start takes them up before the recovery
//! sweeper runs: a turn interrupted within
//! `gateway.auto_continue_freshness_secs` is continued, after its sender's
//! access is checked again, with a notice in the chat; an older one is not
//! run again, and its chat is told once that it was not finished.
//!
//! The chat that asked for `/restart` is remembered the same way and told
//! when the gateway is back. [`guard`] detects restart loops, during which
//! nothing from earlier runs is taken up.

pub(crate) mod guard;

use crate::access::{self, Access};
use crate::reply::ReplyMode;
use crate::router::Router;
use crate::session::{Job, WorkerDeps, reply};
use hermod_model::{InboundEvent, PlatformId};
use hermod_store::{InboxState, InboxTurn};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::{info, warn};

/// The setting listing the turns the last drain interrupted (JSON).
const INTERRUPTED_SETTING: &str = "gateway.interrupted_turns";
/// The setting naming the chat that asked for `/restart` (JSON).
const RESTART_SETTING: &str = "gateway.restart_requested_by";

/// Told to chats with a running turn when a drain begins.
pub(crate) const DRAIN_NOTICE: &str = "⏳ The gateway is stopping. If your request is not finished \
     before it stops, it continues when the gateway is back.";
/// Told before a drain-interrupted turn continues.
pub(crate) const RESUME_NOTICE: &str = "🔄 The gateway restarted; continuing your last request.";
/// Told instead when the interrupted turn is too old to continue.
pub(crate) const STALE_NOTICE: &str = "⚠️ The gateway restarted, and your last request was not \
     finished before it stopped. It was too long ago to continue on its own: send it again if you \
     still need it.";
/// Told to the chat that asked for `/restart` once the gateway is back.
pub(crate) const BACK_NOTICE: &str = "✅ The gateway is back.";

/// A turn the drain deadline cut short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Interrupted {
    platform: PlatformId,
    /// The inbox key of a message the turn answers.
    key: String,
    /// Unix milliseconds of the interruption.
    at_ms: i64,
}

/// The chat turns running now, so a drain can tell their chats and record
/// the ones it cuts short.
#[derive(Debug, Default)]
pub(crate) struct RunningTurns {
    next: AtomicU64,
    turns: Mutex<HashMap<u64, RunningTurn>>,
}

#[derive(Debug, Clone)]
struct RunningTurn {
    /// Where the chat is told (the user's message without its content).
    to: InboundEvent,
    /// Inbox keys of the messages the turn answers.
    inbox: Vec<String>,
}

impl RunningTurns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, RunningTurn>> {
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a chat turn until the returned guard drops.
    pub(crate) fn register(
        self: &Arc<Self>,
        event: &InboundEvent,
        inbox: &[String],
    ) -> RunningGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut to = InboundEvent::text(event.source.clone(), "");
        to.message_id = event.message_id.clone();
        self.lock().insert(
            id,
            RunningTurn {
                to,
                inbox: inbox.to_vec(),
            },
        );
        RunningGuard {
            turns: Arc::clone(self),
            id,
        }
    }

    fn snapshot(&self) -> Vec<RunningTurn> {
        self.lock().values().cloned().collect()
    }
}

/// Keeps a turn in [`RunningTurns`] while it lives.
#[derive(Debug)]
pub(crate) struct RunningGuard {
    turns: Arc<RunningTurns>,
    id: u64,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.turns.lock().remove(&self.id);
    }
}

/// Tells every chat with a running turn that the gateway is stopping
/// (unless `gateway.notify_on_drain` is off). The notices run as tasks of
/// `tracker`, so the drain waits for them within its deadline.
pub(crate) fn notify_draining(shared: &Arc<crate::router::Shared>) {
    let deps = shared.deps();
    if !deps.config.notify_on_drain {
        return;
    }
    let mut told = std::collections::HashSet::new();
    for turn in deps.running.snapshot() {
        let chat = (
            turn.to.source.platform.clone(),
            turn.to.source.chat_id.clone(),
            turn.to.source.thread_id.clone(),
        );
        if !told.insert(chat) {
            continue;
        }
        let owned = Arc::clone(shared);
        shared.tracker().spawn(async move {
            let deps = owned.deps();
            reply(deps, &ReplyMode::Adapter, &turn.to, DRAIN_NOTICE.to_owned()).await;
        });
    }
}

/// Records the chat turns still running as interrupted now (called when
/// the drain deadline passes, before they are cancelled).
pub(crate) async fn record_interrupted(deps: &WorkerDeps) {
    let at_ms = deps.clock.now_ms();
    let mut list = read_interrupted(deps).await;
    let before = list.len();
    for turn in deps.running.snapshot() {
        for key in turn.inbox {
            list.push(Interrupted {
                platform: turn.to.source.platform.clone(),
                key,
                at_ms,
            });
        }
    }
    if list.len() == before {
        return;
    }
    info!(
        turns = list.len() - before,
        "recorded the turns the drain cut short; the next start continues them"
    );
    write_json(deps, &deps.node_setting(INTERRUPTED_SETTING), &list).await;
}

async fn read_interrupted(deps: &WorkerDeps) -> Vec<Interrupted> {
    match deps
        .store
        .setting(&deps.node_setting(INTERRUPTED_SETTING))
        .await
    {
        Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|e| {
            warn!(error = %e, "the record of interrupted turns is unreadable; ignoring it");
            Vec::new()
        }),
        Ok(None) => Vec::new(),
        Err(e) => {
            warn!(error = %e, "could not read which turns the last drain interrupted");
            Vec::new()
        }
    }
}

async fn write_json<T: Serialize>(deps: &WorkerDeps, setting: &str, value: &T) {
    let json = match serde_json::to_string(value) {
        Ok(json) => json,
        Err(e) => return warn!(error = %e, setting, "could not encode a setting"),
    };
    if let Err(e) = deps
        .store
        .set_setting(setting, &json, deps.clock.now_ms())
        .await
    {
        warn!(error = %e, setting, "could not store a setting");
    }
}

async fn forget(deps: &WorkerDeps, setting: &str) {
    if let Err(e) = deps.store.delete_setting(setting).await {
        warn!(error = %e, setting, "could not clear a setting; it may be acted on again at the next start");
    }
}

/// Remembers the chat that asked for `/restart`, so the next start tells
/// it the gateway is back.
pub(crate) async fn remember_restart_chat(deps: &WorkerDeps, event: &InboundEvent) {
    let mut to = InboundEvent::text(event.source.clone(), "");
    to.message_id = event.message_id.clone();
    write_json(deps, &deps.node_setting(RESTART_SETTING), &to).await;
}

/// At start: tells the chat that asked for `/restart` that the gateway is
/// back, and takes up the turns the last drain cut short (unless
/// `held`, during a restart loop, when they wait for a later start).
pub(crate) async fn take_up(router: &Router, held: bool) {
    let shared = router.shared();
    let deps = shared.deps();
    let restart_key = deps.node_setting(RESTART_SETTING);
    if let Ok(Some(json)) = deps.store.setting(&restart_key).await {
        forget(deps, &restart_key).await;
        match serde_json::from_str::<InboundEvent>(&json) {
            Ok(to) => reply(deps, &ReplyMode::Adapter, &to, BACK_NOTICE.to_owned()).await,
            Err(e) => warn!(error = %e, "the chat that asked for the restart is unreadable"),
        }
    }
    let list = read_interrupted(deps).await;
    if list.is_empty() {
        return;
    }
    if held {
        warn!(
            turns = list.len(),
            "not continuing the turns the last drain cut short: the gateway is restarting in a loop; \
             they are taken up at the next start outside the loop"
        );
        return;
    }
    let now = deps.clock.now_ms();
    let fresh_for = deps.config.auto_continue_freshness();
    let mut jobs: Vec<(Option<InboxTurn>, Job)> = Vec::new();
    for item in list {
        let entry = match deps.store.inbox_entry(&item.platform, &item.key).await {
            Ok(Some(entry)) if entry.state != InboxState::Done => entry,
            Ok(_) => continue,
            Err(e) => {
                warn!(error = %e, key = %item.key, "could not read an interrupted message; crash recovery takes it up");
                continue;
            }
        };
        if let Some((_, job)) = jobs.iter_mut().find(|(turn, job)| {
            turn.is_some() && *turn == entry.turn && job.event.source.platform == entry.platform
        }) {
            job.inbox.push(entry.key);
            continue;
        }
        let event = match serde_json::from_str::<InboundEvent>(&entry.event_json) {
            Ok(event) => event,
            // Crash recovery drops it with a warning.
            Err(_) => continue,
        };
        let age = Duration::from_millis(u64::try_from(now - item.at_ms).unwrap_or(0));
        if age <= fresh_for {
            let mut job = Job::new(event, ReplyMode::Adapter);
            job.inbox.push(entry.key);
            job.resumed = true;
            jobs.push((entry.turn, job));
        } else {
            give_up(deps, &event, &entry.key, age).await;
        }
    }
    forget(deps, &deps.node_setting(INTERRUPTED_SETTING)).await;
    for (_, job) in jobs {
        info!(platform = %job.event.source.platform, "continuing a turn the last drain cut short");
        crate::delivery::submit_when_room(router, job).await;
    }
}

/// An interrupted turn too old to continue: its chat is told once (if its
/// sender is still allowed) and the message is marked handled.
async fn give_up(deps: &WorkerDeps, event: &InboundEvent, key: &str, age: Duration) {
    info!(
        platform = %event.source.platform,
        age_secs = age.as_secs(),
        "not continuing a turn the drain cut short: it is older than gateway.auto_continue_freshness_secs"
    );
    let caps = deps.capabilities(&event.source.platform);
    let allowed = matches!(
        access::check(
            &deps.config,
            &caps,
            &event.source,
            event.vouched,
            deps.store.as_ref()
        )
        .await,
        Ok(Access::Allowed)
    );
    if let Err(e) = deps
        .store
        .inbox_set_state(
            &event.source.platform,
            key,
            InboxState::Done,
            deps.clock.now_ms(),
        )
        .await
    {
        warn!(error = %e, "could not mark an interrupted message handled; crash recovery may answer it");
    }
    if allowed {
        let mut to = InboundEvent::text(event.source.clone(), "");
        to.message_id = event.message_id.clone();
        reply(deps, &ReplyMode::Adapter, &to, STALE_NOTICE.to_owned()).await;
    }
}
