//! Exactly once at scale: hundreds of chats, each streaming a reply, and the
//! process killed at different points of their turns — before the model
//! answered, mid-stream, with replies stored and their delivery in flight,
//! and with every stage present at once. After a restart on the same
//! database every chat has exactly one message showing its complete reply,
//! no preview keeps the streaming cursor, each user message is stored once,
//! and no inbox or outbox row is left unfinished.
//!
//! "Killed" means the runtime is dropped with its tasks mid-flight
//! (`shutdown_timeout(0)`): nothing after that point runs, as with
//! `kill -9`. Time is tokio's paused clock, so the kill points are exact.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Clock, Gateway, GatewayConfig};
use hermod_model::Role;
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, Step, TestPlatform};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CHATS: usize = 200;
const WORDS: usize = 10;
const CURSOR: char = '▉';

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn expected_reply(input: &str) -> String {
    let words: Vec<String> = (0..WORDS).map(|w| format!("w{w}")).collect();
    format!("answer to {input}: {}", words.join(" "))
}

/// Thinks for a second (after `stagger`), streams the reply a word every
/// 200 ms, then pauses `tail` before finishing.
fn slow_agent(stagger: fn(&str) -> Duration, tail: Duration) -> ScriptedAgent {
    ScriptedAgent::scripted(move |request| {
        let input = request.input.text();
        let reply = expected_reply(&input);
        let mut steps = vec![Step::Sleep(stagger(&input) + Duration::from_secs(1))];
        let mut words = reply.split(' ').peekable();
        while let Some(word) = words.next() {
            let piece = if words.peek().is_some() {
                format!("{word} ")
            } else {
                word.to_owned()
            };
            steps.push(Step::Text(piece));
            steps.push(Step::Sleep(Duration::from_millis(200)));
        }
        steps.push(Step::Sleep(tail));
        steps
    })
}

fn fast_agent() -> ScriptedAgent {
    ScriptedAgent::scripted(|request| vec![Step::Text(expected_reply(&request.input.text()))])
}

fn gateway(db: &Path, platform: &TestPlatform, agent: ScriptedAgent, clock_ms: i64) -> Gateway {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .clock(Clock::following_tokio(clock_ms))
        .build()
        .unwrap()
}

fn chat(i: usize) -> String {
    format!("chat-{i:03}")
}

/// How the first run ends.
#[derive(Clone, Copy)]
enum Kill {
    /// At this time after the messages were sent.
    At(Duration),
    /// Once every chat's final delivery is hanging on the platform (the
    /// platform stops answering at `hold_at`).
    WhenDeliveriesHang { hold_at: Duration },
}

fn no_stagger(_: &str) -> Duration {
    Duration::ZERO
}

/// Chats start 0 to 4 × 0.9 s apart, so at the kill some have not been
/// answered, some stream and some have finished.
fn staggered(input: &str) -> Duration {
    let n: u64 = input
        .trim_start_matches("message from chat-")
        .parse()
        .unwrap_or(0);
    Duration::from_millis(900 * (n % 5))
}

fn crash_and_recover(kill: Kill, stagger: fn(&str) -> Duration, tail: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let platform = TestPlatform::new("test");

    let first = paused_runtime();
    first.block_on(async {
        let gw = gateway(&db, &platform, slow_agent(stagger, tail), 1_000_000);
        tokio::spawn(gw.run(CancellationToken::new()));
        platform.wait_running().await;
        let inbound = platform.inbound().unwrap();
        for i in 0..CHATS {
            let user = platform.user(&chat(i));
            let mut event = user.dm_event(&format!("message from {}", chat(i)));
            let id = platform.next_message_id();
            event.message_id = Some(id.clone());
            inbound
                .submit_once(event, &format!("{}:{id}", chat(i)))
                .await
                .unwrap();
        }
        match kill {
            Kill::At(at) => tokio::time::sleep(at).await,
            Kill::WhenDeliveriesHang { hold_at } => {
                tokio::time::sleep(hold_at).await;
                platform.hold();
                platform.wait_for_held(CHATS).await;
            }
        }
    });
    let platform = platform.restarted();
    // The kill: every task stops where it is.
    first.shutdown_timeout(Duration::ZERO);

    let second = paused_runtime();
    second.block_on(async {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        // Back a minute later.
        let gw = gateway(&db, &platform, fast_agent(), 1_060_000);
        tokio::spawn(gw.run(CancellationToken::new()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            let unfinished = store.inbox_unfinished(0, 0).await.unwrap();
            let pending = store.outbox_pending(0, 0).await.unwrap();
            if unfinished.is_empty() && pending.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not recovered: {} inbound messages unfinished, {} replies pending",
                unfinished.len(),
                pending.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let mut lost = Vec::new();
        let mut duplicated = Vec::new();
        let mut cursors = Vec::new();
        for i in 0..CHATS {
            let expected = expected_reply(&format!("message from {}", chat(i)));
            let visible: Vec<_> = platform
                .sent(&chat(i))
                .into_iter()
                .filter(|m| !m.deleted)
                .collect();
            let answers = visible
                .iter()
                .filter(|m| m.current_text() == expected)
                .count();
            if answers == 0 {
                lost.push((chat(i), visible.clone()));
            }
            if answers > 1 || visible.len() > 1 {
                duplicated.push((chat(i), visible.clone()));
            }
            if visible.iter().any(|m| m.current_text().contains(CURSOR)) {
                cursors.push(chat(i));
            }
        }
        assert!(
            lost.is_empty(),
            "{} chats lost their reply: {:?}",
            lost.len(),
            &lost[..lost.len().min(3)]
        );
        assert!(
            duplicated.is_empty(),
            "{} chats got more than one message: {:?}",
            duplicated.len(),
            &duplicated[..duplicated.len().min(3)]
        );
        assert!(
            cursors.is_empty(),
            "previews left with the cursor: {cursors:?}"
        );

        let sessions = store
            .list_sessions(hermod_store::ListSessions {
                limit: 10_000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(sessions.len(), CHATS, "one session per chat");
        for session in sessions {
            let messages = store.messages(&session.id).await.unwrap();
            let users = messages
                .iter()
                .filter(|m| m.message.role == Role::User)
                .count();
            let replies = messages
                .iter()
                .filter(|m| m.message.role == Role::Assistant)
                .count();
            assert_eq!(
                (users, replies),
                (1, 1),
                "session {} stored {users} user messages and {replies} replies",
                session.id
            );
        }
    });
    second.shutdown_timeout(Duration::ZERO);
}

#[test]
fn killed_before_the_model_answered() {
    crash_and_recover(
        Kill::At(Duration::from_millis(500)),
        no_stagger,
        Duration::ZERO,
    );
}

#[test]
fn killed_mid_stream() {
    crash_and_recover(
        Kill::At(Duration::from_millis(2_100)),
        no_stagger,
        Duration::ZERO,
    );
}

#[test]
fn killed_with_replies_stored_and_delivery_in_flight() {
    // The stream ends at ~3 s and its last edit lands by ~4 s; the platform
    // stops answering at 4.5 s, so every final delivery (at 5 s) hangs
    // after its reply was stored.
    crash_and_recover(
        Kill::WhenDeliveriesHang {
            hold_at: Duration::from_millis(4_500),
        },
        no_stagger,
        Duration::from_secs(2),
    );
}

#[test]
fn killed_with_chats_at_every_stage() {
    crash_and_recover(
        Kill::At(Duration::from_millis(4_000)),
        staggered,
        Duration::from_millis(300),
    );
}
