//! The session worker: one task per session key that takes the key's
//! messages in order.
//!
//! For each message: check access (refusing or pairing strangers), run it
//! as a slash command, or start an agent turn. While a turn runs the worker
//! stays responsive: commands that may run mid-turn are answered at once,
//! and other messages follow the busy-input mode (interrupt, queue, steer).

use crate::access::{self, Access, Pairing, PairingRequest, Tier};
use crate::adapter::Adapter;
use crate::clock::Clock;
use crate::commands;
use crate::config::{BusyMode, DmBehavior, GatewayConfig};
use crate::durable::{InFlight, retry_store};
use crate::error::CoreError;
use crate::reply::ReplyMode;
use crate::router::Shared;
use crate::session::turn::{self, Running, TurnEnd};
use crate::session::{Pending, reply};
use hermod_agent::Agent;
use hermod_model::{
    Capabilities, InboundEvent, PlatformId, SessionKey, SessionKeyPolicy, parse_command,
};
use hermod_store::{InboxState, Store};
use jiff::tz::TimeZone;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// At most one busy acknowledgement per session in this window.
const ACK_COOLDOWN: Duration = Duration::from_secs(30);

/// A message waiting for its worker.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) event: InboundEvent,
    pub(crate) reply: ReplyMode,
    /// Inbox keys of the platform messages this job answers (several when
    /// follow-ups were merged); marked done when the job is handled.
    pub(crate) inbox: Vec<String>,
    /// The access verdict, when the submitter already checked it (so the
    /// worker does not check twice).
    pub(crate) access: Option<Access>,
    /// A turn a drain cut short, continued at start: its sender's access
    /// is checked again, a refused one gets no answer at all, and an
    /// allowed one is told the turn continues.
    pub(crate) resumed: bool,
}

impl Job {
    pub(crate) fn new(event: InboundEvent, reply: ReplyMode) -> Self {
        Self {
            event,
            reply,
            inbox: Vec::new(),
            access: None,
            resumed: false,
        }
    }
}

/// Marks the job's inbound messages handled (retrying while storage
/// fails) and releases them.
pub(crate) async fn inbox_done(deps: &WorkerDeps, event: &InboundEvent, keys: &[String]) {
    let platform = &event.source.platform;
    for key in keys {
        let at = deps.clock.now_ms();
        if let Err(e) = deps
            .persist("mark an inbound message handled", || {
                deps.store
                    .inbox_set_state(platform, key, InboxState::Done, at)
            })
            .await
        {
            warn!(error = %e, key = %key, "could not mark an inbound message handled; the next start resumes it without answering twice");
        }
    }
    release_inbox(deps, platform, keys);
}

/// Lets recovery take these inbound messages up again (they stay unfinished).
pub(crate) fn release_inbox(deps: &WorkerDeps, platform: &PlatformId, keys: &[String]) {
    let items: Vec<_> = keys.iter().map(|k| (platform.clone(), k.clone())).collect();
    deps.inflight_inbox.release(&items);
}

