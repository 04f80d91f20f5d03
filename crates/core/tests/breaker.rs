//! The circuit breaker and `/platform`, on paused time: a platform that
//! keeps failing is paused, left alone during its cool-down, tried once
//! after it and closed when that works; operators pause and resume
//! platforms, a manual pause outlives a restart, and the other platforms
//! keep working throughout.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, ComponentState, Gateway, GatewayConfig, Health,
    Messenger, PlatformPolicy, StreamingConfig,
};
use hermod_model::{Capabilities, Edit, MessageRef, Outbound, PlatformId, Sent};
use hermod_store::SqliteStore;
use hermod_testkit::harness::within;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The breaker's defaults, as documented.
const THRESHOLD: usize = 5;
const COOL_DOWN: Duration = Duration::from_secs(300);

/// How one run of [`Scripted`] ends.
#[derive(Debug, Clone)]
enum Run {
    /// Fails at once, before connecting.
    Fail,
    /// Connects and receives until told to stop.
    Stay,
}

/// An adapter whose runs follow a script (then fail forever); it records
/// when each run started.
struct Scripted {
    id: PlatformId,
    script: Mutex<VecDeque<Run>>,
    starts: Mutex<Vec<Instant>>,
}

impl Scripted {
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
impl Adapter for Scripted {
    fn id(&self) -> PlatformId {
        self.id.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.starts.lock().unwrap().push(Instant::now());
        let next = self.script.lock().unwrap().pop_front().unwrap_or(Run::Fail);
        match next {
            Run::Fail => Err(AdapterError::Transient("connection refused".into())),
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
impl Messenger for Scripted {
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
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.done.await.unwrap();
    }

    fn state(&self, platform: &str) -> ComponentState {
        self.health.get(platform).unwrap().state
    }

    /// Waits (on paused time) until `platform` is in a state `matches` accepts.
    async fn until(&self, platform: &str, matches: impl Fn(&ComponentState) -> bool) {
        let mut changes = self.health.subscribe();
        within(&format!("{platform} to change state"), async {
            loop {
                changes.borrow_and_update();
                if self.health.get(platform).is_some_and(|s| matches(&s.state)) {
                    return;
                }
                changes.changed().await.unwrap();
            }
        })
        .await;
    }
}

/// Starts a gateway on the store in `dir` with `adapters`.
fn start(dir: &Path, config: GatewayConfig, adapters: Vec<Arc<dyn Adapter>>) -> Running {
    let store = Arc::new(SqliteStore::open(&dir.join("t.db")).unwrap());
    let mut builder = Gateway::builder(store, Arc::new(ScriptedAgent::echo()), config)
        // What is answered matters here, not how it is streamed.
        .streaming(StreamingConfig {
            enabled: false,
            ..StreamingConfig::default()
        });
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
    }
}

/// Everyone may talk; `boss` is the admin on every platform named.
fn config(platforms: &[&str]) -> GatewayConfig {
    let mut config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    for name in platforms {
        config.platforms.insert(
            (*name).to_owned(),
            PlatformPolicy {
                allow_admin_from: vec!["boss".into()],
                ..PlatformPolicy::default()
            },
        );
    }
    config
}

/// Sends a DM on `platform` and returns the text of the next message in
/// that chat.
async fn ask(platform: &TestPlatform, user: &str, text: &str) -> String {
    let before = platform.sent(user).len();
    platform.user(user).dm(text).await.unwrap();
    within(&format!("an answer to {text:?}"), async {
        platform.wait_for_messages(user, before + 1).await[before]
            .text
            .clone()
    })
    .await
}

fn auto_paused(s: &ComponentState) -> bool {
    matches!(
        s,
        ComponentState::Paused {
            manual: false,
            until_ms: Some(_),
            ..
        }
    )
}

fn until_ms(s: &ComponentState) -> i64 {
    match s {
        ComponentState::Paused {
            until_ms: Some(until),
            ..
        } => *until,
        _ => 0,
    }
}

fn manually_paused(s: &ComponentState) -> bool {
    matches!(
        s,
        ComponentState::Paused {
            manual: true,
            until_ms: None,
            ..
        }
    )
}

#[tokio::test(start_paused = true)]
async fn a_failing_platform_is_paused_left_alone_probed_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    // Fails the threshold, then fails its first trial run, then works.
    let mut script = vec![Run::Fail; THRESHOLD + 1];
    script.push(Run::Stay);
    let flaky = Scripted::new("flaky", script);
    let chat = TestPlatform::new("chat");
    let running = start(
        dir.path(),
        config(&["chat"]),
        vec![flaky.clone(), chat.adapter()],
    );
    chat.wait_running().await;

