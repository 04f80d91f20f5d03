//! One agent turn, run as its own task so the session worker stays free to
//! take commands and busy input while it runs.
//!
//! The task resolves the session (applying the reset policy), persists the
//! user message, runs the agent while forwarding its events, persists the
//! reply and delivers it. The platform's reaction (see [`TurnReaction`])
//! marks the user's message from the start of the turn to its end, however
//! it ends.

use crate::adapter::TurnEnded;
use crate::delivery::Consumer;
use crate::delivery::deliver_entry;
use crate::error::CoreError;
use crate::hooks::{self, HookEvent};
use crate::media::{MediaRead, notes_only};
use crate::reply::{ReplyMode, TurnEvent};
use crate::router::Shared;
use crate::session::answer::{
    ReplyTo, delete_previews, deliver, fail, finish_reply, new_consumer, persist_reply,
    stream_files,
};
use crate::session::reaction::TurnReaction;
use crate::session::resolve::resolve;
use crate::session::worker::{Job, WorkerDeps, inbox_done, release_inbox};
use hermod_agent::{AgentError, AgentEvent, FinishReason, TurnControl, TurnOutcome, TurnRequest};
use hermod_model::{
    ChatMessage, ChatTarget, Content, InboundEvent, Role, SessionId, SessionKey, Source,
};
use hermod_store::{
    AppendMessages, InboxEntry, InboxState, InboxTurn, NewMessage, OutboxState, Owner,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How often the typing indicator is renewed (platforms hide it after ~5 s).
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(4);

/// What the worker can see of a running turn.
#[derive(Debug, Default)]
pub(crate) struct TurnSlot {
    inner: Mutex<SlotInner>,
    /// The agent has finished; the reply is being stored and delivered.
    finishing: AtomicBool,
}

#[derive(Debug, Default)]
struct SlotInner {
    control: Option<TurnControl>,
}

impl TurnSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_finishing(&self) -> bool {
        self.finishing.load(Ordering::SeqCst)
    }

    /// The agent turn's control, once the agent has started.
    pub(crate) fn control(&self) -> Option<TurnControl> {
        self.lock().control.clone()
    }
}

/// A turn the worker is waiting for.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) task: tokio::task::JoinHandle<TurnEnd>,
    /// Cancelled to interrupt the turn (busy input, /stop, /new).
    pub(crate) interrupt: CancellationToken,
    pub(crate) slot: Arc<TurnSlot>,
    pub(crate) started: Instant,
}

/// What the worker learns when a turn ends.
#[derive(Debug, Default)]
pub(crate) struct TurnEnd {
    /// Steer text the agent could not take; it runs as the next turn.
    pub(crate) unused_steer: Vec<String>,
    /// Where the turn's message came from (to answer the steer text).
    pub(crate) source: Option<Source>,
}

pub(crate) fn start(shared: &Arc<Shared>, key: SessionKey, job: Job) -> Running {
    let interrupt = CancellationToken::new();
    let slot = Arc::new(TurnSlot::default());
    let task = {
        let owned = Arc::clone(shared);
        let interrupt = interrupt.clone();
        let slot = Arc::clone(&slot);
        shared
            .tracker()
            .spawn(async move { run(&owned, &key, job, &interrupt, &slot).await })
    };
    Running {
        task,
        interrupt,
        slot,
        started: Instant::now(),
    }
}

