//! The 👀 (`eyes`) reaction end to end: a real gateway (SQLite store) and
//! the Slack adapter in Socket Mode against `FakeSlack`. The reaction goes
//! on a user's message when core starts the turn on it and comes off only
//! after the whole reply showed; `SLACK_REACTIONS=false` turns it off.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{
    Agent, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_core::{Gateway, GatewayConfig, StreamingConfig};
use hermod_model::{ChatMessage, Secret, Usage};
use hermod_slack::{SlackAdapter, SlackConfig};
use hermod_store::SqliteStore;
use hermod_testkit::slack::{BotMessage, SlackCall};
use hermod_testkit::{FakeSlack, ScriptedAgent};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Longest any single wait in these tests may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The reply [`AfterTheReaction`] streams, in parts.
const REPLY: [&str; 4] = [
    "The working reaction ",
    "shows from the start ",
    "of the turn to the end ",
    "of the whole reply.",
];

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// An agent that starts writing only once the bot has reacted to
/// something (so the reaction must come when the turn starts, not with
/// the reply), then streams [`REPLY`] a part at a time.
struct AfterTheReaction {
    fake: Arc<FakeSlack>,
}

impl Agent for AfterTheReaction {
    fn run_turn(&self, _request: TurnRequest) -> TurnHandle {
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(16);
        let fake = Arc::clone(&self.fake);
        tokio::spawn(async move {
            fake.wait_for_calls("reactions.add", 1).await;
            for part in REPLY {
                let _ = events.send(AgentEvent::TextDelta(part.into())).await;
                tokio::time::sleep(Duration::from_millis(1200)).await;
            }
            let text = REPLY.concat();
            let outcome = TurnOutcome {
                text: text.clone(),
                messages: vec![ChatMessage::assistant(text)],
                usage: Usage::default(),
                finish_reason: FinishReason::Stop,
                unused_steer: Vec::new(),
            };
            let _ = events.send(AgentEvent::Final(outcome)).await;
        });
        TurnHandle {
            events: rx,
            control,
        }
    }
}

/// A fake Slack with a gateway on it; the gateway stops when dropped.
struct World {
    fake: Arc<FakeSlack>,
    _stop: DropGuard,
    _dir: tempfile::TempDir,
}

impl World {
    /// A gateway anyone may talk to, streaming on, with `reactions` as
    /// `SLACK_REACTIONS`; `agent` is made with the fake.
    async fn start(reactions: bool, agent: impl FnOnce(Arc<FakeSlack>) -> Arc<dyn Agent>) -> Self {
        let fake = Arc::new(FakeSlack::start().await);
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("hermod.db")).unwrap());
        let config = SlackConfig {
            bot_token: Some(Secret::new(&fake.config().bot_token)),
            app_token: Some(Secret::new(&fake.config().app_token)),
            api_base_url: fake.api_base_url(),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            reactions,
            ..SlackConfig::default()
        };
        let adapter = SlackAdapter::new(config).unwrap();
        let gateway = GatewayConfig {
            allow_all_users: true,
            ..GatewayConfig::default()
        };
        let streaming = StreamingConfig {
            edit_interval: 1.0,
            ..StreamingConfig::default()
        };
        let gateway = Gateway::builder(store, agent(Arc::clone(&fake)), gateway)
            .adapter(Arc::new(adapter))
            .streaming(streaming)
            .output_dir(dir.path().join("output"))
            .build()
            .unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(gateway.run(stop.clone()));
        Self {
            fake,
            _stop: stop.drop_guard(),
            _dir: dir,
        }
    }

    /// Waits until `channel` has `n` bot messages and none still shows the
    /// streaming cursor.
    async fn settled(&self, channel: &str, n: usize) -> Vec<BotMessage> {
        within(
            "the replies to finish",
            self.fake.wait_for(channel, |m| {
                m.len() >= n && m.iter().all(|m| !m.current_text().contains('▉'))
            }),
        )
        .await
    }

    /// Waits until the bot took a reaction off; returns that call.
    async fn removed(&self) -> SlackCall {
        within(
            "the reaction to come off",
            self.fake.wait_for_calls("reactions.remove", 1),
        )
        .await
        .remove(0)
    }

    /// The position in the recorded calls of the last call of `method`.
    fn last_call(&self, method: &str) -> usize {
        self.fake
            .calls()
            .iter()
            .rposition(|c| c.method == method)
            .unwrap()
    }
}

/// The message and reaction a `reactions.*` call names.
fn named(call: &SlackCall) -> [String; 3] {
    ["channel", "timestamp", "name"].map(|key| call.params[key].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_reaction_shows_from_the_start_of_the_turn_until_the_whole_reply_showed() {
    let world = World::start(true, |fake| Arc::new(AfterTheReaction { fake })).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    let asked = alice.dm("tell me about the reaction");

    let reply = world.settled(&dm, 1).await;
    assert_eq!(reply[0].current_text(), REPLY.concat());
    assert!(reply[0].edits.len() > 1, "the reply was not streamed");
    let removed = world.removed().await;
    let expected = [dm.clone(), asked.ts.clone(), "eyes".to_owned()];
    assert_eq!(named(&world.fake.calls_of("reactions.add")[0]), expected);
    assert_eq!(named(&removed), expected);
    assert!(world.fake.reactions(&dm, &asked.ts).is_empty());
    assert!(
        world.last_call("reactions.remove") > world.last_call("chat.update"),
        "the reaction came off before the reply was whole"
    );
}

#[tokio::test]
async fn a_channel_message_answered_in_its_thread_is_marked() {
    let world = World::start(true, |fake| Arc::new(AfterTheReaction { fake })).await;
    let general = world.fake.public_channel("general");
    let asked = world
        .fake
        .user("grace")
        .mention_bot_in(&general, "a question");

    let reply = world.settled(&general, 1).await;
    assert_eq!(reply[0].thread_ts.as_deref(), Some(asked.ts.as_str()));
    let removed = world.removed().await;
    let expected = [general.clone(), asked.ts.clone(), "eyes".to_owned()];
    assert_eq!(named(&world.fake.calls_of("reactions.add")[0]), expected);
    assert_eq!(named(&removed), expected);
    assert!(world.fake.reactions(&general, &asked.ts).is_empty());
    assert!(
        world.last_call("reactions.remove") > world.last_call("chat.update"),
        "the reaction came off before the reply was whole"
    );
}

#[tokio::test]
async fn with_reactions_off_no_message_is_marked() {
    let world = World::start(false, |_| Arc::new(ScriptedAgent::echo())).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("hello");

    let reply = world.settled(&dm, 1).await;
    assert_eq!(reply[0].current_text(), "echo: hello (0 earlier)");
    // A second turn, which gives the first's reaction calls, had there
    // been any, the time to arrive.
    alice.dm("again");
    world.settled(&dm, 2).await;
    assert!(world.fake.calls_of("reactions.add").is_empty());
}