    // Four failures retry with the ordinary backoff; the fifth opens.
    running
        .until("flaky", |s| matches!(s, ComponentState::Retrying { .. }))
        .await;
    running.until("flaky", auto_paused).await;
    let starts = flaky.starts();
    assert_eq!(
        starts.len(),
        THRESHOLD,
        "paused at the threshold, not before"
    );
    let ComponentState::Paused { reason, .. } = running.state("flaky") else {
        unreachable!()
    };
    assert!(reason.contains("5 failures in a row"), "{reason}");
    assert!(reason.contains("connection refused"), "{reason}");
    let report = running.health.report();
    assert!(
        !report.healthy,
        "a platform paused by the breaker is a problem"
    );
    let list = ask(&chat, "boss", "/platform list").await;
    assert!(list.contains("• flaky: paused, tried again in"), "{list}");
    assert!(list.contains("5 failures in a row"), "{list}");
    assert!(list.contains("• chat: connected"), "{list}");

    // Not tried during the cool-down; the other platform answers.
    let opened = *starts.last().unwrap();
    tokio::time::sleep_until(opened + COOL_DOWN - Duration::from_secs(1)).await;
    assert_eq!(flaky.starts().len(), THRESHOLD);
    assert!(
        ask(&chat, "alice", "still there?")
            .await
            .starts_with("echo: still there?")
    );

    // Half-open: one trial at the end of the cool-down; it fails, so the
    // next pause is twice as long.
    let first_until = until_ms(&running.state("flaky"));
    running
        .until("flaky", |s| auto_paused(s) && until_ms(s) > first_until)
        .await;
    let starts = flaky.starts();
    assert_eq!(starts.len(), THRESHOLD + 1);
    assert_eq!(starts[THRESHOLD] - opened, COOL_DOWN);
    let reopened = starts[THRESHOLD];
    tokio::time::sleep_until(reopened + 2 * COOL_DOWN - Duration::from_secs(1)).await;
    assert_eq!(flaky.starts().len(), THRESHOLD + 1, "longer cool-down");

