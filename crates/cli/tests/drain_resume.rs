//! Resume after a drain through real gateway processes: a turn SIGTERM's
//! drain cut short is continued exactly once on the next start, with a
//! notice; not for a sender removed from the allowlist meanwhile; and not
//! once it is older than `gateway.auto_continue_freshness_secs`, when the
//! chat is told instead.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::telegram::FakeMessage;
use hermod_testkit::{FakeLlm, FakeTelegram, Reply};
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use support::{gateway, start_with, terminate};
use tokio::process::Command;

/// The Telegram user whose turn is cut short (a DM: the chat is the user).
const USER: i64 = 2;
/// Someone else, allowed when [`USER`] no longer is.
const OTHER: i64 = 3;

/// The most any single step may take: generous, so that only a hang fails.
const LIMIT: Duration = Duration::from_secs(30);

const ASKED: &str = "tell me about the fjords";
/// What the held answer shows before the drain cuts it short.
const HALF: &str = "The fjords were carved by glaciers over";
const STOPPING: &str = "The gateway is stopping";
const CONTINUING: &str = "The gateway restarted; continuing your last request.";
const TOO_OLD: &str = "It was too long ago to continue on its own";
/// The streaming cursor at the end of a reply still being written.
const CURSOR: char = '▉';

/// `gateway run` with Telegram on `telegram`, `allowed` as
/// `TELEGRAM_ALLOWED_USERS`, a drain of one second and `config` as
/// `config.yaml`.
fn with_telegram(
    home: &Path,
    llm: &FakeLlm,
    telegram: &FakeTelegram,
    allowed: i64,
    config: &str,
) -> Command {
    std::fs::write(home.join("config.yaml"), config).unwrap();
    let mut cmd = gateway(home, llm);
    cmd.env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", allowed.to_string())
        .env("HERMOD_DRAIN_TIMEOUT", "1")
        .env("HERMOD_LOCK_DIR", home.join("locks"));
    cmd
}

/// Waits (bounded) until the bot's messages in `chat` satisfy `done`.
async fn wait_for_chat(
    telegram: &FakeTelegram,
    chat: i64,
    done: impl Fn(&[FakeMessage]) -> bool,
) -> Vec<FakeMessage> {
    tokio::time::timeout(LIMIT, telegram.wait_for(chat, done))
        .await
        .unwrap_or_else(|_| panic!("chat {chat}: {:?}", telegram.bot_messages(chat)))
}

/// A message as the chat shows it now: its last edit, or as it was sent.
fn shown(message: &FakeMessage) -> &str {
    message.edits.last().unwrap_or(&message.text)
}

fn saying<'a>(messages: &'a [FakeMessage], text: &str) -> Vec<&'a FakeMessage> {
    messages
        .iter()
        .filter(|m| shown(m).contains(text))
        .collect()
}