/// What every worker needs, shared.
pub(crate) struct WorkerDeps {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) agent: Arc<dyn Agent>,
    pub(crate) adapters: HashMap<PlatformId, Arc<dyn Adapter>>,
    pub(crate) config: Arc<GatewayConfig>,
    pub(crate) key_policy: SessionKeyPolicy,
    pub(crate) clock: Clock,
    /// The agent's model when a session has no override.
    pub(crate) default_model: String,
    pub(crate) timezone: TimeZone,
    pub(crate) streaming: crate::delivery::StreamingConfig,
    pub(crate) display: crate::delivery::DisplayConfig,
    /// Where `local` deliveries are written.
    pub(crate) output_dir: std::path::PathBuf,
    /// The speech endpoint for voice replies (`/voice`), when configured.
    pub(crate) voice: Option<crate::session::voice::VoiceOut>,
    /// Cancelled when running turns must stop (the drain deadline passed).
    pub(crate) turns: CancellationToken,
    /// Every component's state, for `/health`.
    pub(crate) health: crate::health::Health,
    /// Each platform's pause and resume controls, for `/platform`.
    pub(crate) platforms: crate::supervisor::Platforms,
    /// Inbound messages (platform, inbox key) queued or being handled in
    /// this process: recovery never hands one out twice.
    pub(crate) inflight_inbox: InFlight<(PlatformId, String)>,
    /// Outbox entries being delivered in this process.
    pub(crate) delivering: InFlight<i64>,
    /// When each refused sender was last logged.
    pub(crate) refusals: access::Refusals,
    /// The gateway's counters, gauges and histograms.
    pub(crate) metrics: crate::metrics::Metrics,
    /// The chat turns running now, for the drain's notices and records.
    pub(crate) running: Arc<crate::resume::RunningTurns>,
    /// Cancelled by `/restart`: the gateway stops as on a signal and
    /// reports that a restart was asked for.
    pub(crate) restart: CancellationToken,
    /// Reads a new message's files into what the model sees.
    pub(crate) media: Arc<dyn crate::media::MediaReader>,
    /// The operator's hooks: told of sessions, messages, turns and
    /// deliveries, asked about commands.
    pub(crate) hooks: crate::hooks::Hooks,
    /// Where files named in `MEDIA:` lines may come from.
    pub(crate) media_roots: crate::delivery::MediaRoots,
    /// What `/reload-mcp` reconnects, when MCP servers are configured.
    pub(crate) tools_reload: Option<Arc<dyn crate::tools_reload::ToolsReload>>,
    /// Approval grants ("for this session", "always") and every running
    /// turn's open requests.
    pub(crate) approvals: Arc<crate::tools::Grants>,
    /// The context budget, compression and session presets.
    pub(crate) context: crate::session::context::Context,
    /// This gateway as a node of a cluster sharing the database; `None`
    /// for a gateway alone on its database.
    pub(crate) cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl WorkerDeps {
    /// The session key an event is handled under: the one it asks for,
    /// else built from its source.
    pub(crate) fn session_key(&self, event: &InboundEvent) -> SessionKey {
        match &event.route {
            Some(key) => key.clone(),
            None => SessionKey::build(&event.source, &self.key_policy),
        }
    }

    /// The settings key of a record kept per gateway (the turns a drain
    /// cut short, recent start times): `base` alone on a database, and
    /// `base:<gateway name>` in a cluster, so gateways keep theirs apart.
    pub(crate) fn node_setting(&self, base: &str) -> String {
        match &self.cluster {
            Some(cluster) => format!("{base}:{}", cluster.name()),
            None => base.to_owned(),
        }
    }
}

impl std::fmt::Debug for WorkerDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerDeps")
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WorkerDeps {
    /// A store operation retried while it fails for a reason that may pass
    /// (see [`retry_store`]), until the gateway cancels its turns.
    pub(crate) async fn persist<T, F, Fut>(&self, what: &str, op: F) -> Result<T, CoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, hermod_store::StoreError>>,
    {
        retry_store(&self.health, &self.turns, what, op).await
    }

    /// The capabilities of a platform (defaults for a source without an adapter).
    /// A platform's capabilities. A platform with no adapter can only have
    /// been submitted for by code in this process (`Gateway::inbound`: tests,
    /// scheduled work), not by a platform's users, so it is trusted like a
    /// platform that authenticates its callers.
    pub(crate) fn capabilities(&self, platform: &PlatformId) -> Capabilities {
        self.adapters.get(platform).map_or_else(
            || Capabilities {
                authenticates_callers: true,
                ..Capabilities::default()
            },
            |a| a.capabilities(),
        )
    }
}

/// The worker's mutable state, which slash commands act on.
#[derive(Debug)]
pub(crate) struct WorkerState {
    pub(crate) running: Option<Running>,
    pub(crate) pending: Pending,
    /// Messages that arrived while a finished turn delivered its reply.
    deferred: std::collections::VecDeque<Job>,
    last_ack: Option<Instant>,
}

impl WorkerState {
    /// Interrupts the running turn (it ends at its next checkpoint).
    pub(crate) fn interrupt(&self) -> bool {
        match &self.running {
            Some(running) => {
                running.interrupt.cancel();
                true
            }
            None => false,
        }
    }
}

/// What the worker tells a user whose message waits.
#[derive(Debug, Clone, Copy)]
enum Ack {
    Interrupting,
    Queued,
    Steered,
}

impl Ack {
    fn text(self) -> &'static str {
        match self {
            Ack::Interrupting => {
                "⚡ Interrupting the current reply; I'll answer your new message next."
            }
            Ack::Queued => "⏳ Queued for the next turn.",
            Ack::Steered => "⏩ Steered into the current reply.",
        }
    }
}

