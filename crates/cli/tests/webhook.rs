//! An incoming webhook through the binary: a push signed as GitHub signs
//! it is answered by the agent in Telegram's home channel, its redelivery
//! is a duplicate that runs nothing, and a bad signature is refused with
//! nothing run.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::harness::within;
use hermod_testkit::{FakeLlm, FakeTelegram};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::{gateway, start_with, terminate};

const SECRET: &str = "a-long-random-webhook-secret-0123456789";

fn signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[tokio::test]
async fn a_signed_push_is_answered_in_the_home_channel_once() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let ann = telegram.user(7, "Ann");
    let home = tempfile::tempdir().unwrap();
    let locks = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        home.path().join("config.yaml"),
        format!(
            "platforms:\n  webhook:\n    enabled: true\n    routes:\n      github:\n        secret: \"{SECRET}\"\n        events: [push]\n        prompt: \"Summarise the push to {{repository.full_name}}\"\n        deliver: telegram\n"
        ),
    )
    .unwrap();
    let mut cmd = gateway(home.path(), &llm);
    cmd.env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", "7")
        .env("TELEGRAM_HOME_CHANNEL", "7")
        .env("WEBHOOK_PORT", port.to_string())
        .env("HERMOD_LOCK_DIR", locks.path());
    let running = start_with(cmd).await;
    // A bot can write to a private chat once its user has written to it.
    ann.dm("hi");
    within("the greeting", telegram.wait_for_bot_messages(7, 1)).await;
    let url = format!("http://127.0.0.1:{port}/webhooks/github");
    let http = reqwest::Client::new();
    let body = r#"{"repository":{"full_name":"octo/hello"},"pusher":{"name":"mona"}}"#;
    let post = |delivery: &str, signature: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    };

    let first = post("d-1", signature(body)).await.unwrap();
    assert_eq!(first.status(), 202);
    let answer: serde_json::Value = first.json().await.unwrap();
    assert_eq!(answer["status"], "accepted");
    let shown = within("the answer", telegram.wait_for_bot_messages(7, 2)).await;
    assert!(
        shown[1].text.contains("Summarise the push to octo/hello"),
        "{}",
        shown[1].text
    );

    let again = post("d-1", signature(body)).await.unwrap();
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    let forged = post("d-2", "sha256=00".into()).await.unwrap();
    assert_eq!(forged.status(), 401);

    // One turn in all: neither the duplicate nor the forgery ran one.
    ann.dm("still there?");
    within("the next answer", telegram.wait_for_bot_messages(7, 3)).await;
    assert_eq!(llm.requests().len(), 3, "the two DMs and the push only");
    assert_eq!(terminate(running.child).await, 0);
}
