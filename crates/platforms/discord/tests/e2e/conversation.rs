//! Conversations end to end: DMs, streamed and long replies, guild
//! channels, commands typed and slash, strangers.

use crate::support::{World, allow_all, settled, texts, within};
use hermod_core::GatewayConfig;
use hermod_testkit::discord::{Fault, Post, Route};
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

#[tokio::test]
async fn a_dm_is_answered_by_a_streamed_reply_and_history_continues() {
    let world = World::new().await;
    let reply = "The quick brown fox jumps over the lazy dog, twice, and **then** rests.";
    let agent = ScriptedAgent::streaming(reply, 12, Duration::from_millis(400));
    let stats = agent.stats();
    let running = world.start(agent).await;
    running.connected().await;
    let alice = world.fake.user("alice");
    let channel = alice.dm_channel();
    alice.dm("tell me a story");

    let done = within(
        "the final text",
        world.fake.wait_for(channel, |m| {
            m.last()
                .is_some_and(|m| m.current_content().ends_with("rests."))
        }),
    )
    .await;
    assert_eq!(done.len(), 1, "{:?}", texts(&done));
    assert!(!done[0].edits.is_empty(), "the reply was not streamed");
    assert_eq!(done[0].current_content(), reply);
    assert_eq!(world.fake.would_be_429s(), 0, "pacing let a 429 happen");

    alice.dm("and then?");
    settled(&world.fake, channel, 2).await;
    let requests = stats.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].history.len() > requests[0].history.len(),
        "the second turn did not see the first"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_within_2000_characters_at_lines() {
    let world = World::new().await;
    let lines: Vec<String> = (0..120)
        .map(|i| format!("line {i:03}: {}", "word ".repeat(8)))
        .collect();
    let text = lines.join("\n");
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(text.clone())]);
    let running = world.start(agent).await;
    running.connected().await;
    let bob = world.fake.user("bob");
    let channel = bob.dm_channel();
    bob.dm("long please");
    let messages = within(
        "the last line",
        world.fake.wait_for(channel, |m| {
            m.iter().any(|m| m.current_content().contains("line 119"))
                && m.iter().all(|m| !m.current_content().contains('▉'))
        }),
    )
    .await;
    assert!(messages.len() >= 3, "{}", messages.len());
    let mut seen = Vec::new();
    for content in texts(&messages) {
        assert!(
            content.chars().count() <= 2000,
            "{}",
            content.chars().count()
        );
        seen.extend(
            content
                .lines()
                .filter(|l| l.starts_with("line "))
                .map(str::to_owned),
        );
    }
    let expected: Vec<String> = lines.iter().map(|l| l.trim_end().to_owned()).collect();
    let seen: Vec<String> = seen.iter().map(|l| l.trim_end().to_owned()).collect();
    assert_eq!(seen, expected, "a line was cut or lost");
    running.stop().await;
}

#[tokio::test]
async fn guild_messages_are_answered_only_when_mentioned() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let carol = world.fake.user("carol");
    let guild = world.fake.guild("hermod lab", &carol);
    let general = guild.text_channel("general");
    running.connected().await;

    carol.say_in(general, "just chatting");
    carol.send(general, Post::text("what time is it?").mentioning_bot());
    // By default (as in Hermes) the answer goes in a thread started from
    // the question.
    let thread = within("the thread", async {
        loop {
            if let Some(thread) = world.fake.threads(general).first().copied() {
                break thread;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let messages = settled(&world.fake, thread, 1).await;
    assert!(messages[0].current_content().contains("what time is it?"));
    assert!(
        world.fake.bot_messages(general).is_empty(),
        "nothing in the channel itself"
    );
    assert_eq!(stats.inputs(), ["what time is it?"]);
    running.stop().await;
}

#[tokio::test]
async fn without_auto_thread_the_answer_replies_in_the_channel() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let mut config = world.config();
    config.auto_thread = false;
    let running = world.start_with(agent, allow_all(), config).await;
    let carol = world.fake.user("carol");
    let guild = world.fake.guild("hermod lab", &carol);
    let general = guild.text_channel("general");
    running.connected().await;

    let asked = carol.send(general, Post::text("what time is it?").mentioning_bot());
    let messages = settled(&world.fake, general, 1).await;
    assert_eq!(messages.len(), 1, "{:?}", texts(&messages));
    assert!(messages[0].current_content().contains("what time is it?"));
    assert_eq!(
        messages[0].reply_to,
        Some(asked),
        "the answer replies to the question"
    );
    assert!(world.fake.threads(general).is_empty());
    running.stop().await;
}

#[tokio::test]
async fn help_typed_and_as_a_slash_command() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    running.connected().await;
    within("the slash commands", world.fake.wait_for_commands()).await;
    assert!(world.fake.commands().iter().any(|c| c["name"] == "help"));
    let dave = world.fake.user("dave");
    let channel = dave.dm_channel();

    dave.dm("/help");
    let typed = settled(&world.fake, channel, 1).await;
    assert!(
        typed[0].current_content().contains("/new"),
        "{:?}",
        texts(&typed)
    );

    let interaction = dave.slash_command(channel, "help", &[]);
    let reply = within(
        "the interaction's answer",
        world.fake.wait_for_interaction_reply(interaction.id),
    )
    .await;
    assert_eq!(reply.kind, 5, "answered deferred first");
    let answered = within(
        "the help text in the interaction's message",
        world.fake.wait_for(channel, |m| {
            m.iter().any(|m| {
                m.interaction_id == Some(interaction.id) && m.current_content().contains("/new")
            })
        }),
    )
    .await;
    assert!(
        answered
            .iter()
            .all(|m| !m.current_content().is_empty() || m.interaction_id.is_none())
    );
    running.stop().await;
}

#[tokio::test]
async fn a_stranger_gets_a_pairing_code_and_the_agent_is_not_asked() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    running.connected().await;
    let eve = world.fake.user("eve");
    let channel = eve.dm_channel();
    eve.dm("hello");
    let messages = settled(&world.fake, channel, 1).await;
    assert!(
        messages[0].current_content().contains("pairing code"),
        "{:?}",
        texts(&messages)
    );
    assert!(stats.requests().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_rate_limited_edit_is_honoured_and_the_final_text_arrives() {
    let world = World::new().await;
    let reply = "One two three four five six seven eight nine ten eleven twelve.";
    let agent = ScriptedAgent::streaming(reply, 8, Duration::from_millis(300));
    let running = world.start(agent).await;
    running.connected().await;
    world
        .fake
        .fail_next(Route::EditMessage, Fault::rate_limited(1.5));
    let frank = world.fake.user("frank");
    let channel = frank.dm_channel();
    frank.dm("count");
    let done = within(
        "the final text",
        world.fake.wait_for(channel, |m| {
            m.last().is_some_and(|m| m.current_content() == reply)
        }),
    )
    .await;
    assert!(!done.is_empty());
    let edits = world.fake.calls_of(Route::EditMessage);
    let refused = edits.first().unwrap().at;
    assert!(
        edits[1..]
            .iter()
            .all(|c| c.at - refused >= Duration::from_millis(1500)),
        "an edit went before retry_after had passed"
    );
    running.stop().await;
}
