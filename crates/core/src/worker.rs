//! A session worker: handles the messages of one session key in order.
//!
//! For each message: resolve the session (routing table or the id the
//! source asked for), persist the user message, run the agent turn while
//! forwarding its events, persist the reply, and deliver it.

use crate::adapter::Adapter;
use crate::clock::{new_session_id, now_ms};
use crate::error::CoreError;
use crate::reply::{ReplyMode, TurnEvent};
use crate::router::Shared;
use hermod_agent::{Agent, AgentError, AgentEvent, TurnOutcome, TurnRequest};
use hermod_model::{
    ChatMessage, ChatTarget, InboundEvent, Outbound, PlatformId, SessionId, SessionKey,
    SessionKeyPolicy,
};
use hermod_store::{AppendMessages, NewMessage, NewSession, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// A message waiting for its worker.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) event: InboundEvent,
    pub(crate) reply: ReplyMode,
}

/// What every worker needs, shared.
pub(crate) struct WorkerDeps {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) agent: Arc<dyn Agent>,
    pub(crate) adapters: HashMap<PlatformId, Arc<dyn Adapter>>,
    pub(crate) key_policy: SessionKeyPolicy,
    pub(crate) queue_capacity: usize,
    pub(crate) idle: Duration,
    /// Cancelled when running turns must stop (the drain deadline passed).
    pub(crate) turns: CancellationToken,
}

impl std::fmt::Debug for WorkerDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerDeps")
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .field("queue_capacity", &self.queue_capacity)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn run_worker(
    shared: Arc<Shared>,
    key: SessionKey,
    id: u64,
    mut rx: mpsc::Receiver<Job>,
) {
    let idle = shared.deps().idle;
    loop {
        let job = tokio::select! {
            job = rx.recv() => job,
            () = tokio::time::sleep(idle) => {
                if shared.retire_if_idle(&key, id, &rx) {
                    break;
                }
                continue;
            }
        };
        let Some(job) = job else { break };
        handle(shared.deps(), &key, job).await;
    }
    debug!(session_key = %key, "session worker stopped");
}

/// Where a turn's output goes.
enum Sink {
    Stream(mpsc::Sender<TurnEvent>),
    Adapter,
}

impl Sink {
    async fn emit(&self, event: TurnEvent) {
        if let Sink::Stream(tx) = self {
            // A closed receiver means the submitter went away; its drop
            // guard has cancelled the turn already.
            let _ = tx.send(event).await;
        }
    }
}

async fn handle(deps: &WorkerDeps, key: &SessionKey, job: Job) {
    let Job { event, reply } = job;
    let (sink, cancel) = match reply {
        ReplyMode::Stream { events, cancel } => (Sink::Stream(events), cancel),
        ReplyMode::Adapter => (Sink::Adapter, CancellationToken::new()),
    };
    if cancel.is_cancelled() {
        debug!(session_key = %key, "submitter went away before the turn started");
        return;
    }
    if deps.turns.is_cancelled() {
        fail(deps, &sink, &event, CoreError::ShuttingDown).await;
        return;
    }
    match run_turn(deps, key, &event, &sink, &cancel).await {
        Ok(outcome) => {
            if let Sink::Adapter = sink {
                deliver(deps, &event, outcome.text).await;
            }
        }
        Err(e) => fail(deps, &sink, &event, e).await,
    }
}

