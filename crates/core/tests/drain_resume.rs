//! Resume after a drain: a turn the drain deadline cut short is continued
//! on the next start (exactly once, with a notice) while it is fresh; an
//! older one is not run again and its chat is told; a sender removed from
//! the allowlist meanwhile hears nothing.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Clock, Gateway, GatewayConfig};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, Step, TestPlatform};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The wall time of the first run.
const START_MS: i64 = 1_700_000_000_000;
const MINUTE_MS: i64 = 60_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn config(allowed: &[&str]) -> GatewayConfig {
    GatewayConfig {
        allowed_users: allowed.iter().map(|s| (*s).to_owned()).collect(),
        // The drain gives up at once: the running turn is cut short.
        drain_timeout_secs: 0,
        ..GatewayConfig::default()
    }
}

fn gateway(
    db: &Path,
    platform: &TestPlatform,
    agent: ScriptedAgent,
    config: GatewayConfig,
    now_ms: i64,
) -> (Arc<SqliteStore>, Gateway) {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    let gateway = Gateway::builder(store.clone(), Arc::new(agent), config)
        .adapter(platform.adapter())
        .clock(Clock::following_tokio(now_ms))
        .build()
        .unwrap();
    (store, gateway)
}

/// Runs a gateway until alice's turn has started, then stops it: the
/// drain tells alice and cuts the turn short. Returns the platform as the
/// next run sees it (which keeps what was sent, the drain's notice).
fn first_run_cut_short(db: &Path) -> TestPlatform {
    let platform = TestPlatform::new("test");
    let alice = platform.user("alice");
    runtime().block_on(async {
        let agent = ScriptedAgent::scripted(|_| vec![Step::Sleep(Duration::from_secs(3600))]);
        let stats = agent.stats();
        let (_store, gateway) = gateway(db, &platform, agent, config(&["alice"]), START_MS);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(gateway.run(shutdown.clone()));
        platform.wait_running().await;
        let mut event = alice.dm_event("hello");
        event.message_id = Some("m-1".into());
        platform
            .inbound()
            .unwrap()
            .submit_once(event, "alice:m-1")
            .await
            .unwrap();
        stats.wait_started(1).await;
        shutdown.cancel();
        running.await.unwrap();
        let sent: Vec<String> = platform.sent("alice").into_iter().map(|m| m.text).collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].contains("The gateway is stopping"), "{sent:?}");
    });
    platform.restarted()
}

/// Waits until nothing is left unfinished in the inbox and outbox.
async fn settled(store: &SqliteStore) {
    loop {
        if store.inbox_unfinished(0, 0).await.unwrap().is_empty()
            && store.outbox_pending(0, 0).await.unwrap().is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn a_turn_cut_short_by_the_drain_is_answered_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = first_run_cut_short(&db);
    runtime().block_on(async {
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        let later = START_MS + 10 * MINUTE_MS;
        let (store, gateway) = gateway(&db, &platform, agent, config(&["alice"]), later);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(gateway.run(shutdown.clone()));
        platform
            .wait_for_text("alice", |t| t.starts_with("echo:") && !t.ends_with('▉'))
            .await;
        settled(&store).await;
        // A second sweep finds nothing more to do.
        shutdown.cancel();
        running.await.unwrap();
        assert_eq!(stats.inputs(), ["hello"]);
        let sent: Vec<String> = platform
            .sent("alice")
            .into_iter()
            .map(|m| m.edits.last().cloned().unwrap_or(m.text))
            .collect();
        assert_eq!(
            sent,
            [
                "⏳ The gateway is stopping. If your request is not finished before it stops, it \
                 continues when the gateway is back.",
                "🔄 The gateway restarted; continuing your last request.",
                "echo: hello (0 earlier)"
            ]
        );
    });
    // A third start has nothing left to continue.
    runtime().block_on(async {
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        let (store, gateway) = gateway(
            &db,
            &platform,
            agent,
            config(&["alice"]),
            START_MS + 20 * MINUTE_MS,
        );
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(gateway.run(shutdown.clone()));
        platform.wait_running().await;
        settled(&store).await;
        shutdown.cancel();
        running.await.unwrap();
        assert!(stats.inputs().is_empty());
        assert_eq!(platform.sent("alice").len(), 3);
    });
}

#[test]
fn a_turn_older_than_the_window_is_not_run_again_and_the_chat_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = first_run_cut_short(&db);
    runtime().block_on(async {
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        // Two hours later; the window is one hour by default.
        let later = START_MS + 120 * MINUTE_MS;
        let (store, gateway) = gateway(&db, &platform, agent, config(&["alice"]), later);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(gateway.run(shutdown.clone()));
        let told = platform
            .wait_for_text("alice", |t| t.contains("too long ago"))
            .await;
        assert!(told.text.contains("send it again"), "{}", told.text);
        settled(&store).await;
        shutdown.cancel();
        running.await.unwrap();
        assert!(stats.inputs().is_empty(), "not run again");
        // The drain's notice, then this one.
        assert_eq!(platform.sent("alice").len(), 2);
    });
}

#[test]
fn a_sender_removed_from_the_allowlist_is_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = first_run_cut_short(&db);
    runtime().block_on(async {
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        let later = START_MS + 10 * MINUTE_MS;
        let (store, gateway) = gateway(&db, &platform, agent, config(&["bob"]), later);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(gateway.run(shutdown.clone()));
        platform.wait_running().await;
        settled(&store).await;
        shutdown.cancel();
        running.await.unwrap();
        assert!(stats.inputs().is_empty(), "not run");
        // Only the first run's drain notice.
        assert_eq!(
            platform.sent("alice").len(),
            1,
            "{:?}",
            platform.sent("alice")
        );
    });
}