pub(crate) async fn run_worker(
    shared: Arc<Shared>,
    key: SessionKey,
    id: u64,
    mut rx: mpsc::Receiver<Box<Job>>,
) {
    let deps = shared.deps();
    let _live = deps.metrics.session_worker();
    let mut state = WorkerState {
        running: None,
        pending: Pending::new(deps.config.session_queue),
        deferred: std::collections::VecDeque::new(),
        last_ack: None,
    };
    let idle = deps.config.worker_idle();
    let mut open = true;
    let mut lease = SessionLease::new(deps, &key);
    loop {
        let is_idle = state.running.is_none() && state.pending.is_empty();
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(job) => {
                    if lease.take().await {
                        on_job(&shared, &key, &mut state, *job).await;
                    } else {
                        give_back(deps, &job);
                    }
                }
                None => open = false,
            },
            end = async { (&mut state.running.as_mut().expect("guarded by the select condition").task).await },
                if state.running.is_some() =>
            {
                state.running = None;
                on_turn_end(&key, &mut state, end);
                // Messages that came while the reply was being delivered
                // are handled now, as if they had just arrived.
                while state.running.is_none()
                    && let Some(job) = state.deferred.pop_front()
                {
                    handle(&shared, &key, &mut state, job).await;
                }
                start_next(&shared, &key, &mut state);
            }
            () = tokio::time::sleep(idle), if is_idle && open => {
                if shared.retire_if_idle(&key, id, &rx) {
                    break;
                }
            }
        }
        if state.running.is_none() && state.pending.is_empty() && state.deferred.is_empty() {
            // Nothing to do here now: another gateway may take the session.
            lease.release().await;
        }
        if !open && state.running.is_none() && state.pending.is_empty() {
            break;
        }
    }
    lease.release().await;
    debug!(session_key = %key, "session worker stopped");
}

/// The session's lease in a cluster (see `crate::cluster`): taken before
/// the worker handles a message, given up whenever it has nothing to do.
/// Alone on its database a gateway takes none.
struct SessionLease<'a> {
    cluster: Option<&'a crate::cluster::Cluster>,
    name: String,
    held: bool,
}

impl<'a> SessionLease<'a> {
    fn new(deps: &'a WorkerDeps, key: &SessionKey) -> Self {
        Self {
            cluster: deps.cluster.as_deref(),
            name: crate::cluster::session_lease(key),
            held: false,
        }
    }

    /// Holds the lease, waiting while another gateway works on the
    /// session; false when the gateway stopped first.
    async fn take(&mut self) -> bool {
        match self.cluster {
            None => true,
            Some(_) if self.held => true,
            Some(cluster) => {
                self.held = cluster.take(&self.name).await;
                self.held
            }
        }
    }

    async fn release(&mut self) {
        if let Some(cluster) = self.cluster
            && self.held
        {
            cluster.release(&self.name).await;
            self.held = false;
        }
    }
}

/// A job the worker cannot handle because the gateway is stopping: its
/// inbound messages stay recorded and unfinished, for whichever gateway
/// takes the session next; a streaming caller hears why.
fn give_back(deps: &WorkerDeps, job: &Job) {
    release_inbox(deps, &job.event.source.platform, &job.inbox);
    if let crate::reply::ReplyMode::Stream { events, .. } = &job.reply {
        let _ = events.try_send(crate::reply::TurnEvent::Failed(CoreError::ShuttingDown));
    }
}

fn on_turn_end(
    key: &SessionKey,
    state: &mut WorkerState,
    end: Result<TurnEnd, tokio::task::JoinError>,
) {
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            warn!(session_key = %key, error = %e, "a turn task failed");
            return;
        }
    };
    let Some(source) = end.source.filter(|_| !end.unused_steer.is_empty()) else {
        return;
    };
    // Steer text the agent could not take is not lost: it runs next.
    debug!(session_key = %key, count = end.unused_steer.len(), "steer text carried over to the next turn");
    let event = InboundEvent::text(source, end.unused_steer.join("\n"));
    state
        .pending
        .push_front(Job::new(event, ReplyMode::Adapter));
}

fn start_next(shared: &Arc<Shared>, key: &SessionKey, state: &mut WorkerState) {
    if state.running.is_none()
        && let Some(job) = state.pending.pop()
    {
        state.running = Some(turn::start(shared, key.clone(), job));
    }
}