async fn run_turn(
    deps: &WorkerDeps,
    key: &SessionKey,
    event: &InboundEvent,
    sink: &Sink,
    cancel: &CancellationToken,
) -> Result<TurnOutcome, CoreError> {
    let (session_id, fresh) = resolve_session(deps.store.as_ref(), key, event).await?;
    sink.emit(TurnEvent::Started {
        session_id: session_id.clone(),
    })
    .await;

    let history = match (&event.history, fresh) {
        (Some(history), _) => history.clone(),
        (None, true) => Vec::new(),
        (None, false) => {
            let stored = deps.store.messages(&session_id).await?;
            stored.into_iter().map(|m| m.message).collect()
        }
    };
    let input = ChatMessage::user(event.content.clone());

    // The user message is on disk before the model sees it, so a crash
    // mid-turn never loses what the user wrote.
    let now = now_ms();
    let mut to_store: Vec<NewMessage> = Vec::new();
    if fresh && let Some(supplied) = &event.history {
        to_store.extend(supplied.iter().map(|m| NewMessage {
            message: m.clone(),
            at_ms: now,
            platform_message_id: None,
        }));
    }
    to_store.push(NewMessage {
        message: input.clone(),
        at_ms: now,
        platform_message_id: event.message_id.clone(),
    });
    deps.store
        .append_messages(AppendMessages {
            session: session_id.clone(),
            messages: to_store,
            usage: Default::default(),
        })
        .await?;

    let mut turn = deps.agent.run_turn(TurnRequest {
        session_id: session_id.clone(),
        history,
        input,
        system_prompt: event.system_prompt.clone(),
        options: event.options.clone(),
    });
    let mut interrupted = false;
    loop {
        let next = tokio::select! {
            next = turn.events.recv() => next,
            () = cancel.cancelled(), if !interrupted => {
                interrupted = true;
                turn.control.interrupt();
                continue;
            }
            () = deps.turns.cancelled(), if !interrupted => {
                interrupted = true;
                turn.control.interrupt();
                continue;
            }
        };
        let Some(agent_event) = next else {
            return Err(CoreError::Agent(AgentError::Protocol(
                "the agent stopped without a final event".into(),
            )));
        };
        match agent_event {
            AgentEvent::Final(outcome) => {
                persist_reply(deps.store.as_ref(), &session_id, &outcome).await?;
                sink.emit(TurnEvent::Agent(AgentEvent::Final(outcome.clone())))
                    .await;
                return Ok(outcome);
            }
            AgentEvent::Failed(AgentError::Cancelled) => return Err(CoreError::Cancelled),
            AgentEvent::Failed(e) => return Err(CoreError::Agent(e)),
            other => sink.emit(TurnEvent::Agent(other)).await,
        }
    }
}

/// Finds the session an event belongs to, creating it when needed. Returns
/// whether it was created now.
async fn resolve_session(
    store: &dyn Store,
    key: &SessionKey,
    event: &InboundEvent,
) -> Result<(SessionId, bool), CoreError> {
    if let Some(requested) = &event.session_id {
        if store.session(requested).await?.is_some() {
            return Ok((requested.clone(), false));
        }
        return create(store, requested.clone(), key, event, false).await;
    }
    if let Some(current) = store.route(key).await? {
        match store.session(&current).await? {
            Some(record) if record.ended_at_ms.is_none() => return Ok((current, false)),
            _ => {}
        }
    }
    create(store, new_session_id(), key, event, true).await
}

async fn create(
    store: &dyn Store,
    id: SessionId,
    key: &SessionKey,
    event: &InboundEvent,
    route: bool,
) -> Result<(SessionId, bool), CoreError> {
    let now = now_ms();
    let new = NewSession {
        id: id.clone(),
        key: key.clone(),
        source: event.source.clone(),
        created_at_ms: now,
    };
    match store.create_session(new).await {
        Ok(_) => {}
        // Created concurrently under the same id by another worker: continue it.
        Err(StoreError::Conflict(_)) => return Ok((id, false)),
        Err(e) => return Err(e.into()),
    }
    if route {
        store.set_route(key, &id, now).await?;
    }
    Ok((id, true))
}

async fn persist_reply(
    store: &dyn Store,
    session: &SessionId,
    outcome: &TurnOutcome,
) -> Result<(), CoreError> {
    let now = now_ms();
    let messages = outcome
        .messages
        .iter()
        .map(|m| NewMessage {
            message: m.clone(),
            at_ms: now,
            platform_message_id: None,
        })
        .collect();
    store
        .append_messages(AppendMessages {
            session: session.clone(),
            messages,
            usage: outcome.usage,
        })
        .await?;
    Ok(())
}

/// Sends a final reply through the event's adapter.
async fn deliver(deps: &WorkerDeps, event: &InboundEvent, text: String) {
    if text.trim().is_empty() {
        return;
    }
    let Some(adapter) = deps.adapters.get(&event.source.platform) else {
        warn!(platform = %event.source.platform, "no adapter to deliver the reply through");
        return;
    };
    let Some(chat_id) = event.source.chat_id.clone() else {
        warn!(platform = %event.source.platform, "the event has no chat to reply to");
        return;
    };
    let outbound = Outbound {
        target: ChatTarget {
            chat_id,
            thread_id: event.source.thread_id.clone(),
        },
        text,
        reply_to: event.message_id.clone(),
    };
    if let Err(e) = adapter.send(outbound).await {
        warn!(platform = %event.source.platform, error = %e, "delivering the reply failed");
    }
}

async fn fail(deps: &WorkerDeps, sink: &Sink, event: &InboundEvent, error: CoreError) {
    match sink {
        Sink::Stream(tx) => {
            let _ = tx.send(TurnEvent::Failed(error)).await;
        }
        Sink::Adapter => {
            if matches!(error, CoreError::Cancelled) {
                return;
            }
            warn!(platform = %event.source.platform, error = %error, "turn failed");
            deliver(deps, event, format!("⚠️ {error}")).await;
        }
    }
}