async fn run(
    shared: &Shared,
    key: &SessionKey,
    job: Job,
    interrupt: &CancellationToken,
    slot: &TurnSlot,
) -> TurnEnd {
    let deps = shared.deps();
    let began = Instant::now();
    let Job {
        event,
        reply: mode,
        inbox,
        ..
    } = job;
    if let ReplyMode::Stream { cancel, .. } = &mode
        && cancel.is_cancelled()
    {
        debug!(session_key = %key, "submitter went away before the turn started");
        return TurnEnd::default();
    }
    if deps.turns.is_cancelled() {
        // Left unfinished in the inbox: the next start takes it up again.
        fail(deps, &mode, &event, CoreError::ShuttingDown).await;
        return TurnEnd::default();
    }
    // While it runs, a drain tells its chat and records it if cut short.
    let _running = (!mode.is_stream()).then(|| deps.running.register(&event, &inbox));
    // Whether this message got a turn (for the turn metrics): not one
    // answered already.
    let mut had_turn = true;
    let (result, reaction) = match recorded(deps, &event, &inbox).await {
        Ok(Recorded::Done) => {
            debug!(session_key = %key, "message already answered");
            had_turn = false;
            (Ok(None), None)
        }
        Ok(recorded) => {
            // Access and commands are behind it: this message gets a turn.
            // Counted as running until this arm ends, however it ends.
            let _running = deps.metrics.turn_running();
            let reaction = TurnReaction::start(deps, shared.tracker(), &event, &mode);
            let turn = Turn {
                deps,
                key,
                event: &event,
                mode: &mode,
                inbox: &inbox,
                began,
            };
            (
                turn.run(recorded, interrupt, slot).await.map(Some),
                reaction,
            )
        }
        Err(e) => (Err(e), None),
    };
    let stopped_by_shutdown = deps.turns.is_cancelled()
        && matches!(result, Err(CoreError::Cancelled | CoreError::Store(_)));
    if stopped_by_shutdown {
        // Unfinished: the next start resumes it.
        release_inbox(deps, &event.source.platform, &inbox);
    } else {
        inbox_done(deps, &event, &inbox).await;
    }
    let ended = match &result {
        Ok(finished) => finished
            .as_ref()
            .map_or(TurnEnded::Answered, |(_, ended)| *ended),
        Err(CoreError::Cancelled | CoreError::Interrupted) => TurnEnded::Stopped,
        Err(_) if stopped_by_shutdown => TurnEnded::Stopped,
        Err(_) => TurnEnded::Failed,
    };
    if had_turn {
        deps.metrics
            .turn_ended(&event.source.platform, ended, began.elapsed());
    }
    let end = match result {
        Ok(finished) => TurnEnd {
            unused_steer: finished
                .map(|(outcome, _)| outcome.unused_steer)
                .unwrap_or_default(),
            source: Some(event.source),
        },
        Err(e) => {
            if !stopped_by_shutdown {
                fail(deps, &mode, &event, e).await;
            }
            let unused_steer = slot
                .control()
                .map(|c| c.take_unused_steer())
                .unwrap_or_default();
            TurnEnd {
                unused_steer,
                source: Some(event.source),
            }
        }
    };
    // After the reply, or the error shown instead, was sent.
    if let Some(reaction) = reaction {
        reaction.end(ended);
    }
    end
}

/// What the inbox knows of the platform message a job answers.
enum Recorded {
    /// Not started (or not recorded at all: API requests, internal events).
    New,
    /// Answered already (a copy of the job was queued twice).
    Done,
    /// Its user message was stored by a run that stopped before it was
    /// answered: the turn resumes from there.
    Resume {
        turn: InboxTurn,
        /// Preview messages that run showed.
        previews: Vec<String>,
    },
}

async fn recorded(
    deps: &WorkerDeps,
    event: &InboundEvent,
    inbox: &[String],
) -> Result<Recorded, CoreError> {
    let Some(key) = inbox.first() else {
        return Ok(Recorded::New);
    };
    let platform = &event.source.platform;
    let entry = deps
        .persist("read an inbound message", || {
            deps.store.inbox_entry(platform, key)
        })
        .await?;
    Ok(match entry {
        Some(entry) if entry.state == InboxState::Done => Recorded::Done,
        Some(InboxEntry {
            turn: Some(turn),
            preview_ids,
            ..
        }) => Recorded::Resume {
            turn,
            previews: preview_ids,
        },
        _ => Recorded::New,
    })
}

/// The idempotency key of the reply to a stored user message: one reply
/// per user message.
fn reply_key(session: &SessionId, user_message: i64) -> String {
    format!("reply:{session}:{user_message}")
}

async fn emit(mode: &ReplyMode, event: TurnEvent) {
    if let ReplyMode::Stream { events, .. } = mode {
        // A closed receiver means the submitter went away; its drop guard
        // has cancelled the turn already.
        let _ = events.send(event).await;
    }
}

/// Where a turn starts from, once its user message is stored.
struct Start {
    session: SessionId,
    model_override: Option<String>,
    reset: Option<crate::session::reset::ResetReason>,
    history: Vec<ChatMessage>,
    /// The stored ids of `history`, one each, when it came from the store
    /// (empty for a history the source supplied): what the context budget
    /// may summarize.
    history_ids: Vec<i64>,
    input: ChatMessage,
    /// The stored user message's id.
    user_row: i64,
    /// Previews a stopped run showed for this message (resumed turns).
    previews: Option<Vec<String>>,
}

