//! A platform's reactions follow the turns on its users' messages, on
//! paused time: one start and one end per turn, however the turn ends
//! (answered, failed, stopped, interrupted, shut down), none for commands,
//! refused senders or queued messages dropped before their turn, and a
//! platform that is slow to react delays nothing.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_agent::{Agent, AgentError, AgentEvent, TurnControl, TurnHandle, TurnRequest};
use hermod_core::{
    Adapter, AdapterContext, AdapterError, BusyMode, DmBehavior, Gateway, GatewayConfig, Messenger,
    Reactions, TurnEnded,
};
use hermod_model::{Capabilities, Edit, MessageRef, Outbound, PlatformId, Sent};
use hermod_store::SqliteStore;
use hermod_testkit::{AgentStats, ScriptedAgent, TestPlatform};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest a test waits for a turn's end (paused time).
const PATIENCE: Duration = Duration::from_secs(600);

/// What the platform heard about a message's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    Started,
    Ended(TurnEnded),
}

/// One call of the platform's [`Reactions`].
#[derive(Debug, Clone)]
struct Seen {
    message: String,
    heard: Heard,
    /// What the message's chat showed at that moment.
    shown: Vec<String>,
    at: Instant,
}

#[derive(Debug, Default)]
struct Log {
    seen: Mutex<Vec<Seen>>,
    changed: Notify,
}

/// A [`TestPlatform`] whose messenger has [`Reactions`], recording every
/// call; with `slow`, its `turn_started` never answers.
#[derive(Debug, Clone)]
struct Reacting {
    platform: TestPlatform,
    log: Arc<Log>,
    slow: bool,
}

impl Reacting {
    fn record(&self, message: &MessageRef, heard: Heard) {
        let shown = self
            .platform
            .sent(&message.target.chat_id)
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.current_text().to_owned())
            .collect();
        self.log
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Seen {
                message: message.message_id.clone(),
                heard,
                shown,
                at: Instant::now(),
            });
        self.log.changed.notify_waiters();
    }

    fn seen(&self) -> Vec<Seen> {
        self.log
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What was heard about `message`, in order.
    fn heard(&self, message: &str) -> Vec<Heard> {
        self.seen()
            .into_iter()
            .filter(|s| s.message == message)
            .map(|s| s.heard)
            .collect()
    }

    /// Waits until the turn on `message` was heard to end; returns that
    /// call. Fails the test when it never comes (the paused clock runs on
    /// once nothing else can happen).
    async fn ended(&self, message: &str) -> Seen {
        let ended = async {
            loop {
                let notified = self.log.changed.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if let Some(seen) = self
                    .seen()
                    .into_iter()
                    .find(|s| s.message == message && matches!(s.heard, Heard::Ended(_)))
                {
                    return seen;
                }
                notified.await;
            }
        };
        tokio::time::timeout(PATIENCE, ended)
            .await
            .unwrap_or_else(|_| panic!("the turn on {message} was never heard to end"))
    }
}

