//! A request/response source (like the HTTP API) has no messenger: its
//! replies go back to the request that asked. Whatever is routed to it on
//! its own anyway — a scheduled delivery naming its platform, a reply or a
//! `/background` result of a chat on it — ends with a clear error, recorded
//! in the outbox, and the gateway goes on.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, CoreError, Gateway, GatewayConfig, Messenger,
};
use hermod_model::{Capabilities, DeliveryTarget, InboundEvent, PlatformId, Source};
use hermod_store::{OutboxState, SqliteStore, Store};
use hermod_testkit::logs::Logs;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Level;

const PLATFORM: PlatformId = PlatformId::from_static("listener");
const CANNOT_SEND: &str = "listener answers requests and cannot send on its own";

/// Answers requests only, as the API server does.
#[derive(Debug)]
struct Listener;

#[async_trait]
impl Adapter for Listener {
    fn id(&self) -> PlatformId {
        PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            authenticates_callers: true,
            ..TestPlatform::default_capabilities()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        ctx.shutdown.cancelled().await;
        Ok(())
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        None
    }
}

struct Running {
    store: Arc<SqliteStore>,
    gateway: Option<Gateway>,
    _dir: tempfile::TempDir,
}

fn build(agent: ScriptedAgent) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store.clone(), Arc::new(agent), config)
        .adapter(Arc::new(Listener))
        .output_dir(dir.path().join("output"))
        .build()
        .unwrap();
    Running {
        store,
        gateway: Some(gateway),
        _dir: dir,
    }
}

#[tokio::test(start_paused = true)]
async fn a_delivery_to_a_platform_without_a_messenger_fails_clearly() {
    let mut running = build(ScriptedAgent::echo());
    let gateway = running.gateway.take().unwrap();
    let deliveries = gateway.deliveries();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(gateway.run(stop));

    let target = DeliveryTarget::Chat {
        platform: PLATFORM,
        chat_id: "client-1".into(),
        thread_id: None,
    };
    for _ in 0..2 {
        let result = deliveries
            .deliver(&target, None, "the nightly report", "job-1:run-1")
            .await;
        let Err(CoreError::Delivery(message)) = result else {
            panic!("expected a delivery error, got {result:?}");
        };
        assert!(message.contains("listener:client-1"), "{message}");
        assert!(message.contains(CANNOT_SEND), "{message}");
    }
    let entry = running
        .store
        .outbox_entry("job-1:run-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OutboxState::Failed, "given up, not retried");
    assert_eq!(entry.error.as_deref(), Some(CANNOT_SEND));
}

#[tokio::test(start_paused = true)]
async fn replies_and_background_results_routed_to_it_fail_clearly() {
    let logs = Logs::capture();
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let mut running = build(agent);
    let gateway = running.gateway.take().unwrap();
    let inbound = gateway.inbound();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(gateway.run(stop));

    let source = Source::dm(PLATFORM, "client-1");
    // The chat goes on after each: the next message is still answered.
    for text in ["hello", "/background summarize", "still there?"] {
        inbound
            .submit(InboundEvent::text(source.clone(), text))
            .unwrap();
        // Every turn is done well within this (tokio time).
        tokio::time::sleep(Duration::from_secs(5)).await;
    }

    let mut inputs = stats.inputs();
    inputs.sort();
    assert_eq!(inputs, ["hello", "still there?", "summarize"]);
    let warnings = logs.at(Level::WARN);
    let undelivered: Vec<&String> = warnings
        .iter()
        .filter(|line| line.contains("reply could not be delivered"))
        .collect();
    // The two replies and the background result, each given up at once.
    assert_eq!(undelivered.len(), 3, "{warnings:#?}");
    for line in undelivered {
        assert!(line.contains(CANNOT_SEND), "{line}");
    }
    // The acknowledgement of `/background` is a direct reply.
    assert!(
        warnings
            .iter()
            .any(|line| line.contains("delivering the reply failed") && line.contains(CANNOT_SEND)),
        "{warnings:#?}"
    );
}
