//! [`Gateway`]: owns the adapters, the router and every task, and shuts them
//! down in order.
//!
//! Shutdown, step by step:
//! 1. the router stops accepting input (new submissions get `ShuttingDown`);
//! 2. adapters are told to stop receiving (the HTTP server stops accepting
//!    connections but finishes the requests it has);
//! 3. chats with a running turn are told the gateway is stopping, and
//!    running turns get `drain_timeout` to finish;
//! 4. chat turns still running then are recorded as interrupted (the next
//!    start continues them, see `resume`) and cancelled; their sources
//!    are told;
//! 5. after a short grace period for the cancellations to land, `run` returns
//!    and the store is closed when the last handle drops.

use crate::adapter::Adapter;
use crate::clock::Clock;
use crate::config::GatewayConfig;
use crate::delivery::{Deliveries, DisplayConfig, StreamingConfig, run_sweeper};
use crate::health::{ComponentState, Health};
use crate::hooks::{self, HookEvent, Hooks};
use crate::media::{MediaReader, NotesOnly};
use crate::metrics::Metrics;
use crate::resume::{self, guard};
use crate::router::{Inbound, Router};
use crate::session::WorkerDeps;
use crate::session::voice::VoiceOut;
use crate::supervisor::{Platforms, paused_key, supervise};
use crate::tools_reload::ToolsReload;
use hermod_agent::{Agent, Speaker};
use hermod_model::PlatformId;
use hermod_store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// How long cancelled turns get to report and unwind after the drain deadline.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How long hooks still queued or running at shutdown (`gateway:shutdown`
/// among them) get before the gateway stops without them.
const HOOKS_GRACE: Duration = Duration::from_secs(10);

/// Assembles a [`Gateway`].
pub struct GatewayBuilder {
    store: Arc<dyn Store>,
    agent: Arc<dyn Agent>,
    config: GatewayConfig,
    adapters: Vec<Arc<dyn Adapter>>,
    clock: Clock,
    default_model: String,
    streaming: StreamingConfig,
    display: DisplayConfig,
    output_dir: PathBuf,
    speech: Option<Speaker>,
    health: Health,
    metrics: Metrics,
    restart_loop_guard: bool,
    media: Arc<dyn MediaReader>,
    /// `HERMOD_HOME/media`: files the agent writes there may be sent.
    media_dir: Option<PathBuf>,
    hooks: Hooks,
    /// What `/reload-mcp` reconnects; without it the command says MCP is
    /// not configured.
    tools_reload: Option<Arc<dyn ToolsReload>>,
    context: crate::config::ContextConfig,
    cluster: Option<crate::cluster::ClusterConfig>,
}

/// How [`Gateway::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The shutdown token was cancelled (a signal): a clean stop.
    Shutdown,
    /// `/restart` asked for it: the process should exit so its service
    /// manager starts it again (exit code 75).
    RestartRequested,
}

/// The component `Health` shows while a restart loop holds back earlier
/// runs' unfinished work.
pub const RESUME_COMPONENT: &str = "resume";

/// How long into a drain the chats of turns still running are told the
/// gateway is stopping (at most half the drain timeout): a reply finishing
/// as the drain starts gets no notice after it.
const NOTICE_AFTER: Duration = Duration::from_secs(2);

impl std::fmt::Debug for dyn Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Adapter({})", self.id())
    }
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("config", &self.config)
            .field("adapters", &self.adapters)
            .finish_non_exhaustive()
    }
}

