//! The 👀 (`eyes`) reaction in Socket Mode: it goes on a user's message
//! when core starts the turn on it and comes off only after the whole
//! reply showed; `SLACK_REACTIONS=false` turns it off.

use crate::support::{Running, World, allow_all, settled, within};
use hermod_agent::{
    Agent, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_model::{ChatMessage, Usage};
use hermod_testkit::slack::SlackCall;
use hermod_testkit::{FakeSlack, ScriptedAgent};
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

/// A gateway anyone may talk to, streaming on, with `reactions` as
/// `SLACK_REACTIONS`.
async fn start(world: &World, agent: impl Agent + 'static, reactions: bool) -> Running {
    let mut config = world.config();
    config.reactions = reactions;
    world.start_with(agent, allow_all(), config).await
}

/// Waits until the bot reacted to a message, then lets the agent write.
async fn reacted(fake: &FakeSlack, agent: &watch::Sender<bool>) {
    let reaction = fake.wait_for_calls("reactions.add", 1);
    within("the reaction when the turn starts", reaction).await;
    agent.send_replace(true);
}

/// Waits until the bot took a reaction off; returns that call.
async fn removed(fake: &FakeSlack) -> SlackCall {
    let removal = fake.wait_for_calls("reactions.remove", 1);
    within("the reaction to come off", removal).await.remove(0)
}

/// The position in the recorded calls of the last call of `method`.
fn last_call(fake: &FakeSlack, method: &str) -> usize {
    fake.calls()
        .iter()
        .rposition(|c| c.method == method)
        .unwrap()
}

/// The message and reaction a `reactions.*` call names.
fn named(call: &SlackCall) -> [String; 3] {
    ["channel", "timestamp", "name"].map(|key| call.params[key].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_reaction_shows_from_the_start_of_the_turn_until_the_whole_reply_showed() {
    let world = World::new().await;
    let (agent, write) = after_the_reaction();
    let running = start(&world, agent, true).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    let asked = alice.dm("tell me about the reaction");

    reacted(&world.fake, &write).await;
    let reply = settled(&world.fake, &dm, 1).await;
    assert_eq!(reply[0].current_text(), REPLY.concat());
    assert!(reply[0].edits.len() > 1, "the reply was not streamed");
    let removed = removed(&world.fake).await;
    let expected = [dm.clone(), asked.ts.clone(), "eyes".to_owned()];
    assert_eq!(named(&world.fake.calls_of("reactions.add")[0]), expected);
    assert_eq!(named(&removed), expected);
    assert!(world.fake.reactions(&dm, &asked.ts).is_empty());
    assert!(
        last_call(&world.fake, "reactions.remove") > last_call(&world.fake, "chat.update"),
        "the reaction came off before the reply was whole"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_channel_message_answered_in_its_thread_is_marked() {
    let world = World::new().await;
    let (agent, write) = after_the_reaction();
    let running = start(&world, agent, true).await;
    let general = world.fake.public_channel("general");
    let asked = world
        .fake
        .user("grace")
        .mention_bot_in(&general, "a question");

    reacted(&world.fake, &write).await;
    let reply = settled(&world.fake, &general, 1).await;
    assert_eq!(reply[0].thread_ts.as_deref(), Some(asked.ts.as_str()));
    let removed = removed(&world.fake).await;
    let expected = [general.clone(), asked.ts.clone(), "eyes".to_owned()];
    assert_eq!(named(&world.fake.calls_of("reactions.add")[0]), expected);
    assert_eq!(named(&removed), expected);
    assert!(world.fake.reactions(&general, &asked.ts).is_empty());
    assert!(
        last_call(&world.fake, "reactions.remove") > last_call(&world.fake, "chat.update"),
        "the reaction came off before the reply was whole"
    );
    running.stop().await;
}

#[tokio::test]
async fn with_reactions_off_no_message_is_marked() {
    let world = World::new().await;
    let running = start(&world, ScriptedAgent::echo(), false).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("hello");

    let reply = settled(&world.fake, &dm, 1).await;
    assert_eq!(reply[0].current_text(), "echo: hello (0 earlier)");
    // A second turn, which gives the first's reaction calls, had there
    // been any, the time to arrive.
    alice.dm("again");
    settled(&world.fake, &dm, 2).await;
    assert!(world.fake.calls_of("reactions.add").is_empty());
    running.stop().await;
}
