//! [`Metrics`]: the gateway's counters, gauges and histograms, rendered in
//! the Prometheus text exposition format for a `/metrics` endpoint.
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client,
//! so the exposition format (escaping, `_total` suffixes, histogram
//! buckets) is the library's, not ours. Recording is an atomic add behind
//! a short read lock on the label map; nothing is held across an await.
//!
//! Label values are bounded: platform names, outcome words and error kinds,
//! never chat, user or session ids, and never anything secret. Gauges that
//! mirror state kept elsewhere (each platform's [`Health`] state) are read
//! when the metrics are rendered.

use crate::adapter::TurnEnded;
use crate::health::{Health, STORE_COMPONENT};
use crate::runtime::RESUME_COMPONENT;
use hermod_agent::{AgentError, ModelCallObserver};
use hermod_model::PlatformId;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The `Content-Type` of [`Metrics::render`]'s output: the Prometheus text
/// format, version 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Bucket bounds, in seconds, of the turn and model call histograms: from a
/// cached short answer to a long tool loop.
const DURATION_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];
/// Bucket bounds, in seconds, of the time to the first token.
const FIRST_TOKEN_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// The states a platform's gauge always lists, so a state that is 0 is
/// still a series (alerts on `== 1` need it to exist).
const PLATFORM_STATES: [&str; 6] = [
    "connecting",
    "running",
    "retrying",
    "degraded",
    "failed",
    "stopped",
];