impl GatewayBuilder {
    /// Adds an adapter. Each platform may appear once.
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapters.push(adapter);
        self
    }

    /// The wall clock for timestamps and daily resets (tests pass
    /// [`Clock::following_tokio`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How replies are shown while they are written (the `streaming:` section).
    pub fn streaming(mut self, streaming: StreamingConfig) -> Self {
        self.streaming = streaming;
        self
    }

    /// Tool progress lines and other display settings (the `display:` section).
    pub fn display(mut self, display: DisplayConfig) -> Self {
        self.display = display;
        self
    }

    /// Where `local` deliveries are written (`HERMOD_HOME/output`).
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output_dir = dir.into();
        self
    }

    /// The speech endpoint voice replies are spoken with (`/voice`); its
    /// audio is written to the media directory. Without it `/voice on`
    /// says the gateway cannot speak.
    pub fn speech(mut self, speaker: Speaker) -> Self {
        self.speech = Some(speaker);
        self
    }

    /// The model turns use unless a session chose another (shown by
    /// `/status` and `/model`).
    pub fn default_model(mut self, name: impl Into<String>) -> Self {
        self.default_model = name.into();
        self
    }

    /// Where the gateway reports its components' state (by default a new,
    /// empty one; pass a handle to read it from outside).
    pub fn health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// Where the gateway records its metrics (by default new, empty ones;
    /// pass a clone to render them from outside, such as a `/metrics`
    /// endpoint).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Keep this gateway's start times in the store and, when it has
    /// started 3 times within 60 s, take up no unfinished work from earlier
    /// runs (see `resume::guard`). For a gateway run as a service; off by
    /// default, so tests may restart one store as often as they like.
    pub fn restart_loop_guard(mut self, on: bool) -> Self {
        self.restart_loop_guard = on;
        self
    }

    /// What reads a message's files for the model; [`NotesOnly`] (a line
    /// per file) unless set.
    pub fn media(mut self, media: Arc<dyn MediaReader>) -> Self {
        self.media = media;
        self
    }

    /// The gateway's media directory (`HERMOD_HOME/media`): the agent may
    /// send files under it with `MEDIA:` lines, besides those under
    /// `gateway.media_delivery_allow_dirs`, and a relative `MEDIA:` path is
    /// looked up in it. Without it only the configured directories count.
    pub fn media_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.media_dir = Some(dir.into());
        self
    }

    /// The operator's hooks (`HERMOD_HOME/hooks`), told of what the gateway
    /// does and asked about commands; none unless set.
    pub fn hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// What reconnects the agent's MCP servers when an operator sends
    /// `/reload-mcp`.
    pub fn tools_reload(mut self, reloader: Arc<dyn ToolsReload>) -> Self {
        self.tools_reload = Some(reloader);
        self
    }

    /// The context budget, compression and session presets (the model's
    /// context window, `compression:`, `agent.personalities`,
    /// `agent.reasoning_effort`); Hermes' defaults unless set.
    pub fn context(mut self, context: crate::config::ContextConfig) -> Self {
        self.context = context;
        self
    }

    /// Builds the gateway. Fails when the configuration is invalid (call
    /// [`GatewayConfig::validate`] earlier for a friendlier message).
    /// Makes this gateway a node of a cluster: several gateways sharing
    /// one database, dividing the work through leases (see `cluster.rs`).
    /// Only for a store that several processes share.
    pub fn cluster(mut self, config: crate::cluster::ClusterConfig) -> Self {
        self.cluster = Some(config);
        self
    }

    pub fn build(self) -> Result<Gateway, String> {
        self.config.validate()?;
        self.streaming.validate()?;
        self.context.validate()?;
        let timezone = match &self.config.timezone {
            Some(name) => jiff::tz::TimeZone::get(name)
                .map_err(|e| format!("gateway.timezone {name:?}: {e}"))?,
            None => jiff::tz::TimeZone::system(),
        };
        let tracker = TaskTracker::new();
        let turns = CancellationToken::new();
        let restart = CancellationToken::new();
        let platforms = Platforms::new(self.adapters.iter().map(|a| a.id()));
        let approvals = Arc::new(crate::tools::Grants::new(
            Arc::clone(&self.store),
            self.clock.clone(),
        ));
        let cluster = self.cluster.map(|config| {
            Arc::new(crate::cluster::Cluster::new(
                config,
                Arc::clone(&self.store),
                self.clock.clone(),
            ))
        });
        let deps = WorkerDeps {
            cluster,
            approvals,
            store: self.store,
            agent: self.agent,
            adapters: self
                .adapters
                .iter()
                .map(|a| (a.id(), Arc::clone(a)))
                .collect(),
            key_policy: self.config.key_policy(),
            config: Arc::new(self.config.clone()),
            clock: self.clock,
            default_model: self.default_model,
            timezone,
            streaming: self.streaming,
            display: self.display,
            output_dir: self.output_dir,
            voice: self.speech.map(|speaker| VoiceOut {
                speaker,
                dir: self
                    .media_dir
                    .clone()
                    .unwrap_or_else(|| std::env::temp_dir().join("hermod-media")),
            }),
            turns: turns.clone(),
            health: self.health.clone(),
            platforms: platforms.clone(),
            inflight_inbox: Default::default(),
            delivering: Default::default(),
            refusals: Default::default(),
            metrics: self.metrics.clone(),
            running: Default::default(),
            restart: restart.clone(),
            media: self.media,
            hooks: self.hooks.clone(),
            tools_reload: self.tools_reload,
            media_roots: crate::delivery::MediaRoots::new(
                self.media_dir.into_iter().chain(
                    self.config
                        .media_delivery_allow_dirs
                        .iter()
                        .map(PathBuf::from),
                ),
            ),
            context: crate::session::context::Context::new(self.context),
        };
        self.metrics.watch_health(&self.health);
        Ok(Gateway {
            router: Router::new(deps, tracker.clone()),
            adapters: self.adapters,
            tracker,
            turns,
            drain_timeout: self.config.drain_timeout(),
            health: self.health,
            metrics: self.metrics,
            platforms,
            restart,
            restart_loop_guard: self.restart_loop_guard,
            hooks: self.hooks,
            handoff_wake: Arc::default(),
        })
    }
}

