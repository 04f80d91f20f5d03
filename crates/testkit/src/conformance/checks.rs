//! The conformance checks, one public function each; see the module docs
//! of [`super`] for what they require.

use super::Subject;
use super::assert_hides_secrets;
use super::harness::{Harness, Replies};
use crate::harness::{PATIENCE, message_ref, outbound, within};
use hermod_core::AdapterError;
use hermod_model::{Edit, LengthUnit, Sent};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How much earlier than `min_edit_interval` a second edit may arrive:
/// the adapter times its edits on its side of the connection, the platform
/// records them on its side.
const EDIT_SLACK: Duration = Duration::from_millis(50);

/// The `retry_after` the rate-limit check asks the platform for.
const RETRY_AFTER: Duration = Duration::from_secs(3);

/// 1. A send returns the id of every message it created; edits and
///    deletes act on those ids.
pub async fn sends_report_every_message_id(subject: impl Future<Output = Subject>) {
    let h = Harness::start(subject, Replies::Off).await;
    let caps = h.adapter.capabilities();
    let chat = h.peer.user_dm("hello").await;
    let before = h.peer.messages(&chat).await;

    let first = send(&h, &chat, "first message").await;
    let after = h.peer.messages(&chat).await;
    assert_eq!(
        after.len(),
        before.len() + first.message_ids.len(),
        "a send must report one id per message it created; it reported {:?} and the chat went from {before:?} to {after:?}",
        first.message_ids
    );
    assert_eq!(after.last().map(String::as_str), Some("first message"));

    let second = send(&h, &chat, "second message").await;
    let mut ids: Vec<&String> = first
        .message_ids
        .iter()
        .chain(&second.message_ids)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        2,
        "every message has its own id: {first:?} {second:?}"
    );
    let mut expected = before.clone();
    expected.extend(["first message".to_owned(), "second message".to_owned()]);
    assert_eq!(h.peer.messages(&chat).await, expected);

    if caps.can_edit {
        let edit = Edit {
            message: message_ref(&chat, &first.message_ids[0]),
            text: "first message, edited".to_owned(),
        };
        within("the edit", h.messenger().edit(edit))
            .await
            .expect("editing a message the adapter sent works");
        expected[before.len()] = "first message, edited".to_owned();
        assert_eq!(
            h.peer.messages(&chat).await,
            expected,
            "the edit changed the message with that id, and only it"
        );
    }
    if caps.can_delete {
        within(
            "the delete",
            h.messenger()
                .delete(message_ref(&chat, &second.message_ids[0])),
        )
        .await
        .expect("deleting a message the adapter sent works");
        expected.pop();
        assert_eq!(
            h.peer.messages(&chat).await,
            expected,
            "the delete removed the message with that id, and only it"
        );
    }
    h.finish().await;
}

/// 2. A text 2.5 times `max_message_len` is split into messages within
///    the limit (in `length_unit`), every id is returned, no word is lost.
pub async fn long_texts_are_split_within_the_limit(subject: impl Future<Output = Subject>) {
    let h = Harness::start(subject, Replies::Off).await;
    let caps = h.adapter.capabilities();
    let (limit, unit) = (caps.max_message_len, caps.length_unit);
    let words = long_text_words(limit, unit);
    let text = words.join(" ");
    let chat = h.peer.user_dm("hello").await;
    let before = h.peer.messages(&chat).await.len();

    let sent = send(&h, &chat, &text).await;
    let all = h.peer.messages(&chat).await;
    let created = &all[before.min(all.len())..];
    assert_eq!(
        created.len(),
        sent.message_ids.len(),
        "every message created has its id returned"
    );
    assert!(
        created.len() >= 3,
        "a text of {} (limit {limit}) needs at least 3 messages, got {}",
        unit.measure(&text),
        created.len()
    );
    for (i, piece) in created.iter().enumerate() {
        let length = unit.measure(piece);
        assert!(
            length <= limit,
            "message {i} is {length} long ({unit:?}); the limit is {limit}"
        );
    }
    let joined: String = created.concat().split_whitespace().collect();
    let mut from = 0;
    for word in &words {
        match joined[from..].find(word.as_str()) {
            Some(at) => from += at + word.len(),
            None => panic!("the word {word:?} was lost (or reordered) when the text was split"),
        }
    }
    h.finish().await;
}

/// Words (some with an emoji, so units differ) adding up to 2.5 times `limit`.
fn long_text_words(limit: usize, unit: LengthUnit) -> Vec<String> {
    let target = limit * 5 / 2;
    let mut words = Vec::new();
    let mut length = 0;
    while length < target {
        let n = words.len() + 1;
        let word = if n % 4 == 0 {
            format!("🙂w{n:05}")
        } else {
            format!("w{n:05}")
        };
        length += unit.measure(&word) + 1;
        words.push(word);
    }
    words
}

/// 3. Two edits of one message issued back to back reach the platform at
///    least `min_edit_interval` apart, and both are applied.
pub async fn edits_keep_the_minimum_interval(subject: impl Future<Output = Subject>) {
    let h = Harness::start(subject, Replies::Off).await;
    let caps = h.adapter.capabilities();
    if !caps.can_edit {
        h.finish().await;
        return;
    }
    let interval = caps.min_edit_interval;
    let chat = h.peer.user_dm("hello").await;
    let sent = send(&h, &chat, "version 0").await;
    let edit = |text: &str| Edit {
        message: message_ref(&chat, &sent.message_ids[0]),
        text: text.to_owned(),
    };
    let started = Instant::now();
    for text in ["version 1", "version 2"] {
        within("an edit", h.messenger().edit(edit(text)))
            .await
            .unwrap_or_else(|e| panic!("an edit too soon must be paced, not refused: {e}"));
    }
    let took = started.elapsed();
    let messages = h.peer.messages(&chat).await;
    assert_eq!(messages.last().map(String::as_str), Some("version 2"));
    let slack = EDIT_SLACK.min(interval / 2);
    match h.peer.edit_arrivals(&chat).await {
        Some(arrivals) => {
            let [.., first, second] = arrivals[..] else {
                panic!("two edits were issued; the platform saw {}", arrivals.len());
            };
            let gap = second - first;
            assert!(
                gap + slack >= interval,
                "the edits arrived {gap:?} apart; min_edit_interval is {interval:?}"
            );
        }
        None => assert!(
            took + slack >= interval,
            "two edits took {took:?}; min_edit_interval is {interval:?}"
        ),
    }
    h.finish().await;
}

