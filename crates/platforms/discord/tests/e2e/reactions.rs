//! The 👀 reaction: it goes on a user's message when core starts the turn
//! on it and comes off only after the whole reply showed;
//! `DISCORD_REACTIONS=false` turns it off.

use crate::support::{World, allow_all, settled, within};
use hermod_agent::{
    Agent, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_discord::DiscordAdapter;
use hermod_model::{ChatMessage, Usage};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::discord::{BotReaction, FakeDiscord, Post, Route};
use hermod_testkit::harness::Running;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The reply [`AfterTheReaction`] streams, in parts.
const REPLY: [&str; 4] = [
    "The working reaction ",
    "shows from the start ",
    "of the turn to the end ",
    "of the whole reply.",
];

/// An agent that starts writing only once the test saw the bot react (so
/// the reaction must come when the turn starts, not with the reply), then
/// streams [`REPLY`] a part at a time.
struct AfterTheReaction {
    reacted: watch::Receiver<bool>,
}

impl Agent for AfterTheReaction {
    fn run_turn(&self, _request: TurnRequest) -> TurnHandle {
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(16);
        let mut reacted = self.reacted.clone();
        tokio::spawn(async move {
            let _ = reacted.wait_for(|reacted| *reacted).await;
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

/// [`AfterTheReaction`], and the switch that lets it write.
fn after_the_reaction() -> (AfterTheReaction, watch::Sender<bool>) {
    let (reacted, rx) = watch::channel(false);
    (AfterTheReaction { reacted: rx }, reacted)
}

/// A connected gateway anyone may talk to, streaming on, with
/// `reactions` as `DISCORD_REACTIONS`.
async fn start(
    world: &World,
    agent: impl Agent + 'static,
    reactions: bool,
) -> Running<DiscordAdapter> {
    let mut config = world.config();
    config.reactions = reactions;
    let running = world.start_with(agent, allow_all(), config).await;
    running.connected().await;
    running
}

/// Waits until the bot reacted to a message, then lets the agent write.
async fn reacted(fake: &FakeDiscord, agent: &watch::Sender<bool>) {
    let reaction = fake.wait_for_calls(Route::CreateReaction, 1);
    within("the reaction when the turn starts", reaction).await;
    agent.send_replace(true);
}

/// Waits until the bot took a reaction off; returns every reaction.
async fn removed(fake: &FakeDiscord) -> Vec<BotReaction> {
    let removal = fake.wait_for_calls(Route::DeleteOwnReaction, 1);
    within("the reaction to come off", removal).await;
    fake.reactions()
}

/// The position in the recorded calls of the last call of `route`.
fn last_call(fake: &FakeDiscord, route: Route) -> usize {
    fake.calls().iter().rposition(|c| c.route == route).unwrap()
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
    let world = World::new().await;
    let (agent, write) = after_the_reaction();
    let running = start(&world, agent, true).await;
    let alice = world.fake.user("alice");
    let channel = alice.dm_channel();
    let asked = alice.dm("tell me about the reaction");

    reacted(&world.fake, &write).await;
    let reply = settled(&world.fake, channel, 1).await;
    assert_eq!(reply[0].current_content(), REPLY.concat());
    assert!(reply[0].edits.len() > 1, "the reply was not streamed");
    assert_eq!(removed(&world.fake).await, [working(channel, asked, true)]);
    assert!(
        last_call(&world.fake, Route::DeleteOwnReaction)
            > last_call(&world.fake, Route::EditMessage),
        "the reaction came off before the reply was whole"
    );
    running.stop().await;
}

#[tokio::test]
async fn in_a_thread_started_from_the_message_the_message_in_the_channel_is_marked() {
    let world = World::new().await;
    let (agent, write) = after_the_reaction();
    let running = start(&world, agent, true).await;
    let carol = world.fake.user("carol");
    let guild = world.fake.guild("hermod lab", &carol);
    let general = guild.text_channel("general");
    let asked = carol.send(general, Post::text("a question").mentioning_bot());

    reacted(&world.fake, &write).await;
    // The thread started from the message takes its id.
    settled(&world.fake, asked, 1).await;
    assert_eq!(removed(&world.fake).await, [working(general, asked, true)]);
    running.stop().await;
}

#[tokio::test]
async fn with_reactions_off_no_message_is_marked() {
    let world = World::new().await;
    let running = start(&world, ScriptedAgent::echo(), false).await;
    let alice = world.fake.user("alice");
    let channel = alice.dm_channel();
    alice.dm("hello");

    let reply = settled(&world.fake, channel, 1).await;
    assert_eq!(reply[0].current_content(), "echo: hello (0 earlier)");
    // A second turn, which gives the first's reaction calls, had there
    // been any, the time to arrive.
    alice.dm("again");
    settled(&world.fake, channel, 2).await;
    assert_eq!(world.fake.call_count(Route::CreateReaction), 0);
    assert!(world.fake.reactions().is_empty());
    running.stop().await;
}
