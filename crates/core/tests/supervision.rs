//! Adapters run under supervision, on paused time: a failure that may pass
//! restarts the adapter after a growing pause, a refused credential stops
//! only that adapter, and every state is visible in `Health`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, ComponentState, Gateway, GatewayConfig, Health,
    Messenger,
};
use hermod_model::{Capabilities, Edit, MessageRef, Outbound, PlatformId, Sent};
use hermod_store::SqliteStore;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How one run of [`Flaky`] ends.
#[derive(Debug, Clone)]
enum Run {
    /// Reports itself connected, then fails after this long.
    FailAfter(Duration, AdapterError),
    /// Fails at once, before connecting.
    Fail(AdapterError),
    /// Connects and receives until shutdown.
    Stay,
}

/// An adapter whose runs follow a script; it records when each started.
struct Flaky {
    id: PlatformId,
    script: Mutex<VecDeque<Run>>,
    starts: Mutex<Vec<Instant>>,
}

impl Flaky {
    fn new(id: &'static str, script: impl IntoIterator<Item = Run>) -> Arc<Self> {
        Arc::new(Self {
            id: PlatformId::from_static(id),
            script: Mutex::new(script.into_iter().collect()),
            starts: Mutex::default(),
        })
    }

    fn starts(&self) -> Vec<Instant> {
        self.starts.lock().unwrap().clone()
    }
}

#[async_trait]
impl Adapter for Flaky {
    fn id(&self) -> PlatformId {
        self.id.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.starts.lock().unwrap().push(Instant::now());
        let next = self.script.lock().unwrap().pop_front().unwrap_or(Run::Stay);
        match next {
            Run::Fail(e) => Err(e),
            Run::FailAfter(after, e) => {
                ctx.inbound.health().recovered(self.id.as_str());
                tokio::time::sleep(after).await;
                Err(e)
            }
            Run::Stay => {
                ctx.inbound.health().recovered(self.id.as_str());
                ctx.shutdown.cancelled().await;
                Ok(())
            }
        }
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for Flaky {
    async fn send(&self, _message: Outbound) -> Result<Sent, AdapterError> {
        Err(AdapterError::Transient("offline".into()))
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Transient("offline".into()))
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Transient("offline".into()))
    }
}

struct Running {
    health: Health,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn start(adapters: Vec<Arc<dyn Adapter>>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let mut builder = Gateway::builder(
        store,
        Arc::new(ScriptedAgent::echo()),
        GatewayConfig::default(),
    );
    for adapter in adapters {
        builder = builder.adapter(adapter);
    }
    let gateway = builder.build().unwrap();
    let health = gateway.health().clone();
    let shutdown = CancellationToken::new();
    let done = tokio::spawn(gateway.run(shutdown.clone()));
    Running {
        health,
        shutdown,
        done,
        _dir: dir,
    }
}

/// Waits (on paused time) until `platform` is in a state `matches` accepts.
async fn until(health: &Health, platform: &str, matches: impl Fn(&ComponentState) -> bool) {
    let mut changes = health.subscribe();
    loop {
        changes.borrow_and_update();
        if health.get(platform).is_some_and(|s| matches(&s.state)) {
            return;
        }
        changes.changed().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn transient_failures_restart_the_adapter_after_growing_pauses() {
    let flaky = Flaky::new(
        "flaky",
        [
            Run::Fail(AdapterError::Transient("connection reset".into())),
            Run::Fail(AdapterError::Transient("connection reset".into())),
            Run::Fail(AdapterError::Transient("connection reset".into())),
        ],
    );
    let running = start(vec![flaky.clone()]);
    until(&running.health, "flaky", |s| {
        matches!(s, ComponentState::Retrying { reason, next_attempt_ms } if reason.contains("connection reset") && *next_attempt_ms > 0)
    })
    .await;
    until(&running.health, "flaky", |s| *s == ComponentState::Running).await;
    let starts = flaky.starts();
    assert_eq!(starts.len(), 4, "three failures, then a run that stays");
    let pauses: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // Exponential backoff with jitter: [d/2, d] for d = 1 s, 2 s, 4 s.
    for (pause, full) in pauses.iter().zip([1, 2, 4]) {
        let full = Duration::from_secs(full);
        assert!(
            *pause >= full / 2 && *pause <= full,
            "{pause:?} not within [{:?}, {full:?}]",
            full / 2
        );
    }
    assert!(running.health.report().healthy);
    running.shutdown.cancel();
    running.done.await.unwrap();
    assert_eq!(
        running.health.get("flaky").unwrap().state,
        ComponentState::Stopped
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_that_worked_for_a_while_starts_the_backoff_over() {
    let reset = || AdapterError::Transient("dropped".into());
    let flaky = Flaky::new(
        "flaky",
        [
            Run::Fail(reset()),
            Run::Fail(reset()),
            Run::Fail(reset()),
            Run::FailAfter(Duration::from_secs(600), reset()),
        ],
    );
    let running = start(vec![flaky.clone()]);
    tokio::time::sleep(Duration::from_secs(700)).await;
    let starts = flaky.starts();
    assert_eq!(starts.len(), 5);
    let last_pause = starts[4] - starts[3] - Duration::from_secs(600);
    assert!(
        last_pause <= Duration::from_secs(1),
        "after ten good minutes the pause is back to about a second: {last_pause:?}"
    );
    running.shutdown.cancel();
    running.done.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_stops_only_that_adapter_and_is_not_retried() {
    let refused = Flaky::new(
        "refused",
        [Run::Fail(AdapterError::Auth(
            "the token was refused; set REFUSED_TOKEN".into(),
        ))],
    );
    let chat = TestPlatform::new("chat");
    let running = start(vec![refused.clone(), chat.adapter()]);
    until(
        &running.health,
        "refused",
        |s| matches!(s, ComponentState::Failed { reason } if reason.contains("REFUSED_TOKEN")),
    )
    .await;
    chat.wait_running().await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(refused.starts().len(), 1, "never retried");
    assert_eq!(
        running.health.get("chat").unwrap().state,
        ComponentState::Running
    );
    assert!(!running.health.report().healthy);
    // The gateway keeps serving the other platform.
    chat.user("alice").dm("hi").await.unwrap();
    running.shutdown.cancel();
    running.done.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_adapter_waits_what_the_platform_asks() {
    let flaky = Flaky::new(
        "limited",
        [Run::Fail(AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(42)),
        })],
    );
    let running = start(vec![flaky.clone()]);
    until(&running.health, "limited", |s| {
        *s == ComponentState::Running
    })
    .await;
    let starts = flaky.starts();
    assert_eq!(starts[1] - starts[0], Duration::from_secs(42));
    running.shutdown.cancel();
    running.done.await.unwrap();
}
