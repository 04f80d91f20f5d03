//! `hermod chat` and handoff, driving the binary: a chat through a running
//! gateway answered by the fake model, and `/handoff` from the chat to a
//! Telegram forum topic and to a Slack thread, where the conversation goes
//! on with its history; and a chat with no gateway running, served by one
//! of its own.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::harness::within;
use hermod_testkit::{FakeLlm, FakeSlack, FakeTelegram};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{gateway, hermod, start_with, terminate};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const KEY: &str = "chat-test-key-0123456789abcdef";

/// A loopback port free now, for a gateway `hermod chat` must find from
/// the configuration (port 0 would be unknown to it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn with_api(mut cmd: Command, port: u16) -> Command {
    cmd.env("API_SERVER_PORT", port.to_string())
        .env("API_SERVER_KEY", KEY);
    cmd
}

/// `hermod chat` in `home`, fed `lines` one at a time as `ready` says,
/// until it exits; returns everything it printed on stdout.
async fn chat(home: &Path, port: u16, lines: &[&str], wait_for: &[&str]) -> String {
    let mut cmd = with_api(hermod(home), port);
    let mut child = cmd
        .arg("chat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let run = async {
        for (line, expect) in lines.iter().zip(wait_for) {
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap();
            while !printed.contains(expect) {
                let mut next = String::new();
                if stdout.read_line(&mut next).await.unwrap() == 0 {
                    panic!("hermod chat ended before {expect:?}:\n{printed}");
                }
                printed.push_str(&next);
            }
        }
        drop(stdin);
        let mut rest = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut rest)
            .await
            .unwrap();
        printed.push_str(&rest);
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("hermod chat in time"));
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{printed}");
    printed
}

#[tokio::test]
async fn chat_streams_replies_from_the_running_gateway_in_one_session() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let running = start_with(with_api(gateway(home.path(), &llm), port)).await;

    let printed = chat(
        home.path(),
        port,
        &["hello there", "and again", "/quit"],
        &["echo: hello there", "echo: and again", ""],
    )
    .await;
    let first = printed.lines().next().unwrap();
    assert!(first.starts_with("hermod chat: session "), "{printed}");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let texts: Vec<String> = requests[1]
        .messages()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert!(
        texts.contains(&"hello there".to_owned())
            && texts.contains(&"echo: hello there".to_owned()),
        "one session: the second turn sees the first: {texts:?}"
    );
    assert_eq!(terminate(running.child).await, 0);
}

/// A gateway with Telegram whose home channel is the forum supergroup
/// `forum`, set by Ann (user 1) with /sethome in a topic.
struct TelegramHome {
    llm: FakeLlm,
    telegram: FakeTelegram,
    ann: hermod_testkit::telegram::FakeUser,
    home: tempfile::TempDir,
    _locks: tempfile::TempDir,
    port: u16,
    running: support::Running,
}

async fn telegram_home(forum: i64) -> TelegramHome {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let locks = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = with_api(gateway(home.path(), &llm), port);
    cmd.env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", "1")
        // The forum answers every message, so the topic needs no mention.
        .env("TELEGRAM_FREE_RESPONSE_CHATS", forum.to_string())
        .env("HERMOD_LOCK_DIR", locks.path());
    let running = start_with(cmd).await;
    within("polling", telegram.wait_for_calls("getUpdates", 1)).await;
    let ann = telegram.user(1, "Ann");
    ann.in_topic(forum, 1, "/sethome");
    within("/sethome", telegram.wait_for_bot_messages(forum, 1)).await;
    TelegramHome {
        llm,
        telegram,
        ann,
        home,
        _locks: locks,
        port,
        running,
    }
}

#[tokio::test]
async fn handoff_from_chat_opens_a_telegram_topic_where_the_history_goes_on() {
    let TelegramHome {
        llm,
        telegram,
        ann,
        home,
        _locks,
        port,
        running,
    } = telegram_home(-100_500).await;

    let printed = chat(
        home.path(),
        port,
        &["plan a trip to Rome", "/handoff telegram"],
        &["echo: plan a trip to Rome", "handed off to telegram"],
    )
    .await;
    let topics = telegram.topics_created(-100_500);
    assert_eq!(topics.len(), 1, "{printed}");
    let (thread, name) = topics[0].clone();
    assert_eq!(name, "hermod — plan a trip to Rome");
    assert!(
        printed.contains(&format!("chat -100500, thread {thread}")),
        "{printed}"
    );
    let summary = within("the summary", telegram.wait_for_bot_messages(-100_500, 2)).await;
    let summary = summary
        .iter()
        .find(|m| m.thread_id == Some(thread))
        .unwrap();
    assert!(
        summary.text.contains("You: plan a trip to Rome"),
        "{}",
        summary.text
    );

    ann.in_topic(-100_500, thread, "and in June?");
    let replies = within(
        "the answer",
        telegram.wait_for(-100_500, |m| {
            m.iter().any(|m| m.current_text() == "echo: and in June?")
        }),
    )
    .await;
    let answer = replies.last().unwrap();
    assert_eq!(answer.thread_id, Some(thread), "answered in the topic");
    let last = llm.requests().pop().unwrap();
    let texts: Vec<String> = last
        .messages()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert!(
        texts.contains(&"plan a trip to Rome".to_owned()),
        "the earlier history reaches the model: {texts:?}"
    );
    assert_eq!(terminate(running.child).await, 0);
}

