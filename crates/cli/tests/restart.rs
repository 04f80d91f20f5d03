//! `/restart` and the restart-loop guard through real gateway processes,
//! and the `/metrics` scrape read by Prometheus' own text parser.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::telegram::FakeMessage;
use hermod_testkit::{FakeLlm, FakeTelegram};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{gateway, start, start_with, terminate};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

/// The Telegram user allowed to run every command.
const ADMIN: i64 = 1;
/// A Telegram user who may talk to the gateway but is no admin.
const USER: i64 = 2;

/// The most any single step may take: generous, so that only a hang fails.
const LIMIT: Duration = Duration::from_secs(30);

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("file exists")).expect("JSON")
}

/// `gateway run` with Telegram on `telegram`, [`ADMIN`] and [`USER`]
/// allowed and only [`ADMIN`] in the admin tier (set in `config.yaml`).
fn with_telegram(home: &Path, llm: &FakeLlm, telegram: &FakeTelegram) -> Command {
    std::fs::write(
        home.join("config.yaml"),
        format!("gateway:\n  platforms:\n    telegram:\n      allow_admin_from: [\"{ADMIN}\"]\n"),
    )
    .unwrap();
    let mut cmd = gateway(home, llm);
    cmd.env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", format!("{ADMIN},{USER}"))
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

fn saying<'a>(messages: &'a [FakeMessage], text: &str) -> Vec<&'a FakeMessage> {
    messages.iter().filter(|m| m.text.contains(text)).collect()
}

#[tokio::test]
async fn restart_from_an_admin_exits_75_and_the_chat_is_told_when_it_is_back() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start_with(with_telegram(home.path(), &llm, &telegram)).await;
    let mut child = running.child;
    tokio::time::timeout(LIMIT, telegram.wait_for_receiver())
        .await
        .expect("polling Telegram");

    // Someone allowed to talk but not an admin is refused.
    telegram.user(USER, "Eve").command("/restart");
    let refused = wait_for_chat(&telegram, USER, |m| !m.is_empty()).await;
    assert!(
        refused[0].text.contains("/restart is not available to you"),
        "{refused:?}"
    );
    assert!(child.try_wait().unwrap().is_none(), "still running");

    // The admin's `/restart` is answered, then the process ends with 75.
    telegram.user(ADMIN, "Ada").command("/restart");
    let told = wait_for_chat(&telegram, ADMIN, |m| !saying(m, "Restarting").is_empty()).await;
    assert!(
        told[0].text.contains("tell you here when it is back"),
        "{told:?}"
    );
    let exit = tokio::time::timeout(LIMIT, child.wait())
        .await
        .expect("exits after /restart")
        .unwrap();
    assert_eq!(exit.code(), Some(75), "{exit:?}");
    assert!(
        !home.path().join("gateway.pid").exists(),
        "the PID file is removed"
    );
    let status = read_json(&home.path().join("gateway_state.json"));
    assert_eq!(status["state"], "stopped", "{status}");
    assert_eq!(
        status["exit_reason"], "restarting, as /restart asked",
        "{status}"
    );
    assert_eq!(
        saying(&telegram.bot_messages(USER), "Restarting").len(),
        0,
        "only the admin's /restart was run"
    );

    // Started again on the same home, it tells the admin's chat once.
    let again = start_with(with_telegram(home.path(), &llm, &telegram)).await;
    wait_for_chat(&telegram, ADMIN, |m| {
        !saying(m, "The gateway is back").is_empty()
    })
    .await;
    assert_eq!(terminate(again.child).await, 0);
    let admin = telegram.bot_messages(ADMIN);
    assert_eq!(saying(&admin, "The gateway is back").len(), 1, "{admin:?}");
    assert_eq!(
        saying(&telegram.bot_messages(USER), "The gateway is back").len(),
        0,
        "only the chat that asked"
    );
    let status = read_json(&home.path().join("gateway_state.json"));
    assert_eq!(status["exit_reason"], "stopped by SIGTERM", "{status}");

    // A later start does not tell it again. What a start takes up is
    // finished before the drain ends, so the exit settles it.
    let polls = telegram.calls_of("getUpdates").len();
    let later = start_with(with_telegram(home.path(), &llm, &telegram)).await;
    tokio::time::timeout(LIMIT, telegram.wait_for_calls("getUpdates", polls + 1))
        .await
        .expect("polling Telegram again");
    assert_eq!(terminate(later.child).await, 0);
    let admin = telegram.bot_messages(ADMIN);
    assert_eq!(saying(&admin, "The gateway is back").len(), 1, "{admin:?}");
}