/// A streamed answer that sends [`HALF`] and then holds the rest for an
/// hour: the drain always comes first.
fn held_answer() -> Reply {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        let chunk = json!({
            "id": "chatcmpl-held",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "held",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        format!("data: {chunk}\n\n")
    };
    let first = chunk(json!({"role": "assistant", "content": ""}), None)
        + &chunk(json!({"content": HALF}), None);
    let rest = chunk(json!({"content": " millions of years."}), None)
        + &chunk(json!({}), Some("stop"))
        + "data: [DONE]\n\n";
    Reply::raw_stream([first, rest]).token_delay(Duration::from_secs(3600))
}

/// The first run: [`USER`] asks, the answer is held after its first
/// words, SIGTERM's drain tells the chat it is stopping and cuts the turn
/// short, and the process exits 0.
async fn first_run_cut_short(home: &Path, llm: &FakeLlm, telegram: &FakeTelegram, config: &str) {
    llm.push(held_answer());
    let running = start_with(with_telegram(home, llm, telegram, USER, config)).await;
    tokio::time::timeout(LIMIT, telegram.wait_for_receiver())
        .await
        .expect("polling Telegram");
    telegram.user(USER, "Eve").dm(ASKED);
    // The turn is running: its first words are on the way to the chat.
    wait_for_chat(telegram, USER, |m| !saying(m, HALF).is_empty()).await;
    assert_eq!(llm.request_count(), 1);

    let exit = tokio::time::timeout(LIMIT, terminate(running.child))
        .await
        .expect("the drain ends within its deadline");
    assert_eq!(exit, 0, "a drain that cut a turn short still exits 0");
    let chat = telegram.bot_messages(USER);
    assert_eq!(saying(&chat, STOPPING).len(), 1, "{chat:?}");
    assert_eq!(llm.request_count(), 1, "the model was asked once");
}

/// Starts a gateway, waits until it polls Telegram, and returns it.
async fn start_polling(cmd: Command, telegram: &FakeTelegram) -> tokio::process::Child {
    let polls = telegram.calls_of("getUpdates").len();
    let running = start_with(cmd).await;
    tokio::time::timeout(LIMIT, telegram.wait_for_calls("getUpdates", polls + 1))
        .await
        .expect("polling Telegram");
    running.child
}

/// Forgets the earlier runs' start times, as a quiet minute would, so the
/// next start is no restart loop (which would hold back, not settle, what
/// is left of earlier runs). Only while no gateway runs on `home`.
fn forget_earlier_starts(home: &Path) {
    let conn = rusqlite::Connection::open(home.join("hermod.db")).unwrap();
    let forgotten = conn
        .execute(
            "DELETE FROM settings WHERE key = 'gateway.recent_starts'",
            [],
        )
        .unwrap();
    assert_eq!(
        forgotten, 1,
        "the start times are where the guard keeps them"
    );
}

/// What a later run could change in a chat: its messages, their edits and
/// deletions.
fn footprint(chat: &[FakeMessage]) -> Vec<(i64, usize, bool)> {
    chat.iter()
        .map(|m| (m.message_id, m.edits.len(), m.deleted))
        .collect()
}

/// Answers to [`ASKED`] from the fake model's default reply.
fn answers(chat: &[FakeMessage]) -> Vec<&FakeMessage> {
    saying(chat, &format!("echo: {ASKED}"))
}

#[tokio::test]
async fn a_turn_cut_short_by_sigterm_is_answered_once_after_the_next_start() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    first_run_cut_short(home.path(), &llm, &telegram, "{}\n").await;

    // The model answers at once from now on (its default reply).
    let again = start_with(with_telegram(home.path(), &llm, &telegram, USER, "{}\n")).await;
    wait_for_chat(&telegram, USER, |m| {
        answers(m)
            .iter()
            .any(|a| !shown(a).trim_end().ends_with(CURSOR))
    })
    .await;
    // Whatever the start took up is settled by the time it exits. (The
    // answer is shown a moment before its turn ends, so this drain may
    // still tell the chat it is stopping: not counted here.)
    assert_eq!(terminate(again.child).await, 0);
    let chat = telegram.bot_messages(USER);
    assert_eq!(saying(&chat, CONTINUING).len(), 1, "{chat:?}");
    assert_eq!(answers(&chat).len(), 1, "exactly one answer: {chat:?}");
    assert!(
        chat.iter()
            .filter(|m| !m.deleted)
            .all(|m| !shown(m).trim_end().ends_with(CURSOR)),
        "no reply is left half-written: {chat:?}"
    );
    assert_eq!(llm.request_count(), 2, "the model was asked once more");
    let resumed = &llm.requests()[1];
    let asked_once = resumed
        .messages()
        .iter()
        .filter(|m| m["role"] == "user" && m["content"].as_str() == Some(ASKED))
        .count();
    assert_eq!(asked_once, 1, "{:?}", resumed.messages());
    let before = footprint(&chat);

    // A third start has nothing left to continue.
    forget_earlier_starts(home.path());
    let third = start_polling(
        with_telegram(home.path(), &llm, &telegram, USER, "{}\n"),
        &telegram,
    )
    .await;
    assert_eq!(terminate(third).await, 0);
    let chat = telegram.bot_messages(USER);
    assert_eq!(footprint(&chat), before, "{chat:?}");
    assert_eq!(llm.request_count(), 2);
}

#[tokio::test]
async fn a_sender_removed_from_the_allowlist_hears_nothing_after_the_next_start() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    first_run_cut_short(home.path(), &llm, &telegram, "{}\n").await;
    let before = footprint(&telegram.bot_messages(USER));

    // Only someone else is allowed now.
    let again = start_polling(
        with_telegram(home.path(), &llm, &telegram, OTHER, "{}\n"),
        &telegram,
    )
    .await;
    assert_eq!(terminate(again).await, 0);
    let chat = telegram.bot_messages(USER);
    assert_eq!(footprint(&chat), before, "no notice, no answer: {chat:?}");
    assert!(saying(&chat, CONTINUING).is_empty(), "{chat:?}");
    assert!(answers(&chat).is_empty(), "{chat:?}");
    assert_eq!(llm.request_count(), 1, "the model was not asked again");
}

#[tokio::test]
async fn a_turn_older_than_the_freshness_window_is_not_run_again_and_the_chat_is_told_once() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = "gateway:\n  auto_continue_freshness_secs: 1\n";
    first_run_cut_short(home.path(), &llm, &telegram, config).await;
    // Let the interrupted turn age past the one-second window; a slower
    // machine only makes it older.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let again = start_with(with_telegram(home.path(), &llm, &telegram, USER, config)).await;
    wait_for_chat(&telegram, USER, |m| !saying(m, TOO_OLD).is_empty()).await;
    assert_eq!(terminate(again.child).await, 0);
    let chat = telegram.bot_messages(USER);
    assert_eq!(saying(&chat, TOO_OLD).len(), 1, "{chat:?}");
    assert!(saying(&chat, CONTINUING).is_empty(), "{chat:?}");
    assert!(answers(&chat).is_empty(), "not run again: {chat:?}");
    assert_eq!(llm.request_count(), 1, "the model was not asked again");
    let before = footprint(&chat);

    // A third start does not tell it again.
    forget_earlier_starts(home.path());
    let third = start_polling(
        with_telegram(home.path(), &llm, &telegram, USER, config),
        &telegram,
    )
    .await;
    assert_eq!(terminate(third).await, 0);
    let chat = telegram.bot_messages(USER);
    assert_eq!(footprint(&chat), before, "{chat:?}");
    assert_eq!(llm.request_count(), 1);
}
