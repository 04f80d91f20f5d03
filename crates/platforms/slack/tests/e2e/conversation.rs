//! DMs end to end: streamed and long replies, history, commands, pairing.

use crate::support::{World, settled, texts, within};
use hermod_core::{ApproveOutcome, GatewayConfig, Pairing};
use hermod_model::PlatformId;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

const SLACK: PlatformId = PlatformId::from_static("slack");

#[tokio::test]
async fn a_streamed_reply_is_one_message_edited_in_place_and_history_continues() {
    let world = World::new().await;
    let reply = "The quick brown fox jumps over the lazy dog, twice, and **then** rests & sleeps.";
    let agent = ScriptedAgent::streaming(reply, 10, Duration::from_millis(300));
    let stats = agent.stats();
    let running = world.start(agent).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("tell me a story");

    let done = within(
        "the final text",
        world.fake.wait_for(&dm, |m| {
            m.last()
                .is_some_and(|m| m.current_text().ends_with("sleeps."))
        }),
    )
    .await;
    assert_eq!(done.len(), 1, "{:?}", texts(&done));
    let message = &done[0];
    assert!(!message.edits.is_empty(), "the reply was not streamed");
    assert!(message.text.ends_with(" ▉"), "{}", message.text);
    assert_eq!(message.thread_ts, None, "a DM is answered at the top");
    // The final text is whole, in mrkdwn, without the cursor.
    assert_eq!(
        message.current_text(),
        "The quick brown fox jumps over the lazy dog, twice, and *then* rests &amp; sleeps."
    );
    // Edits kept to about one a second in the channel: none over budget.
    let edits = world.fake.calls_of("chat.update");
    for pair in edits.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(990),
            "two edits {:?} apart",
            pair[1].at - pair[0].at
        );
    }
    assert_eq!(world.fake.budget_overruns("chat.update"), 0);
    assert_eq!(world.fake.budget_overruns("chat.postMessage"), 0);

    // The conversation goes on from where it was.
    alice.dm("and then?");
    within(
        "the second answer",
        world.fake.wait_for(&dm, |m| {
            m.len() == 2
                && !m[1].current_text().contains('▉')
                && m[1].current_text().ends_with("sleeps.")
        }),
    )
    .await;
    let requests = stats.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].history.len() > requests[0].history.len(),
        "the second turn saw the first"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_within_the_limit_at_line_boundaries() {
    let world = World::new().await;
    let lines: Vec<String> = (0..300)
        .map(|i| format!("Line {i:03}: lorem ipsum dolor sit amet & more."))
        .collect();
    let long = lines.join("\n");
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(long.clone())]);
    let running = world.start(agent).await;
    let bob = world.fake.user("bob");
    let dm = bob.dm_channel();
    bob.dm("write a lot");

    let messages = within(
        "the whole reply",
        world.fake.wait_for(&dm, |m| {
            m.iter().any(|m| m.current_text().contains("Line 299"))
                && m.iter().all(|m| !m.current_text().contains('▉'))
        }),
    )
    .await;
    assert!(
        messages.len() > 1,
        "{} characters fit one message?",
        long_len()
    );
    let mut shown = Vec::new();
    for message in &messages {
        let text = message.current_text();
        assert!(
            text.chars().count() <= 4000,
            "{} characters",
            text.chars().count()
        );
        shown.extend(
            text.lines()
                .filter(|l| l.starts_with("Line "))
                .map(|l| l.split(" (").next().unwrap().to_owned()),
        );
    }
    let expected: Vec<String> = lines.iter().map(|l| l.replace('&', "&amp;")).collect();
    assert_eq!(shown, expected, "a line was cut, lost or repeated");
    running.stop().await;
}

fn long_len() -> usize {
    300 * "Line 000: lorem ipsum dolor sit amet & more.\n".len()
}

#[tokio::test]
async fn bang_commands_and_slash_commands_run_gateway_commands() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let carol = world.fake.user("carol");
    let dm = carol.dm_channel();

    carol.dm("!help");
    let help = within(
        "!help",
        world.fake.wait_for(&dm, |m| {
            m.iter().any(|m| m.current_text().starts_with("Commands:"))
        }),
    )
    .await;
    assert_eq!(help.len(), 1, "{:?}", texts(&help));

    // A slash command the app defines, over Socket Mode.
    carol.slash_command(&dm, "/status", "");
    let status = within(
        "/status",
        world.fake.wait_for(&dm, |m| {
            m.iter().any(|m| m.current_text().contains("Agent: idle"))
        }),
    )
    .await;
    assert_eq!(status.len(), 2, "{:?}", texts(&status));
    assert!(
        stats.requests().is_empty(),
        "commands do not reach the agent"
    );
    // The slash command's envelope was acknowledged.
    let envelopes = world.fake.envelopes();
    let slash = envelopes
        .iter()
        .find(|e| e.kind == hermod_testkit::slack::EnvelopeKind::SlashCommands)
        .unwrap();
    within("the ack", world.fake.wait_for_ack(&slash.envelope_id)).await;
    running.stop().await;
}

#[tokio::test]
async fn a_stranger_gets_a_pairing_code_and_then_talks() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    let dave = world.fake.user("dave");
    let dm = dave.dm_channel();

    dave.dm("hello");
    let first = within("the pairing code", world.fake.wait_for_bot_messages(&dm, 1)).await;
    assert!(first[0].text.contains("pairing code"), "{}", first[0].text);
    assert!(
        stats.requests().is_empty(),
        "a stranger does not reach the agent"
    );
    let code = first[0]
        .text
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {}", first[0].text))
        .to_owned();
    let approved = Pairing::new(world.store.as_ref())
        .approve(&SLACK, &code, hermod_core::now_ms())
        .await
        .unwrap();
    assert!(
        matches!(approved, ApproveOutcome::Approved { .. }),
        "{approved:?}"
    );

    dave.dm("how are you?");
    let messages = settled(&world.fake, &dm, 2).await;
    assert_eq!(messages[1].current_text(), "echo: how are you? (0 earlier)");
    assert_eq!(stats.inputs(), ["how are you?"]);
    running.stop().await;
}