/// 4. `run` returns `Ok` within 1 s of its shutdown token being cancelled
///    while it is receiving.
pub async fn run_stops_within_a_second_of_shutdown(subject: impl Future<Output = Subject>) {
    let mut h = Harness::start(subject, Replies::Echo).await;
    let chat = h.peer.user_dm("are you there").await;
    let echo = "echo: are you there (0 earlier)";
    h.wait_for_messages(&chat, "the gateway's answer", |m| {
        m.iter().any(|t| t == echo)
    })
    .await;
    let (result, took) = h.stop(Duration::from_secs(1)).await;
    assert_eq!(
        result,
        Ok(()),
        "run returns Ok when told to stop (after {took:?})"
    );
    h.finish().await;
}

/// 5. A rate-limit answer is surfaced as [`AdapterError::RateLimited`]
///    with the platform's `retry_after`, not swallowed or waited out.
pub async fn rate_limits_are_surfaced(subject: impl Future<Output = Subject>) {
    let h = Harness::start(subject, Replies::Off).await;
    let chat = h.peer.user_dm("hello").await;
    h.peer.rate_limit_next_call(RETRY_AFTER).await;
    let started = Instant::now();
    let result = within("the send", h.messenger().send(outbound(&chat, "too fast"))).await;
    let took = started.elapsed();
    assert_hides_secrets("the error", &format!("{result:?}"), &h.peer.secrets());
    match &result {
        Err(AdapterError::RateLimited {
            retry_after: Some(after),
        }) => assert!(
            after.abs_diff(RETRY_AFTER) <= Duration::from_secs(1),
            "retry_after {after:?}; the platform said {RETRY_AFTER:?}"
        ),
        other => {
            panic!("expected RateLimited {{ retry_after: Some(≈{RETRY_AFTER:?}) }}, got {other:?}")
        }
    }
    assert!(
        took < RETRY_AFTER,
        "the send took {took:?}: the rate limit was waited out, not surfaced"
    );
    h.finish().await;
}

/// 6. An event kind the adapter does not know reaches no one and does not
///    stop `run`; what comes after it still arrives.
pub async fn unknown_events_are_ignored(subject: impl Future<Output = Subject>) {
    let h = Harness::start(subject, Replies::Echo).await;
    h.peer.push_unknown_event().await;
    let chat = h.peer.user_dm("after unknown").await;
    let messages = h
        .wait_for_messages(&chat, "the answer to the DM after the unknown event", |m| {
            m.iter().any(|t| t.starts_with("echo: after unknown"))
        })
        .await;
    assert!(
        messages
            .iter()
            .any(|t| t == "echo: after unknown (0 earlier)"),
        "the DM was the session's first message: {messages:?}"
    );
    assert_eq!(
        h.agent.stats().inputs(),
        ["after unknown"],
        "only the DM reached the gateway"
    );
    assert!(
        !h.run_finished(),
        "run must keep going after an unknown event"
    );
    h.finish().await;
}

/// 7. Secrets appear neither in the adapter's `Debug` output, nor in its
///    errors, nor in any log line written meanwhile.
pub async fn secrets_stay_hidden(subject: impl Future<Output = Subject>) {
    let mut h = Harness::start(subject, Replies::Echo).await;
    let secrets = h.peer.secrets();
    assert!(
        !secrets.is_empty(),
        "the peer names the secrets to look for"
    );
    assert_hides_secrets(
        "the adapter's Debug output",
        &format!("{:?}", h.adapter),
        &secrets,
    );
    tracing::info!(target: "hermod_testkit::conformance", "log capture canary");

    let chat = h.peer.user_dm("keep it secret").await;
    h.wait_for_messages(&chat, "the gateway's answer", |m| {
        m.iter().any(|t| t.starts_with("echo: keep it secret"))
    })
    .await;
    h.peer.rate_limit_next_call(RETRY_AFTER).await;
    let limited = within("the send", h.messenger().send(outbound(&chat, "too fast"))).await;
    assert_hides_secrets("a rate-limit error", &format!("{limited:?}"), &secrets);
    let nowhere = within(
        "a send to an unknown chat",
        h.messenger()
            .send(outbound("conformance-no-such-chat", "hello?")),
    )
    .await;
    assert_hides_secrets("an error", &format!("{nowhere:?}"), &secrets);
    let (stopped, _) = h.stop(PATIENCE).await;
    assert_hides_secrets("the result of run", &format!("{stopped:?}"), &secrets);

    let logs = h.logs.text();
    assert!(logs.contains("log capture canary"), "the log capture works");
    assert_hides_secrets("the log output", &logs, &secrets);
    h.finish().await;
}

async fn send(h: &Harness, chat: &str, text: &str) -> Sent {
    within("a send", h.messenger().send(outbound(chat, text)))
        .await
        .unwrap_or_else(|e| panic!("sending {} bytes failed: {e}", text.len()))
}
