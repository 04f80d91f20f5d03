//! `--log-format json` through the binary: every line on stderr is one
//! JSON object, and the secrets the gateway was configured with (a bot
//! token, the model key, the API server's key) appear in no output.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::{FakeLlm, FakeTelegram};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use support::{chat, hermod, terminate};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const BOT_TOKEN: &str = "7000001:AAHjsonLogsBotToken_0123456789abcdefXYZ";
const MODEL_KEY: &str = "sk-jsonlogs-model-key-0123456789abcdef";
const API_KEY: &str = "hermod-jsonlogs-api-key-0123456789abcdef";

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_hold_no_secret() {
    hermod_http::install_crypto_provider();
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::with_token(BOT_TOKEN).await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = hermod(home.path());
    // hermod's crates at trace: the most a user can ask for with -v.
    cmd.args(["-vv", "gateway", "run", "--log-format", "json"])
        .env_remove("RUST_LOG")
        .env("OPENAI_BASE_URL", llm.base_url())
        .env("OPENAI_API_KEY", MODEL_KEY)
        .env("API_SERVER_PORT", "0")
        .env("API_SERVER_KEY", API_KEY)
        .env("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", "42");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.unwrap();
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = stdout.next_line().await.unwrap().expect("a ready line");
            printed.push(line.clone());
            if let Some(start) = line.find(" ready: ").and_then(|_| line.find("http://")) {
                let url: String = line[start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != ',')
                    .collect();
                return url;
            }
        }
    })
    .await
    .expect("ready in time");
    let rest = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = stdout.next_line().await {
            rest.push(line);
        }
        rest
    });

    // A turn on each platform: the bot token and both keys are in use.
    telegram.user(42, "Alice").dm("hello");
    tokio::time::timeout(
        Duration::from_secs(30),
        telegram.wait_for_bot_messages(42, 1),
    )
    .await
    .expect("the bot answers");
    chat(&base, API_KEY, "json-logs", "hi").await;
    assert_eq!(terminate(child).await, 0);

    let logs = logs.await.unwrap();
    printed.extend(rest.await.unwrap());
    let printed = printed.join("\n");

    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() > 3, "{logs}");
    let mut events = Vec::new();
    for line in &lines {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        let level = event["level"].as_str().unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line}"
        );
        assert!(event["target"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
        for spans in ["span", "spans"] {
            assert!(
                event
                    .get(spans)
                    .is_none_or(|s| s.is_object() || s.is_array()),
                "{line}"
            );
        }
        events.push(event);
    }
    // The fields beside the message are kept as fields.
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "adapter built"
                && e["fields"]["platform"] == "telegram"),
        "{logs}"
    );

    let secret_part = BOT_TOKEN.split_once(':').unwrap().1;
    for secret in [BOT_TOKEN, secret_part, MODEL_KEY, API_KEY] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
}
