//! Messages from senders who are not allowed are logged at INFO, so an
//! operator can see why the bot stays silent: platform, user and chat,
//! never the text, and at most once a minute per sender.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Gateway, GatewayConfig};
use hermod_store::SqliteStore;
use hermod_testkit::logs::Logs;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Level;

const SECRET: &str = "my bank password is hunter2";

#[tokio::test(start_paused = true)]
async fn a_refused_message_is_logged_at_info_without_its_text_once_a_minute() {
    let logs = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let platform = TestPlatform::new("test");
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let config = GatewayConfig {
        allowed_users: vec!["alice".into()],
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .output_dir(dir.path().join("output"))
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(gateway.run(stop));
    platform.wait_running().await;

    let mallory = platform.user("mallory");
    let refused = |logs: &Logs| -> Vec<String> {
        logs.at(Level::INFO)
            .into_iter()
            .filter(|line| line.contains("not allowed"))
            .collect()
    };
    for _ in 0..5 {
        mallory.dm(SECRET).await.unwrap();
    }
    // Every message is handled well within this (tokio time).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lines = refused(&logs);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("platform=test"), "{}", lines[0]);
    assert!(lines[0].contains("user=\"mallory\""), "{}", lines[0]);
    assert!(lines[0].contains("chat=\"mallory\""), "{}", lines[0]);
    // Another chat within the minute: not logged again.
    mallory
        .say_in_group("-100", &format!("{SECRET}, in a group"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(refused(&logs).len(), 1, "{:#?}", refused(&logs));

    // A minute later the next refusal is logged again.
    tokio::time::sleep(Duration::from_secs(60)).await;
    mallory.dm(SECRET).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(refused(&logs).len(), 2, "{:#?}", refused(&logs));

    assert!(stats.requests().is_empty(), "a stranger reached the agent");
    assert!(platform.sent("mallory").is_empty(), "the bot answered");
    logs.assert_never_shows("hunter2");
}
