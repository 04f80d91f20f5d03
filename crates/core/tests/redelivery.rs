//! Redelivery by the outbox sweeper, on paused time: an entry that keeps
//! failing never holds up the entries after it, and a part the platform
//! confirmed without an id is never sent again.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, Clock, Gateway, GatewayConfig, Messenger,
};
use hermod_model::{
    Capabilities, ChatTarget, Edit, LengthUnit, MessageRef, Outbound, PlatformId, Sent,
};
use hermod_store::{NewOutbox, OutboxEntry, OutboxState, SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PLATFORM: PlatformId = PlatformId::from_static("test");
/// The wall time the gateway's clock starts at.
const START_MS: i64 = 1_700_000_000_000;

/// A platform that refuses every send to the chat `stuck` as a transient
/// failure, fails sends of texts containing `refuse` while set, and may
/// answer sends without ids.
#[derive(Debug, Default)]
struct Picky {
    /// `(chat, text, when)` of every send, failed ones included.
    sends: Mutex<Vec<(String, String, Instant)>>,
    refuse: Mutex<Option<String>>,
    no_ids: bool,
}

impl Picky {
    fn sends(&self) -> Vec<(String, String, Instant)> {
        self.sends
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn refuse(&self, text: Option<&str>) {
        *self.refuse.lock().unwrap_or_else(PoisonError::into_inner) = text.map(str::to_owned);
    }
}

#[async_trait]
impl Adapter for Picky {
    fn id(&self) -> PlatformId {
        PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: 100,
            length_unit: LengthUnit::Chars,
            ..TestPlatform::default_capabilities()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        ctx.shutdown.cancelled().await;
        Ok(())
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for Picky {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let mut sends = self.sends.lock().unwrap_or_else(PoisonError::into_inner);
        sends.push((
            message.target.chat_id.clone(),
            message.text.clone(),
            Instant::now(),
        ));
        let refused = self
            .refuse
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|r| message.text.contains(r.as_str()));
        if message.target.chat_id == "stuck" || refused {
            return Err(AdapterError::Transient("502 from the platform".into()));
        }
        let message_ids = if self.no_ids {
            Vec::new()
        } else {
            vec![sends.len().to_string()]
        };
        Ok(Sent { message_ids })
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Ok(())
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Ok(())
    }
}

/// An entry a previous run left pending (created before this start).
async fn left_pending(store: &SqliteStore, key: &str, chat: &str, text: &str) -> OutboxEntry {
    store
        .outbox_put(NewOutbox {
            key: key.into(),
            platform: PLATFORM,
            target: ChatTarget {
                chat_id: chat.into(),
                thread_id: None,
            },
            reply_to: None,
            text: text.into(),
            session: None,
            message_ids: Vec::new(),
            attachments: Vec::new(),
            created_at_ms: START_MS - 60_000,
        })
        .await
        .unwrap()
}

fn start(store: Arc<SqliteStore>, adapter: Arc<Picky>, dir: &std::path::Path) -> CancellationToken {
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, Arc::new(ScriptedAgent::echo()), config)
        .adapter(adapter)
        .clock(Clock::following_tokio(START_MS))
        .output_dir(dir.join("output"))
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run(stop.clone()));
    stop
}

/// Waits (on tokio's clock) until `entry` is no longer pending.
async fn settled(store: &SqliteStore, entry: &OutboxEntry) -> OutboxEntry {
    for _ in 0..600 {
        let now = store.outbox_entry(&entry.key).await.unwrap().unwrap();
        if now.state != OutboxState::Pending {
            return now;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{} stayed pending", entry.key);
}

#[tokio::test(start_paused = true)]
async fn a_failing_entry_does_not_hold_up_the_ones_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let stuck = left_pending(&store, "reply:a:1", "stuck", "never arrives").await;
    let fine = left_pending(&store, "reply:b:1", "alice", "arrives").await;
    let adapter = Arc::new(Picky::default());
    let started = Instant::now();
    let _stop = start(store.clone(), adapter.clone(), dir.path()).drop_guard();

    let delivered = settled(&store, &fine).await;
    assert_eq!(delivered.state, OutboxState::Delivered);
    let sends = adapter.sends();
    let (_, _, at) = sends.iter().find(|(chat, ..)| chat == "alice").unwrap();
    assert!(
        *at - started < Duration::from_secs(1),
        "the failing entry held it up for {:?}",
        *at - started
    );
    // The failing entry was tried once, then deferred.
    let tries = sends.iter().filter(|(chat, ..)| chat == "stuck").count();
    assert_eq!(tries, 1, "{sends:?}");
    let deferred = store.outbox_entry(&stuck.key).await.unwrap().unwrap();
    assert_eq!(deferred.state, OutboxState::Pending);
    assert_eq!(deferred.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn parts_confirmed_without_an_id_are_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let text: String = (0..6)
        .map(|i| format!("line {i} of a reply long enough for three parts\n"))
        .collect();
    let entry = left_pending(&store, "reply:c:1", "alice", &text).await;
    let adapter = Arc::new(Picky {
        no_ids: true,
        ..Picky::default()
    });
    adapter.refuse(Some("(2/3)"));
    let _stop = start(store.clone(), adapter.clone(), dir.path()).drop_guard();

    // The first part goes out (without an id), the second fails until
    // the delivery is deferred.
    loop {
        let now = store.outbox_entry(&entry.key).await.unwrap().unwrap();
        if now.attempts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    adapter.refuse(None);
    let delivered = settled(&store, &entry).await;
    assert_eq!(delivered.state, OutboxState::Delivered);
    let sends = adapter.sends();
    let count = |marker: &str| sends.iter().filter(|(_, t, _)| t.contains(marker)).count();
    assert_eq!(
        count("(1/3)"),
        1,
        "the first part was sent again: {sends:#?}"
    );
    assert_eq!(count("(3/3)"), 1, "{sends:#?}");
}