/// The running gateway.
#[derive(Debug)]
pub struct Gateway {
    router: Router,
    adapters: Vec<Arc<dyn Adapter>>,
    tracker: TaskTracker,
    turns: CancellationToken,
    drain_timeout: Duration,
    health: Health,
    metrics: Metrics,
    /// Pause and resume for each adapter's supervisor.
    platforms: Platforms,
    /// Cancelled by `/restart`.
    restart: CancellationToken,
    restart_loop_guard: bool,
    hooks: Hooks,
    /// Wakes the handoff watcher for a handoff asked for in process.
    handoff_wake: Arc<tokio::sync::Notify>,
}

impl Gateway {
    pub fn builder(
        store: Arc<dyn Store>,
        agent: Arc<dyn Agent>,
        config: GatewayConfig,
    ) -> GatewayBuilder {
        GatewayBuilder {
            store,
            agent,
            config,
            adapters: Vec::new(),
            clock: Clock::System,
            default_model: "the configured default".to_owned(),
            streaming: StreamingConfig::default(),
            display: DisplayConfig::default(),
            output_dir: std::env::temp_dir().join("hermod-output"),
            speech: None,
            health: Health::default(),
            metrics: Metrics::default(),
            restart_loop_guard: false,
            media: Arc::new(NotesOnly),
            media_dir: None,
            tools_reload: None,
            hooks: Hooks::none(),
            context: crate::config::ContextConfig::default(),
            cluster: None,
        }
    }

    /// Submit input without an adapter (tests, internal events).
    pub fn inbound(&self) -> Inbound {
        self.router.inbound()
    }

    /// Every component's state.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The gateway's metrics, for a `/metrics` endpoint.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Asks for handoffs from this process; the watcher takes them up at
    /// once (handoffs asked for in the store by other processes within
    /// [`crate::HANDOFF_POLL`]).
    pub fn handoffs(&self) -> crate::Handoffs {
        let deps = self.router.shared();
        crate::Handoffs::new(
            Arc::clone(&deps.deps().store),
            deps.deps().clock.clone(),
            Arc::clone(&self.handoff_wake),
        )
    }

    /// Delivers text to delivery targets (scheduled output, notifications).
    pub fn deliveries(&self) -> Deliveries {
        Deliveries::new(self.router.shared())
    }

    /// [`Gateway::serve`], for callers that do not act on how it ended.
    pub async fn run(self, shutdown: CancellationToken) {
        self.serve(shutdown).await;
    }