type PlatformLabel = [(&'static str, String); 1];
type OutcomeLabels = [(&'static str, String); 2];
type KindLabel = [(&'static str, &'static str); 1];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn first_token_histogram() -> Histogram {
    Histogram::new(FIRST_TOKEN_BUCKETS)
}

/// The gateway's metrics. One per gateway; cheap to clone, and clones
/// record into the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    turns: Family<OutcomeLabels, Counter>,
    turn_seconds: Family<PlatformLabel, Histogram>,
    first_token_seconds: Family<PlatformLabel, Histogram>,
    model_call_seconds: Histogram,
    model_call_errors: Family<KindLabel, Counter>,
    outbox_pending: Gauge,
    outbox_retried: Family<PlatformLabel, Counter>,
    outbox_failed: Family<PlatformLabel, Counter>,
    inbound_duplicates: Family<PlatformLabel, Counter>,
    rate_limited: Family<PlatformLabel, Counter>,
    session_workers: Gauge,
    turns_running: Gauge,
    /// The gateway's [`Health`], once a gateway was built with these metrics.
    health: Arc<OnceLock<Health>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, every series at zero.
    pub fn new() -> Self {
        let turns = Family::<OutcomeLabels, Counter>::default();
        let turn_seconds = Family::<PlatformLabel, Histogram>::new_with_constructor(
            duration_histogram as fn() -> _,
        );
        let first_token_seconds = Family::<PlatformLabel, Histogram>::new_with_constructor(
            first_token_histogram as fn() -> _,
        );
        let model_call_seconds = duration_histogram();
        let model_call_errors = Family::<KindLabel, Counter>::default();
        let outbox_pending = Gauge::default();
        let outbox_retried = Family::<PlatformLabel, Counter>::default();
        let outbox_failed = Family::<PlatformLabel, Counter>::default();
        let inbound_duplicates = Family::<PlatformLabel, Counter>::default();
        let rate_limited = Family::<PlatformLabel, Counter>::default();
        let session_workers = Gauge::default();
        let turns_running = Gauge::default();
        let health = Arc::new(OnceLock::new());

        let mut registry = Registry::with_prefix("hermod");
        registry.register(
            "build",
            "The running build (its version as a label)",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "turns",
            "Agent turns by platform and how they ended (answered, failed, stopped)",
            turns.clone(),
        );
        registry.register_with_unit(
            "turn_duration",
            "Time from the start of a turn to its end",
            Unit::Seconds,
            turn_seconds.clone(),
        );
        registry.register_with_unit(
            "turn_first_token",
            "Time from the start of a turn to the model's first visible text",
            Unit::Seconds,
            first_token_seconds.clone(),
        );
        registry.register_with_unit(
            "model_call_duration",
            "Time of each model call, retries included",
            Unit::Seconds,
            model_call_seconds.clone(),
        );
        registry.register(
            "model_call_errors",
            "Model calls that failed, by kind of failure",
            model_call_errors.clone(),
        );
        registry.register(
            "outbox_pending",
            "Outbox entries not yet delivered, as counted by the latest sweep",
            outbox_pending.clone(),
        );
        registry.register(
            "outbox_retried",
            "Deliveries deferred to be tried again, by platform",
            outbox_retried.clone(),
        );
        registry.register(
            "outbox_failed",
            "Deliveries given up, by platform",
            outbox_failed.clone(),
        );
        registry.register(
            "inbound_duplicates",
            "Inbound messages dropped because their key was already recorded, by platform",
            inbound_duplicates.clone(),
        );
        registry.register(
            "rate_limited",
            "Rate-limit responses from a platform to a send, edit or delete, by platform",
            rate_limited.clone(),
        );
        registry.register(
            "session_workers",
            "Live session workers",
            session_workers.clone(),
        );
        registry.register(
            "turns_running",
            "Agent turns running now",
            turns_running.clone(),
        );
        registry.register_collector(Box::new(PlatformStates {
            health: Arc::clone(&health),
        }));

        Self {
            inner: Arc::new(Inner {
                registry,
                turns,
                turn_seconds,
                first_token_seconds,
                model_call_seconds,
                model_call_errors,
                outbox_pending,
                outbox_retried,
                outbox_failed,
                inbound_duplicates,
                rate_limited,
                session_workers,
                turns_running,
                health,
            }),
        }
    }

    /// Every metric in the Prometheus text format (version 0.0.4), served
    /// with [`METRICS_CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a
        // bug in the library, and a partial page is still worth serving.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)
        {
            tracing::warn!(error = %e, "rendering the metrics failed");
        }
        out
    }

    /// The `Content-Type` of [`Metrics::render`].
    pub fn content_type(&self) -> &'static str {
        METRICS_CONTENT_TYPE
    }

    /// Reads each platform's state from `health` at render time. The first
    /// gateway built with these metrics sets it.
    pub(crate) fn watch_health(&self, health: &Health) {
        let _ = self.inner.health.set(health.clone());
    }

    /// The observer the agent reports model calls to.
    pub(crate) fn model_calls(&self) -> Arc<dyn ModelCallObserver> {
        Arc::new(self.clone())
    }

    pub(crate) fn turn_ended(&self, platform: &PlatformId, ended: TurnEnded, took: Duration) {
        let outcome = match ended {
            TurnEnded::Answered => "answered",
            TurnEnded::Failed => "failed",
            TurnEnded::Stopped => "stopped",
        };
        let platform = platform.as_str().to_owned();
        self.inner
            .turn_seconds
            .get_or_create(&[("platform", platform.clone())])
            .observe(took.as_secs_f64());
        self.inner
            .turns
            .get_or_create(&[("platform", platform), ("outcome", outcome.to_owned())])
            .inc();
    }

    pub(crate) fn first_token(&self, platform: &PlatformId, after: Duration) {
        self.inner
            .first_token_seconds
            .get_or_create(&[("platform", platform.as_str().to_owned())])
            .observe(after.as_secs_f64());
    }

    pub(crate) fn outbox_pending(&self, pending: usize) {
        self.inner
            .outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    pub(crate) fn outbox_retried(&self, platform: &PlatformId) {
        Self::count(&self.inner.outbox_retried, platform);
    }

    pub(crate) fn outbox_failed(&self, platform: &PlatformId) {
        Self::count(&self.inner.outbox_failed, platform);
    }

    pub(crate) fn inbound_duplicate(&self, platform: &PlatformId) {
        Self::count(&self.inner.inbound_duplicates, platform);
    }

    pub(crate) fn rate_limited(&self, platform: &PlatformId) {
        Self::count(&self.inner.rate_limited, platform);
    }

    /// Counts a live session worker until the returned guard drops.
    pub(crate) fn session_worker(&self) -> GaugeHold {
        GaugeHold::new(&self.inner.session_workers)
    }

    /// Counts a running turn until the returned guard drops: however the
    /// turn ends, a panic or a cancelled task included.
    pub(crate) fn turn_running(&self) -> GaugeHold {
        GaugeHold::new(&self.inner.turns_running)
    }

    /// How many turns are running now (`hermod_turns_running`).
    pub fn turns_running(&self) -> usize {
        usize::try_from(self.inner.turns_running.get()).unwrap_or(0)
    }

    fn count(family: &Family<PlatformLabel, Counter>, platform: &PlatformId) {
        family
            .get_or_create(&[("platform", platform.as_str().to_owned())])
            .inc();
    }
}

impl ModelCallObserver for Metrics {
    fn model_call(&self, took: Duration, error: Option<&AgentError>) {
        self.inner.model_call_seconds.observe(took.as_secs_f64());
        if let Some(error) = error {
            self.inner
                .model_call_errors
                .get_or_create(&[("kind", error.kind())])
                .inc();
        }
    }
}

/// Holds one count of a gauge (live session workers, running turns) and
/// gives it back when dropped.
#[derive(Debug)]
pub(crate) struct GaugeHold(Gauge);

impl GaugeHold {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeHold {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `hermod_platform_state`: one series per platform and state, 1 for the
/// platform's current state, read from [`Health`] at each render.
#[derive(Debug)]
struct PlatformStates {
    health: Arc<OnceLock<Health>>,
}

impl Collector for PlatformStates {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let states = Family::<[(&'static str, String); 2], Gauge>::default();
        if let Some(health) = self.health.get() {
            for (name, status) in health.report().components {
                // Components that are not platforms.
                if name == STORE_COMPONENT || name == RESUME_COMPONENT {
                    continue;
                }
                let current = state_name(&status.state);
                let known = PLATFORM_STATES.iter().map(|s| (*s).to_owned());
                let extra = (!PLATFORM_STATES.contains(&current.as_str())).then(|| current.clone());
                for state in known.chain(extra) {
                    let value = i64::from(state == current);
                    states
                        .get_or_create(&[("platform", name.clone()), ("state", state)])
                        .set(value);
                }
            }
        }
        let metric = encoder.encode_descriptor(
            "platform_state",
            "Each platform's state: 1 for the state it is in, 0 for the others",
            None,
            states.metric_type(),
        )?;
        states.encode(metric)
    }
}

/// The state's name as `Health` serializes it (`running`, `retrying`, ...),
/// so a state added later is shown under its own name.
fn state_name(state: &crate::health::ComponentState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str().map(str::to_owned)))
        .unwrap_or_else(|| "unknown".to_owned())
}
