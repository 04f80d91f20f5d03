//! Private chats end to end: pairing, streamed and long replies, commands.

use crate::support::{World, pairing_code, settled, texts, within};
use hermod_core::{ApproveOutcome, GatewayConfig, Pairing};
use hermod_model::PlatformId;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

const TELEGRAM: PlatformId = PlatformId::from_static("telegram");

#[tokio::test]
async fn a_stranger_pairs_and_then_talks() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    let alice = world.fake.user(1001, "Alice");

    let hello = alice.dm("hello");
    let first = within(
        "the pairing code",
        world.fake.wait_for_bot_messages(1001, 1),
    )
    .await;
    assert!(first[0].text.contains("pairing code"), "{}", first[0].text);
    assert_eq!(first[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(first[0].reply_to, Some(hello), "the first message replies");
    let code = pairing_code(&first[0]);
    assert!(
        stats.requests().is_empty(),
        "a stranger does not reach the agent"
    );

    let approved = Pairing::new(world.store.as_ref())
        .approve(&TELEGRAM, &code, hermod_core::now_ms())
        .await
        .unwrap();
    assert!(
        matches!(approved, ApproveOutcome::Approved { .. }),
        "{approved:?}"
    );

    alice.dm("how are you?");
    let messages = within(
        "the answer",
        world.fake.wait_for(1001, |m| {
            m.iter()
                .any(|m| m.current_text().starts_with("echo: how are you?"))
        }),
    )
    .await;
    assert_eq!(messages.len(), 2, "{:?}", texts(&messages));
    assert_eq!(stats.inputs(), ["how are you?"]);
    running.stop().await;
}

#[tokio::test]
async fn a_streamed_reply_is_one_message_edited_in_place() {
    let world = World::new().await;
    let reply = "The quick brown fox jumps over the lazy dog, twice, and **then** rests.";
    let agent = ScriptedAgent::streaming(reply, 12, Duration::from_millis(400));
    let running = world.start(agent).await;
    world.fake.user(1002, "Bob").dm("tell me a story");

    let done = within(
        "the final text",
        world.fake.wait_for(1002, |m| {
            m.last()
                .is_some_and(|m| m.current_text().ends_with("rests."))
        }),
    )
    .await;
    assert_eq!(done.len(), 1, "{:?}", texts(&done));
    let message = &done[0];
    assert!(!message.edits.is_empty(), "the reply was not streamed");
    assert!(message.raw_text.ends_with(" ▉"), "{}", message.raw_text);
    let last = message.current_text();
    assert!(!last.contains('▉'), "the cursor stayed: {last}");
    assert_eq!(
        last,
        "The quick brown fox jumps over the lazy dog, twice, and then rests."
    );
    assert!(message.current_raw_text().contains("<b>then</b>"));
    assert_eq!(message.current_parse_mode(), Some("HTML"));
    // Edits kept to the adapter's pace: at least a second apart.
    let edits = world.fake.calls_of("editMessageText");
    for pair in edits.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(990));
    }
    running.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_into_fitting_messages() {
    let world = World::new().await;
    let paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    let long = format!("{paragraph}\n\n").repeat(8);
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(long.clone())]);
    let running = world.start(agent).await;
    world.fake.user(1003, "Carol").dm("write a lot");

    let messages = settled(&world.fake, 1003, 3).await;
    assert_eq!(messages.len(), 3, "{:?}", texts(&messages));
    for message in &messages {
        assert!(message.current_text().encode_utf16().count() <= 4096);
    }
    let shown: String = texts(&messages).concat();
    assert_eq!(shown.matches("Lorem ipsum").count(), 160, "words were lost");
    running.stop().await;
}

#[tokio::test]
async fn commands_new_stop_and_status() {
    let world = World::new().await;
    let agent = ScriptedAgent::with_delay(Duration::from_secs(20));
    let stats = agent.stats();
    let running = world.start(agent).await;
    let dave = world.fake.user(1004, "Dave");

    dave.command("status");
    let status = within("/status", world.fake.wait_for_bot_messages(1004, 1)).await;
    assert!(status[0].text.contains("Agent: idle"), "{}", status[0].text);

    dave.dm("think for a long time");
    within("the turn to start", stats.wait_started(1)).await;
    // "typing…" shows while the agent works.
    within(
        "the typing indicator",
        world.fake.wait_for_calls("sendChatAction", 1),
    )
    .await;
    let actions = world.fake.chat_actions(1004);
    assert!(!actions.is_empty() && actions.iter().all(|a| a == "typing"));
    dave.command("stop");
    let stopped = within(
        "/stop",
        world.fake.wait_for(1004, |m| {
            m.iter().any(|m| m.current_text().contains("Stopped"))
        }),
    )
    .await;
    assert!(!stopped.is_empty());

    dave.command("new");
    within(
        "/new",
        world.fake.wait_for(1004, |m| {
            m.iter()
                .any(|m| m.current_text().contains("New conversation"))
        }),
    )
    .await;
    running.stop().await;
}
