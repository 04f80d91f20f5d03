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
            if store.outbox_pending(0, 0).await.unwrap().is_empty() {
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

async fn one_turn_gateway(
    db: &Path,
    platform: &TestPlatform,
) -> (Arc<SqliteStore>, tokio_util::sync::DropGuard) {
    let (store, gateway) = start(db, platform, ScriptedAgent::echo()).await;
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run(stop.clone()));
    platform.wait_running().await;
    (store, stop.drop_guard())
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::with_capabilities(
        "test",
        Capabilities {
            can_edit: false,
            ..TestPlatform::default_capabilities()
        },
    );
    platform.fail_next_send(hermod_core::AdapterError::Transient(
        "502 from the platform".into(),
    ));
    platform.fail_next_send(hermod_core::AdapterError::RateLimited {
        retry_after: Some(Duration::from_secs(7)),
    });
    let (store, _stop) = one_turn_gateway(&dir.path().join("t.db"), &platform).await;
    let started = tokio::time::Instant::now();
    platform.user("alice").dm("hi").await.unwrap();
    let messages = platform.wait_for_messages("alice", 1).await;
    assert_eq!(messages[0].text, "echo: hi (0 earlier)");
    assert!(
        started.elapsed() >= Duration::from_secs(8),
        "backed off, then waited the retry-after"
    );
    assert_eq!(platform.send_attempts(), 3);
    loop {
        if store.outbox_pending(0, 0).await.unwrap().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_is_recorded_and_the_user_told() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::with_capabilities(
        "test",
        Capabilities {
            can_edit: false,
            ..TestPlatform::default_capabilities()
        },
    );
    platform.fail_next_send(hermod_core::AdapterError::Rejected(
        "Bad Request: chat not writable".into(),
    ));
    let (store, _stop) = one_turn_gateway(&dir.path().join("t.db"), &platform).await;
    platform.user("alice").dm("hi").await.unwrap();
    let notice = platform.wait_for_messages("alice", 1).await;
    assert!(
        notice[0].text.starts_with("⚠️ I couldn't deliver my reply"),
        "{}",
        notice[0].text
    );
    let session = store
        .list_sessions(Default::default())
        .await
        .unwrap()
        .remove(0);
    let key = format!("reply:{}:", session.id);
    let entry = store
        .outbox_entry(&format!("{key}1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OutboxState::Failed);
    assert!(entry.error.unwrap().contains("chat not writable"));
}

#[tokio::test]
async fn replies_too_old_to_send_are_reported_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store = SqliteStore::open(&db).unwrap();
    let stale = store
        .outbox_put(hermod_store::NewOutbox {
            key: "reply:old:1".into(),
            platform: PlatformId::from_static("test"),
            target: hermod_model::ChatTarget {
                chat_id: "alice".into(),
                thread_id: None,
            },
            reply_to: None,
            text: "yesterday's answer".into(),
            session: None,
            message_ids: Vec::new(),
            attachments: Vec::new(),
            created_at_ms: hermod_core::now_ms() - 2 * 3_600_000,
        })
        .await
        .unwrap();
    drop(store);
    let platform = TestPlatform::new("test");
    let (store, _stop) = one_turn_gateway(&db, &platform).await;
    loop {
        let entry = store.outbox_entry(&stale.key).await.unwrap().unwrap();
        if entry.state != OutboxState::Pending {
            assert_eq!(entry.state, OutboxState::Failed);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(platform.sent("alice").is_empty());
}