async fn on_job(shared: &Arc<Shared>, key: &SessionKey, state: &mut WorkerState, job: Job) {
    let deps = shared.deps();
    if deps.cluster.is_some() && answered_elsewhere(deps, &job).await {
        return release_inbox(deps, &job.event.source.platform, &job.inbox);
    }
    let source = &job.event.source;
    let caps = deps.capabilities(&source.platform);
    // Whether access control applies is the platform's declaration
    // (`authenticates_callers`, checked inside `access::check`), never how
    // the job is answered: a platform that streams its replies gets the
    // allowlist like any other.
    let verdict = match job.access {
        Some(verdict) => Ok(verdict),
        None => {
            access::check(
                &deps.config,
                &caps,
                source,
                job.event.vouched,
                deps.store.as_ref(),
            )
            .await
        }
    };
    match verdict {
        // A message recorded while its sender was not allowed keeps no
        // content (the verdict came with it): nothing to answer.
        Ok(Access::Allowed) if job.access.is_some() && is_empty(&job.event) => {
            return inbox_done(deps, &job.event, &job.inbox).await;
        }
        Ok(Access::Allowed) if job.resumed => {
            // The reply comes as a new message below the notice: the half
            // reply the stop cut short (above the stopping notice) goes.
            drop_stale_previews(deps, &job).await;
            let notice = ack_event(&job.event);
            let text = crate::resume::RESUME_NOTICE.to_owned();
            reply(deps, &ReplyMode::Adapter, &notice, text).await;
        }
        Ok(Access::Allowed) => {}
        // Nobody asked anew: a sender no longer allowed hears nothing.
        Ok(Access::Denied(_)) if job.resumed => {
            tracing::info!(platform = %source.platform, user = ?source.user_id, "not continuing an interrupted turn: its sender is no longer allowed");
            return inbox_done(deps, &job.event, &job.inbox).await;
        }
        Ok(Access::Denied(behavior)) => {
            refuse(deps, &job, behavior).await;
            return inbox_done(deps, &job.event, &job.inbox).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "access check failed; the message is taken up again later");
            release_inbox(deps, &source.platform, &job.inbox);
            return reply(
                deps,
                &job.reply,
                &job.event,
                format!("⚠️ {}", CoreError::from(e).user_message()),
            )
            .await;
        }
    }
    // The agent is done and its reply is on its way: the user has seen
    // it, so this message is not "while the agent works". It waits the
    // moment until the turn is over.
    if state
        .running
        .as_ref()
        .is_some_and(|r| r.slot.is_finishing())
    {
        state.deferred.push_back(job);
        return;
    }
    handle(shared, key, state, job).await;
}

/// Whether another gateway answered the job's messages while it waited
/// for the session (checked once the session's lease is held, so nobody
/// else is working on them now). Any job may meet this in a cluster: a
/// message waiting here for a session another gateway works on is, after
/// a while, taken up by that gateway's recovery sweep too.
async fn answered_elsewhere(deps: &WorkerDeps, job: &Job) -> bool {
    let Some(key) = job.inbox.first() else {
        return false;
    };
    let platform = &job.event.source.platform;
    matches!(
        deps.store.inbox_entry(platform, key).await,
        Ok(Some(entry)) if entry.state == InboxState::Done
    )
}

fn is_empty(event: &InboundEvent) -> bool {
    event.attachments.is_empty() && event.content.text().trim().is_empty()
}

/// An allowed message: a command, a new turn, or busy input.
async fn handle(shared: &Arc<Shared>, key: &SessionKey, state: &mut WorkerState, job: Job) {
    let deps = shared.deps();
    deps.hooks.emit(
        crate::hooks::HookEvent::about_message(crate::hooks::MESSAGE_RECEIVED, &job.event)
            .with("message_id", job.event.message_id.clone()),
    );
    let caps = deps.capabilities(&job.event.source.platform);
    if let hermod_model::Content::Text(text) = &job.event.content
        && job.event.attachments.is_empty()
        && let Some(command) = parse_command(text, caps.command_prefix)
    {
        // Callers a platform authenticates itself (an API key) hold the
        // key to everything; command tiers are for chat users.
        let tier = if caps.authenticates_callers {
            Tier::Unrestricted
        } else {
            Tier::of(
                deps.config.platform(&job.event.source.platform),
                &job.event.source,
            )
        };
        commands::dispatch(shared, key, state, job, &command, &tier).await;
        start_next(shared, key, state);
        return;
    }
    if state.running.is_none() {
        state.running = Some(turn::start(shared, key.clone(), job));
        return;
    }
    on_busy(shared, state, job).await;
}

