//! Exactly-once delivery across a crash: the process dies after the model
//! answered but before the platform confirmed; the next start delivers the
//! reply once — a new message when nothing was shown, an edit of the
//! recorded preview when one was. Each run gets its own runtime, which is
//! torn down mid-flight to simulate the crash.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Gateway, GatewayConfig};
use hermod_model::{Capabilities, DeliveryTarget, PlatformId, Source};
use hermod_store::{OutboxState, SqliteStore, Store};
use hermod_testkit::{CallKind, ScriptedAgent, TestPlatform};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts a gateway on `db` inside the current runtime.
async fn start(
    db: &Path,
    platform: &TestPlatform,
    agent: ScriptedAgent,
) -> (Arc<SqliteStore>, Gateway) {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store.clone(), Arc::new(agent), config)
        .adapter(platform.adapter())
        .output_dir(db.with_file_name("output"))
        .build()
        .unwrap();
    (store, gateway)
}

/// Runs the first process until its delivery hangs, then kills it.
fn crash_while_delivering(
    db: &Path,
    platform: &TestPlatform,
    agent: ScriptedAgent,
    held_before: usize,
) -> TestPlatform {
    let first = runtime();
    first.block_on(async {
        let (_store, gateway) = start(db, platform, agent).await;
        tokio::spawn(gateway.run(CancellationToken::new()));
        platform.wait_running().await;
        platform.user("alice").dm("hello").await.unwrap();
        if held_before > 0 {
            platform.wait_for_messages("alice", held_before).await;
        }
        platform.hold();
        platform.wait_for_held(1).await;
    });
    // The crash: the platform keeps what it got; nothing more of the first
    // process reaches it.
    let after = platform.restarted();
    first.shutdown_timeout(Duration::ZERO);
    after
}

/// Starts the second process and waits until its outbox is empty.
fn restart_and_settle(db: &Path, platform: &TestPlatform) -> Vec<hermod_testkit::SentMessage> {
    let second = runtime();
    second.block_on(async {
        let (store, gateway) = start(db, platform, ScriptedAgent::echo()).await;
        let stop = CancellationToken::new();
        let running = tokio::spawn(gateway.run(stop.clone()));
        let messages = platform
            .wait_for("alice", |m| {
                m.iter()
                    .any(|m| m.current_text() == "echo: hello (0 earlier)")
            })
            .await;
        loop {
            if store.outbox_pending(0).await.unwrap().is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        stop.cancel();
        running.await.unwrap();
        messages
    })
}

#[test]
fn a_reply_lost_to_a_crash_is_delivered_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = TestPlatform::with_capabilities(
        "test",
        Capabilities {
            can_edit: false,
            ..TestPlatform::default_capabilities()
        },
    );
    let platform = crash_while_delivering(&db, &platform, ScriptedAgent::echo(), 0);
    assert!(
        platform.sent("alice").is_empty(),
        "nothing reached the platform before the crash"
    );
    let messages = restart_and_settle(&db, &platform);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(platform.calls().len(), 1, "sent exactly once");
}

#[test]
fn a_recorded_preview_is_edited_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = TestPlatform::new("test");
    // The preview goes out, then the final edit hangs and the process dies.
    let agent = ScriptedAgent::scripted(|_| {
        vec![
            hermod_testkit::Step::Text("echo: hel".into()),
            hermod_testkit::Step::Sleep(Duration::from_millis(50)),
            hermod_testkit::Step::Text("lo (0 earlier)".into()),
        ]
    });
    let platform = crash_while_delivering(&db, &platform, agent, 1);
    let before = platform.sent("alice");
    assert_eq!(before.len(), 1);
    assert!(
        before[0].current_text().ends_with(" ▉"),
        "only the preview was shown"
    );
    let messages = restart_and_settle(&db, &platform);
    assert_eq!(
        messages.len(),
        1,
        "the preview became the reply; nothing was sent twice"
    );
    assert_eq!(messages[0].current_text(), "echo: hello (0 earlier)");
    let sends = platform
        .calls()
        .iter()
        .filter(|c| c.kind == CallKind::Send)
        .count();
    assert_eq!(sends, 1);
}

#[tokio::test]
async fn deliveries_to_targets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = TestPlatform::new("test");
    let single = TestPlatform::with_capabilities(
        "pager",
        Capabilities {
            multi_message: false,
            max_message_len: 100,
            ..TestPlatform::default_capabilities()
        },
    );
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let mut config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    config
        .platforms
        .entry("test".into())
        .or_default()
        .home_channel = Some("home-chat".into());
    let gateway = Gateway::builder(store.clone(), Arc::new(ScriptedAgent::echo()), config)
        .adapter(platform.adapter())
        .adapter(single.adapter())
        .output_dir(dir.path().join("output"))
        .build()
        .unwrap();
    let deliveries = gateway.deliveries();
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run(stop.clone()));
    platform.wait_running().await;
    let known = |p: &str| ["test", "pager"].contains(&p);

    let home = DeliveryTarget::parse("TEST", known).unwrap();
    let receipt = deliveries
        .deliver(&home, None, "to the home channel", "job-1:run-1")
        .await
        .unwrap();
    assert_eq!(receipt.target, "test:home-chat");
    assert_eq!(platform.sent("home-chat")[0].text, "to the home channel");
    // The same key is never delivered twice.
    deliveries
        .deliver(&home, None, "to the home channel", "job-1:run-1")
        .await
        .unwrap();
    assert_eq!(platform.sent("home-chat").len(), 1);

    let explicit = DeliveryTarget::parse("test:room-7:thread-2", known).unwrap();
    deliveries
        .deliver(&explicit, None, "threaded", "k2")
        .await
        .unwrap();
    assert_eq!(
        platform.sent_in_thread("room-7", "thread-2")[0].text,
        "threaded"
    );

    let origin = Source::dm(PlatformId::from_static("test"), "alice");
    deliveries
        .deliver(&DeliveryTarget::Origin, Some(&origin), "back to you", "k3")
        .await
        .unwrap();
    assert_eq!(platform.sent("alice")[0].text, "back to you");

    let local = deliveries
        .deliver(&DeliveryTarget::Local, None, "# report", "k4")
        .await
        .unwrap();
    let path = local.local_path.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# report");

    // A platform that takes one message: truncated with a note, full text saved.
    let long = "x".repeat(300);
    let pager = DeliveryTarget::parse("pager:p1", known).unwrap();
    let receipt = deliveries.deliver(&pager, None, &long, "k5").await.unwrap();
    assert!(receipt.truncated);
    let sent = &single.sent("p1")[0].text;
    assert!(
        sent.chars().count() <= 100 && sent.contains("truncated"),
        "{sent}"
    );
    assert_eq!(
        std::fs::read_to_string(receipt.local_path.unwrap()).unwrap(),
        long
    );

    // Unknown platforms are an error, not a silent local write; so is a
    // platform without a home channel.
    assert!(DeliveryTarget::parse("nowhere:1", known).is_err());
    let err = deliveries
        .deliver(
            &DeliveryTarget::parse("pager", known).unwrap(),
            None,
            "x",
            "k6",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PAGER_HOME_CHANNEL"), "{err}");
    assert_eq!(
        store
            .outbox_entry("job-1:run-1")
            .await
            .unwrap()
            .unwrap()
            .state,
        OutboxState::Delivered
    );
    stop.cancel();
}
