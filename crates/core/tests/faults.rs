//! Faults inside a running gateway: storage that fails mid-turn (a full
//! disk) delays the reply instead of losing it, and messages from people
//! who are not allowed leave nothing of what they wrote in the store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Clock, Gateway, GatewayConfig, Health, STORE_COMPONENT, Submitted};
use hermod_model::{Attachment, AttachmentKind, Role};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{FlakyStore, ScriptedAgent, Step, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn allow_all() -> GatewayConfig {
    GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    }
}

/// Runs a gateway with `platform` until the test ends; returns its health.
async fn start(
    store: Arc<dyn Store>,
    agent: ScriptedAgent,
    config: GatewayConfig,
    platform: &TestPlatform,
) -> Health {
    let gateway = Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .clock(Clock::following_tokio(1_000_000))
        .build()
        .unwrap();
    let health = gateway.health().clone();
    tokio::spawn(gateway.run(CancellationToken::new()));
    platform.wait_running().await;
    health
}

#[tokio::test(start_paused = true)]
async fn a_reply_that_cannot_be_stored_is_delivered_once_storage_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("h.db")).unwrap());
    let store = Arc::new(FlakyStore::new(Arc::clone(&sqlite)));
    let platform = TestPlatform::new("test");
    let agent = ScriptedAgent::scripted(|_| {
        vec![
            Step::Text("the answer ".into()),
            Step::Sleep(Duration::from_secs(2)),
            Step::Text("is 42".into()),
        ]
    });
    let health = start(store.clone(), agent, allow_all(), &platform).await;
    let alice = platform.user("alice");
    let mut event = alice.dm_event("question");
    event.message_id = Some("m1".into());
    platform
        .inbound()
        .unwrap()
        .submit_once(event, "alice:m1")
        .await
        .unwrap();
    // The disk fills while the model is answering.
    platform
        .wait_for_text("alice", |t| t.contains("the answer"))
        .await;
    store.fail("append_reply", u32::MAX);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(store.failures("append_reply") >= 3, "retried with backoff");
    assert!(!health.report().healthy, "the store is reported degraded");
    assert!(
        health.report().problems()[0].starts_with(STORE_COMPONENT),
        "{:?}",
        health.report().problems()
    );
    assert!(
        platform
            .sent("alice")
            .iter()
            .all(|m| !m.current_text().contains("⚠️")),
        "no error with a database path reaches the user: {:?}",
        platform.sent("alice")
    );

    store.heal();
    let reply = platform
        .wait_for_text("alice", |t| t == "the answer is 42")
        .await;
    assert_eq!(platform.sent("alice").len(), 1, "one message: {reply:?}");
    assert!(health.report().healthy, "healthy again");
    loop {
        if sqlite.inbox_unfinished(0, 0).await.unwrap().is_empty()
            && sqlite.outbox_pending(0, 0).await.unwrap().is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let session = sqlite.list_sessions(Default::default()).await.unwrap()[0].clone();
    let roles: Vec<Role> = sqlite
        .messages(&session.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message.role)
        .collect();
    assert_eq!(roles, [Role::User, Role::Assistant]);
}

#[tokio::test]
async fn a_strangers_message_is_recorded_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("h.db")).unwrap());
    let platform = TestPlatform::new("test");
    let config = GatewayConfig {
        allowed_users: vec!["friend".into()],
        ..GatewayConfig::default()
    };
    start(store.clone(), ScriptedAgent::echo(), config, &platform).await;
    let inbound = platform.inbound().unwrap();
    let stranger = platform.user("stranger");
    let friend = platform.user("friend");
    assert!(!inbound.admits(&stranger.dm_event("x").source).await);
    assert!(inbound.admits(&friend.dm_event("x").source).await);

    let secret = "my bank password is hunter2";
    for (user, key) in [(&stranger, "s:1"), (&friend, "f:1")] {
        let mut event = user.group_event("group-1", secret);
        event.attachments.push(
            Attachment::new(AttachmentKind::Document, "/home/u/.hermod/media/secret.pdf")
                .with_mime("application/pdf"),
        );
        assert_eq!(
            inbound.submit_once(event.clone(), key).await.unwrap(),
            Submitted::Accepted
        );
        // A redelivery is still recognised.
        assert_eq!(
            inbound.submit_once(event, key).await.unwrap(),
            Submitted::Duplicate
        );
    }
    let platform_id = hermod_model::PlatformId::from_static("test");
    let refused = store
        .inbox_entry(&platform_id, "s:1")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !refused.event_json.contains("hunter2"),
        "{}",
        refused.event_json
    );
    assert!(
        !refused.event_json.contains("secret.pdf"),
        "{}",
        refused.event_json
    );
    let allowed = store
        .inbox_entry(&platform_id, "f:1")
        .await
        .unwrap()
        .unwrap();
    assert!(allowed.event_json.contains("hunter2"));
    platform.wait_for_messages("group-1", 1).await;
    // Only the friend was answered; the stranger's group message was dropped.
    let sent = platform.sent("group-1");
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[tokio::test(start_paused = true)]
async fn a_reply_cut_off_by_the_model_is_delivered_with_a_notice_and_stored_as_partial() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("h.db")).unwrap());
    let platform = TestPlatform::new("test");
    let agent = ScriptedAgent::scripted(|_| {
        vec![
            Step::Text("The first half".into()),
            Step::Sleep(Duration::from_secs(2)),
            Step::CutOff,
        ]
    });
    start(store.clone(), agent, allow_all(), &platform).await;
    platform
        .submit(platform.user("alice").dm_event("tell me"))
        .await
        .unwrap();
    let reply = platform
        .wait_for_text("alice", |t| t.contains("cut off") && !t.ends_with('▉'))
        .await;
    assert!(
        reply.current_text().starts_with("The first half"),
        "{reply:?}"
    );
    assert!(!reply.current_text().contains('▉'), "{reply:?}");
    assert_eq!(platform.sent("alice").len(), 1);
    let session = store.list_sessions(Default::default()).await.unwrap()[0].clone();
    loop {
        let messages = store.messages(&session.id).await.unwrap();
        if let Some(last) = messages
            .last()
            .filter(|m| m.message.role == Role::Assistant)
        {
            let text = last.message.text();
            assert!(text.starts_with("The first half"), "{text}");
            assert!(
                text.contains("[reply cut off"),
                "stored marked partial: {text}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