/// The told-to-the-user end of a reply the model's stream cut short.
const CUT_OFF_NOTICE: &str = "⚠️ My reply was cut off: the connection to the model dropped before it finished. \
     Send your message again to get a complete answer.";
/// Appended to the stored text of a reply that was cut off, so the record
/// (and the model, next turn) knows it is partial.
const CUT_OFF_MARK: &str = "[reply cut off: the model's answer ended before it was complete]";
/// Appended to the stored text of a reply an interrupt stopped (a newer
/// message, /stop, /new, shutdown), for the same reason.
const INTERRUPTED_MARK: &str = "[reply interrupted: it was stopped before it was complete]";

/// What stopped a running turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    /// The session's worker: busy input in interrupt mode, /stop, /new.
    Worker,
    /// The streaming submitter went away.
    Submitter,
    /// The gateway's drain deadline passed.
    Shutdown,
}

/// One turn's fixed inputs.
struct Turn<'a> {
    deps: &'a WorkerDeps,
    key: &'a SessionKey,
    event: &'a InboundEvent,
    mode: &'a ReplyMode,
    inbox: &'a [String],
    /// When the turn's task started: its latency and time to first token
    /// are measured from here.
    began: Instant,
}

impl Turn<'_> {
    /// Runs the turn to its end: the agent's outcome, and whether its
    /// reply was handed to delivery or an interrupt stopped it first.
    async fn run(
        &self,
        recorded: Recorded,
        interrupt: &CancellationToken,
        slot: &TurnSlot,
    ) -> Result<(TurnOutcome, TurnEnded), CoreError> {
        let start = match recorded {
            Recorded::Resume { turn, previews } => match self.resume(turn, previews).await? {
                Ok(start) => start,
                // The stopped run stored the reply; the outbox delivered it.
                Err(done) => return Ok((done, TurnEnded::Answered)),
            },
            Recorded::New | Recorded::Done => {
                let read = self.read_media().await;
                if read.unanswerable {
                    return Err(CoreError::Unreadable(read.notices.join("\n")));
                }
                if !self.mode.is_stream() {
                    for notice in read.notices {
                        deliver(self.deps, self.mode, self.event, notice).await;
                    }
                }
                self.begin(read.content).await?
            }
        };
        let session = start.session.clone();
        let result = self.answer(start, interrupt, slot).await;
        self.agent_end(&session, &result);
        result
    }

    /// Tells the hooks how the agent's turn ended: `outcome` (`answered`,
    /// `stopped`, `failed`), the reply's start as `response`, or `error`.
    fn agent_end(&self, session: &SessionId, result: &Result<(TurnOutcome, TurnEnded), CoreError>) {
        let event = self.hook_event(hooks::AGENT_END, session);
        let event = match result {
            Ok((outcome, ended)) => event
                .with(
                    "outcome",
                    match ended {
                        TurnEnded::Answered => "answered",
                        TurnEnded::Stopped => "stopped",
                        TurnEnded::Failed => "failed",
                    },
                )
                .with("response", hooks::capped(&outcome.text)),
            Err(CoreError::Cancelled | CoreError::Interrupted) => event.with("outcome", "stopped"),
            Err(e) => event
                .with("outcome", "failed")
                .with("error", e.user_message()),
        };
        self.deps.hooks.emit(event);
    }

    /// A hook event about this turn: its message and session.
    fn hook_event(&self, name: &str, session: &SessionId) -> HookEvent {
        HookEvent::about_message(name, self.event).with("session_id", session.as_str())
    }

    /// The message as the model is to see it: its files read by the
    /// gateway's media reader.
    async fn read_media(&self) -> MediaRead {
        if self.event.attachments.is_empty() {
            return MediaRead::content(self.event.content.clone());
        }
        self.deps.media.read(self.event, &self.deps.turns).await
    }

    /// Whether nothing of this turn is stored (`InboundEvent::ephemeral`;
    /// only streamed answers can do without a delivery record).
    fn ephemeral(&self) -> bool {
        self.event.ephemeral && self.mode.is_stream()
    }

    /// An ephemeral message: an id for the turn (its tools see one), the
    /// history the source supplied, and nothing written.
    async fn begin_unstored(&self, content: Content) -> Start {
        let session = self
            .event
            .session_id
            .clone()
            .unwrap_or_else(|| self.deps.clock.new_session_id());
        emit(
            self.mode,
            TurnEvent::Started {
                session_id: session.clone(),
            },
        )
        .await;
        Start {
            session,
            model_override: None,
            reset: None,
            history: self.event.history.clone().unwrap_or_default(),
            history_ids: Vec::new(),
            input: ChatMessage::user(content),
            user_row: 0,
            previews: None,
        }
    }

    /// A new message: resolve its session, store the user message (and mark
    /// its inbound messages started, in the same transaction).
    async fn begin(&self, content: Content) -> Result<Start, CoreError> {
        if self.ephemeral() {
            return Ok(self.begin_unstored(content).await);
        }
        let (deps, event) = (self.deps, self.event);
        let session = resolve(deps, self.key, event).await?;
        emit(
            self.mode,
            TurnEvent::Started {
                session_id: session.id.clone(),
            },
        )
        .await;
        let stored_history = match (&event.history, session.fresh) {
            (Some(_), _) | (None, true) => Vec::new(),
            (None, false) => {
                deps.persist("read the conversation", || deps.store.messages(&session.id))
                    .await?
            }
        };
        let (history, history_ids) = match &event.history {
            Some(history) => (history.clone(), Vec::new()),
            None => stored_history
                .into_iter()
                .map(|m| (m.message, m.id))
                .unzip(),
        };
        let input = ChatMessage::user(content);
        // The user message is on disk before the model sees it, so a crash
        // mid-turn never loses what the user wrote.
        let now = deps.clock.now_ms();
        let mut to_store: Vec<NewMessage> = Vec::new();
        if session.fresh
            && let Some(supplied) = &event.history
        {
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
        let append = AppendMessages {
            session: session.id.clone(),
            messages: to_store,
            usage: Default::default(),
        };
        let platform = &event.source.platform;
        let stored = if self.inbox.is_empty() {
            deps.persist("store the user message", || {
                deps.store.append_messages(append.clone())
            })
            .await?
        } else {
            deps.persist("store the user message", || {
                deps.store
                    .inbox_start_turn(append.clone(), platform, self.inbox, now)
            })
            .await?
        };
        Ok(Start {
            session: session.id,
            model_override: session.model_override,
            reset: session.reset,
            history,
            history_ids,
            input,
            user_row: stored.last().copied().unwrap_or_default(),
            previews: None,
        })
    }

    /// A message whose user message a stopped run stored. When that run
    /// also stored the reply, the outbox delivers it (`Err` with the
    /// outcome); otherwise the turn runs again from the stored message.
    async fn resume(
        &self,
        turn: InboxTurn,
        previews: Vec<String>,
    ) -> Result<Result<Start, TurnOutcome>, CoreError> {
        let deps = self.deps;
        let key = reply_key(&turn.session, turn.message_id);
        if let Some(entry) = deps
            .persist("read the outbox", || deps.store.outbox_entry(&key))
            .await?
        {
            debug!(key = %entry.key, "reply already produced for a resumed message");
            if entry.state == OutboxState::Pending {
                deliver_entry(deps, &entry).await?;
            }
            return Ok(Err(TurnOutcome {
                text: entry.text,
                messages: Vec::new(),
                usage: Default::default(),
                finish_reason: FinishReason::Stop,
                unused_steer: Vec::new(),
            }));
        }
        info!(session = %turn.session, "answering a message the previous run did not finish");
        let record = deps
            .persist("read the session", || deps.store.session(&turn.session))
            .await?;
        let stored = deps
            .persist("read the conversation", || {
                deps.store.messages(&turn.session)
            })
            .await?;
        let mut history = Vec::new();
        let mut history_ids = Vec::new();
        let mut input = None;
        for m in stored {
            match m.id.cmp(&turn.message_id) {
                std::cmp::Ordering::Less => {
                    history.push(m.message);
                    history_ids.push(m.id);
                }
                std::cmp::Ordering::Equal => input = Some(m.message),
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(Ok(Start {
            session: turn.session,
            model_override: record.and_then(|r| r.model_override),
            reset: None,
            history,
            history_ids,
            input: input.unwrap_or_else(|| ChatMessage::user(notes_only(self.event))),
            user_row: turn.message_id,
            previews: Some(previews),
        }))
    }

    /// Runs the agent from a stored user message and answers.
    async fn answer(
        &self,
        mut start: Start,
        interrupt: &CancellationToken,
        slot: &TurnSlot,
    ) -> Result<(TurnOutcome, TurnEnded), CoreError> {
        let (deps, event, mode) = (self.deps, self.event, self.mode);
        let reply_key = reply_key(&start.session, start.user_row);
        let mut options = event.options.clone();
        if options.model.is_none() {
            options.model = start.model_override.clone();
        }
        let owner = Owner::of(&event.source);
        // The user's notes are part of the system prompt the budget counts.
        let extra = self.system_prompt(owner.as_ref()).await;
        let context = self
            .context(&mut start, &mut options, interrupt, extra.as_deref())
            .await?;
        let mut turn = deps.agent.run_turn(TurnRequest {
            session_id: start.session.clone(),
            history: context.history,
            input: start.input,
            system_prompt: context.system_prompt,
            options,
            model_calls: Some(deps.metrics.model_calls()),
            approval_policy: Some(deps.approvals.policy(owner.clone())),
        });
        // Its approval requests can be answered by id until it ends.
        let requests = deps.approvals.begin_turn();
        slot.lock().control = Some(turn.control.clone());
        deps.hooks
            .emit(self.hook_event(hooks::AGENT_START, &start.session));
        // The tools of the step running now, for `agent:step`.
        let mut step_tools: Vec<String> = Vec::new();
        let mut steps = 0;
        let cancel = match mode {
            ReplyMode::Stream { cancel, .. } => cancel.clone(),
            _ => CancellationToken::new(),
        };
        let adapter = deps.adapters.get(&event.source.platform).cloned();
        // A resumed turn shows its reply whole, in place of what the stopped
        // run showed.
        let previous = start.previews.unwrap_or_default();
        let resumed = !previous.is_empty();
        let mut consumer = match (mode, &adapter) {
            (ReplyMode::Stream { .. }, _) | (_, None) => None,
            (_, Some(adapter)) => {
                new_consumer(deps, adapter.as_ref(), event, mode, start.reset, resumed)
            }
        };
        let mut recorded_previews = 0;
        let mut interrupted: Option<Interruption> = None;
        // "typing…" while the agent works, renewed before the platform hides it.
        let typing_target = match (&adapter, &event.source.chat_id, mode) {
            (Some(adapter), Some(chat_id), ReplyMode::Adapter)
                if adapter.messenger().and_then(|m| m.typing()).is_some() =>
            {
                Some(ChatTarget {
                    chat_id: chat_id.clone(),
                    thread_id: event.source.thread_id.clone(),
                })
            }
            _ => None,
        };
        let mut typing = tokio::time::interval(TYPING_EVERY);
        let mut first_token = true;
        loop {
            if let Some(consumer) = &consumer
                && consumer.created().len() > recorded_previews
            {
                recorded_previews = consumer.created().len();
                self.record_previews(consumer.created()).await?;
            }
            let flush_at = consumer.as_ref().and_then(Consumer::next_flush);
            let next = tokio::select! {
                next = turn.events.recv() => next,
                _ = typing.tick(), if typing_target.is_some() => {
                    if let (Some(adapter), Some(target)) = (&adapter, &typing_target)
                        && let Some(typing) = adapter.messenger().and_then(|m| m.typing())
                        && let Err(e) = typing.typing(target).await
                    {
                        debug!(error = %e, "typing indicator failed");
                    }
                    continue;
                }
                () = sleep_until(flush_at), if flush_at.is_some() => {
                    if let Some(consumer) = consumer.as_mut() {
                        consumer.flush(true).await;
                    }
                    continue;
                }
                () = interrupt.cancelled(), if interrupted.is_none() => { interrupted = Some(Interruption::Worker); turn.control.interrupt(); continue; }
                () = cancel.cancelled(), if interrupted.is_none() => { interrupted = Some(Interruption::Submitter); turn.control.interrupt(); continue; }
                () = deps.turns.cancelled(), if interrupted.is_none() => { interrupted = Some(Interruption::Shutdown); turn.control.interrupt(); continue; }
            };
            let Some(agent_event) = next else {
                if let Some(consumer) = consumer {
                    consumer.abandon().await;
                }
                delete_previews(deps, event, &previous).await;
                return Err(CoreError::Agent(AgentError::Protocol(
                    "the agent stopped without a final event".into(),
                )));
            };
            match agent_event {
                AgentEvent::Final(mut outcome) => {
                    slot.finishing.store(true, Ordering::SeqCst);
                    let cut_off = outcome.finish_reason == FinishReason::Incomplete;
                    if cut_off {
                        warn!(session = %start.session, "the model's answer was cut off; the user is told");
                        mark_partial(&mut outcome, CUT_OFF_MARK);
                    } else if outcome.finish_reason == FinishReason::Interrupted {
                        debug!(session = %start.session, by = ?interrupted, "the reply was interrupted; it is stored marked partial");
                        mark_partial(&mut outcome, INTERRUPTED_MARK);
                    }
                    match consumer {
                        Some(mut consumer) if interrupted.is_none() => {
                            if cut_off {
                                let notice = AgentEvent::TextDelta(format!("\n\n{CUT_OFF_NOTICE}"));
                                consumer.on_event(&notice).await;
                            }
                            let reply = ReplyTo {
                                session: &start.session,
                                key: reply_key,
                                previous: &previous,
                                attachments: Vec::new(),
                            };
                            finish_reply(deps, event, mode, reply, consumer, &outcome).await?;
                        }
                        other => {
                            if let Some(consumer) = other {
                                consumer.abandon().await;
                            }
                            // Cut short by the drain: left unfinished, so the
                            // next start continues it in place of its previews.
                            if interrupted == Some(Interruption::Shutdown) && !self.inbox.is_empty()
                            {
                                return Err(CoreError::Cancelled);
                            }
                            delete_previews(deps, event, &previous).await;
                            if !self.ephemeral() {
                                persist_reply(deps, &start.session, &outcome).await?;
                            }
                        }
                    }
                    if let Some(files) = stream_files(deps, mode, &outcome) {
                        emit(mode, files).await;
                    }
                    emit(mode, TurnEvent::Agent(AgentEvent::Final(outcome.clone()))).await;
                    let ended = if interrupted.is_none() {
                        TurnEnded::Answered
                    } else {
                        TurnEnded::Stopped
                    };
                    return Ok((outcome, ended));
                }
                AgentEvent::Failed(error) => {
                    if let Some(consumer) = consumer {
                        consumer.abandon().await;
                    }
                    delete_previews(deps, event, &previous).await;
                    return Err(match error {
                        AgentError::Cancelled if interrupted == Some(Interruption::Worker) => {
                            CoreError::Interrupted
                        }
                        AgentError::Cancelled => CoreError::Cancelled,
                        other => CoreError::Agent(other),
                    });
                }
                AgentEvent::ApprovalRequested {
                    ref request_id,
                    ref tool,
                    ref key,
                    ref description,
                    timeout,
                } => {
                    requests.track(
                        request_id,
                        &start.session,
                        &event.source.platform,
                        owner.clone(),
                        &turn.control,
                    );
                    if mode.is_stream() {
                        emit(mode, TurnEvent::Agent(agent_event.clone())).await;
                    } else {
                        let text = approval_prompt(tool, key, description, timeout);
                        deliver(deps, &ReplyMode::Adapter, event, text).await;
                    }
                }
                other => {
                    match &other {
                        AgentEvent::ToolFinished { name, .. } => step_tools.push(name.clone()),
                        AgentEvent::ToolStarted { .. } => {}
                        // The agent goes on after the step's tools.
                        _ if !step_tools.is_empty() => {
                            steps += 1;
                            deps.hooks.emit(
                                self.hook_event(hooks::AGENT_STEP, &start.session)
                                    .with("iteration", steps)
                                    .with("tool_names", std::mem::take(&mut step_tools)),
                            );
                        }
                        _ => {}
                    }
                    if first_token && matches!(&other, AgentEvent::TextDelta(t) if !t.is_empty()) {
                        first_token = false;
                        deps.metrics
                            .first_token(&event.source.platform, self.began.elapsed());
                    }
                    if let Some(consumer) = consumer.as_mut() {
                        consumer.on_event(&other).await;
                    }
                    emit(mode, TurnEvent::Agent(other)).await;
                }
            }
        }
    }

    /// The turn's extra system prompt: the source's, then the user's
    /// notes ([`crate::tools::memory_prompt`]). Notes that cannot be read
    /// are left out (the turn goes on without them).
    async fn system_prompt(&self, owner: Option<&Owner>) -> Option<String> {
        let extra = self.event.system_prompt.clone();
        let Some(owner) = owner else {
            return extra;
        };
        let notes = match self.deps.store.memory_notes(owner).await {
            Ok(notes) => notes,
            Err(e) => {
                warn!(error = %e, "cannot read the user's notes; the turn runs without them");
                return extra;
            }
        };
        match (extra, crate::tools::memory_prompt(&notes)) {
            (Some(extra), Some(memory)) => Some(format!("{extra}\n\n{memory}")),
            (extra, memory) => extra.or(memory),
        }
    }

    /// The turn's history fitted to the context budget (older messages
    /// summarized when it would overflow), its system prompt (`system_prompt`,
    /// the source's and the user's notes) with the session's personality,
    /// and its reasoning effort in `options`.
    async fn context(
        &self,
        start: &mut Start,
        options: &mut hermod_model::TurnOptions,
        interrupt: &CancellationToken,
        system_prompt: Option<&str>,
    ) -> Result<crate::session::context::Prepared, CoreError> {
        let deps = self.deps;
        let loaded = crate::session::context::Loaded {
            session: &start.session,
            model_override: start.model_override.as_deref(),
            history: std::mem::take(&mut start.history),
            ids: std::mem::take(&mut start.history_ids),
            input: &start.input,
            system_prompt,
        };
        let submitter = match self.mode {
            ReplyMode::Stream { cancel, .. } => Some(cancel),
            _ => None,
        };
        let stop: Vec<&CancellationToken> = [Some(interrupt), submitter, Some(&deps.turns)]
            .into_iter()
            .flatten()
            .collect();
        let prepared = deps.context.prepare(deps, loaded, &stop).await?;
        if options.reasoning_effort.is_none() {
            options.reasoning_effort = prepared.reasoning_effort.clone();
        }
        Ok(prepared)
    }

    /// Records the preview messages shown so far, so a run that stops
    /// before the reply is stored leaves nothing behind after a restart.
    async fn record_previews(&self, ids: &[String]) -> Result<(), CoreError> {
        if self.inbox.is_empty() {
            return Ok(());
        }
        let deps = self.deps;
        let platform = &self.event.source.platform;
        let at = deps.clock.now_ms();
        deps.persist("record the reply's preview", || {
            deps.store.inbox_set_previews(platform, self.inbox, ids, at)
        })
        .await
    }
}

/// What a chat is told when a tool asks: what it wants, the answers, and
/// when it is denied by itself.
fn approval_prompt(
    tool: &str,
    key: &str,
    description: &str,
    timeout: std::time::Duration,
) -> String {
    let secs = timeout.as_secs();
    let wait = if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    };
    format!(
        "🔐 Approval needed: {tool} wants to {description}\n\
         Reply /approve (this once), /approve session (allow {key} for the rest of this \
         conversation), /approve always (allow {key} from now on; /approvals lists and \
         revokes), or /deny [reason]. Denied automatically if nobody answers within {wait}."
    )
}

/// A partial reply (cut off, interrupted): its stored text ends with
/// `mark`, so the record, and the model next turn, know it is partial. The
/// mark ends the last assistant text, or follows the tool results the turn
/// stopped at (keeping each tool call answered by its result).
fn mark_partial(outcome: &mut TurnOutcome, mark: &str) {
    let with_mark = |text: String| {
        if text.trim().is_empty() {
            mark.to_owned()
        } else {
            format!("{text}\n\n{mark}")
        }
    };
    match outcome.messages.last_mut() {
        Some(last) if last.role == Role::Assistant && last.tool_calls.is_empty() => {
            let text = last.content.as_ref().map(|c| c.text()).unwrap_or_default();
            last.content = Some(Content::Text(with_mark(text)));
        }
        Some(_) => outcome.messages.push(ChatMessage::assistant(mark)),
        None => outcome
            .messages
            .push(ChatMessage::assistant(with_mark(outcome.text.clone()))),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
