//! Bot API servers that answer a successful call without its `result`
//! (`{"ok":true,"result":null}`), as some proxies and emulators do, and
//! edits Telegram answers "message is not modified": both are successes,
//! never repeated.

use crate::support::{World, texts, within, within_for};
use hermod_core::Messenger;
use hermod_testkit::harness::{edit, outbound};
use hermod_testkit::telegram::Fault;
use hermod_testkit::{ScriptedAgent, Step};
use std::collections::HashSet;
use std::time::Duration;

/// Lines long enough that a reply of `n` of them needs several messages.
fn lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("line {i:02}{}\n", " lorem ipsum dolor sit amet".repeat(4)))
        .collect()
}

/// Fails the test when one edit was made twice (same message, same text).
fn assert_no_edit_repeated(world: &World) {
    let mut seen = HashSet::new();
    for call in world.fake.calls_of("editMessageText") {
        let key = (
            call.params["message_id"].to_string(),
            call.params["text"].to_string(),
        );
        assert!(seen.insert(key), "an edit was repeated: {:?}", call.params);
    }
}

#[tokio::test]
async fn the_ok_true_result_null_edit_is_one_call() {
    let world = World::new().await;
    world.fake.open_chat(5001);
    let adapter = world.adapter(world.config());
    let sent = adapter.send(outbound(5001, "first")).await.unwrap();
    world.fake.answer_without_result("editMessageText");

    adapter
        .edit(edit(5001, &sent.message_ids[0], "second"))
        .await
        .unwrap();
    assert_eq!(world.fake.calls_of("editMessageText").len(), 1);
    assert_eq!(world.fake.bot_messages(5001)[0].current_text(), "second");
}

#[tokio::test]
async fn replies_after_an_edit_answered_without_a_result_are_not_delayed() {
    let world = World::new().await;
    world.fake.answer_without_result("editMessageText");
    // The preview goes out, then the final text is an edit of it.
    let agent = ScriptedAgent::scripted(|request| {
        vec![
            Step::Text("Hello".into()),
            Step::Sleep(Duration::from_millis(200)),
            Step::Text(format!(", you said {}.", request.input.text())),
        ]
    });
    let running = world.start(agent).await;
    let user = world.fake.user(5002, "Finn");
    user.dm("one");
    within(
        "the first reply",
        world.fake.wait_for(5002, |m| {
            m.iter().any(|m| m.current_text() == "Hello, you said one.")
        }),
    )
    .await;
    user.dm("two");
    // A retried edit would hold the session for seconds of backoff.
    let messages = within_for(
        Duration::from_secs(3),
        "the second reply",
        world.fake.wait_for(5002, |m| {
            m.iter().any(|m| m.current_text() == "Hello, you said two.")
        }),
    )
    .await;
    assert_eq!(messages.len(), 2, "{:?}", texts(&messages));
    assert_no_edit_repeated(&world);
    assert_eq!(world.fake.calls_of("editMessageText").len(), 2);
    running.stop().await;
}

#[tokio::test]
async fn an_edit_to_the_text_already_shown_is_success_and_never_retried() {
    let world = World::new().await;
    world.fake.open_chat(5003);
    let adapter = world.adapter(world.config());
    let sent = adapter.send(outbound(5003, "same")).await.unwrap();
    world.fake.fail_next(
        "editMessageText",
        Fault::BadRequest(
            "message is not modified: specified new message content and reply markup are \
             exactly the same as a current content and reply markup of the message"
                .into(),
        ),
    );
    adapter
        .edit(edit(5003, &sent.message_ids[0], "other"))
        .await
        .unwrap();
    assert_eq!(world.fake.calls_of("editMessageText").len(), 1);
}

#[tokio::test]
async fn a_send_answered_without_a_result_is_delivered_once_without_an_id() {
    let world = World::new().await;
    world.fake.open_chat(5004);
    world.fake.answer_without_result("sendMessage");
    let adapter = world.adapter(world.config());
    let sent = adapter.send(outbound(5004, "hello")).await.unwrap();
    assert!(sent.message_ids.is_empty(), "{sent:?}");
    assert_eq!(world.fake.calls_of("sendMessage").len(), 1);
    assert_eq!(texts(&world.fake.bot_messages(5004)), ["hello"]);
}

#[tokio::test]
async fn edits_answered_without_a_result_then_a_long_reply_show_whole_lines() {
    let world = World::new().await;
    world.fake.answer_without_result("editMessageText");
    let text = lines(120);
    // The preview shows the start of the first line, then the reply
    // outgrows one message.
    let (first, rest) = text.split_at(8);
    let (first, rest) = (first.to_owned(), rest.to_owned());
    let agent = ScriptedAgent::scripted(move |_| {
        vec![
            Step::Text(first.clone()),
            Step::Sleep(Duration::from_millis(1500)),
            Step::Text(rest.clone()),
        ]
    });
    let running = world.start(agent).await;
    world.fake.user(5005, "Gus").dm("many lines please");
    let last = text.lines().last().unwrap().to_owned();
    let messages = within(
        "the whole reply",
        world.fake.wait_for(5005, |m| {
            m.iter().any(|m| m.current_text().contains(&last))
                && m.iter().all(|m| !m.current_text().contains('▉'))
        }),
    )
    .await;
    let shown: Vec<String> = messages
        .iter()
        .filter(|m| !m.deleted)
        .flat_map(|m| {
            m.current_text()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(shown, expected, "{:#?}", texts(&messages));
    for message in &messages {
        assert!(message.current_text().encode_utf16().count() <= 4096);
    }
    assert_no_edit_repeated(&world);
    running.stop().await;
}
