//! Exactly-once handling of inbound messages: a message recorded with
//! `submit_once` is handled once per key, and one whose turn was cut short
//! by a crash is answered after the restart without being stored twice.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Gateway, GatewayConfig, Submitted};
use hermod_store::{InboxState, SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn gateway(
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
        .build()
        .unwrap();
    (store, gateway)
}

#[test]
fn a_message_cut_short_by_a_crash_is_answered_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = TestPlatform::new("test");
    let alice = platform.user("alice");
    let event = {
        let mut event = alice.dm_event("hello");
        event.message_id = Some("m-1".into());
        event
    };

    let first = runtime();
    first.block_on(async {
        // The model has not said anything yet when the process dies.
        let agent = ScriptedAgent::scripted(|_| {
            vec![hermod_testkit::Step::Sleep(Duration::from_secs(3600))]
        });
        let stats = agent.stats();
        let (_store, gateway) = gateway(&db, &platform, agent);
        tokio::spawn(gateway.run(CancellationToken::new()));
        platform.wait_running().await;
        let inbound = platform.inbound().unwrap();
        assert_eq!(
            inbound
                .submit_once(event.clone(), "alice:m-1")
                .await
                .unwrap(),
            Submitted::Accepted
        );
        // Redelivered by the platform before it was acknowledged: dropped.
        assert_eq!(
            inbound
                .submit_once(event.clone(), "alice:m-1")
                .await
                .unwrap(),
            Submitted::Duplicate
        );
        stats.wait_started(1).await;
    });
    let platform = platform.restarted();
    first.shutdown_timeout(Duration::ZERO);

    let second = runtime();
    second.block_on(async {
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        let (store, gateway) = gateway(&db, &platform, agent);
        tokio::spawn(gateway.run(CancellationToken::new()));
        let reply = platform
            .wait_for_text("alice", |t| t.starts_with("echo:") && !t.ends_with('▉'))
            .await;
        // The stored user message was reused, not stored again.
        assert_eq!(reply.current_text(), "echo: hello (0 earlier)");
        assert_eq!(stats.inputs(), ["hello"]);
        let session = store
            .list_sessions(Default::default())
            .await
            .unwrap()
            .remove(0);
        loop {
            if store.inbox_unfinished(0, 0).await.unwrap().is_empty()
                && store.outbox_pending(0, 0).await.unwrap().is_empty()
            {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(store.messages(&session.id).await.unwrap().len(), 2);
        // The platform redelivering it now changes nothing.
        let inbound = platform.inbound().unwrap();
        assert_eq!(
            inbound.submit_once(event, "alice:m-1").await.unwrap(),
            Submitted::Duplicate
        );
        assert_eq!(platform.sent("alice").len(), 1);
    });
}

#[tokio::test]
async fn handled_messages_are_marked_done() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let (store, gateway) = gateway(&dir.path().join("t.db"), &platform, ScriptedAgent::echo());
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run(stop.clone()));
    platform.wait_running().await;
    let inbound = platform.inbound().unwrap();
    let alice = platform.user("alice");
    inbound
        .submit_once(alice.dm_event("hi"), "k1")
        .await
        .unwrap();
    inbound
        .submit_once(alice.dm_event("/version"), "k2")
        .await
        .unwrap();
    platform.wait_for_messages("alice", 2).await;
    loop {
        if store.inbox_unfinished(0, 0).await.unwrap().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(
        !store
            .inbox_set_state(
                &hermod_model::PlatformId::from_static("test"),
                "k3",
                InboxState::Done,
                0
            )
            .await
            .unwrap()
    );
    stop.cancel();
}