    // The next trial works: closed, healthy, the failures forgotten.
    running
        .until("flaky", |s| *s == ComponentState::Running)
        .await;
    let starts = flaky.starts();
    assert_eq!(starts.len(), THRESHOLD + 2);
    assert_eq!(starts[THRESHOLD + 1] - reopened, 2 * COOL_DOWN);
    assert!(running.health.report().healthy);
    let list = ask(&chat, "boss", "/platform list").await;
    assert!(list.contains("• flaky: connected"), "{list}");
    assert!(!list.contains("failures in a row"), "{list}");
    assert_eq!(running.state("chat"), ComponentState::Running);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn admins_pause_and_resume_platforms_and_others_may_not() {
    let dir = tempfile::tempdir().unwrap();
    let chat = TestPlatform::new("chat");
    let other = TestPlatform::new("other");
    let mut config = config(&["chat", "other"]);
    config
        .platforms
        .get_mut("chat")
        .unwrap()
        .user_allowed_commands = vec!["/status".into()];
    let running = start(dir.path(), config, vec![chat.adapter(), other.adapter()]);
    chat.wait_running().await;
    other.wait_running().await;

    let refused = ask(&chat, "carol", "/platform pause other").await;
    assert!(
        refused.starts_with("⛔ /platform is not available"),
        "{refused}"
    );
    assert!(other.is_running());
    assert_eq!(running.state("other"), ComponentState::Running);

    let unknown = ask(&chat, "boss", "/platform pause nope").await;
    assert_eq!(
        unknown,
        "Unknown platform \"nope\". Known platforms: chat, other."
    );
    let usage = ask(&chat, "boss", "/platform stop other").await;
    assert!(usage.starts_with("Usage: /platform"), "{usage}");

    // Pause: the run is cancelled cleanly and not restarted.
    let paused = ask(&chat, "boss", "/platform pause other").await;
    assert!(paused.starts_with("⏸️ other is paused"), "{paused}");
    assert!(!paused.contains("another platform"), "{paused}");
    within("the paused platform to stop", other.wait_stopped()).await;
    running.until("other", manually_paused).await;
    assert!(
        running.health.report().healthy,
        "an operator's pause is not a problem"
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!other.is_running(), "not restarted while paused");
    let list = ask(&chat, "boss", "/platform").await;
    assert!(
        list.contains("• other: paused until resumed (paused by boss from chat)"),
        "{list}"
    );
    let again = ask(&chat, "boss", "/platform pause OTHER").await;
    assert!(again.starts_with("other is already paused"), "{again}");

    // Resume: started at once.
    let resumed = ask(&chat, "boss", "/platform resume other").await;
    assert_eq!(resumed, "▶️ other resumed: connecting now.");
    within("the resumed platform to run", other.wait_running()).await;
    running
        .until("other", |s| *s == ComponentState::Running)
        .await;
    let not_paused = ask(&chat, "boss", "/platform resume other").await;
    assert_eq!(not_paused, "other is not paused: it is running.");

    // Pausing the platform one is talking on says how to come back.
    let own = ask(&chat, "boss", "/platform pause chat").await;
    assert!(
        own.contains("send /platform resume chat from another platform"),
        "{own}"
    );
    within("chat to stop", chat.wait_stopped()).await;
    let back = ask(&other, "boss", "/platform resume chat").await;
    assert_eq!(back, "▶️ chat resumed: connecting now.");
    within("chat to run again", chat.wait_running()).await;
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_manual_pause_outlives_a_restart_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let chat = TestPlatform::new("chat");
    let other = TestPlatform::new("other");
    let running = start(
        dir.path(),
        config(&["chat"]),
        vec![chat.adapter(), other.adapter()],
    );
    chat.wait_running().await;
    other.wait_running().await;
    let paused = ask(&chat, "boss", "/platform pause other").await;
    assert!(paused.starts_with("⏸️ other is paused"), "{paused}");
    running.until("other", manually_paused).await;
    running.stop().await;

    // The next process on the same store: `other` is not started.
    let chat = chat.restarted();
    let other = TestPlatform::new("other");
    let running = start(
        dir.path(),
        config(&["chat"]),
        vec![chat.adapter(), other.adapter()],
    );
    chat.wait_running().await;
    running.until("other", manually_paused).await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(other.inbound().is_none(), "never started");
    let list = ask(&chat, "boss", "/platform list").await;
    assert!(list.contains("• other: paused until resumed"), "{list}");
    assert!(ask(&chat, "alice", "hi").await.starts_with("echo: hi"));

    let resumed = ask(&chat, "boss", "/platform resume other").await;
    assert_eq!(resumed, "▶️ other resumed: connecting now.");
    within("other to run", other.wait_running()).await;
    running.stop().await;

    // Resumed is resumed for good.
    let other = TestPlatform::new("other");
    let running = start(dir.path(), config(&["chat"]), vec![other.adapter()]);
    within("other to run after a restart", other.wait_running()).await;
    running.stop().await;
}