    /// Runs every adapter until `shutdown` is cancelled or `/restart` asks
    /// for a restart, then shuts down as described in the module docs, and
    /// says which of the two ended it.
    pub async fn serve(self, shutdown: CancellationToken) -> Stopped {
        let stop_receiving = CancellationToken::new();
        let store = Arc::clone(&self.router.shared().deps().store);
        // In a cluster the heartbeat keeps this node's leases until the
        // drain is over (turns still running hold their sessions), so it
        // runs beside the tracked tasks and stops after them.
        let cluster = self.router.shared().deps().cluster.clone();
        let heartbeat = cluster.as_ref().map(|cluster| {
            let stop = CancellationToken::new();
            let health = self.health.clone();
            let info =
                move || serde_json::to_string(&health.report()).unwrap_or_else(|_| "{}".to_owned());
            let task = tokio::spawn(Arc::clone(cluster).run(stop.clone(), info));
            (stop, task)
        });
        for adapter in &self.adapters {
            let id = adapter.id();
            let supervised = supervise(
                Arc::clone(adapter),
                self.router.inbound(),
                self.health.clone(),
                self.platforms.control(&id),
                stop_receiving.clone(),
            );
            let (store, platforms) = (Arc::clone(&store), self.platforms.clone());
            self.tracker.spawn(async move {
                restore_pause(store.as_ref(), &platforms, &id).await;
                supervised.await;
            });
        }

        // Turns the last drain cut short are continued (or their chats
        // told); then messages a previous run recorded but did not finish
        // are taken up again; replies it left undelivered go out; deferred
        // deliveries are retried while the gateway runs.
        let held = self.restart_loop_guard && self.in_restart_loop(store.as_ref()).await;
        let (shared, stop) = (self.router.shared(), stop_receiving.child_token());
        self.tracker.spawn(async move {
            resume::take_up(&Router::from_shared(&shared), held).await;
            run_sweeper(shared, stop, held).await;
        });
        // Scheduled jobs: claimed in the store, run through the router;
        // runs in flight are drained like other turns.
        self.tracker.spawn(crate::cron::scheduler::run_scheduler(
            self.router.shared(),
            stop_receiving.child_token(),
            self.tracker.clone(),
        ));
        self.tracker.spawn(crate::handoff::watch(
            self.router.shared(),
            Arc::clone(&self.handoff_wake),
            stop_receiving.child_token(),
        ));

        let platforms: Vec<String> = self.adapters.iter().map(|a| a.id().to_string()).collect();
        self.hooks
            .emit(HookEvent::new(hooks::GATEWAY_STARTUP).with("platforms", platforms));

        let stopped = tokio::select! {
            () = shutdown.cancelled() => Stopped::Shutdown,
            () = self.restart.cancelled() => {
                info!("restart requested: draining, then exiting for the service manager to start hermod again");
                Stopped::RestartRequested
            }
        };
        info!(drain_timeout = ?self.drain_timeout, "shutting down: no new input accepted");
        self.router.close();
        stop_receiving.cancel();
        if let Some(cluster) = &cluster {
            cluster.stop_waiting();
        }
        self.tracker.close();
        // Turns about to finish are not told the gateway is stopping: only
        // those still running a moment into the drain.
        let quiet = NOTICE_AFTER.min(self.drain_timeout / 2);
        let drained = tokio::time::timeout(quiet, self.tracker.wait())
            .await
            .is_ok();
        if !drained {
            resume::notify_draining(&self.router.shared());
        }
        if !drained
            && tokio::time::timeout(self.drain_timeout - quiet, self.tracker.wait())
                .await
                .is_err()
        {
            warn!("drain timeout passed; cancelling the turns still running");
            resume::record_interrupted(self.router.shared().deps()).await;
            self.turns.cancel();
            if tokio::time::timeout(CANCEL_GRACE, self.tracker.wait())
                .await
                .is_err()
            {
                warn!("some tasks did not stop within the grace period");
            }
        }
        self.hooks
            .emit(HookEvent::new(hooks::GATEWAY_SHUTDOWN).with(
                "reason",
                match stopped {
                    Stopped::Shutdown => "shutdown",
                    Stopped::RestartRequested => "restart",
                },
            ));
        self.hooks.finish(HOOKS_GRACE).await;
        if let Some((stop, task)) = heartbeat {
            stop.cancel();
            if let Err(e) = task.await {
                warn!(error = %e, "the cluster heartbeat failed");
            }
        }
        info!("gateway stopped");
        stopped
    }

    /// Records this start and says whether the gateway is restarting in a
    /// loop; if so, logs why and shows it in `Health`.
    async fn in_restart_loop(&self, store: &dyn Store) -> bool {
        let deps = self.router.shared();
        let now = deps.deps().clock.now_ms();
        let starts_key = deps.deps().node_setting(guard::STARTS_SETTING);
        let mut log = match store.setting(&starts_key).await {
            Ok(json) => guard::StartLog::parse(json.as_deref().unwrap_or("[]")),
            Err(e) => {
                warn!(error = %e, "could not read the recent start times; the restart-loop guard counts from now");
                guard::StartLog::default()
            }
        };
        let found = log.record(now);
        if let Err(e) = store.set_setting(&starts_key, &log.to_json(), now).await {
            warn!(error = %e, "could not store this start time for the restart-loop guard");
        }
        let Some(found) = found else {
            return false;
        };
        warn!(
            starts = found.starts,
            window_secs = found.window.as_secs(),
            "restart loop: {found}"
        );
        self.health.set(
            RESUME_COMPONENT,
            ComponentState::Paused {
                reason: format!("restart loop: {found}"),
                until_ms: None,
                manual: true,
            },
        );
        true
    }
}

/// Pauses `platform` again if an operator paused it in an earlier run
/// (`/platform pause` is kept until `/platform resume`).
async fn restore_pause(store: &dyn Store, platforms: &Platforms, platform: &PlatformId) {
    match store.setting(&paused_key(platform)).await {
        Ok(Some(reason)) => {
            info!(platform = %platform, reason = %reason, "platform stays paused, as an operator asked; /platform resume starts it");
            platforms.pause(platform, reason);
        }
        Ok(None) => {}
        Err(e) => {
            warn!(platform = %platform, error = %e, "could not read whether the platform was paused; starting it");
        }
    }
}