/// A message while a turn runs.
async fn on_busy(shared: &Arc<Shared>, state: &mut WorkerState, job: Job) {
    let deps = shared.deps();
    let mode = deps.config.busy_mode(&job.event.source.platform);
    let streamed = job.reply.is_stream();
    let ack = match mode {
        // Streamed requests each need their own answer: they always wait.
        BusyMode::Steer if !streamed && job.event.attachments.is_empty() => {
            let steered = state
                .running
                .as_ref()
                .and_then(|r| r.slot.control())
                .is_some_and(|control| control.steer(job.event.content.text()));
            if steered {
                send_ack(deps, state, &job.event, Ack::Steered).await;
                return inbox_done(deps, &job.event, &job.inbox).await;
            }
            Ack::Queued
        }
        BusyMode::Interrupt => Ack::Interrupting,
        BusyMode::Queue | BusyMode::Steer => Ack::Queued,
    };
    let ack_to = ack_event(&job.event);
    if enqueue(deps, state, job).await && !streamed {
        if matches!(ack, Ack::Interrupting) {
            state.interrupt();
        }
        send_ack(deps, state, &ack_to, ack).await;
    } else if streamed && matches!(ack, Ack::Interrupting) {
        state.interrupt();
    }
}

/// Queues a job; a full queue is answered, never grown. Returns whether it
/// was queued.
pub(crate) async fn enqueue(deps: &WorkerDeps, state: &mut WorkerState, job: Job) -> bool {
    match state.pending.push(job) {
        Ok(()) => true,
        Err(job) => {
            let error = CoreError::QueueFull {
                capacity: deps.config.session_queue,
            };
            reply(deps, &job.reply, &job.event, format!("⏳ {error}")).await;
            inbox_done(deps, &job.event, &job.inbox).await;
            false
        }
    }
}

/// The parts of an event an acknowledgement needs (the job itself moved
/// into the queue).
/// Deletes the previews an interrupted run showed for `job`'s messages
/// and forgets them, so its reply is sent afresh rather than edited into
/// a message older than the notices that followed it.
async fn drop_stale_previews(deps: &WorkerDeps, job: &Job) {
    let platform = &job.event.source.platform;
    let mut ids = Vec::new();
    for key in &job.inbox {
        if let Ok(Some(entry)) = deps.store.inbox_entry(platform, key).await {
            ids.extend(entry.preview_ids);
        }
    }
    if ids.is_empty() {
        return;
    }
    crate::session::answer::delete_previews(deps, &job.event, &ids).await;
    let now = deps.clock.now_ms();
    if let Err(e) = deps
        .store
        .inbox_set_previews(platform, &job.inbox, &[], now)
        .await
    {
        // The reply then edits the deleted previews, fails, and is sent anew.
        tracing::debug!(error = %e, "could not forget the deleted previews");
    }
}

fn ack_event(event: &InboundEvent) -> InboundEvent {
    let mut ack = InboundEvent::text(event.source.clone(), "");
    ack.message_id = event.message_id.clone();
    ack
}

async fn send_ack(deps: &WorkerDeps, state: &mut WorkerState, event: &InboundEvent, ack: Ack) {
    if !deps.config.busy_ack {
        return;
    }
    let now = Instant::now();
    if state
        .last_ack
        .is_some_and(|at| now.duration_since(at) < ACK_COOLDOWN)
    {
        return;
    }
    state.last_ack = Some(now);
    reply(deps, &ReplyMode::Adapter, event, ack.text().to_owned()).await;
}

/// A message from someone who is not allowed. Groups: silence. DMs: a
/// pairing code, or silence, as configured.
/// The answer to a refused request that must get one.
const NOT_ALLOWED: &str = "You are not allowed to talk to this agent.";

async fn refuse(deps: &WorkerDeps, job: &Job, behavior: DmBehavior) {
    let source = &job.event.source;
    deps.refusals.note(source);
    // A request/response source waits for an answer whatever happens; a
    // chat is left in silence.
    let silence = || async {
        if job.reply.is_stream() {
            reply(deps, &job.reply, &job.event, NOT_ALLOWED.to_owned()).await;
        }
    };
    if !source.chat_type.is_dm() || behavior == DmBehavior::Ignore {
        return silence().await;
    }
    let Some(user) = source.participant() else {
        return silence().await;
    };
    let pairing = Pairing::new(deps.store.as_ref());
    let text = match pairing
        .request(
            &source.platform,
            user,
            source.user_name.as_deref(),
            deps.clock.now_ms(),
        )
        .await
    {
        Ok(PairingRequest::Code(code)) => access::code_message(&source.platform, &code),
        Ok(PairingRequest::TooMany) => access::TOO_MANY_MESSAGE.to_owned(),
        Ok(PairingRequest::Quiet) => return silence().await,
        Err(e) => {
            warn!(error = %e, "pairing request failed");
            return silence().await;
        }
    };
    reply(deps, &job.reply, &job.event, text).await;
}