#[async_trait]
impl Adapter for Reacting {
    fn id(&self) -> PlatformId {
        self.platform.id()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reactions: true,
            ..self.platform.capabilities()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.platform.run(ctx).await
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for Reacting {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        self.platform.send(message).await
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        self.platform.edit(edit).await
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        self.platform.delete(message).await
    }

    fn reactions(&self) -> Option<&dyn Reactions> {
        Some(self)
    }
}

#[async_trait]
impl Reactions for Reacting {
    async fn turn_started(&self, message: &MessageRef) -> Result<(), AdapterError> {
        self.record(message, Heard::Started);
        if self.slow {
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    async fn turn_ended(&self, message: &MessageRef, ended: TurnEnded) -> Result<(), AdapterError> {
        self.record(message, Heard::Ended(ended));
        Ok(())
    }
}

/// The scripted agent, except that a message saying "fail" fails.
struct FailOnRequest(ScriptedAgent);

impl Agent for FailOnRequest {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        if request.input.text() != "fail" {
            return self.0.run_turn(request);
        }
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(1);
        let failed = AgentEvent::Failed(AgentError::Transient("the model is down".into()));
        events.try_send(failed).unwrap();
        TurnHandle {
            events: rx,
            control,
        }
    }
}

struct Chat {
    platform: Reacting,
    stats: Arc<AgentStats>,
    stop: CancellationToken,
    gateway: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start_with(config: GatewayConfig, agent: ScriptedAgent, slow: bool) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let stats = agent.stats();
    let platform = Reacting {
        platform: TestPlatform::new("test"),
        log: Arc::default(),
        slow,
    };
    let gateway = Gateway::builder(store, Arc::new(FailOnRequest(agent)), config)
        .adapter(Arc::new(platform.clone()))
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    let gateway = tokio::spawn(gateway.run(stop.clone()));
    platform.platform.wait_running().await;
    Chat {
        platform,
        stats,
        stop,
        gateway,
        _dir: dir,
    }
}

async fn start(config: GatewayConfig, agent: ScriptedAgent) -> Chat {
    start_with(config, agent, false).await
}

fn open() -> GatewayConfig {
    GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[tokio::test(start_paused = true)]
async fn a_turn_is_heard_from_its_start_to_the_end_of_the_whole_streamed_reply() {
    let reply = "one two three four five six seven eight nine ten eleven twelve";
    let agent = ScriptedAgent::streaming(reply, 6, Duration::from_millis(400));
    let chat = start(open(), agent).await;
    let asked = chat
        .platform
        .platform
        .user("alice")
        .dm("count")
        .await
        .unwrap();

    let ended = chat.platform.ended(&asked).await;
    assert_eq!(
        chat.platform.heard(&asked),
        [Heard::Started, Heard::Ended(TurnEnded::Answered)]
    );
    let seen = chat.platform.seen();
    assert!(seen[0].shown.is_empty(), "started after the reply began");
    assert_eq!(ended.shown, [reply], "ended before the whole reply showed");
    let reply_edits = chat.platform.platform.sent("alice")[0].edits.len();
    assert!(
        reply_edits > 1,
        "the reply was not streamed ({reply_edits} edits)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_turn_ends_failed_after_the_error_is_shown() {
    let chat = start(open(), ScriptedAgent::echo()).await;
    let platform = &chat.platform.platform;
    // The error takes its time to arrive: the end waits for it.
    platform.hold();
    let asked = platform.user("alice").dm("fail").await.unwrap();
    platform.wait_for_held(1).await;
    platform.release();

    let ended = chat.platform.ended(&asked).await;
    assert_eq!(
        chat.platform.heard(&asked),
        [Heard::Started, Heard::Ended(TurnEnded::Failed)]
    );
    assert_eq!(ended.shown.len(), 1, "{:?}", ended.shown);
    assert!(ended.shown[0].starts_with("⚠️"), "{:?}", ended.shown);
}

#[tokio::test(start_paused = true)]
async fn stop_ends_the_turn_and_the_queued_message_it_drops_is_never_marked() {
    let config = GatewayConfig {
        busy_input_mode: BusyMode::Queue,
        ..open()
    };
    let chat = start(config, ScriptedAgent::with_delay(Duration::from_secs(60))).await;
    let alice = chat.platform.platform.user("alice");
    let first = alice.dm("first").await.unwrap();
    chat.stats.wait_started(1).await;
    let queued = alice.dm("second").await.unwrap();
    let stop = alice.dm("/stop").await.unwrap();
    chat.platform.ended(&first).await;
    let after = alice.dm("after").await.unwrap();
    chat.platform.ended(&after).await;

    assert_eq!(
        chat.platform.heard(&first),
        [Heard::Started, Heard::Ended(TurnEnded::Stopped)]
    );
    assert_eq!(
        chat.platform.heard(&after),
        [Heard::Started, Heard::Ended(TurnEnded::Answered)]
    );
    assert!(chat.platform.heard(&queued).is_empty());
    assert!(chat.platform.heard(&stop).is_empty());
    assert_eq!(chat.platform.seen().len(), 4);
    assert_eq!(chat.stats.inputs(), ["first", "after"]);
}

#[tokio::test(start_paused = true)]
async fn a_turn_a_newer_message_interrupts_ends_stopped_and_the_newer_one_is_answered() {
    let chat = start(open(), ScriptedAgent::with_delay(Duration::from_secs(60))).await;
    let alice = chat.platform.platform.user("alice");
    let first = alice.dm("first").await.unwrap();
    chat.stats.wait_started(1).await;
    let second = alice.dm("second").await.unwrap();
    chat.platform.ended(&second).await;

    assert_eq!(
        chat.platform.heard(&first),
        [Heard::Started, Heard::Ended(TurnEnded::Stopped)]
    );
    assert_eq!(
        chat.platform.heard(&second),
        [Heard::Started, Heard::Ended(TurnEnded::Answered)]
    );
    assert_eq!(chat.platform.seen().len(), 4);
    assert_eq!(chat.stats.interrupted(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_turn_the_shutdown_cancels_ends_stopped() {
    let config = GatewayConfig {
        drain_timeout_secs: 1,
        ..open()
    };
    let mut chat = start(config, ScriptedAgent::with_delay(Duration::from_secs(3600))).await;
    let asked = chat
        .platform
        .platform
        .user("alice")
        .dm("long")
        .await
        .unwrap();
    chat.stats.wait_started(1).await;
    chat.stop.cancel();
    (&mut chat.gateway).await.unwrap();

    chat.platform.ended(&asked).await;
    assert_eq!(
        chat.platform.heard(&asked),
        [Heard::Started, Heard::Ended(TurnEnded::Stopped)]
    );
}

#[tokio::test(start_paused = true)]
async fn commands_and_refused_senders_are_never_marked() {
    let config = GatewayConfig {
        allowed_users: vec!["alice".into()],
        unauthorized_dm_behavior: Some(DmBehavior::Pair),
        // Everyone in a group shares its session, so its messages are
        // handled in order.
        group_sessions_per_user: false,
        ..GatewayConfig::default()
    };
    let chat = start(config, ScriptedAgent::echo()).await;
    let platform = &chat.platform.platform;
    let alice = platform.user("alice");
    let mallory = platform.user("mallory");

    mallory.dm("let me in").await.unwrap();
    let code = platform.wait_for_messages("mallory", 1).await;
    assert!(code[0].text.contains("pairing code"), "{:?}", code[0].text);
    mallory.say_in_group("g1", "hello all").await.unwrap();
    alice.dm("/help").await.unwrap();
    platform.wait_for_messages("alice", 1).await;
    alice.dm("/status").await.unwrap();
    platform.wait_for_messages("alice", 2).await;
    let asked = alice.say_in_group("g1", "hi").await.unwrap();
    chat.platform.ended(&asked).await;

    let seen: Vec<_> = chat
        .platform
        .seen()
        .into_iter()
        .map(|s| (s.message, s.heard))
        .collect();
    assert_eq!(
        seen,
        [
            (asked.clone(), Heard::Started),
            (asked, Heard::Ended(TurnEnded::Answered))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_platform_slow_to_react_delays_neither_the_reply_nor_the_end() {
    let chat = start_with(open(), ScriptedAgent::echo(), true).await;
    let sent_at = Instant::now();
    let asked = chat.platform.platform.user("alice").dm("hi").await.unwrap();
    chat.platform
        .platform
        .wait_for_text("alice", |t| t == "echo: hi (0 earlier)")
        .await;
    let replied_at = chat.platform.platform.calls().last().unwrap().at;
    assert!(
        replied_at - sent_at < Duration::from_secs(1),
        "the reply waited for the reaction"
    );

    // The end still comes, once the start was given up on: never before it.
    let ended = chat.platform.ended(&asked).await;
    assert_eq!(
        chat.platform.heard(&asked),
        [Heard::Started, Heard::Ended(TurnEnded::Answered)]
    );
    let started = chat.platform.seen()[0].at;
    assert!(ended.at - started >= Duration::from_secs(10));
    assert!(ended.at - started < Duration::from_secs(11));
}
