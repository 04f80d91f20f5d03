//! The router: one worker per session key.
//!
//! Messages of one session are handled in order by that session's worker;
//! different sessions run in parallel. Each worker has a bounded queue, and a
//! full queue is answered with [`CoreError::QueueFull`] instead of growing.
//! Workers stop after a period with nothing to do, so memory does not grow
//! with the number of sessions ever seen.

use crate::access::Access;
use crate::error::CoreError;
use crate::reply::{ReplyMode, TurnStream};
use crate::session::{Job, WorkerDeps, run_worker};
use hermod_model::{InboundEvent, SessionKey};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

/// Capacity of the event channel of a streamed turn. Small: it only smooths
/// the hand-over between the agent and a slow client.
const STREAM_CHANNEL: usize = 64;

/// Routes inbound events to session workers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Router {
    shared: Arc<Shared>,
}

/// What adapters use to submit input. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Inbound {
    router: Router,
}

#[derive(Debug)]
pub(crate) struct Shared {
    workers: Mutex<Workers>,
    deps: Arc<WorkerDeps>,
    tracker: TaskTracker,
}

#[derive(Debug, Default)]
struct Workers {
    closed: bool,
    next_id: u64,
    by_key: HashMap<SessionKey, WorkerSlot>,
}

#[derive(Debug)]
struct WorkerSlot {
    id: u64,
    /// Boxed: a channel allocates its slots in blocks of 32, and a job is
    /// several hundred bytes — boxing keeps an idle worker's queue small.
    queue: mpsc::Sender<Box<Job>>,
}

impl Router {
    pub(crate) fn new(deps: WorkerDeps, tracker: TaskTracker) -> Self {
        Self {
            shared: Arc::new(Shared {
                workers: Mutex::new(Workers::default()),
                deps: Arc::new(deps),
                tracker,
            }),
        }
    }

