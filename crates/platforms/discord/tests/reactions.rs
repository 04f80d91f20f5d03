//! The 👀 reaction end to end: a real gateway (SQLite store) and the
//! Discord adapter against `FakeDiscord`. The reaction goes on a user's
//! message when core starts the turn on it and comes off only after the
//! whole reply showed; `DISCORD_REACTIONS=false` turns it off.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{
    Agent, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_core::{Gateway, GatewayConfig, StreamingConfig};
use hermod_discord::{DiscordAdapter, DiscordConfig};
use hermod_model::{ChatMessage, Secret, Usage};
use hermod_store::SqliteStore;
use hermod_testkit::discord::{BotReaction, Post, Route, SentMessage};
use hermod_testkit::{FakeDiscord, ScriptedAgent};
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
    fake: Arc<FakeDiscord>,
}

impl Agent for AfterTheReaction {
    fn run_turn(&self, _request: TurnRequest) -> TurnHandle {
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(16);
        let fake = Arc::clone(&self.fake);
        tokio::spawn(async move {
            fake.wait_for_calls(Route::CreateReaction, 1).await;
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

/// A fake Discord with a gateway on it; the gateway stops when dropped.
struct World {
    fake: Arc<FakeDiscord>,
    _stop: DropGuard,
    _dir: tempfile::TempDir,
}

impl World {
    /// A gateway anyone may talk to, streaming on, with `reactions` as
    /// `DISCORD_REACTIONS`; `agent` is made with the fake.
    async fn start(
        reactions: bool,
        agent: impl FnOnce(Arc<FakeDiscord>) -> Arc<dyn Agent>,
    ) -> Self {
        let fake = Arc::new(FakeDiscord::start().await);
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("hermod.db")).unwrap());
        let mut config = DiscordConfig {
            bot_token: Some(Secret::new(fake.token())),
            api_base_url: fake.api_base_url(),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            reactions,
            ..DiscordConfig::default()
        };
        config.set_media_dir(dir.path().join("media"));
        let adapter = DiscordAdapter::new(config).unwrap();
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
        within("the gateway to connect", fake.wait_for_session()).await;
        Self {
            fake,
            _stop: stop.drop_guard(),
            _dir: dir,
        }
    }

    /// Waits until `channel` has `n` bot messages and none still shows the
    /// streaming cursor.
    async fn settled(&self, channel: u64, n: usize) -> Vec<SentMessage> {
        within(
            "the replies to finish",
            self.fake.wait_for(channel, |m| {
                m.len() >= n && m.iter().all(|m| !m.current_content().contains('▉'))
            }),
        )
        .await
    }

    /// Waits until the bot took a reaction off; returns every reaction.
    async fn removed(&self) -> Vec<BotReaction> {
        within(
            "the reaction to come off",
            self.fake.wait_for_calls(Route::DeleteOwnReaction, 1),
        )
        .await;
        self.fake.reactions()
    }

    /// The position in the recorded calls of the last call of `route`.
    fn last_call(&self, route: Route) -> usize {
        self.fake
            .calls()
            .iter()
            .rposition(|c| c.route == route)
            .unwrap()
    }
}

fn working(channel_id: u64, message_id: u64, removed: bool) -> BotReaction {
    BotReaction {
        channel_id,
        message_id,
        emoji: "👀".into(),
        removed,
    }
}

#[tokio::test]
async fn the_reaction_shows_from_the_start_of_the_turn_until_the_whole_reply_showed() {
    let world = World::start(true, |fake| Arc::new(AfterTheReaction { fake })).await;
    let alice = world.fake.user("alice");
    let channel = alice.dm_channel();
    let asked = alice.dm("tell me about the reaction");

    let reply = world.settled(channel, 1).await;
    assert_eq!(reply[0].current_content(), REPLY.concat());
    assert!(reply[0].edits.len() > 1, "the reply was not streamed");
    assert_eq!(world.removed().await, [working(channel, asked, true)]);
    assert!(
        world.last_call(Route::DeleteOwnReaction) > world.last_call(Route::EditMessage),
        "the reaction came off before the reply was whole"
    );
}

#[tokio::test]
async fn in_a_thread_started_from_the_message_the_message_in_the_channel_is_marked() {
    let world = World::start(true, |fake| Arc::new(AfterTheReaction { fake })).await;
    let carol = world.fake.user("carol");
    let guild = world.fake.guild("hermod lab", &carol);
    let general = guild.text_channel("general");
    let asked = carol.send(general, Post::text("a question").mentioning_bot());

    // The thread started from the message takes its id.
    world.settled(asked, 1).await;
    assert_eq!(world.removed().await, [working(general, asked, true)]);
}

#[tokio::test]
async fn with_reactions_off_no_message_is_marked() {
    let world = World::start(false, |_| Arc::new(ScriptedAgent::echo())).await;
    let alice = world.fake.user("alice");
    let channel = alice.dm_channel();
    alice.dm("hello");

    let reply = world.settled(channel, 1).await;
    assert_eq!(reply[0].current_content(), "echo: hello (0 earlier)");
    // A second turn, which gives the first's reaction calls, had there
    // been any, the time to arrive.
    alice.dm("again");
    world.settled(channel, 2).await;
    assert_eq!(world.fake.call_count(Route::CreateReaction), 0);
    assert!(world.fake.reactions().is_empty());
}