#[tokio::test]
async fn handoff_from_chat_opens_a_slack_thread_where_the_history_goes_on() {
    let llm = FakeLlm::start().await;
    let slack = FakeSlack::start().await;
    let home = tempfile::tempdir().unwrap();
    let locks = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = slack.config();
    let channel = slack.public_channel("trips");
    let mut cmd = with_api(gateway(home.path(), &llm), port);
    cmd.env("SLACK_BOT_TOKEN", &config.bot_token)
        .env("SLACK_APP_TOKEN", &config.app_token)
        .env("SLACK_API_BASE_URL", slack.api_base_url())
        .env("SLACK_ALLOW_ALL_USERS", "true")
        .env("SLACK_REQUIRE_MENTION", "false")
        // The home channel, configured as Hermes configures it.
        .env("SLACK_HOME_CHANNEL", &channel)
        .env("HERMOD_LOCK_DIR", locks.path());
    let running = start_with(cmd).await;
    within("socket mode", slack.wait_for_connections(1)).await;
    let bea = slack.user("bea");

    let printed = chat(
        home.path(),
        port,
        &["plan a trip to Lisbon", "/handoff slack"],
        &["echo: plan a trip to Lisbon", "handed off to slack"],
    )
    .await;
    // The thread's root and the summary in it.
    let shown = within("the summary", slack.wait_for_bot_messages(&channel, 2)).await;
    let root = shown
        .iter()
        .find(|m| m.thread_ts.is_none() && m.text.contains("plan a trip to Lisbon"))
        .unwrap_or_else(|| panic!("a root message: {shown:?}\n{printed}"));
    let thread = root.ts.clone();
    assert!(printed.contains(&thread), "says where it went: {printed}");
    let summary = slack.thread(&channel, &thread);
    assert!(
        summary
            .iter()
            .any(|m| m.text.contains("plan a trip to Lisbon")),
        "{summary:?}"
    );

    bea.reply_in_thread(&channel, &thread, "and in May?");
    within(
        "the answer in the thread",
        slack.wait_for(&channel, |m| {
            m.iter().any(|m| {
                m.current_text() == "echo: and in May?" && m.thread_ts.as_deref() == Some(&thread)
            })
        }),
    )
    .await;
    let last = llm.requests().pop().unwrap();
    let texts: Vec<String> = last
        .messages()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert!(
        texts.contains(&"plan a trip to Lisbon".to_owned()),
        "the earlier history reaches the model: {texts:?}"
    );
    assert_eq!(terminate(running.child).await, 0);
}

#[tokio::test]
async fn without_a_running_gateway_chat_runs_its_own_on_the_same_home() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!("OPENAI_BASE_URL={}\n", llm.base_url()),
    )
    .unwrap();

    let printed = chat(
        home.path(),
        free_port(),
        &["hello on my own", "/quit"],
        &["echo: hello on my own", ""],
    )
    .await;
    let first = printed.lines().next().unwrap();
    let session = first
        .strip_prefix("hermod chat: session ")
        .unwrap_or_else(|| panic!("{printed}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(llm.requests().len(), 1, "{printed}");

    // The conversation is in the home's database, and the home is free
    // again: a gateway can start on it.
    let shown = hermod(home.path())
        .args(["sessions", "show", &session])
        .output()
        .await
        .unwrap();
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.contains("hello on my own"), "{shown}");
    let running = start_with(gateway(home.path(), &llm)).await;
    assert_eq!(terminate(running.child).await, 0);
}

#[tokio::test]
async fn hermod_handoff_moves_a_finished_chat_to_a_telegram_topic() {
    // The fakes must outlive the test: dropping one stops it.
    let TelegramHome {
        llm: _llm,
        telegram,
        home,
        _locks,
        port,
        running,
        ..
    } = telegram_home(-100_700).await;
    let printed = chat(
        home.path(),
        port,
        &["draft the release notes", "/quit"],
        &["echo: draft the release notes", ""],
    )
    .await;
    let session = printed
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("hermod chat: session "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{printed}"))
        .to_owned();

    let out = with_api(hermod(home.path()), port)
        .args(["handoff", "--session", &session, "--to", "telegram"])
        .output()
        .await
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    let topics = telegram.topics_created(-100_700);
    assert_eq!(topics.len(), 1, "{said}");
    assert!(
        said.contains(&format!("thread {}", topics[0].0)),
        "says where it went: {said}"
    );
    // A second handoff of the same session to a platform not running fails
    // with the reason, and a non-zero exit.
    let out = with_api(hermod(home.path()), port)
        .args(["handoff", "--session", &session, "--to", "discord"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(terminate(running.child).await, 0);
}