/// Starts a gateway with its log on a pipe; waits for the ready line.
async fn start_logged(home: &Path, llm: &FakeLlm) -> (Child, ChildStderr) {
    let mut child = gateway(home, llm)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(" ready: ") {
                return;
            }
        }
        panic!("hermod exited before it was ready");
    };
    tokio::time::timeout(LIMIT, ready)
        .await
        .expect("ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, stderr)
}

/// Stops the gateway with SIGTERM and returns everything it logged.
async fn stop_logged(child: Child, mut stderr: ChildStderr) -> String {
    assert_eq!(terminate(child).await, 0);
    let mut log = String::new();
    stderr.read_to_string(&mut log).await.unwrap();
    log
}

#[tokio::test]
async fn from_the_third_start_within_a_minute_it_is_a_restart_loop() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let state_file = home.path().join("gateway_state.json");
    for run in 1..=2 {
        let (child, stderr) = start_logged(home.path(), &llm).await;
        let log = stop_logged(child, stderr).await;
        assert!(!log.contains("restart loop"), "run {run}: {log}");
        let status = read_json(&state_file);
        assert!(
            status["components"].get("resume").is_none(),
            "run {run}: {status}"
        );
    }

    // From the third start on, each start within the minute is in the loop.
    for starts in 3..=4 {
        let said = format!("restart loop: the gateway started {starts} times within 60 s");
        let (child, stderr) = start_logged(home.path(), &llm).await;
        // The status file shows it while the gateway runs (bounded wait).
        let deadline = tokio::time::Instant::now() + LIMIT;
        let resume = loop {
            let status = read_json(&state_file);
            let resume = &status["components"]["resume"];
            if resume["reason"].as_str().is_some_and(|r| r.contains(&said)) {
                break resume.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "{said}: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(resume["state"], "paused", "{resume}");
        let log = stop_logged(child, stderr).await;
        assert!(log.contains(&said), "{log}");
        assert!(log.contains("find why it stops"), "says what to do: {log}");
    }
}

/// The interpreter in `HERMOD_SDK_PYTHON` when it has `prometheus_client`;
/// otherwise why not.
fn prometheus_python() -> Result<std::path::PathBuf, String> {
    let python = std::env::var_os("HERMOD_SDK_PYTHON")
        .map(std::path::PathBuf::from)
        .ok_or("HERMOD_SDK_PYTHON is not set (.ci/run sets it)")?;
    let found = std::process::Command::new(&python)
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        Ok(python)
    } else {
        Err(format!(
            "{} cannot import prometheus_client",
            python.display()
        ))
    }
}

/// Parses the text on stdin and prints each family's type and samples.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
    }
print(json.dumps(families))
"#;

async fn parse_with_prometheus(python: &Path, text: &str) -> Value {
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("the parser finishes")
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn a_metrics_scrape_parses_as_prometheus_text() {
    let python = match prometheus_python() {
        Ok(python) => python,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().expect("a key was generated");
    support::chat(&running.base, &key, "scraped", "hello").await;

    // The turn is counted once its reply is recorded (bounded wait).
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    let text = loop {
        let response = client
            .get(format!("{}/metrics", running.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        if text.contains("outcome=\"answered\"") {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(terminate(running.child).await, 0);

    let families = parse_with_prometheus(&python, &text).await;
    let samples = |family: &str| families[family]["samples"].as_array().cloned();
    let answered: f64 = samples("hermod_turns")
        .unwrap_or_else(|| panic!("{families}"))
        .iter()
        .filter(|s| s["name"] == "hermod_turns_total" && s["labels"]["outcome"] == "answered")
        .map(|s| s["value"].as_f64().unwrap())
        .sum();
    assert!(answered >= 1.0, "{families}");
    assert_eq!(families["hermod_turns"]["type"], "counter", "{families}");
    let build = samples("hermod_build_info").unwrap_or_else(|| panic!("{families}"));
    assert!(
        build.iter().any(|s| {
            s["labels"]["version"] == env!("CARGO_PKG_VERSION") && s["value"].as_f64() == Some(1.0)
        }),
        "{families}"
    );
}