    /// A router handle from inside a worker.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    pub(crate) fn from_shared(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::clone(shared),
        }
    }

    /// The handle adapters submit through.
    pub fn inbound(&self) -> Inbound {
        Inbound {
            router: self.clone(),
        }
    }

    /// Number of live session workers.
    pub fn active_workers(&self) -> usize {
        self.shared.lock().by_key.len()
    }

    /// Stops accepting input. Queued messages are still handled (or
    /// cancelled once running turns are cancelled); workers exit when their
    /// queues are empty.
    pub fn close(&self) {
        let mut workers = self.shared.lock();
        workers.closed = true;
        workers.by_key.clear();
    }

    pub(crate) fn submit(&self, event: InboundEvent, reply: ReplyMode) -> Result<(), CoreError> {
        self.submit_job(Job::new(event, reply))
    }

    /// Queues a job for its session's worker. A job answering inbound
    /// messages that are already queued or being handled in this process
    /// (a recovery sweep finding them unfinished) is dropped: the first
    /// one answers them.
    pub(crate) fn submit_job(&self, job: Job) -> Result<(), CoreError> {
        self.try_submit_job(job).map_err(|(e, _)| e)
    }

    /// [`Router::submit_job`], handing the job back when it was not queued.
    pub(crate) fn try_submit_job(&self, job: Job) -> Result<(), (CoreError, Box<Job>)> {
        let deps = &self.shared.deps;
        let claimed: Vec<_> = job
            .inbox
            .iter()
            .map(|k| (job.event.source.platform.clone(), k.clone()))
            .collect();
        if !claimed.is_empty() && !deps.inflight_inbox.take_all(&claimed) {
            return Ok(());
        }
        let result = self.queue_job(job);
        if result.is_err() {
            deps.inflight_inbox.release(&claimed);
        }
        result
    }

    fn queue_job(&self, job: Job) -> Result<(), (CoreError, Box<Job>)> {
        let key = self.shared.deps.session_key(&job.event);
        let mut workers = self.shared.lock();
        if workers.closed {
            return Err((CoreError::ShuttingDown, Box::new(job)));
        }
        let capacity = self.shared.deps.config.session_queue;
        let job = Box::new(job);
        let job = match workers.by_key.get(&key) {
            Some(slot) => match slot.queue.try_send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Full(job)) => {
                    return Err((CoreError::QueueFull { capacity }, job));
                }
                // The worker is exiting (idle); start a new one below.
                Err(mpsc::error::TrySendError::Closed(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel(capacity.max(1));
        // A fresh channel always has room for the first job.
        if let Err(e) = tx.try_send(job) {
            return Err((CoreError::QueueFull { capacity }, e.into_inner()));
        }
        workers.next_id += 1;
        let id = workers.next_id;
        workers
            .by_key
            .insert(key.clone(), WorkerSlot { id, queue: tx });
        drop(workers);
        let shared = Arc::clone(&self.shared);
        self.shared.tracker.spawn(run_worker(shared, key, id, rx));
        Ok(())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Workers> {
        // The map stays consistent even if a holder panicked: every update
        // is a single insert or remove.
        self.workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn deps(&self) -> &WorkerDeps {
        &self.deps
    }

    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Called by an idle worker: removes its slot if no job is waiting, in
    /// which case the worker may exit. Holding the map lock while checking
    /// means no submit can slip a job in between.
    pub(crate) fn retire_if_idle(
        &self,
        key: &SessionKey,
        id: u64,
        rx: &mpsc::Receiver<Box<Job>>,
    ) -> bool {
        let mut workers = self.lock();
        if !rx.is_empty() {
            return false;
        }
        if workers.by_key.get(key).is_some_and(|slot| slot.id == id) {
            workers.by_key.remove(key);
        }
        true
    }
}

/// What is kept of a message from a sender who is not allowed: who sent it
/// and where (to refuse or pair them, and to drop a redelivery), not what
/// they wrote or attached.
fn refused_record(mut event: InboundEvent) -> InboundEvent {
    event.content = hermod_model::Content::Text(String::new());
    event.attachments.clear();
    event.history = None;
    event.system_prompt = None;
    event
}

/// The result of [`Inbound::submit_once`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Recorded and handed to its session.
    Accepted,
    /// This key was submitted before (a redelivered update): dropped.
    Duplicate,
}

impl Inbound {
    /// Records the event durably under `key` (unique per platform, such as
    /// `<chat>:<message id>`) and submits it, so a platform may acknowledge
    /// it (advance its offset) as soon as this returns: an event is handled
    /// at most once per key, and one recorded but unfinished when the
    /// process stopped is handled on the next start.
    pub async fn submit_once(
        &self,
        event: InboundEvent,
        key: &str,
    ) -> Result<Submitted, CoreError> {
        let deps = self.router.shared.deps();
        // Nothing a stranger wrote is kept: a refused message is recorded
        // only as far as dedupe and the refusal (a pairing code) need.
        let access = self.access(&event.source, event.vouched).await;
        let event = match access {
            Some(Access::Denied(_)) => refused_record(event),
            _ => event,
        };
        let json = serde_json::to_string(&event)
            .map_err(|e| CoreError::Store(format!("cannot record the message: {e}")))?;
        let platform = event.source.platform.clone();
        let at = deps.clock.now_ms();
        let recorded = deps.store.inbox_record(&platform, key, &json, at).await;
        let recorded = recorded.inspect_err(|e| {
            tracing::error!(%platform, key, error = %e, "cannot record an inbound message; the platform should deliver it again");
        })?;
        if !recorded {
            deps.metrics.inbound_duplicate(&platform);
            return Ok(Submitted::Duplicate);
        }
        let mut job = Job::new(event, ReplyMode::Adapter);
        job.inbox.push(key.to_owned());
        job.access = access;
        if let Err(e) = self.router.submit_job(job) {
            // Recorded all the same: the outbox sweeper takes it up.
            warn!(%platform, key, error = %e, "a recorded message could not be queued now; it is taken up again shortly");
        }
        Ok(Submitted::Accepted)
    }

    /// Whether a message from this sender would be handled (the sender is
    /// allowed; a sender the platform vouches for is, without asking).
    /// Adapters ask before they download attachments or do other
    /// work for a message, so nothing is fetched or kept for strangers;
    /// `submit_once` stores only a dedupe record for refused messages.
    /// A storage failure answers `true`: the session worker checks again.
    pub async fn admits(&self, source: &hermod_model::Source) -> bool {
        !matches!(self.access(source, false).await, Some(Access::Denied(_)))
    }

    /// The access verdict for a sender; `None` when it cannot be decided
    /// now (storage failed), in which case the session worker decides.
    async fn access(&self, source: &hermod_model::Source, vouched: bool) -> Option<Access> {
        let deps = self.router.shared.deps();
        let caps = deps.capabilities(&source.platform);
        crate::access::check(&deps.config, &caps, source, vouched, deps.store.as_ref())
            .await
            .inspect_err(
                |e| warn!(error = %e, "access check failed; the session worker checks again"),
            )
            .ok()
    }

    /// Delivers text to delivery targets (a platform's home channel, a
    /// chat, a local file) through the outbox: for sources whose results
    /// go somewhere else than where they came from.
    pub fn deliveries(&self) -> crate::Deliveries {
        crate::Deliveries::new(self.router.shared())
    }

    /// This gateway as a node of a cluster, if it is one.
    pub(crate) fn cluster(&self) -> Option<Arc<crate::cluster::Cluster>> {
        self.router.shared.deps().cluster.clone()
    }

    /// Where adapters report their state (and the API server reads it for
    /// `/health`).
    pub fn health(&self) -> &crate::health::Health {
        &self.router.shared.deps().health
    }

    /// What operators do to the gateway from an admin page: platforms,
    /// pairing requests, recent errors and metrics.
    pub fn operator(&self) -> crate::Operator {
        crate::Operator::new(self.router.shared())
    }

    /// Answers the open approval request `request_id` of a turn on
    /// `platform` (for sources that are not chats, such as the HTTP API,
    /// whose clients answer by id). A request of another platform's turn
    /// is [`crate::ApprovalAnswerError::NotFound`].
    pub async fn answer_approval(
        &self,
        platform: &hermod_model::PlatformId,
        request_id: &str,
        choice: &crate::ApprovalChoice,
    ) -> Result<crate::Answered, crate::ApprovalAnswerError> {
        let deps = self.router.shared.deps();
        deps.approvals
            .answer(platform, request_id, choice, None)
            .await
    }

    /// Submits an event whose reply goes back through the platform's adapter.
    pub fn submit(&self, event: InboundEvent) -> Result<(), CoreError> {
        self.router.submit(event, ReplyMode::Adapter)
    }

    /// Submits an event and returns the stream of its turn's events.
    /// Dropping the stream cancels the turn.
    pub fn submit_streaming(&self, event: InboundEvent) -> Result<TurnStream, CoreError> {
        let (events, rx) = mpsc::channel(STREAM_CHANNEL);
        let cancel = CancellationToken::new();
        self.router.submit(
            event,
            ReplyMode::Stream {
                events,
                cancel: cancel.clone(),
            },
        )?;
        Ok(TurnStream::new(rx, cancel))
    }
}
